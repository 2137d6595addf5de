"""Message files into a case: discovery by content, ``messages.csv``, parsing, flags, outputs.

    paths = discover_messages(input_dir)
    report = import_messages(store, paths, rules, input_dir)   # after the calls are in the store

``messages.csv`` (anywhere under INPUT) is either SMS data (see ``sms_csv``) or a per-file table
with a ``file`` column (name or path relative to INPUT) and any of: ``received_by`` (接收人),
``me`` (本人昵称: the owner's name in a chat export), ``number`` (对方号码), ``contact_name``
(联系人), ``time`` (截图时间: when a screenshot was taken), ``note`` (备注).
"""

from __future__ import annotations

import csv
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.audio import sha256_file
from pipeline.calls import canonical_number
from pipeline.contacts_reached import person_from_path
from pipeline.discover import SYSTEM_DIRS, _hidden
from pipeline.errors import InputError
from pipeline.messages.android_backup import looks_like_android_backup, parse_android_backup
from pipeline.messages.annotated import sync_annotated_copy
from pipeline.messages.chat_text import detect_shape, parse_chat_text
from pipeline.messages.memotrace_html import looks_like_memotrace_html, parse_memotrace_html
from pipeline.messages.model import ParsedFile
from pipeline.messages.ocr import (
    ScreenshotReader,
    image_format,
    ocr_info,
    parse_screenshot,
)
from pipeline.messages.owner import describe as describe_owner_source
from pipeline.messages.owner import owner_from_private_chats
from pipeline.messages.qq_exporter import (
    looks_like_qce_json,
    looks_like_qce_text,
    parse_qce_json,
    parse_qce_text,
)
from pipeline.messages.qq_mht import looks_like_qq_mht, parse_qq_mht
from pipeline.messages.sms_csv import is_sms_header, parse_sms_csv, read_text
from pipeline.messages.sms_db import SQLITE_MAGIC, parse_sms_db, sms_db_kind
from pipeline.messages.sms_xml import looks_like_sms_xml, parse_sms_xml
from pipeline.messages.times import parse_datetime
from pipeline.messages.vmsg import looks_like_vmsg, parse_vmsg
from pipeline.messages.wechat_exporter import (
    looks_like_wechat_exporter_html,
    looks_like_wechat_exporter_text,
    parse_wechat_exporter_html,
    parse_wechat_exporter_text,
)
from pipeline.msgrules import MessageRuleOptions, flag_message_text, message_log_flags
from pipeline.rules import RuleEngine

PARSER_VERSION = "2"  # 2: 12-hour clocks, group chat owners, CSV profiles, MMS recipients
OVERRIDES_NAME = "messages.csv"
_OVERRIDE_COLUMNS = {
    "file": ("file", "文件", "文件名"), "received_by": ("received_by", "接收人", "接听人", "收信人"),
    "me": ("me", "本人昵称", "我的昵称"), "number": ("number", "号码", "对方号码"),
    "contact_name": ("contact_name", "联系人", "对方"), "time": ("time", "截图时间", "时间"), "note": ("note", "备注"),
}
_TEXT_SUFFIXES = {".txt", ".csv", ".xml"}
_HTML_SUFFIXES = {".html", ".htm"}
_VMSG_SUFFIXES = {".vmsg", ".vmg"}
_HTML_SCAN = 1024 * 1024  # 留痕 pages carry ~40 KB of CSS before their data
_DB_SUFFIXES = {".db", ".sqlite", ".sqlitedb", ".sqlite3"}


