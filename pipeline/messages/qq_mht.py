"""QQ for PC's "导出消息记录 → 网页格式 (*.mht)": a MIME archive whose HTML part is one table row per
message, the date on rows of their own::

    <tr><td>…>消息对象:张三</div></td></tr>
    <tr><td style=…>日期: 2019-09-23</td></tr>
    <tr><td><div style=color:#006EFE;padding-left:10px;><div style=float:left;margin-right:6px;>张三</div>
        20:43:38</div><div style=padding-left:20px;><font …>内容</font></div></td></tr>

QQ colours the owner's name green (``#42B475``) and everyone else's blue (``#006EFE``), except
that the first message after each date row may carry the wrong colour. So a sender is the owner
when most of their messages are green; this tells the owner of a group export too. Images and
faces become ``[图片]``; ``<br>`` a line break. Times ``20:43:38`` or ``8:43:38 PM``.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections import Counter
from html import unescape
from pathlib import Path

from pipeline.errors import InputError
from pipeline.messages.chat_text import assign_directions
from pipeline.messages.model import Message, ParsedFile, Problem
from pipeline.messages.sms_csv import read_bytes
from pipeline.messages.times import parse_datetime

_ROW = re.compile(r"<tr\b[^>]*>(.*?)</tr>", re.S | re.I)
_DATE = re.compile(r"日期[:：]\s*(\d{4}-\d{1,2}-\d{1,2})")
_MESSAGE = re.compile(
    r"<div\s+style=[\"']?color:\s*(?P<colour>#[0-9A-Fa-f]{6});[^>]*>\s*<div\s+style=[\"']?float:left[^>]*>"
    r"(?P<name>.*?)</div>\s*(?P<time>[^<]*?)\s*</div>\s*<div\s+style=[\"']?padding-left:20px;?[\"']?>(?P<body>.*)</div>",
    re.S | re.I)
_OWNER_COLOUR = "#42b475"
_GROUP_FOLDER = re.compile(r"消息分组[:：]\s*([^<]*)")
_COUNTERPART = re.compile(r"消息对象[:：]\s*([^<]*)")


def looks_like_qq_mht(head: bytes) -> bool:
    return b"multipart/related" in head[:2048].lower() and (b"QQ Message" in head or b"_NextPart_" in head[:2048])


def _html(path: Path) -> str:
    raw = read_bytes(path)
    document = email.message_from_bytes(raw, policy=email.policy.compat32)
    for part in document.walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload(decode=True) or b""
            for encoding in (part.get_content_charset() or "utf-8", "utf-8", "gb18030"):
                try:
                    return payload.decode(encoding)
                except (UnicodeDecodeError, LookupError):
                    continue
    raise InputError(path, "MHT 文件里没有网页部分（不是 QQ 导出的消息记录？）", "no text/html part in the MHT file")


def html_text(fragment: str, image: str = "[图片]") -> str:
    """The plain text of an HTML fragment: <br> as a line break, an <img> as ``image``, entities decoded."""
    fragment = re.sub(r"<br\s*/?>", "\n", fragment, flags=re.I)
    fragment = re.sub(r"<img\b[^>]*>", image, fragment, flags=re.I)
    return unescape(re.sub(r"<[^>]+>", "", fragment)).replace("\xa0", " ").strip()


def parse_qq_mht(path: Path, me: tuple[str, ...] = ()) -> ParsedFile:
    """Messages of a QQ MHT export; the owner from ``me`` or, failing that, from QQ's colours."""
    path = Path(path)
    html = _html(path)
    day: str | None = None
    counterpart: str | None = None
    folder = ""
    messages: list[Message] = []
    problems: list[Problem] = []
    colours: dict[str, Counter[bool]] = {}
    first_of_day = False
    for number, row in enumerate(_ROW.finditer(html), start=1):
        cell = row.group(1)
        if (m := _DATE.search(html_text(cell))) and "float:left" not in cell:
            day, first_of_day = m.group(1), True
            continue
        if (m := _GROUP_FOLDER.search(cell)) and "float:left" not in cell:
            folder = html_text(m.group(1))
            continue
        if (m := _COUNTERPART.search(cell)) and "float:left" not in cell:
            counterpart = html_text(m.group(1)) or None
            continue
        m = _MESSAGE.search(cell)
        if m is None:
            continue
        name, clock = html_text(m["name"]), html_text(m["time"])
        when = parse_datetime(f"{day} {clock}") if day else None
        if when is None:
            problems.append(Problem(None, f"第 {number} 行表格：时间无法识别 {day or '（缺日期）'} {clock!r}（消息已保留）",
                                    f"table row {number}: bad time {clock!r} (kept)", 0))
        if not first_of_day:  # QQ may colour the first message of a day wrongly
            colours.setdefault(name, Counter())[m["colour"].lower() == _OWNER_COLOUR] += 1
        first_of_day = False
        messages.append(Message(index=len(messages), kind="chat", direction=None, text=html_text(m["body"]), sender=name,
                                time=when, time_source="export" if when else None,
                                time_text=f"{day} {clock}" if day else clock, meta={"row": number}))
    if not messages:
        raise InputError(path, "MHT 文件里没有读出 QQ 消息（应为 QQ“导出消息记录 → 网页格式”的 .mht 文件）",
                         "no QQ messages found in the MHT file")
    owners, source = set(me), "user"
    if not owners:
        owners = {name for name, c in colours.items() if c[True] > c[False]}
        source = "QQ 网页格式导出中本人发言的颜色（绿色）"
    group = "群" in folder or (counterpart is not None and not any(m.sender == counterpart for m in messages)
                              and len({m.sender for m in messages}) >= 3)
    meta = assign_directions(messages, owners, counterpart, group, source)
    return ParsedFile("qq_mht", "chat", messages, problems, meta={"shape": "qq_mht", **meta})
