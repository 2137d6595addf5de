"""Messages exported as CSV: phone-assistant SMS tables, iOS tools (iMazing, PhoneView) and the
WeChat export tool 留痕 (WeChatMsg / MemoTrace).

Columns are matched by name, case-insensitive, any order; unknown columns are ignored:

| field | accepted column names |
|---|---|
| text (required) | body, text, message, content, msg, StrContent, 内容, 短信内容, 正文, 消息内容 |
| number | address, number, phone, phone_number, from, sender, Sender ID, 号码, 电话, 手机号, 对方号码, 发件人 |
| contact name | contact_name, name, contact, Sender Name, Remark, 联系人, 姓名, 对方 (NickName, 昵称 when empty) |
| time | date, time, datetime, readable_date, timestamp, Message Date, CreateTime, StrTime, 时间, 日期, 发送时间, 接收时间, 收发时间 |
| direction | type, direction, box, folder, 类型, 方向, 收发, 状态 (IsSender: 1 = sent, 0 = received) |
| conversation | Chat Session, 会话 (the other side of sent rows, which carry no number) |
| received_by | received_by, 接收人, 收信人, 接听人 |

A text column plus a number, time or direction column is needed; a file without one is refused
with the columns it needs. A file without a time column, or without a number / name column, is
read and the missing column reported. Times: epoch seconds or milliseconds, ``2024-01-15
22:31[:05]``, ``2024/1/15 22:31``, ``2024年1月15日 22:31``, ``Jul 23, 2011 6:12:54 AM``, ISO 8601.
Directions: 1 / received / inbox / in / incoming / 接收 / 收到 / 收件箱 / 来信 and 2 / sent /
outbox / out / outgoing / 发送 / 发出 / 已发送 / 发件箱 / 去信; empty = unknown. A row with a bad
time or direction is reported with its line and skipped; iMazing's ``Notification`` rows (system
notices) and 留痕's non-text rows (images, voice, system messages: ``Type`` other than 1) are
skipped and counted. UTF-8 (with or without BOM), UTF-16 or GB18030.

Shapes (headers as the tools write them):
- iMazing: ``Chat Session,Message Date,Delivered Date,Read Date,Edited Date,Service,Type,Sender ID,
  Sender Name,Status,Replying to,Subject,Text,Attachment,Attachment type`` (Type Incoming/Outgoing).
- PhoneView: ``"direction","timestamp","name","number","content","type"`` (Received/Sent).
- 留痕: ``localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender``.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path

from pipeline.calls import canonical_number
from pipeline.errors import InputError
from pipeline.messages.model import Message, ParsedFile, Problem
from pipeline.messages.times import parse_datetime

COLUMNS = {
    "text": ("body", "text", "message", "content", "msg", "strcontent", "内容", "短信内容", "正文", "消息内容"),
    "number": ("address", "number", "phone", "phone_number", "from", "sender", "sender id", "号码", "电话", "手机号",
               "对方号码", "发件人"),
    "contact_name": ("contact_name", "name", "contact", "sender name", "remark", "联系人", "姓名", "对方"),
    "nickname": ("nickname", "昵称"),
    "time": ("date", "time", "datetime", "readable_date", "timestamp", "message date", "createtime", "strtime",
             "时间", "日期", "发送时间", "接收时间", "收发时间"),
    "direction": ("type", "direction", "box", "folder", "类型", "方向", "收发", "状态"),
    "is_sender": ("issender",),
    "session": ("chat session", "会话"),
    "received_by": ("received_by", "接收人", "收信人", "接听人"),
}
DIRECTION_WORDS = {
    **dict.fromkeys(("1", "received", "receive", "inbox", "in", "incoming", "接收", "收到", "收件箱", "来信", "已接收"),
                    "received"),
    **dict.fromkeys(("2", "sent", "send", "outbox", "out", "outgoing", "发送", "发出", "已发送", "发件箱", "去信"),
                    "sent"),
}
_NOTICE_WORDS = {"notification", "system", "系统消息", "通知"}
_ALIASES = {alias.lower(): key for key, names in COLUMNS.items() for alias in names}
NEEDED_ZH = "内容列（body/text/内容）以及号码（address/号码）、时间（date/时间）或收发方向（type/类型）列之一"
_WECHAT_TYPES = {"3": "图片", "34": "语音", "43": "视频", "47": "表情", "48": "位置", "49": "链接/文件/小程序",
                 "50": "语音/视频通话", "10000": "系统", "10002": "撤回通知"}


def read_bytes(path: Path) -> bytes:
    """The file's bytes; an unreadable file is a one-line InputError."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(path, "无法读取", f"cannot read: {exc.strerror}") from exc


def read_text(path: Path) -> str:
    """A text file as str: UTF-8 (BOM or not), UTF-16 with BOM, else GB18030 (Chinese Excel)."""
    raw = read_bytes(path)
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError(path, "无法识别文件编码，请另存为 UTF-8", "unknown text encoding, save as UTF-8")


def header_keys(header: list[str]) -> list[str | None]:
    """Column index -> field name (or None for an ignored column); the first column of a field wins."""
    keys: list[str | None] = []
    for name in header:
        key = _ALIASES.get(name.strip().lower())
        keys.append(key if key not in keys else None)
    return keys


def is_sms_header(header: list[str]) -> bool:
    keys = set(header_keys(header))
    return "text" in keys and bool(keys & {"number", "time", "direction", "is_sender"})


