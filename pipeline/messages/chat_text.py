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

Times may use a 12-hour clock with the period after them (``2019-09-23 8:43:38 PM 张三``, QQ and
WeChat on an English system). A WhatsApp export is refused as such.

Direction: messages by the phone's owner are "sent" — the owner is given by name (``me``), or is
"我"/"me"/"本人"/"自己"; in a private QQ export (``消息对象`` line) everyone else is the owner.
A group export (``消息分组`` names a group, or ``消息对象`` is none of 3+ senders) is read with the
owner's names only (``me``, or inferred by the importer from private chats beside it, see
``owner``): the owner's messages are sent, everyone else's received; with no owner known all
directions stay unknown and ``meta["notices"]`` says so. Otherwise the direction stays unknown.
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
_CLOCK = r"(?:凌晨|早上|上午|中午|下午|晚上)?\s*\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp]\.?[Mm]\.?(?![A-Za-z]))?"
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


# WhatsApp "[23/09/2019, 20:43:38] 名字: 内容" (iOS) / "23/09/2019, 20:43 - 名字: 内容" (Android)
_WHATSAPP = re.compile(r"^\[?\d{1,2}[/.]\d{1,2}[/.]\d{2,4},?\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp][Mm])?\]?\s*(?:-\s+)?[^:]+:")
_UNKNOWN_ZH = ("无法识别的聊天记录格式：应为“2024-01-15 22:31:05 张三”+下一行内容、“张三 2024/1/15 22:31:05”+下一行内容，"
               "或“[2024-01-15 22:31:05] 张三：内容”")
_UNKNOWN_EN = ("unknown chat export shape: expected '<date> <time> <name>' or '<name> <date> <time>' header lines "
               "followed by the message, or '[<date> <time>] <name>: <text>' lines")


