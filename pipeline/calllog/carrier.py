"""Carriers' itemized call records (运营商通话详单) as the China Mobile / Unicom / Telecom apps and
web halls export them: CSV (UTF-8 or GBK, comma or tab) or XLSX, a title block, then a header row
in Chinese, e.g.

    中国移动 通话详单  查询月份：2024年01月
    起始时间,通信地点,通信方式,对方号码,通信时长,通信类型,套餐优惠,实收通信费(元)
    01-15 22:31:05,广东深圳,被叫,13800138000,1分23秒,本地,,0.00

China Mobile writes the start without a year (the year comes from the title, else from a
``202401`` in the file name); 主叫 = the user called, 被叫 = the user was called, 呼转 =
forwarded. Carriers bill connected calls, so these are answered calls with the network's times.
A row that cannot be read is one problem line; the others are kept.
"""

from __future__ import annotations

import csv
import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from pipeline.calllog.model import LogEntry, LogProblem, ParsedLog
from pipeline.callmeta import canonical_number, plausible_time
from pipeline.calls import parse_duration
from pipeline.errors import InputError
from pipeline.messages.sms_csv import read_text

COLUMNS = {
    "start": ("起始时间", "通话起始时间", "通信起始时间", "开始时间", "呼叫时间", "通话开始时间", "起始日期时间", "通话时间"),
    "date": ("日期", "通话日期", "通信日期"),
    "clock": ("时间", "时刻"),
    "location": ("通信地点", "通话地点", "本机通话地", "通话地", "所在地", "本机所在地"),
    "mode": ("通信方式", "呼叫类型", "呼叫方式", "主被叫", "主/被叫", "主叫/被叫", "通话方式"),
    "number": ("对方号码", "对端号码", "通信对象", "对方电话", "对方手机号", "对方手机号码"),
    "duration": ("通信时长", "通话时长", "时长", "通话时长(秒)", "通信时长(秒)"),
    "kind": ("通信类型", "通话类型", "业务类型"),
}
_ALIASES = {re.sub(r"\s", "", alias): key for key, names in COLUMNS.items() for alias in names}
_MODES = {"主叫": "outgoing", "呼出": "outgoing", "被叫": "incoming", "呼入": "incoming", "呼转": "incoming",
          "呼叫转移": "incoming", "来电转接": "incoming"}
_SUMMARY = re.compile(r"^\s*(合计|总计|小计|说明|备注|注[:：]|温馨提示|共\s*\d+)")
_YEAR_MONTH = re.compile(r"(20\d{2})\s*(?:年|-|/|\.)?\s*(0?[1-9]|1[0-2])\s*月?")


def header_keys(cells: list[Any]) -> list[str | None]:
    keys: list[str | None] = []
    for cell in cells:
        key = _ALIASES.get(re.sub(r"\s", "", str(cell or "")))
        keys.append(key if key not in keys else None)
    return keys


def is_carrier_header(cells: list[Any]) -> bool:
    keys = set(header_keys(cells))
    return "number" in keys and ("start" in keys or "date" in keys) and bool(keys & {"mode", "duration"})


def read_rows(path: Path) -> list[list[Any]]:
    """The file's rows: XLSX (first sheet with a header row) via openpyxl, else CSV/TSV text."""
    path = Path(path)
    with open(path, "rb") as handle:
        head = handle.read(8)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputError(path, "旧版 Excel（.xls）无法直接读取，请在 Excel/WPS 中另存为 .xlsx 或 .csv",
                         "old binary Excel (.xls): save it as .xlsx or .csv")
    if head.startswith(b"PK\x03\x04"):
        return _xlsx_rows(path)
    text = read_text(path)
    first = next((line for line in text.splitlines() if line.strip()), "")
    delimiter = "\t" if first.count("\t") > first.count(",") else ","
    return [row for row in csv.reader(text.splitlines(), delimiter=delimiter)]


def _xlsx_rows(path: Path) -> list[list[Any]]:
    try:
        import openpyxl
    except ImportError as exc:  # pinned in requirements.txt; this is a broken install
        raise InputError(path, "读取 XLSX 需要 openpyxl（pip install -r requirements.txt）",
                         "reading XLSX needs openpyxl") from exc
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile / XML errors of a damaged or non-Excel zip
        raise InputError(path, f"XLSX 文件损坏或不是 Excel 表格：{exc}", f"damaged or not an Excel workbook: {exc}") from exc
    try:
        sheets = [[list(r) for r in sheet.iter_rows(values_only=True)] for sheet in book.worksheets]
    finally:
        book.close()
    for rows in sheets:
        if any(is_carrier_header(r) for r in rows[:20]):
            return rows
    return sheets[0] if sheets else []


def _year_month(rows: list[list[Any]], path: Path) -> tuple[int, int] | None:
    for row in rows:
        for cell in row:
            if isinstance(cell, str) and (m := _YEAR_MONTH.search(cell)):
                return int(m.group(1)), int(m.group(2))
    m = re.search(r"(?<!\d)(20\d{2})[-_.]?(0[1-9]|1[0-2])(?!\d)", path.stem)
    return (int(m.group(1)), int(m.group(2))) if m else None