def _wechat(header: list[str]) -> bool:
    names = {h.strip().lower() for h in header}
    return {"issender", "strcontent"} <= names


def _other_side(value: str | None) -> tuple[str | None, str | None, str | None]:
    """(number, raw, e-mail) of a sender id: an Apple ID / e-mail is a name, not a number."""
    value = (value or "").strip() or None
    if value and "@" in value:
        return None, value, value
    return canonical_number(value), value, None


def _column_problems(keys: list[str | None], header: list[str]) -> list[Problem]:
    ignored = [h for h, k in zip(header, keys, strict=True) if k is None and h.strip()]
    rest = f"；未使用的列: {ignored}" if ignored else ""
    problems = []
    if "time" not in keys:
        problems.append(Problem(None, f"没有可识别的时间列（date/时间/Message Date），所有消息都没有时间{rest}",
                                f"no time column: every message has no time; ignored columns {ignored}", 0))
    if not {"number", "contact_name", "session"} & set(keys):
        problems.append(Problem(None, f"没有可识别的号码或联系人列（address/号码/联系人/Sender ID），对方未知{rest}",
                                f"no number or contact column: the other side is unknown; ignored columns {ignored}", 0))
    return problems


def parse_sms_csv(path: Path) -> ParsedFile:
    path = Path(path)
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    header = next(reader, None) or []
    if not is_sms_header(header):
        raise InputError(path, f"不是可识别的短信/聊天 CSV：第 1 行表头需要{NEEDED_ZH}，实际为 {header}",
                         f"not a recognised SMS CSV: line 1 needs a text column (body/内容) and a number, time "
                         f"or direction column; got {header}")
    keys = header_keys(header)
    wechat = _wechat(header)
    raw_type = next((i for i, h in enumerate(header) if h.strip().lower() == "type"), None) if wechat else None
    if wechat:  # 留痕's Type is the message type, not a direction
        keys = [None if k == "direction" else k for k in keys]
    messages: list[Message] = []
    problems = _column_problems(keys, header)
    skipped: Counter[str] = Counter()
    for cells in reader:
        line = reader.line_num
        row = {k: c.strip() for k, c in zip(keys, cells, strict=False) if k}
        if not any(row.values()):
            continue
        if raw_type is not None and raw_type < len(cells) and cells[raw_type].strip() not in ("1", ""):
            kind = cells[raw_type].strip()
            skipped[f"{_WECHAT_TYPES.get(kind, '非文字')}消息（Type={kind}）"] += 1
            continue
        direction = None
        if row.get("is_sender"):
            direction = {"1": "sent", "0": "received"}.get(row["is_sender"])
        elif row.get("direction"):
            word = row["direction"].lower()
            if word in _NOTICE_WORDS:
                skipped["系统通知"] += 1
                continue
            direction = DIRECTION_WORDS.get(word)
            if direction is None:
                problems.append(Problem(line, f"无法识别收发方向 {row['direction']!r}，已跳过",
                                        f"unknown direction {row['direction']!r}: skipped"))
                continue
        when = None
        if row.get("time"):
            when = parse_datetime(row["time"])
            if when is None:
                problems.append(Problem(line, f"无法识别时间 {row['time']!r}，已跳过", f"bad time {row['time']!r}: skipped"))
                continue
        number, raw_number, email = _other_side(row.get("number"))
        contact = row.get("contact_name") or email or None
        if contact and number and canonical_number(contact) == number:  # PhoneView repeats the number as the name
            contact = None
        message = Message(
            index=len(messages), kind="chat" if wechat else "sms", direction=direction, text=row.get("text", ""),
            number=number, number_raw=raw_number, contact_name=contact,
            time=when, time_source=("epoch" if when and when.tzinfo else "export") if when else None,
            time_text=row.get("time") or None, line=line, received_by=row.get("received_by") or None)
        if row.get("session"):
            message.meta["session"] = row["session"]
        if row.get("nickname"):
            message.meta["nickname"] = row["nickname"]
        messages.append(message)
    if wechat:
        _wechat_sides(messages)
    _fill_sent_sides(messages)
    problems += [Problem(None, f"{n} 条{what}没有文字，未导入", f"{n} rows skipped: {what}", n) for what, n in skipped.items()]
    return ParsedFile("sms_csv", "chat" if wechat else "sms", messages, problems,
                      meta={"columns": header, "profile": "wechatmsg" if wechat else None,
                            "skipped": dict(skipped)})


def _wechat_sides(messages: list[Message]) -> None:
    """留痕 rows: the other side is the chat's remark or nickname (the ``number`` column holds a wxid)."""
    for message in messages:
        if message.number_raw:
            message.meta["wxid"] = message.number_raw
        message.number = message.number_raw = None
        message.contact_name = message.contact_name or message.meta.get("nickname")
        message.sender = "我" if message.direction == "sent" else message.contact_name


def _fill_sent_sides(messages: list[Message]) -> None:
    """Rows with only a conversation name (iMazing's sent rows): take the number its received rows carry."""
    numbers: dict[str, set[str]] = {}
    for m in messages:
        if m.meta.get("session") and m.number:
            numbers.setdefault(m.meta["session"], set()).add(m.number)
    for m in messages:
        session = m.meta.get("session")
        if session and not m.number and not m.contact_name:
            m.contact_name = session
            if len(numbers.get(session, ())) == 1:
                m.number = m.number_raw = next(iter(numbers[session]))
