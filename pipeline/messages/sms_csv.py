"""SMS exported as CSV (phone-assistant tools, spreadsheet exports of the SMS database).

Columns are matched by name, case-insensitive, any order; unknown columns are ignored:

| field | accepted column names |
|---|---|
| text (required) | body, text, message, content, msg, 内容, 短信内容, 正文, 消息内容 |
| number | address, number, phone, phone_number, from, sender, 号码, 电话, 手机号, 对方号码, 发件人 |
| contact name | contact_name, name, contact, 联系人, 姓名, 对方 |
| time | date, time, datetime, readable_date, timestamp, 时间, 日期, 发送时间, 接收时间, 收发时间 |
| direction | type, direction, box, folder, 类型, 方向, 收发, 状态 |
| received_by | received_by, 接收人, 收信人, 接听人 |

A text column plus a number, time or direction column is needed. Times: epoch seconds or
milliseconds, ``2024-01-15 22:31[:05]``, ``2024/1/15 22:31``, ``2024年1月15日 22:31``, ISO 8601.
Directions: 1 / received / inbox / in / incoming / 接收 / 收到 / 收件箱 / 来信 and 2 / sent /
outbox / out / outgoing / 发送 / 发出 / 已发送 / 发件箱 / 去信; empty = unknown. A row with a bad
time or direction is reported with its line and skipped. UTF-8 (with or without BOM) or GB18030.
"""

from __future__ import annotations

import csv
from pathlib import Path

from pipeline.calls import canonical_number
from pipeline.errors import InputError
from pipeline.messages.model import Message, ParsedFile, Problem
from pipeline.messages.times import parse_datetime

COLUMNS = {
    "text": ("body", "text", "message", "content", "msg", "内容", "短信内容", "正文", "消息内容"),
    "number": ("address", "number", "phone", "phone_number", "from", "sender", "号码", "电话", "手机号",
               "对方号码", "发件人"),
    "contact_name": ("contact_name", "name", "contact", "联系人", "姓名", "对方"),
    "time": ("date", "time", "datetime", "readable_date", "timestamp", "时间", "日期", "发送时间", "接收时间", "收发时间"),
    "direction": ("type", "direction", "box", "folder", "类型", "方向", "收发", "状态"),
    "received_by": ("received_by", "接收人", "收信人", "接听人"),
}
DIRECTION_WORDS = {
    **dict.fromkeys(("1", "received", "receive", "inbox", "in", "incoming", "接收", "收到", "收件箱", "来信", "已接收"),
                    "received"),
    **dict.fromkeys(("2", "sent", "send", "outbox", "out", "outgoing", "发送", "发出", "已发送", "发件箱", "去信"),
                    "sent"),
}
_ALIASES = {alias.lower(): key for key, names in COLUMNS.items() for alias in names}


def read_text(path: Path) -> str:
    """A text file as str: UTF-8 (BOM or not), UTF-16 with BOM, else GB18030 (Chinese Excel)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(path, "无法读取", f"cannot read: {exc.strerror}") from exc
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return raw.decode("utf-16")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError(path, "无法识别文件编码，请另存为 UTF-8", "unknown text encoding, save as UTF-8")


def header_keys(header: list[str]) -> list[str | None]:
    """Column index -> field name (or None for an ignored column); the first alias wins."""
    keys: list[str | None] = []
    for name in header:
        key = _ALIASES.get(name.strip().lower())
        keys.append(key if key not in keys else None)
    return keys


def is_sms_header(header: list[str]) -> bool:
    keys = set(header_keys(header))
    return "text" in keys and bool(keys & {"number", "time", "direction"})


def parse_sms_csv(path: Path) -> ParsedFile:
    path = Path(path)
    reader = csv.reader(read_text(path).splitlines())
    header = next(reader, None) or []
    if not is_sms_header(header):
        raise InputError(path, f"不是可识别的短信 CSV：第 1 行表头需要内容列（body/内容）和号码、时间或方向列，实际为 {header}",
                         f"not a recognised SMS CSV: line 1 needs a text column (body/内容) and a number, time "
                         f"or direction column; got {header}")
    keys = header_keys(header)
    messages: list[Message] = []
    problems: list[Problem] = []
    for cells in reader:
        line = reader.line_num
        row = {k: c.strip() for k, c in zip(keys, cells, strict=False) if k}
        if not any(row.values()):
            continue
        direction = None
        if row.get("direction"):
            direction = DIRECTION_WORDS.get(row["direction"].lower())
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
        raw_number = row.get("number") or None
        messages.append(Message(
            index=len(messages), kind="sms", direction=direction, text=row.get("text", ""),
            number=canonical_number(raw_number), number_raw=raw_number, contact_name=row.get("contact_name") or None,
            time=when, time_source=("epoch" if when and when.tzinfo else "export") if when else None,
            time_text=row.get("time") or None, line=line, received_by=row.get("received_by") or None))
    return ParsedFile("sms_csv", "sms", messages, problems, meta={"columns": header})