def _start(value: Any, clock: Any, year_month: tuple[int, int] | None) -> tuple[datetime, bool]:
    """(start, year inferred) from a cell (or date + time cells)."""
    if isinstance(value, datetime):
        return value.replace(microsecond=0), False
    if isinstance(value, date):
        value = value.isoformat()
    if clock is not None and not isinstance(clock, str):
        clock = clock.strftime("%H:%M:%S") if isinstance(clock, time | datetime) else str(clock)
    text = re.sub(r"\s+", " ", f"{value} {clock or ''}".strip())
    if m := re.fullmatch(r"(\d{4})(\d{2})(\d{2})\s?(\d{2})(\d{2})(\d{2})", text):
        parts = [int(g) for g in m.groups()]
    elif m := re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?", text):
        parts = [int(g or 0) for g in m.groups()]
    elif m := re.fullmatch(r"(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s+(\d{1,2}):(\d{2})(?::(\d{2}))?", text):
        if year_month is None:
            raise ValueError("起始时间没有年份，文件标题和文件名里也找不到年月（如 2024年01月）|start has no year")
        month = int(m.group(1))
        year = year_month[0] - (1 if month > year_month[1] else 0)  # a December row in a January bill
        return datetime(year, month, int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5) or 0)), True
    else:
        raise ValueError(f"起始时间无法识别: {text!r}|bad start time {text!r}")
    when = plausible_time(*parts)
    if when is None:
        raise ValueError(f"起始时间不合理: {text!r}|implausible start time {text!r}")
    return when, False


def _duration(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, time):
        return value.hour * 3600 + value.minute * 60 + value.second
    text = str(value or "").strip().replace("：", ":")
    if not text:
        raise ValueError("通话时长为空|empty duration")
    try:
        return parse_duration(text)
    except ValueError:
        raise ValueError(f"通话时长无法识别: {text!r}|bad duration {text!r}") from None


def _entry(cells: dict[str, Any], index: int, line: int, year_month: tuple[int, int] | None) -> LogEntry:
    raw = str(cells.get("number") or "").strip()
    if raw.endswith(".0") and raw[:-2].isdigit():  # a number cell Excel stored as a float
        raw = raw[:-2]
    number = canonical_number(raw)
    if number is None:
        raise ValueError(f"对方号码无法识别: {raw!r}|bad number {raw!r}")
    mode_text = re.sub(r"\s", "", str(cells.get("mode") or ""))
    kind = next((v for k, v in _MODES.items() if k in mode_text), None) if mode_text else "unknown"
    if kind is None:
        raise ValueError(f"通信方式无法识别: {mode_text!r}（应为 主叫/被叫）|bad call mode {mode_text!r}")
    start, inferred = _start(cells.get("start") if cells.get("start") not in (None, "") else cells.get("date"),
                             cells.get("clock") if cells.get("start") in (None, "") else None, year_month)
    entry = LogEntry(index=index, type=kind, number=number, number_raw=raw, start=start, time_source="carrier",
                     time_precision="s", time_text=str(cells.get("start") or cells.get("date") or ""),
                     duration=_duration(cells.get("duration")) if "duration" in cells else None,
                     location=str(cells.get("location") or "").strip() or None, line=line)
    if inferred:
        entry.notes.append(f"年份取自详单标题或文件名（{start.year} 年）")
    if "转" in mode_text:
        entry.notes.append("呼叫转移")
    if cells.get("kind"):
        entry.meta["kind"] = str(cells["kind"]).strip()
    return entry


def parse_carrier(path: Path) -> ParsedLog:
    """The records of one itemized bill; the header row is found among the first 20 rows."""
    path = Path(path)
    rows = read_rows(path)
    header_at = next((i for i, r in enumerate(rows[:20]) if is_carrier_header(r)), None)
    if header_at is None:
        raise InputError(path, "找不到通话详单的表头（需要 对方号码、起始时间 和 通信方式/通话时长 列）",
                         "no itemized-call header (needs 对方号码, 起始时间 and 通信方式 or 通话时长 columns)")
    keys = header_keys(rows[header_at])
    year_month = _year_month(rows[:header_at], path)
    entries, problems = [], []
    for offset, row in enumerate(rows[header_at + 1:], start=header_at + 2):
        values = [c for c in row if c not in (None, "") and str(c).strip()]
        if not values:
            continue
        first = str(values[0])
        if _SUMMARY.match(first) or (len(values) == 1 and not re.search(r"\d{5,}", first)):
            problems.append(LogProblem(offset, f"不是通话记录行（{first[:20]}），未计入", "not a call row (summary / note)",
                                       skipped=0))
            continue
        cells = {k: v for k, v in zip(keys, row, strict=False) if k}
        try:
            entries.append(_entry(cells, len(entries), offset, year_month))
        except ValueError as exc:
            zh, _, en = str(exc).partition("|")
            problems.append(LogProblem(offset, zh, en or zh))
    meta = {"header_row": header_at + 1, "columns": [str(c) for c in rows[header_at] if c not in (None, "")]}
    if year_month:
        meta["year_month"] = f"{year_month[0]}-{year_month[1]:02d}"
    return ParsedLog("carrier", entries, problems, meta)