def unsupported_export(path: Path, head: bytes) -> tuple[str, str] | None:
    """(Chinese, English) reason for an export callproof does not read (Telegram, Signal and WhatsApp backups,
    QQChatExporter HTML), else None."""
    suffix = path.suffix.lower()
    telegram = (suffix == ".json" and b'"messages"' in head and (b'"personal_chat"' in head or b'"chats"' in head
                or b'"private_supergroup"' in head or b'"private_group"' in head or b'"saved_messages"' in head)) or \
               (suffix == ".html" and b"page_header" in head and b"Exported Data" in head)
    if telegram:
        return ("Telegram 导出的聊天记录暂不支持；请改用截图，或整理成“[2024-01-15 22:31:05] 张三：内容”格式的 TXT",
                "a Telegram export: not supported")
    name = path.name.lower()
    if re.fullmatch(r"signal-\d{4}(?:-\d{2}){5}(?:-\d+)?\.backup", name):
        return ("Signal 的备份文件（.backup）是加密的，暂不支持；请改用聊天截图",
                "a Signal backup (encrypted): not supported")
    if re.fullmatch(r"msgstore.*\.db\.crypt\d+", name) or name.endswith((".db.crypt12", ".db.crypt14", ".db.crypt15")):
        return ("WhatsApp 的加密备份（msgstore.db.cryptNN）暂不支持；请在 WhatsApp 里逐个聊天“导出聊天”后改用截图，"
                "或整理成“[2024-01-15 22:31:05] 张三：内容”格式的 TXT", "a WhatsApp encrypted backup: not supported")
    if suffix in _HTML_SUFFIXES and (b"QQChatExporter" in head or "QQ聊天记录导出工具".encode() in head):
        return ("QQChatExporter 的网页（HTML）导出暂不支持；请在 QQChatExporter 里改为导出 JSON 或 TXT 后导入",
                "a QQChatExporter HTML export: export JSON or TXT instead")
    return None


def detect_format(path: Path) -> str | None:
    """sms_xml | sms_csv | sms_db | chat_text | qq_mht | screenshot | overrides (a per-file messages.csv) | None,
    or one of ``_PARSERS`` (QQChatExporter, WeChat export tools, vMessage, Android backups) | unsupported."""
    if not path.is_file():  # a FIFO or device would block or never end: never opened
        return None
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    if image_format(head[:16]):
        return "screenshot"
    if looks_like_sms_xml(head):
        return "sms_xml"
    if looks_like_android_backup(head):
        return "android_backup"
    if head.startswith(SQLITE_MAGIC) and sms_db_kind(path):
        return "sms_db"
    if path.suffix.lower() in _DB_SUFFIXES:  # not SQLite, or no SMS table: parsing says why
        return "sms_db"
    if path.suffix.lower() in (".mht", ".mhtml"):
        return "qq_mht" if looks_like_qq_mht(head) else None
    suffix = path.suffix.lower()
    if suffix == ".json" and looks_like_qce_json(head):
        return "qce_json"
    if suffix in _HTML_SUFFIXES and (html := _html_format(path)):
        return html
    if unsupported_export(path, head):
        return "unsupported"
    if suffix not in _TEXT_SUFFIXES | _VMSG_SUFFIXES:
        return None
    try:
        text = read_text(path)
    except InputError:
        return None
    if suffix in _VMSG_SUFFIXES or looks_like_vmsg(text):
        return "vmsg"
    if suffix == ".txt" and looks_like_qce_text(text):
        return "qce_txt"
    if suffix == ".txt" and looks_like_wechat_exporter_text(text):
        return "wechat_exporter_txt"
    first = next(csv.reader(text.splitlines()[:1]), [])
    if is_sms_header(first):
        return "sms_csv"
    if path.name.lower() == OVERRIDES_NAME:
        return "overrides"
    if path.suffix.lower() == ".csv":  # unknown columns: parsing says which columns it needs
        return "sms_csv"
    if path.suffix.lower() == ".txt" or detect_shape(text.splitlines()):
        return "chat_text"
    return None


def _html_format(path: Path) -> str | None:
    """memotrace_html | wechat_exporter_html for a chat page those tools write, else None."""
    try:
        with open(path, "rb") as handle:
            text = handle.read(_HTML_SCAN).decode("utf-8", "replace")
    except OSError:
        return None
    if looks_like_memotrace_html(text):
        return "memotrace_html"
    if looks_like_wechat_exporter_html(text):
        return "wechat_exporter_html"
    return None


def discover_messages(input_dir: Path) -> list[Path]:
    """Message files under ``input_dir``: images by content, SMS backups, SMS CSVs, .txt chat exports.

    Every ``.txt`` is included (an unknown shape then fails with a clear reason); ``calls.csv``
    and a per-file ``messages.csv`` are not messages.
    """
    found = []
    for root, dirs, files in os.walk(input_dir):
        dirs[:] = sorted(d for d in dirs if not _hidden(d) and d.lower() not in SYSTEM_DIRS)
        for name in sorted(files):
            path = Path(root) / name
            if _hidden(name) or name.lower() == "calls.csv":
                continue
            if detect_format(path) not in (None, "overrides"):
                found.append(path)
    return found


