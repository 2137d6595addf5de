"""Call logs into a case: discovery by content, reading, storing, one line per unreadable row.

    paths = discover_call_logs(input_dir)
    report = import_call_logs(store, paths, input_dir, reader=reader)   # before the messages
    message_files = [p for p in message_files if p not in report.consumed]

Found by content: SMS Backup & Restore ``calls-*.xml`` (``<calls>``), carrier records (CSV/TSV/XLSX
whose header row names 对方号码, 起始时间 and 通信方式/通话时长), ``calls.csv`` rows without a file,
and screenshots of the call-log screen. A screenshot is read once with OCR and kept as a call log
only when it looks like one (rows with a time at the right and a number or call mark at the
left); otherwise it is left to the message importer (the OCR result is cached for it) and marked
'other' in the case so it is not read again. File names saying ``com.tencent.mm`` / QQ / SMS are
chats and not read here; ``contacts`` / ``dialer`` / ``incallui`` / 通话记录 make one row enough.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.audio import sha256_file
from pipeline.calllog.android_xml import looks_like_calls_xml, parse_calls_xml
from pipeline.calllog.carrier import is_carrier_header, parse_carrier, read_rows
from pipeline.calllog.model import ParsedLog
from pipeline.calllog.screen import looks_like_call_log, parse_call_log_screenshot
from pipeline.calllog.user_csv import has_log_rows, parse_user_log
from pipeline.contacts_reached import person_from_path
from pipeline.discover import SYSTEM_DIRS, _hidden
from pipeline.errors import InputError
from pipeline.messages.ocr import ScreenshotReader, image_format, load_image, ocr_info

PARSER_VERSION = "1"
_TABLE_SUFFIXES = {".csv", ".tsv", ".txt", ".xlsx", ".xls"}
CHAT_HINTS = re.compile(r"com\.tencent\.(mm|mobileqq|tim)|\.mms|messaging|微信|wechat|whatsapp|telegram|短信", re.I)
LOG_HINTS = re.compile(r"contacts|dialer|incallui|com\.android\.phone|通话记录|最近通话|calllog|call_log|recents", re.I)


class CachingReader(ScreenshotReader):
    """The shared OCR, remembering each image's lines: a chat screenshot looked at here is not read
    twice when the message importer reads it next."""

    def __init__(self, threads: int | None = None) -> None:
        super().__init__(threads)
        self._cache: dict[str, list] = {}

    def read_lines(self, rgb: np.ndarray) -> list:
        key = hashlib.sha256(np.ascontiguousarray(rgb).tobytes()).hexdigest() + str(rgb.shape)
        if key not in self._cache:
            self._cache[key] = super().read_lines(rgb)
        return self._cache[key]


def screenshot_hint(path: Path) -> str | None:
    """'chat' / 'log' from the file and folder names (Android puts the app's package in the name)."""
    text = "/".join(Path(path).parts[-3:])
    if LOG_HINTS.search(text):
        return "log"
    if CHAT_HINTS.search(text):
        return "chat"
    return None


def detect_log_format(path: Path) -> str | None:
    """calls_xml | carrier | user_csv | screenshot (an image: maybe a call log) | None."""
    path = Path(path)
    if not path.is_file():  # a FIFO or device would block or never end: never opened
        return None
    try:
        with open(path, "rb") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    if image_format(head[:16]):
        return None if screenshot_hint(path) == "chat" else "screenshot"
    if looks_like_calls_xml(head):
        return "calls_xml"
    if path.name.lower() == "calls.csv":
        return "user_csv" if has_log_rows(path) else None
    if path.suffix.lower() not in _TABLE_SUFFIXES:
        return None
    if path.suffix.lower() == ".xls":
        return "carrier" if re.search(r"详单|通话|call", path.name, re.I) else None
    try:
        rows = read_rows(path)
    except (InputError, OSError, UnicodeDecodeError):
        return None
    return "carrier" if any(is_carrier_header(r) for r in rows[:20]) else None


def discover_call_logs(input_dir: Path) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(input_dir):
        dirs[:] = sorted(d for d in dirs if not _hidden(d) and d.lower() not in SYSTEM_DIRS)
        for name in sorted(files):
            path = Path(root) / name
            if not _hidden(name) and detect_log_format(path):
                found.append(path)
    return found


def parser_key(fmt: str) -> str:
    key = f"{fmt}/{PARSER_VERSION}"
    if fmt == "screenshot":
        info = ocr_info()
        key += f"/{info.package}-{info.version}/" + ",".join(h[:12] for h in info.models.values())
    return key


@dataclass
class CallLogOutcome:
    path: Path
    status: str  # done | reused | failed | not_call_log
    format: str | None = None
    source_id: str | None = None
    received_by: str | None = None
    entries: int = 0
    calls: int = 0  # entries with their count badges
    skipped: int = 0
    problems: list[str] = field(default_factory=list)
    error: str = ""


@dataclass
class CallLogReport:
    outcomes: list[CallLogOutcome] = field(default_factory=list)
    findings: int = 0

    @property
    def consumed(self) -> set[Path]:
        """Files that are call logs (the message importer must not read them as chats)."""
        return {o.path for o in self.outcomes if o.status != "not_call_log"
                and not (o.format == "screenshot" and o.status == "failed")}

    @property
    def failed(self) -> list[CallLogOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    def to_dict(self) -> dict[str, Any]:
        kept = [o for o in self.outcomes if o.status != "not_call_log"]
        return {"files": len(kept), "entries": sum(o.entries for o in kept), "calls": sum(o.calls for o in kept),
                "skipped": sum(o.skipped for o in kept), "findings": self.findings,
                "failed": [{"file": str(o.path), "error": o.error} for o in self.failed],
                "problems": [{"file": str(o.path), "problem": p} for o in kept for p in o.problems],
                "per_file": [{"file": str(o.path), "format": o.format, "status": o.status, "received_by": o.received_by,
                              "entries": o.entries, "calls": o.calls, "skipped": o.skipped} for o in kept]}


def _parse(path: Path, fmt: str, reader: ScreenshotReader | None, taken: datetime | None) -> ParsedLog | None:
    """The parsed log, or None for a screenshot that is not a call-log screen."""
    if fmt == "calls_xml":
        return parse_calls_xml(path)
    if fmt == "carrier":
        return parse_carrier(path)
    if fmt == "user_csv":
        return parse_user_log(path)
    image, _ = load_image(path)
    lines = (reader or CachingReader()).read_lines(np.asarray(image))
    if not looks_like_call_log(lines, image.width, image.height, hinted=screenshot_hint(path) == "log"):
        return None
    return parse_call_log_screenshot(path, reader, taken=taken, lines=lines)


def import_call_log_file(store: Any, path: Path, *, input_dir: Path | None = None, received_by: str | None = None,
                         reader: ScreenshotReader | None = None, taken: datetime | None = None) -> CallLogOutcome:
    path = Path(path)
    fmt = detect_log_format(path) or ("screenshot" if path.suffix.lower() in (".png", ".jpg", ".jpeg") else "unknown")
    person, how = (received_by, "user") if received_by else (person_from_path(path, input_dir), "folder")
    sha = sha256_file(path)
    record = store.upsert_calllog_source(path, sha, format=fmt, received_by=person,
                                         received_by_source=how if person else None)
    outcome = CallLogOutcome(path, "done", fmt, record.id, person)
    key = parser_key(fmt)
    if record.parser_key == key and record.status in ("done", "other") and taken is None:
        outcome.status = "reused" if record.status == "done" else "not_call_log"
    else:
        try:
            if fmt == "unknown":
                raise InputError(path, "不是可识别的通话记录文件", "not a recognised call-log file")
            parsed = _parse(path, fmt, reader, taken)
        except InputError as exc:
            store.mark_calllog_source(record.id, "failed", str(exc), parser_key=key)
            outcome.status, outcome.error = "failed", str(exc)
            return outcome
        if parsed is None:
            store.mark_calllog_source(record.id, "other", "不是通话记录截图（交给短信/聊天截图识别）", parser_key=key)
            outcome.status = "not_call_log"
            return outcome
        for entry in parsed.entries:
            entry.received_by = entry.received_by or person
        store.save_calllog_entries(record.id, parsed.entries, problems=parsed.problems, parser_key=key,
                                   meta=parsed.meta)
    if outcome.status == "not_call_log":
        return outcome
    record = store.get_calllog_source(record.id)
    entries = store.calllog_entries(record.id)
    outcome.entries, outcome.calls = len(entries), sum(e.count for e in entries)
    outcome.problems = [f"第 {p['line']} 行: {p['reason_zh']}" if p.get("line") else p["reason_zh"] for p in record.problems]
    outcome.skipped = sum(int(p.get("skipped", 1)) for p in record.problems)
    return outcome


def import_call_logs(store: Any, paths: list[Path], input_dir: Path | None = None, *, received_by: str | None = None,
                     reader: ScreenshotReader | None = None, taken: datetime | None = None,
                     events: Any = None) -> CallLogReport:
    """Read every file; a bad file is a failed outcome, never an exception. Run the log rules after."""
    report = CallLogReport()
    reader = reader or CachingReader()
    for path in paths:
        try:
            outcome = import_call_log_file(store, path, input_dir=input_dir, received_by=received_by, reader=reader,
                                           taken=taken)
        except (InputError, OSError) as exc:
            outcome = CallLogOutcome(Path(path), "failed", error=str(exc))
        if events is not None and outcome.status == "failed":
            events.message(f"失败 {outcome.error}")
        report.outcomes.append(outcome)
    return report