def unknown_shape_reason(lines: list[str]) -> tuple[str, str]:
    """Why a text file is not a chat export we read (Chinese, English); names WhatsApp exports as such."""
    sample = [line.strip() for line in lines[:50] if line.strip()]
    if sum(bool(_WHATSAPP.match(line)) for line in sample) >= max(1, len(sample) // 2):
        return ("无法识别的聊天记录格式：这是 WhatsApp 导出的聊天记录，暂不支持（日期顺序因手机设置而异，无法可靠读出时间）；"
                "请改用截图，或整理成“[2024-01-15 22:31:05] 张三：内容”的格式",
                "unknown chat export shape: a WhatsApp export, not supported (its day/month order depends on the phone)")
    return _UNKNOWN_ZH, _UNKNOWN_EN


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


_ID = re.compile(r"[（(<]\s*([^()（）<>]+?)\s*[)）>]\s*$")


def identity(name: str) -> tuple[str, str | None]:
    """(bare name, account) of a sender as QQ writes it: ``小明(10001)`` / ``小明<a@qq.com>`` -> ("小明", "10001")."""
    m = _ID.search(name)
    bare = name[: m.start()].strip() if m else name.strip()
    return bare or name.strip(), (m.group(1) if m else None)


def is_owner(name: str, owners: Iterable[str]) -> bool:
    """``name`` is one of the owner's names: same account (QQ number / e-mail) when both carry one, else same name."""
    bare, account = identity(name)
    for owner in owners:
        owner_bare, owner_account = identity(owner)
        if account and owner_account:
            if account == owner_account:
                return True
            continue
        if name == owner or bare == owner_bare:
            return True
    return False


def is_group(lines: list[str], counterpart: str | None, senders: set[str]) -> bool:
    """A group chat: QQ's ``消息分组`` names a group folder, or ``消息对象`` is none of 3+ senders."""
    folder = next((m.group(1) for line in lines[:40] if (m := re.match(r"^消息分组[:：]\s*(.*)$", line.strip()))), "")
    if "群" in folder:
        return True
    if counterpart is None or len(senders) < 3:
        return False
    return not any(is_owner(s, [counterpart]) for s in senders)


def _private_direction(name: str, me: set[str], counterpart: str | None) -> str | None:
    if is_owner(name, me) or identity(name)[0].lower() in OWNER_NAMES:
        return "sent"
    if counterpart is not None:
        return "received" if is_owner(name, [counterpart]) else "sent"
    return "received" if me else None


def parse_chat_text(path: Path, me: Iterable[str] = (), me_source: str = "user") -> ParsedFile:
    """Messages of a chat export; ``me``: the owner's names as they appear as sender.

    ``me_source`` says where ``me`` came from (``user`` / ``inferred: …``) for the group-chat notice.
    A group export (QQ ``消息分组:我的QQ群``…) is read with the owner's names only: the owner's
    messages are sent, everyone else's received; with no owner known every direction stays unknown.
    """
    path = Path(path)
    lines = read_text(path).splitlines()
    found = detect_shape(lines)
    if found is None:
        raise InputError(path, unknown_shape_reason(lines)[0], unknown_shape_reason(lines)[1])
    shape, first = found
    pattern = SHAPES[shape]
    counterpart = next((m["name"] for line in lines[:first] if (m := _COUNTERPART.match(line.strip()))), None)
    owners = {n.strip() for n in me if n.strip()}
    messages: list[Message] = []
    problems: list[Problem] = [
        Problem(i + 1, "第一条消息之前的内容不属于任何消息，已忽略", "text before the first message: ignored", 0)
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
        messages.append(Message(
            index=len(messages), kind="chat", direction=None, text=m["text"] if shape == "one_line" else "",
            sender=m["name"].strip(), time=when, time_source="export" if when else None, time_text=m["time"],
            line=i + 1))
        if when is None:
            problems.append(Problem(i + 1, f"时间无法识别 {m['time']!r}（消息已保留）", f"bad time {m['time']!r} (message kept)", 0))
    close()
    meta = assign_directions(messages, owners, counterpart, is_group(lines[:first], counterpart, _senders(messages)),
                             me_source)
    return ParsedFile("chat_text", "chat", messages, problems, meta={"shape": shape, **meta})


def _senders(messages: list[Message]) -> set[str]:
    return {m.sender for m in messages if m.sender}


def assign_directions(messages: list[Message], owners: set[str], counterpart: str | None, group: bool,
                      me_source: str = "user") -> dict:
    """Direction, counterpart and number of each message from its sender; the file's meta (with notices)."""
    notices: list[str] = []
    if group:
        _group_directions(messages, owners)
        notices.append(_group_notice(counterpart, owners, me_source, messages))
    else:
        _private_directions(messages, owners, counterpart)
    return {"senders": sorted(_senders(messages)), "counterpart": counterpart, "me": sorted(owners), "group": group,
            "me_source": me_source if owners else None, "notices": notices}


def _private_directions(messages: list[Message], owners: set[str], counterpart: str | None) -> None:
    for message in messages:
        name = message.sender or ""
        message.direction = _private_direction(name, owners, counterpart)
        other = name if message.direction != "sent" else counterpart
        message.contact_name = other
        message.number = canonical_number(other) if other and is_number_like(other) else None
    if not owners and counterpart is None and any(m.direction == "sent" for m in messages):
        for message in messages:  # the owner is known by an owner word: everyone else is the counterpart
            if message.direction is None:
                message.direction = "received"


def _group_directions(messages: list[Message], owners: set[str]) -> None:
    for message in messages:
        name = message.sender or ""
        mine = is_owner(name, owners) or identity(name)[0].lower() in OWNER_NAMES
        message.direction = "sent" if mine else ("received" if owners else None)
        message.contact_name = None if mine else name
        account = identity(name)[1]
        message.number = canonical_number(name) if is_number_like(name) else None
        if account and not mine:
            message.meta["account"] = account
        message.meta["group"] = True


def _group_notice(group: str | None, owners: set[str], me_source: str, messages: list[Message]) -> str:
    where = f"群聊“{group}”" if group else "群聊记录"
    if not owners:
        return (f"{where}：无法确定哪位发言人是本人，所有消息的方向未知（标记为“未确认发言方”）；"
                "请在 messages.csv 的 me 列或 add-messages --me 给出本人在群里的昵称或 QQ 号")
    names = "、".join(sorted(owners))
    how = "由用户给出" if me_source == "user" else f"根据{me_source}推断"
    spoke = sum(m.direction == "sent" for m in messages)
    return (f"{where}：本人 = {names}（{how}）；本人发言 {spoke} 条记为“发出”，"
            f"其他 {len(messages) - spoke} 条记为对方（收到）")