def load_message_overrides(input_dir: Path | None) -> dict[str, dict[str, str]]:
    """The per-file rows of every ``messages.csv`` under ``input_dir``, keyed by file name / relative path."""
    rows: dict[str, dict[str, str]] = {}
    if input_dir is None:
        return rows
    aliases = {alias.lower(): key for key, names in _OVERRIDE_COLUMNS.items() for alias in names}
    for csv_path in sorted(Path(input_dir).rglob("*")):
        if csv_path.name.lower() != OVERRIDES_NAME or detect_format(csv_path) != "overrides":
            continue
        reader = csv.reader(read_text(csv_path).splitlines())
        header = next(reader, [])
        keys = [aliases.get(h.strip().lower()) for h in header]
        unknown = [h for h, k in zip(header, keys, strict=True) if k is None and h.strip()]
        if "file" not in keys or unknown:
            raise InputError(csv_path, f"第 1 行表头需要 file 列，未知列: {unknown}",
                             f"line 1: header needs a 'file' column; unknown columns: {unknown}")
        for cells in reader:
            row = {k: c.strip() for k, c in zip(keys, cells, strict=False) if k and c.strip()}
            if row.get("file"):
                if "time" in row and parse_datetime(row["time"]) is None:
                    raise InputError(csv_path, f"第 {reader.line_num} 行时间无法识别: {row['time']!r}",
                                     f"line {reader.line_num}: bad time {row['time']!r}")
                rows[row.pop("file").replace("\\", "/").lstrip("./")] = row
    return rows


def _override_for(path: Path, input_dir: Path | None, overrides: dict[str, dict[str, str]]) -> dict[str, str]:
    if input_dir is not None and path.resolve().is_relative_to(Path(input_dir).resolve()):
        relative = path.resolve().relative_to(Path(input_dir).resolve()).as_posix()
        if relative in overrides:
            return overrides[relative]
    return overrides.get(path.name, {})


_PARSERS = {  # the formats of issue 14's second round: (path, owner names) -> ParsedFile
    "qce_json": parse_qce_json, "qce_txt": parse_qce_text, "memotrace_html": parse_memotrace_html,
    "wechat_exporter_txt": parse_wechat_exporter_text, "wechat_exporter_html": parse_wechat_exporter_html,
    "vmsg": lambda path, me: parse_vmsg(path), "android_backup": lambda path, me: parse_android_backup(path),
}


def parse_message_file(path: Path, *, me: tuple[str, ...] = (), reader: ScreenshotReader | None = None) -> ParsedFile:
    """Parse one file with the parser its content calls for; ``InputError`` for anything else."""
    kind = detect_format(path)
    if kind == "sms_xml":
        return parse_sms_xml(path)
    if kind == "sms_csv":
        return parse_sms_csv(path)
    if kind == "sms_db":
        return parse_sms_db(path)
    if kind == "qq_mht":
        return parse_qq_mht(path, me=me)
    if kind in _PARSERS:
        return _PARSERS[kind](path, me)
    if kind == "unsupported" and (reason := unsupported_export(path, Path(path).read_bytes()[:4096])):
        raise InputError(path, *reason)
    if kind == "chat_text":
        parsed = parse_chat_text(path, me=me)
        if parsed.meta.get("group") and not me:  # whose group export? the private chats beside it tell
            owners, used = owner_from_private_chats(path)
            if owners:
                parsed = parse_chat_text(path, me=owners, me_source=describe_owner_source(used))
        return parsed
    if kind == "screenshot":
        return parse_screenshot(path, reader)
    raise InputError(path, "不是可识别的消息文件（短信备份 XML/CSV/数据库/vmsg、聊天记录 TXT/MHT/JSON/HTML、截图 PNG/JPG/HEIC）",
                     "not a recognised message file (SMS backup XML/CSV/database, chat export, screenshot image)")


def parser_key(fmt: str) -> str:
    key = f"{fmt}/{PARSER_VERSION}"
    if fmt == "screenshot":
        info = ocr_info()
        key += f"/{info.package}-{info.version}/" + ",".join(h[:12] for h in info.models.values())
    return key


