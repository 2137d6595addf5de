"""SMS databases (SQLite), opened read-only and immutable (nothing is written beside the original):

- iOS ``sms.db`` (from an unencrypted iTunes/Finder backup, file
  ``3d/3d0d7e5fb2ce288813306e4d4636395e047a3d28``, or copied out by iMazing / iMazing-like tools):
  tables ``message`` (``text`` or, since iOS 16, ``attributedBody``; ``is_from_me``; ``date`` in
  seconds or nanoseconds since 2001-01-01 UTC) and ``handle`` (``id``: the number or Apple ID);
  group chats through ``chat_message_join`` / ``chat``.
- Android-style SMS tables: Android's ``mmssms.db`` table ``sms``, and any table with the same
  columns (``address``, ``date``, ``type``, ``body``), as unencrypted HarmonyOS / Huawei / Honor and
  MIUI backups store them. ``type`` 1 received, 2 sent, 3 draft (skipped), 4/5/6 outbox/failed/
  queued (kept as sent, with a note).

A file that is not SQLite (an encrypted backup) or has no such table is refused with the reason.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.calls import canonical_number
from pipeline.errors import InputError
from pipeline.messages.model import Message, ParsedFile, Problem
from pipeline.messages.sms_csv import header_keys
from pipeline.messages.times import parse_epoch

SQLITE_MAGIC = b"SQLite format 3\x00"
_APPLE_EPOCH = datetime(2001, 1, 1, tzinfo=UTC)
_SENT_NOTES = {"2": None, "4": "发件箱（未确认已发出）", "5": "发送失败", "6": "排队待发"}


def _connect(path: Path) -> sqlite3.Connection:
    uri = f"file:{Path(path).resolve().as_posix()}?mode=ro&immutable=1"
    return sqlite3.connect(uri, uri=True)


def _tables(conn: sqlite3.Connection) -> dict[str, list[str]]:
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {n: [r[1] for r in conn.execute(f'PRAGMA table_info("{n}")')] for n in names}


def _android_table(tables: dict[str, list[str]]) -> str | None:
    """The SMS-like table: ``sms`` first, else the first with text + number + time + direction columns."""
    def fits(columns: list[str]) -> bool:
        return {"text", "number", "time", "direction"} <= set(header_keys(columns))

    if "sms" in tables and fits(tables["sms"]):
        return "sms"
    return next((n for n, cols in tables.items() if fits(cols)), None)


def sms_db_kind(path: Path) -> str | None:
    """``ios`` | ``android`` for a readable SMS database, else None (not SQLite, no SMS table)."""
    try:
        with open(path, "rb") as handle:
            if handle.read(16) != SQLITE_MAGIC:
                return None
        conn = _connect(path)
    except (OSError, sqlite3.Error):
        return None
    try:
        tables = _tables(conn)
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    if {"message", "handle"} <= set(tables) and "is_from_me" in tables["message"]:
        return "ios"
    return "android" if _android_table(tables) else None


def apple_time(value: Any) -> datetime | None:
    """iOS ``message.date``: seconds (before iOS 11) or nanoseconds since 2001-01-01 UTC."""
    if not value:
        return None
    number = float(value)
    seconds = number / 1e9 if abs(number) > 1e11 else number
    when = _APPLE_EPOCH + timedelta(seconds=seconds)
    return when if 2005 <= when.year <= datetime.now().year + 1 else None


def attributed_text(blob: bytes | None) -> str | None:
    """The plain text inside an iOS 16+ ``attributedBody`` (an NSAttributedString typedstream)."""
    if not blob:
        return None
    start = blob.find(b"NSString")
    if start < 0:
        return None
    plus = blob.find(b"+", start)
    if plus < 0 or plus + 2 > len(blob):
        return None
    length, at = blob[plus + 1], plus + 2
    if length == 0x81:
        length, at = int.from_bytes(blob[at:at + 2], "little"), at + 2
    elif length == 0x82:
        length, at = int.from_bytes(blob[at:at + 4], "little"), at + 4
    try:
        return blob[at:at + length].decode("utf-8")
    except UnicodeDecodeError:
        return None


def _side(raw: str | None) -> tuple[str | None, str | None, str | None]:
    raw = (raw or "").strip() or None
    if raw and "@" in raw:
        return None, raw, raw
    return canonical_number(raw), raw, None


def _ios(conn: sqlite3.Connection, tables: dict[str, list[str]]) -> tuple[list[Message], list[Problem], Counter[str]]:
    columns = set(tables["message"])
    body = "m.attributedBody" if "attributedBody" in columns else "NULL"
    item = "m.item_type" if "item_type" in columns else "0"
    chat = ("(SELECT c.chat_identifier FROM chat_message_join j JOIN chat c ON c.ROWID = j.chat_id"
            " WHERE j.message_id = m.ROWID LIMIT 1)") if {"chat", "chat_message_join"} <= set(tables) else "NULL"
    rows = conn.execute(
        f"SELECT m.ROWID, m.text, {body}, m.is_from_me, m.date, h.id, {chat}, {item}, m.service"
        " FROM message m LEFT JOIN handle h ON h.ROWID = m.handle_id ORDER BY m.date, m.ROWID").fetchall()
    messages: list[Message] = []
    problems: list[Problem] = []
    skipped: Counter[str] = Counter()
    for rowid, text, blob, from_me, date, handle, chat_id, item_type, service in rows:
        if item_type not in (0, None):
            skipped["系统事件（改群名、加人等）"] += 1
            continue
        text = text if text is not None else attributed_text(blob)
        text = (text or "").replace("\ufffc", "").strip()
        if not text:
            skipped["没有文字的消息（图片/附件）"] += 1
            continue
        when = apple_time(date)
        number, raw, email = _side(handle or chat_id)
        message = Message(
            index=len(messages), kind="sms", direction="sent" if from_me else "received", text=text,
            number=number, number_raw=raw, contact_name=email, time=when, time_source="epoch" if when else None,
            time_text=str(date), meta={"rowid": rowid, "service": service})
        if chat_id and handle and chat_id != handle:
            message.meta["chat"] = chat_id
        if when is None:
            problems.append(Problem(None, f"第 {rowid} 条消息（ROWID）时间无法识别 {date!r}（消息已保留）",
                                    f"message ROWID {rowid}: bad date {date!r} (kept)", 0))
        messages.append(message)
    return messages, problems, skipped


def _android(conn: sqlite3.Connection, table: str, columns: list[str]) -> tuple[list[Message], list[Problem],
                                                                                  Counter[str]]:
    keys = header_keys(columns)
    picked = {k: c for c, k in zip(columns, keys, strict=True) if k}
    order = next((c for c in ("date", "_id") if c in columns), "rowid")
    select = ", ".join(f'"{picked[k]}"' if k in picked else "NULL" for k in ("text", "number", "time", "direction",
                                                                            "contact_name"))
    rows = conn.execute(f'SELECT rowid, {select} FROM "{table}" ORDER BY "{order}"').fetchall()
    messages: list[Message] = []
    problems: list[Problem] = []
    skipped: Counter[str] = Counter()
    for rowid, text, address, date, kind, name in rows:
        kind = str(kind).strip() if kind is not None else ""
        if kind == "3":
            problems.append(Problem(None, f"第 {rowid} 条（rowid）是草稿，未发送，已跳过", f"rowid {rowid}: draft, skipped"))
            continue
        if kind != "1" and kind not in _SENT_NOTES:
            problems.append(Problem(None, f"第 {rowid} 条（rowid）短信类型 type={kind!r} 未知，已跳过",
                                    f"rowid {rowid}: unknown type {kind!r}, skipped"))
            continue
        when = parse_epoch(str(date)) if date is not None else None
        number, raw, email = _side(str(address) if address is not None else None)
        message = Message(
            index=len(messages), kind="sms", direction="received" if kind == "1" else "sent", text=str(text or ""),
            number=number, number_raw=raw, contact_name=(str(name) if name and not re.fullmatch(r"\d+", str(name))
                                                         else None) or email,
            time=when, time_source="epoch" if when else None, time_text=str(date) if date is not None else None,
            meta={"rowid": rowid})
        if _SENT_NOTES.get(kind):
            message.notes.append(_SENT_NOTES[kind])
        if when is None:
            message.notes.append("时间无法识别")
        messages.append(message)
    return messages, problems, skipped


def parse_sms_db(path: Path) -> ParsedFile:
    """Every text message of an iOS ``sms.db`` or an Android-style SMS table."""
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            magic = handle.read(16)
    except OSError as exc:
        raise InputError(path, "无法读取", f"cannot read: {exc.strerror}") from exc
    if magic != SQLITE_MAGIC:
        raise InputError(path, "不是 SQLite 数据库，可能是加密的备份（如设置了密码的华为/荣耀备份、微信 EnMicroMsg.db、"
                               "小米 .bak）；请在手机上导出为短信备份 XML 或 CSV",
                         "not an SQLite database (an encrypted backup?)")
    try:
        conn = _connect(path)
        try:
            tables = _tables(conn)
            if {"message", "handle"} <= set(tables) and "is_from_me" in tables["message"]:
                variant, (messages, problems, skipped) = "ios", _ios(conn, tables)
            elif (table := _android_table(tables)) is not None:
                variant, (messages, problems, skipped) = "android", _android(conn, table, tables[table])
            else:
                raise InputError(path, f"数据库里没有短信表（需要 iOS 的 message/handle 表，或含 address、date、type、body 列的表）；"
                                       f"实际的表: {sorted(tables)[:12]}",
                                 f"no SMS table (iOS message/handle, or address/date/type/body); tables: {sorted(tables)[:12]}")
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise InputError(path, f"数据库无法读取（{exc}）", f"unreadable database ({exc})") from exc
    problems += [Problem(None, f"{n} 条{what}，未导入", f"{n} rows skipped: {what}", n) for what, n in skipped.items()]
    return ParsedFile("sms_db", "sms", messages, problems, meta={"variant": variant, "skipped": dict(skipped)})
