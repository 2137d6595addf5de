"""Plain-text chat exports (WeChat / QQ style). Three shapes are accepted, decided by the first
message-like line among the first 50 non-empty lines:

1. ``time_name`` — a header line ``<date> <time> <sender>`` and the message on the next line(s),
   as QQ's "导出消息记录 → 文本文件" and many WeChat export tools write it::

       2024-01-15 22:31:05 张三
       你再不还钱试试

   (QQ's preamble — ``消息记录（…）``, ``=====`` rules, ``消息分组:``, ``消息对象:张三`` — is
   skipped; ``消息对象`` names the counterpart.)
2. ``name_time`` — ``<sender> <date> <time>`` then the message line(s), as WeChat for PC copies
   several selected messages::

       张三 2024/1/15 22:31:05
       你再不还钱试试

3. ``one_line`` — one message per line: ``[<date> <time>] <sender>: <text>`` (brackets optional,
   ``:`` or ``：``)::

       [2024-01-15 22:31:05] 张三：你再不还钱试试

Dates: ``2024-01-15``, ``2024/1/15``, ``2024.1.15``, ``2024年1月15日``; times ``22:31`` or
``22:31:05``, optionally preceded by 上午/下午/晚上/凌晨. In shapes 1 and 2, lines until the next
header belong to the message (multi-line messages). Anything else raises ``InputError``.

Direction: messages by the phone's owner are "sent" — the owner is given by name (``me``), or is
"我"/"me"/"本人"/"自己"; with a QQ ``消息对象`` line everyone else is the owner. Otherwise the
direction stays unknown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from pipeline.calls import canonical_number, is_number_like
from pipeline.errors import InputError
from pipeline.messages.model import Message, ParsedFile, Problem
from pipeline.messages.sms_csv import read_text
from pipeline.messages.times import parse_datetime

_DATE = r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?"
_CLOCK = r"(?:凌晨|早上|上午|中午|下午|晚上)?\s*\d{1,2}:\d{2}(?::\d{2})?"
_STAMP = rf"{_DATE}\s+{_CLOCK}"
SHAPES = {
    "one_line": re.compile(rf"^\[?(?P<time>{_STAMP})\]?\s+(?P<name>[^:：\s][^:：]{{0,39}}?)\s*[:：]\s?(?P<text>.*)$"),
    "time_name": re.compile(rf"^(?P<time>{_STAMP})\s+(?P<name>\S.{{0,59}}?)\s*$"),
    "name_time": re.compile(rf"^(?P<name>\S.{{0,59}}?)\s+(?P<time>{_STAMP})\s*$"),
}
_PREAMBLE = re.compile(r"^(?:消息记录.*|=+|-+|消息分组[:：].*|消息对象[:：].*|聊天记录.*|导出时间[:：].*)$")
_COUNTERPART = re.compile(r"^消息对象[:：]\s*(?P<name>.+?)\s*$")
OWNER_NAMES = {"我", "me", "本人", "自己", "我自己"}
_SCAN_LINES = 50


def detect_shape(lines: list[str]) -> tuple[str, int] | None:
    """(shape, index of its first line) from the first message-like line, or None."""
    seen = 0
    for i, line in enumerate(lines):
        text = line.strip()
        if not text:
            continue
        seen += 1
        if seen > _SCAN_LINES:
            break
        for shape, pattern in SHAPES.items():
            if pattern.match(text):
                return shape, i
    return None


def _direction(name: str, me: set[str], counterpart: str | None) -> str | None:
    bare = re.sub(r"[（(<].*$", "", name).strip()
    if name in me or bare in me or bare.lower() in OWNER_NAMES:
        return "sent"
    if counterpart is not None:
        return "received" if name == counterpart or bare == re.sub(r"[（(<].*$", "", counterpart).strip() else "sent"
    return "received" if me else None


def parse_chat_text(path: Path, me: Iterable[str] = ()) -> ParsedFile:
    """Messages of a chat export; ``me``: the owner's names as they appear as sender."""
    path = Path(path)
    lines = read_text(path).splitlines()
    found = detect_shape(lines)
    if found is None:
        raise InputError(
            path, "无法识别的聊天记录格式：应为“2024-01-15 22:31:05 张三”+下一行内容、“张三 2024/1/15 22:31:05”+下一行内容，"
                  "或“[2024-01-15 22:31:05] 张三：内容”",
            "unknown chat export shape: expected '<date> <time> <name>' or '<name> <date> <time>' header lines "
            "followed by the message, or '[<date> <time>] <name>: <text>' lines")
    shape, first = found
    pattern = SHAPES[shape]
    counterpart = next((m["name"] for line in lines[:first] if (m := _COUNTERPART.match(line.strip()))), None)
    owners = {n.strip() for n in me if n.strip()}
    messages: list[Message] = []
    problems: list[Problem] = [
        Problem(i + 1, "第一条消息之前的内容不属于任何消息，已忽略", "text before the first message: ignored")
        for i, line in enumerate(lines[:first]) if line.strip() and not _PREAMBLE.match(line.strip())]
    body: list[str] = []

    def close() -> None:
        if messages and shape != "one_line":
            messages[-1].text = "\n".join(body).strip("\n")
        body.clear()

    for i in range(first, len(lines)):
        text = lines[i].rstrip()
        m = pattern.match(text.strip()) if text.strip() else None
        if m is None:
            if messages:
                if shape == "one_line" and text.strip():
                    messages[-1].text += "\n" + text.strip()
                elif shape != "one_line":
                    body.append(text)
            continue
        close()
        when = parse_datetime(m["time"])
        name = m["name"].strip()
        direction = _direction(name, owners, counterpart)
        other = name if direction != "sent" else counterpart
        messages.append(Message(
            index=len(messages), kind="chat", direction=direction, text=m["text"] if shape == "one_line" else "",
            number=canonical_number(other) if other and is_number_like(other) else None,
            contact_name=other, sender=name, time=when, time_source="export" if when else None,
            time_text=m["time"], line=i + 1))
        if when is None:
            problems.append(Problem(i + 1, f"时间无法识别 {m['time']!r}（消息已保留）", f"bad time {m['time']!r} (message kept)"))
    close()
    if not owners and counterpart is None and any(m.direction == "sent" for m in messages):
        for message in messages:  # the owner is known by an owner word: everyone else is the counterpart
            if message.direction is None:
                message.direction = "received"
    senders = sorted({m.sender for m in messages if m.sender})
    return ParsedFile("chat_text", "chat", messages, problems,
                      meta={"shape": shape, "senders": senders, "counterpart": counterpart, "me": sorted(owners)})