@dataclass
class MessageFileOutcome:
    path: Path
    status: str  # done | reused | failed
    source_id: str | None = None
    format: str | None = None
    received_by: str | None = None
    messages: int = 0
    flags: int = 0
    skipped: int = 0  # entries left out (drafts, malformed, non-text rows)
    problems: list[str] = field(default_factory=list)  # every skipped entry and warning, one line each
    notices: list[str] = field(default_factory=list)  # how the file was read (e.g. a group chat's owner)
    annotated: str | None = None
    error: str = ""


@dataclass
class MessageImportReport:
    outcomes: list[MessageFileOutcome] = field(default_factory=list)
    log_flags: int = 0

    @property
    def failed(self) -> list[MessageFileOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    def to_dict(self) -> dict[str, Any]:
        return {"files": len(self.outcomes), "messages": sum(o.messages for o in self.outcomes),
                "skipped": sum(o.skipped for o in self.outcomes),
                "flags": sum(o.flags for o in self.outcomes), "log_flags": self.log_flags,
                "failed": [{"file": str(o.path), "error": o.error} for o in self.failed],
                "problems": [{"file": str(o.path), "problem": p} for o in self.outcomes for p in o.problems],
                "notices": [{"file": str(o.path), "notice": n} for o in self.outcomes for n in o.notices],
                "per_file": [{"file": str(o.path), "format": o.format, "status": o.status, "received_by": o.received_by,
                              "messages": o.messages, "skipped": o.skipped, "flags": o.flags} for o in self.outcomes]}


def _apply_row(parsed: ParsedFile, row: dict[str, str]) -> None:
    for message in parsed.messages:
        if row.get("number") and not message.number:
            message.number, message.number_raw = canonical_number(row["number"]), row["number"]
        if row.get("contact_name") and not message.contact_name:
            message.contact_name = row["contact_name"]


def _flag_file(store: Any, source_id: str, rules: RuleEngine, is_screenshot: bool) -> tuple[int, list]:
    flags, boxes = [], []
    messages = list(store.messages(source_id))
    if hasattr(rules, "prepare"):  # the model tier embeds all messages of the file in one batch
        rules.prepare([m.text for m in messages])
    for message in messages:
        for flag in flag_message_text(message, rules):
            lines = [message.ocr[i] for i, (s, e) in enumerate(message.meta.get("line_spans", []))
                     if s < flag.end and e > flag.start] if is_screenshot else []
            flags.append({**flag.to_dict(), "message_id": message.id, "text": message.text,
                          "boxes": [line["box"] for line in lines]})
            boxes += [(line["box"], flag.category) for line in lines if (line["box"], flag.category) not in boxes]
    store.replace_message_flags(source_id, flags, "text", rule_pack={"packs": rules.pack_info})
    return len(flags), boxes


def _owner_changed(record: Any, path: Path, me: tuple[str, ...]) -> bool:
    """A group chat export read before: would its owner be different now (given, or private chats added)?"""
    if not record.meta.get("group") or record.format != "chat_text":
        return False
    now = set(me) if me else owner_from_private_chats(path)[0]
    return sorted(now) != sorted(record.meta.get("me") or [])


def import_one(store: Any, path: Path, rules: RuleEngine, *, input_dir: Path | None, row: dict[str, str],
               received_by: str | None, me: tuple[str, ...], reader: ScreenshotReader | None) -> MessageFileOutcome:
    sha = sha256_file(path)
    fmt = detect_format(path) or "unknown"
    person, source = ((received_by, "user") if received_by else (row.get("received_by"), "csv") if row.get("received_by")
                      else (person_from_path(path, input_dir), "folder"))
    record = store.upsert_message_source(path, sha, format=fmt, kind=None, received_by=person,
                                         received_by_source=source if person else None)
    outcome = MessageFileOutcome(path, "done", record.id, fmt, person)
    key = parser_key(fmt)
    owners = tuple(me) + ((row["me"],) if row.get("me") else ())
    if record.status == "done" and record.parser_key == key and not _owner_changed(record, path, owners):
        outcome.status = "reused"
    else:
        try:
            parsed = parse_message_file(path, me=owners, reader=reader)
        except InputError as exc:
            store.mark_message_source_failed(record.id, str(exc))
            outcome.status, outcome.error = "failed", str(exc)
            return outcome
        _apply_row(parsed, row)
        for message in parsed.messages:
            message.received_by = message.received_by or person
        with store.transaction() as conn:
            conn.execute("UPDATE message_sources SET kind = ? WHERE id = ?", (parsed.kind, record.id))
            store.save_messages(record.id, parsed.messages, problems=parsed.problems, parser_key=key,
                                meta={**parsed.meta, "note": row.get("note")})
    record = store.get_message_source(record.id)
    outcome.problems = [f"第 {p['line']} 行: {p['reason_zh']}" if p.get("line") else p["reason_zh"] for p in record.problems]
    outcome.skipped = sum(int(p.get("skipped", 1)) for p in record.problems)
    outcome.notices = list(record.meta.get("notices") or [])
    outcome.messages = len(store.messages(record.id))
    outcome.flags, boxes = _flag_file(store, record.id, rules, fmt == "screenshot")
    if fmt == "screenshot":
        annotated = sync_annotated_copy(store.case_dir, record, store.message_flags(source_id=record.id))
        outcome.annotated = str(annotated) if annotated else None
    return outcome


def apply_message_log_rules(store: Any, options: MessageRuleOptions | None = None) -> int:
    """OFF_HOURS / EXCESS_FREQ over the whole case's received messages (one row per message)."""
    messages = store.messages()
    suspects = {c.number for c in store.iter_calls() if c.number}
    flagged = {f.message_id for f in store.message_flags(level="text", include_stale=False) if f.status != "rejected"}
    suspects |= {m.number or m.contact_name for m in messages if m.id in flagged and (m.number or m.contact_name)}
    flags = message_log_flags([(m, m.start, m.time_source) for m in messages], options, suspects)
    rows = [{**flag.to_dict(), "message_id": message_id, "text": flag.description_zh}
            for flag in flags for message_id in flag.call_ids]
    store.replace_message_flags(None, rows, "log")
    return len(flags)


def write_message_outputs(store: Any, case_dir: Path) -> None:
    """``CASE_DIR/messages/<file id>/messages.json``: source, hash, messages and their flags."""
    for source in store.message_sources():
        if source.status != "done":
            continue
        flags = store.message_flags(source_id=source.id)
        document = {"schema": "callproof.messages/1", "source": {"path": source.source_path, "sha256": source.sha256,
                    "format": source.format, "received_by": source.received_by}, "problems": source.problems,
                    "messages": [vars(m) for m in store.messages(source.id)], "flags": [f.to_dict() for f in flags]}
        out = Path(case_dir) / "messages" / source.id / "messages.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        temporary = out.with_name(out.name + ".tmp")
        temporary.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        os.replace(temporary, out)


def import_messages(store: Any, paths: list[Path], rules: RuleEngine, input_dir: Path | None = None, *,
                    received_by: str | None = None, me: tuple[str, ...] = (),
                    options: MessageRuleOptions | None = None, reader: ScreenshotReader | None = None,
                    events: Any = None) -> MessageImportReport:
    """Import, flag and write outputs for ``paths``; a bad file is a failed outcome, never an exception.

    ``received_by`` (the add-messages option) beats ``messages.csv``, which beats the folder layout.
    Run after the calls are stored: the log rules look at the case's call numbers.
    ``events``: optional object with ``message(text)`` (the batch's RunEvents).
    """
    if not hasattr(store, "save_messages"):
        raise TypeError("the store needs pipeline.store.messages.MessagesMixin (class CaseStore(MessagesMixin, ReviewMixin))")
    report = MessageImportReport()
    overrides = load_message_overrides(input_dir)
    for path in paths:
        path = Path(path)
        try:
            outcome = import_one(store, path, rules, input_dir=input_dir, row=_override_for(path, input_dir, overrides),
                                 received_by=received_by, me=me, reader=reader)
        except (InputError, OSError) as exc:
            outcome = MessageFileOutcome(path, "failed", error=str(exc))
        if events is not None and outcome.status == "failed":
            events.message(f"失败 {outcome.error}")
        report.outcomes.append(outcome)
    report.log_flags = apply_message_log_rules(store, options)
    write_message_outputs(store, store.case_dir)
    return report
