"""Messages as pages show them: labels, local times, the counterpart, flagged spans highlighted.

Shared by the case HTML (index and message pages), the review app and the evidence pack.
Message times are naive phone-local wall times or tz-aware (SMS epochs); people see both as
local wall time in the case's zone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from html import escape
from typing import Any

from pipeline.calls import DEFAULT_ZONE, local_zone
from pipeline.render.categories import tint
from pipeline.render.flag_view import FlagView, flag_runs

KIND_LABELS = {"sms": "短信", "chat": "聊天记录", "screenshot": "截图"}
FORMAT_LABELS = {"sms_xml": "短信备份（XML）", "sms_csv": "短信表格（CSV）", "chat_text": "聊天记录导出（TXT）",
                 "screenshot": "截图", "sms_db": "短信数据库（SQLite）", "qq_mht": "QQ 聊天记录（MHT）",
                 "qce_json": "QQ 聊天记录（QQChatExporter JSON）", "qce_txt": "QQ 聊天记录（QQChatExporter TXT）",
                 "memotrace_html": "微信聊天记录（留痕 HTML）", "wechat_exporter_txt": "微信聊天记录（WechatExporter TXT）",
                 "wechat_exporter_html": "微信聊天记录（WechatExporter HTML）", "vmsg": "短信导出（vmsg）",
                 "android_backup": "安卓/小米备份（.ab/.bak）"}
DIRECTION_LABELS = {"received": "收到", "sent": "发出"}
TIME_SOURCE_LABELS = {"epoch": "短信记录的时间戳", "export": "聊天记录导出的时间", "screenshot": "截图上显示的时间",
                      "user": "用户填写"}
OCR_NOTICE = "截图文字由机器识别（OCR），仅供参考，以原图为准"
TEXT_NOTICE = "消息内容取自导出文件，以原件为准"


def kind_label(kind: str | None) -> str:
    return KIND_LABELS.get(kind or "", "消息")


def direction_label(direction: str | None) -> str:
    return DIRECTION_LABELS.get(direction or "", "方向未知")


def local_time(value: Any, zone: str = DEFAULT_ZONE) -> datetime | None:
    """A message (or call) time as a naive local wall time; aware times move to ``zone``."""
    if not value:
        return None
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if when.tzinfo is not None:
        when = when.astimezone(local_zone(zone)).replace(tzinfo=None)
    return when


def when_text(message: Any) -> str:
    """'YYYY-MM-DD HH:MM:SS' local, or what the source wrote when the date is unknown."""
    when = local_time(message.time)
    if when is not None:
        return when.isoformat(sep=" ", timespec="seconds")
    return f"时间未知（原文“{message.time_text}”）" if message.time_text else "时间未知"


def party_text(message: Any) -> str:
    if message.number and message.contact_name:
        return f"{message.number}（{message.contact_name}）"
    return message.number or message.contact_name or "对方未知"


def is_received(message: Any) -> bool:
    """Received, or of unknown direction (then it may be the collector's: kept, marked unsure)."""
    return message.direction != "sent"


def highlight_message(text: str, views: list[tuple[int, FlagView]], *, href: str | Callable[[int], str] | None = None,
                      numbers: Mapping[int, int] | None = None) -> str:
    """``text`` escaped, each flagged run in a ``<mark>`` of its category colour; ``views`` are
    (key, view) with character spans into ``text``, keys unique. ``href`` (``% key`` or a function
    of the key) links a mark to its first flag's detail; ``numbers``: key -> number shown (default
    the key; flags of one evidence item share a number)."""
    spans = [(n, v) for n, v in views if v.start_char is not None and v.end_char is not None
             and 0 <= v.start_char < v.end_char <= len(text)]
    by_key = dict(spans)
    shown = numbers or {}
    parts: list[str] = []
    for i, j, here, main in flag_runs(len(text), spans):
        chunk = escape(text[i:j]).replace("\n", "<br>")
        if main is not None:
            title = "；".join(f"#{shown.get(n, n)} {by_key[n].label}（{by_key[n].status_label}）" for n in here)
            flags = " ".join(dict.fromkeys(str(shown.get(n, n)) for n in here))
            classes = "flag" + (" accepted" if main.status == "accepted" else "")
            mark = (f'<mark class="{classes}" data-flags="{flags}" title="{escape(title)}" '
                    f'style="--c:{main.colour};--bg:{tint(main.colour)}">{chunk}</mark>')
            link = (href(here[0]) if callable(href) else href % here[0]) if href else ""
            parts.append(f'<a class="flag-link" href="{escape(link)}">{mark}</a>' if href else mark)
        else:
            parts.append(chunk)
    return "".join(parts)
