"""QQNT-era exports by QQChatExporter (QCE, github.com/shuakami/qq-chat-exporter), the tool people
use since QQ NT dropped the old "导出消息记录": JSON and TXT. (Its HTML export is named as not
read, see ``importer.unsupported_export``: export JSON or TXT instead.)

JSON (``metadata.name`` = "QQChatExporter")::

    {"metadata": {"name": "QQChatExporter", "version": "5.x"},
     "chatInfo": {"name": "催收-赵六", "type": "private" | "group", "selfUin": "10001", "selfName": "小明",
                  "peerUin": "20002"},
     "messages": [{"id": "…", "timestamp": 1705329065000, "time": "2024-01-15 22:31:05",
                   "sender": {"uid": "u_…", "uin": "20002", "name": "催收-赵六"},
                   "type": "type_1", "content": {"text": "…", "resources": [{"type": "image"}]},
                   "recalled": false, "system": false}]}

``timestamp`` is epoch milliseconds (an ISO string in 4.x files; ``time`` is used when neither
reads). TXT::

    [QQChatExporter V5 / https://github.com/shuakami/qq-chat-exporter]
    ===============================================
               QQ聊天记录导出文件
    ===============================================
    聊天名称: 催收-赵六
    聊天类型: 私聊
    …
    催收-赵六:
    时间: 2024-01-15 22:31:05
    内容: 你再不还钱试试
    资源: 1 个文件            (optional lines: 资源 / "  - image: a.jpg" / 提及 / 回复)

Direction: the owner is ``chatInfo.selfUin`` / ``selfUid`` (JSON), or the names given with
``--me``; in a private chat everyone but the peer (``peerUin``, or in TXT the 聊天名称 when a
sender has that name) is the owner. Otherwise directions stay unknown and a notice says so.
System messages and messages with no text (images, stickers, files) are skipped and counted;
recalled messages are kept with a note.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.errors import InputError
from pipeline.messages.chat_text import identity, is_owner
from pipeline.messages.model import Message, ParsedFile, Problem
from pipeline.messages.sms_csv import read_text
from pipeline.messages.times import parse_datetime, parse_epoch

QCE_TXT_MARKERS = ("[QQChatExporter", "QQ聊天记录导出文件")
_RESOURCE_ZH = {"image": "图片", "video": "视频", "audio": "语音", "voice": "语音", "file": "文件"}
# [图片消息], [图片、文件消息], [系统消息], [表情消息], [无文本内容], [图片]
_NO_TEXT = re.compile(r"^\[(?:[^\[\]]*消息|无文本内容|图片|表情|语音|视频|文件)\]$")
_TXT_TIME = re.compile(r"^时间[:：]\s*(?P<time>.+?)\s*$")
_TXT_META = re.compile(r"^(?:资源[:：]\s*\d+\s*个文件|\s+-\s+\w+[:：].*|提及[:：].*|回复[:：].*)$")
_TITLE = re.compile(r"^\[[^\]]*\]\s*")


def looks_like_qce_json(head: bytes) -> bool:
    return b'"chatInfo"' in head and b'"messages"' in head and b"QQChatExporter" in head


def looks_like_qce_text(text: str) -> bool:
    return any(marker in text[:2048] for marker in QCE_TXT_MARKERS) and "聊天名称" in text[:4096]


def _when(message: dict[str, Any]) -> tuple[datetime | None, str | None, str | None]:
    """(time, source, as written) from ``timestamp`` (ms or ISO) or ``time``."""
    stamp = message.get("timestamp")
    if isinstance(stamp, (int, float)) and stamp > 0:
        when = parse_epoch(str(int(stamp)))
        if when:
            return when, "epoch", str(stamp)
    if isinstance(stamp, str) and stamp.strip():
        text = stamp.strip().replace("Z", "+00:00")
        try:
            return datetime.fromisoformat(text), "epoch" if "+" in text else "export", stamp
        except ValueError:
            pass
    if isinstance(message.get("time"), str) and (when := parse_datetime(message["time"])):
        return when, "export", message["time"]
    return None, None, str(stamp or message.get("time") or "") or None


class _Sides:
    """Who is the owner: account ids (uin / uid) and names."""

    def __init__(self, accounts: set[str], names: set[str], peer_accounts: set[str], peer_name: str | None) -> None:
        self.accounts = {a for a in accounts if a}
        self.names = {n for n in names if n}
        self.peer_accounts = {a for a in peer_accounts if a}
        self.peer_name = peer_name

    def direction(self, accounts: set[str], name: str, group: bool) -> str | None:
        if accounts & self.accounts or (self.names and is_owner(name, self.names)):
            return "sent"
        if self.accounts or self.names:
            return "received"
        if not group and self.peer_accounts:
            return "received" if accounts & self.peer_accounts else "sent"
        if not group and self.peer_name:
            return "received" if identity(name)[0] == self.peer_name else "sent"
        return None


def _notices(group: bool, chat: str, directions: list[str | None]) -> list[str]:
    if all(d is None for d in directions):
        return [f"{'群聊' if group else '聊天'}“{chat}”：无法确定哪位发言人是本人，所有消息的方向未知（标记为“未确认发言方”）；"
                "请用 add-messages --me 或 messages.csv 的 me 列给出本人的昵称或 QQ 号"]
    if group:
        spoke = sum(d == "sent" for d in directions)
        return [f"群聊“{chat}”：本人发言 {spoke} 条记为“发出”，其他 {len(directions) - spoke} 条记为对方（收到）"]
    return []


def parse_qce_json(path: Path, me: tuple[str, ...] = ()) -> ParsedFile:
    """Messages of a QQChatExporter JSON export."""
    path = Path(path)
    try:
        document = json.loads(read_text(path))
    except ValueError as exc:
        raise InputError(path, f"QQChatExporter 的 JSON 文件损坏，无法解析（{exc.args[0][:60]}）",
                         f"broken QQChatExporter JSON ({exc})") from exc
    if not isinstance(document, dict) or not isinstance(document.get("messages"), list):
        raise InputError(path, "不是 QQChatExporter 导出的 JSON（缺 chatInfo / messages）", "no chatInfo/messages")
    info = document.get("chatInfo") if isinstance(document.get("chatInfo"), dict) else {}
    group = info.get("type") == "group"
    chat = str(info.get("name") or path.stem)
    sides = _Sides({str(info.get("selfUin") or ""), str(info.get("selfUid") or "")},
                   set(me) | ({str(info["selfName"])} if info.get("selfName") else set()),
                   {str(info.get("peerUin") or ""), str(info.get("peerUid") or "")}, None)
    messages: list[Message] = []
    problems: list[Problem] = []
    skipped: Counter[str] = Counter()
    for number, raw in enumerate(document["messages"], start=1):
        if not isinstance(raw, dict) or not isinstance(raw.get("sender"), dict):
            problems.append(Problem(None, f"第 {number} 条消息格式不对（缺 sender），已跳过", f"message #{number}: no sender"))
            continue
        content = raw.get("content") if isinstance(raw.get("content"), dict) else {}
        text = str(content.get("text") or "").strip()
        if raw.get("system"):
            skipped["系统消息"] += 1
            continue
        if not text or _NO_TEXT.match(text):
            kinds = {_RESOURCE_ZH.get(str(r.get("type")), "其他") for r in content.get("resources") or []
                     if isinstance(r, dict)}
            skipped[f"{'、'.join(sorted(kinds)) or '表情/无文字'}消息"] += 1
            continue
        sender = raw["sender"]
        name = str(sender.get("name") or sender.get("nickname") or sender.get("uin") or sender.get("uid") or "")
        uin = str(sender.get("uin") or "")
        accounts = {uin, str(sender.get("uid") or "")} - {""}
        when, source, written = _when(raw)
        message = Message(index=len(messages), kind="chat", direction=None, text=text,
                          sender=f"{name}({uin})" if uin and uin != name else name,
                          time=when, time_source=source, time_text=written,
                          meta={"entry": number, "group": group, **({"account": uin} if uin else {})})
        message.direction = sides.direction(accounts, message.sender or "", group)
        message.contact_name = (None if message.direction == "sent" and group else
                                chat if message.direction == "sent" else name)
        if raw.get("recalled"):
            message.notes.append("对方已撤回（导出时仍保留了内容）")
        if when is None:
            problems.append(Problem(None, f"第 {number} 条消息时间无法识别 {written!r}（消息已保留）",
                                    f"message #{number}: bad time {written!r} (kept)", 0))
        messages.append(message)
    problems += [Problem(None, f"{n} 条{what}没有文字，未导入", f"{n} skipped: {what}", n) for what, n in skipped.items()]
    return ParsedFile("qce_json", "chat", messages, problems,
                      meta={"shape": "qce_json", "group": group, "counterpart": chat, "me": sorted(sides.names),
                            "notices": _notices(group, chat, [m.direction for m in messages])})


def parse_qce_text(path: Path, me: tuple[str, ...] = ()) -> ParsedFile:
    """Messages of a QQChatExporter TXT export."""
    path = Path(path)
    lines = read_text(path).splitlines()
    if not looks_like_qce_text("\n".join(lines[:60])):
        raise InputError(path, "不是 QQChatExporter 导出的 TXT（缺“QQ聊天记录导出文件”和“聊天名称”）", "not a QCE TXT export")
    chat = next((m.group(1).strip() for line in lines[:40] if (m := re.match(r"^聊天名称[:：]\s*(.+)$", line))), path.stem)
    kind = next((m.group(1).strip() for line in lines[:40] if (m := re.match(r"^聊天类型[:：]\s*(.+)$", line))), "")
    group = kind == "群聊"
    starts = [i for i in range(len(lines) - 1)
              if lines[i].rstrip().endswith((":", "：")) and _TXT_TIME.match(lines[i + 1])]
    if not starts:
        raise InputError(path, "QQChatExporter TXT 里没有读出消息（应为“昵称:”一行、“时间: …”一行、“内容: …”一行）",
                         "no messages in the QCE TXT export")
    messages: list[Message] = []
    problems: list[Problem] = []
    skipped: Counter[str] = Counter()
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        name = _TITLE.sub("", lines[start].rstrip()[:-1].strip())
        written = _TXT_TIME.match(lines[start + 1])["time"]  # type: ignore[index]
        body: list[str] = []
        for line in lines[start + 2:end]:
            if line.startswith("=====") or _TXT_META.match(line):
                break
            body.append(line[3:] if not body and re.match(r"^内容[:：]", line) else line)
        text = "\n".join(body).strip()
        if not text or _NO_TEXT.match(text):
            skipped[(text.strip("[]") or "无文字") if text else "无文字消息"] += 1
            continue
        when = parse_datetime(written)
        messages.append(Message(index=len(messages), kind="chat", direction=None, text=text, sender=name, time=when,
                                time_source="export" if when else None, time_text=written, line=start + 1,
                                meta={"group": group}))
        if when is None:
            problems.append(Problem(start + 2, f"时间无法识别 {written!r}（消息已保留）", f"bad time {written!r} (kept)", 0))
    senders = {identity(m.sender or "")[0] for m in messages}
    peer = chat if not group and chat in senders else None
    sides = _Sides(set(), set(me), set(), peer)
    for message in messages:
        message.direction = sides.direction(set(), message.sender or "", group)
        message.contact_name = (None if message.direction == "sent" and group else
                                chat if message.direction == "sent" else message.sender)
    problems += [Problem(None, f"{n} 条{what}没有文字，未导入", f"{n} skipped: {what}", n) for what, n in skipped.items()]
    return ParsedFile("qce_txt", "chat", messages, problems,
                      meta={"shape": "qce_txt", "group": group, "counterpart": chat, "me": sorted(me),
                            "notices": _notices(group, chat, [m.direction for m in messages])})
