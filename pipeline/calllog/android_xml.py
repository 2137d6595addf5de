"""SMS Backup & Restore call-log backups (``calls-20240115231002.xml``).

    <calls count="3" backup_date="1705331402000">
      <call number="+8613800138000" duration="0" date="1705330261000" type="3" presentation="1"
            readable_date="Jan 15, 2024 22:51:01" contact_name="(Unknown)" />

``type`` is Android's ``CallLog.Calls.TYPE``: 1 incoming, 2 outgoing, 3 missed, 4 voicemail,
5 rejected, 6 blocked, 7 answered on another device. ``date`` is the start in epoch
milliseconds (the phone's own clock), ``duration`` seconds talked. Each ``<call>`` is read on
its own, so one malformed entry (or a file cut short) is reported with its line and the others
are kept.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from pipeline.calllog.model import LogEntry, LogProblem, ParsedLog
from pipeline.callmeta import canonical_number
from pipeline.errors import InputError

_ROOT = re.compile(rb"<calls[\s>]")
_ENTRY = re.compile(r"<call\b(?P<body>[^<>]*?)(?P<end>/>|>\s*</call>|(?=<)|$)", re.S)
_TYPES = {"1": "incoming", "2": "outgoing", "3": "missed", "4": "voicemail", "5": "rejected", "6": "blocked",
          "7": "incoming"}
_HIDDEN = {"2": "号码被隐藏", "3": "号码未知", "4": "公用电话"}  # presentation: 1 allowed


def looks_like_calls_xml(head: bytes) -> bool:
    """True when a file's first bytes open an SMS Backup & Restore call-log backup (``<calls``)."""
    return bool(_ROOT.search(head[:4096])) and b"<smses" not in head[:4096]


def _read(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(path, "无法读取", f"cannot read: {exc.strerror}") from exc
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="replace")


def _entry(attrs: dict[str, str], index: int, line: int) -> LogEntry:
    kind = _TYPES.get(attrs.get("type", "").strip())
    if kind is None:
        raise ValueError(f"通话类型 type={attrs.get('type')!r} 无法识别|unknown type {attrs.get('type')!r}")
    date = attrs.get("date", "").strip()
    if not date.isdigit():
        raise ValueError(f"缺少或无法识别的时间 date={date!r}|missing or bad date {date!r}")
    start = datetime.fromtimestamp(int(date) / 1000, UTC)
    if not 2000 <= start.year <= datetime.now().year + 1:
        raise ValueError(f"时间不合理 {start:%Y-%m-%d}|implausible date {start:%Y-%m-%d}")
    raw = (attrs.get("number") or "").strip()
    name = (attrs.get("contact_name") or "").strip()
    entry = LogEntry(index=index, type=kind, number=canonical_number(raw), number_raw=raw or None,
                     contact_name=None if name in ("", "(Unknown)", "null") else name, start=start,
                     time_source="phone", time_precision="ms", time_text=attrs.get("readable_date"), line=line)
    duration = attrs.get("duration", "").strip()
    if duration:
        if not re.fullmatch(r"\d+", duration):
            raise ValueError(f"时长 duration={duration!r} 无法识别|bad duration {duration!r}")
        entry.duration = float(duration)
    if (hidden := _HIDDEN.get(attrs.get("presentation", "1").strip())) and not entry.number:
        entry.notes.append(hidden)
    if attrs.get("type") == "7":
        entry.notes.append("在另一台设备上接听")
    if entry.number is None and not entry.contact_name and not entry.notes:
        entry.notes.append("号码为空")
    return entry


def parse_calls_xml(path: Path) -> ParsedLog:
    """Every ``<call>`` of the backup; unreadable ones become problems with their line."""
    path = Path(path)
    text = _read(path)
    if not _ROOT.search(text[:4096].encode("utf-8", "replace")):
        raise InputError(path, "不是 SMS Backup & Restore 的通话记录备份（缺少 <calls>）",
                         "not an SMS Backup & Restore call-log backup (no <calls> root)")
    entries, problems = [], []
    for match in _ENTRY.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        if match["end"] in ("", None) or not match["end"].strip():
            problems.append(LogProblem(line, "条目不完整（文件可能被截断）", "entry cut short (truncated file?)"))
            continue
        try:
            element = ET.fromstring(f"<call{match['body']}/>")
            entries.append(_entry(dict(element.attrib), len(entries), line))
        except ET.ParseError as exc:
            problems.append(LogProblem(line, f"条目格式错误：{exc}", f"malformed entry: {exc}"))
        except ValueError as exc:
            zh, _, en = str(exc).partition("|")
            problems.append(LogProblem(line, zh, en or zh))
    declared = re.search(r"<calls\b[^>]*\bcount=\"(\d+)\"", text[:4096])
    seen = len(entries) + sum(p.skipped for p in problems)
    if declared and int(declared.group(1)) != seen:
        problems.append(LogProblem(None, f"文件声明 {declared.group(1)} 条，实际读到 {seen} 条（文件可能不完整）",
                                   f"count={declared.group(1)} but {seen} entries found (incomplete file?)",
                                   skipped=max(0, int(declared.group(1)) - seen)))
    meta = {}
    if stamp := re.search(r"backup_date=\"(\d{12,13})\"", text[:4096]):
        meta["backup_date"] = datetime.fromtimestamp(int(stamp.group(1)) / 1000, UTC).isoformat()
    return ParsedLog("calls_xml", entries, problems, meta)
