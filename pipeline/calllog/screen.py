"""Screenshots of the phone's call-log screen (MIUI, EMUI/HarmonyOS, ColorOS, OriginOS, iOS) ->
calls, read with the project's offline OCR (``pipeline.messages.ocr``).

Layout, in fractions of the image width W / height H (portrait, full-screen when H >= 1.5 W):
- the status bar, title and tabs (top 12 %) and the tab / dial bar (bottom 8 %) are chrome;
- every row has its time at the right (x centre > 0.6 W): ``22:31``, ``昨天``, ``星期三``,
  ``12月1日``, ``2023/12/1``; those cells anchor the rows;
- the left column's lines belong to the nearest anchor: the top one names the other side (a
  number, or a contact name) with an optional count badge ``(3)``; the lines under it carry
  marks (未接/响铃5声/呼入/呼出/拒接/已拦截), a duration (1分23秒) and a place (广东深圳);
- a date-only line in the left column (``昨天``) heads the rows under it;
- no mark: a red name is a missed call (iOS, MIUI), else the type stays unknown.
Relative times are resolved against the day the screenshot was taken (its file name, else EXIF),
and every entry says so. Each entry keeps its lines' boxes, like message lines do.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.calllog.model import LogEntry, LogProblem, ParsedLog
from pipeline.calllog.screen_times import clean_label, is_time_cell, resolve, section_header_day
from pipeline.callmeta import canonical_number, is_number_like
from pipeline.calls import parse_duration
from pipeline.messages.model import OcrLine

TOP_CHROME, BOTTOM_CHROME, TIME_COLUMN = 0.12, 0.92, 0.6
CHROME_WORDS = {"通话记录", "最近通话", "拨号", "拨号盘", "联系人", "收藏", "个人收藏", "全部", "全部通话", "所有通话",
                "所有", "编辑", "电话", "营业厅", "最近", "通讯录", "语音信箱", "清除", "搜索", "黄页", "生活黄页", "未接"}
_BADGE = re.compile(r"\s*[(（]\s*(\d{1,3})\s*[)）]\s*$")
_MARKS = (  # first match wins: "未接来电" is missed, not incoming
    ("missed", re.compile(r"未接|响铃\s*\d*\s*[声秒次]?|missed", re.I)),
    ("rejected", re.compile(r"已拒接|拒接|已拒绝|拒绝|已拒")),
    ("blocked", re.compile(r"已拦截|拦截|已屏蔽")),
    ("voicemail", re.compile(r"语音信箱|留言")),
    ("outgoing", re.compile(r"呼出|去电|已拨|拨出|未接通")),
    ("incoming", re.compile(r"呼入|来电|已接")),
)
_DURATION = re.compile(r"(?:\d+\s*小时\s*)?(?:\d+\s*分(?:钟)?\s*)?\d+\s*秒|(?<![\d:])\d{1,2}:\d{2}(?::\d{2})?(?![\d:])")
_TAG = re.compile(r"(骚扰电话|疑似催收|催收|诈骗电话|疑似诈骗|推销|广告推销|快递外卖|房产中介|保险理财)(?:\s*[|｜·]?\s*被?\s*\d+\s*人标记)?")
_RING = re.compile(r"响铃\s*(\d+)\s*[声秒次]")


@dataclass
class Row:
    anchor: OcrLine
    lines: list[OcrLine] = field(default_factory=list)
    section_day: date | None = None


def _centre_y(line: OcrLine) -> float:
    return (line.rect[1] + line.rect[3]) / 2


def _is_chrome(line: OcrLine, width: int, height: int) -> bool:
    x0, y0, x1, y1 = line.rect
    if height >= 1.5 * width and (y1 < TOP_CHROME * height or y0 > BOTTOM_CHROME * height):
        return True
    return line.text.strip() in CHROME_WORDS


def _noise(line: OcrLine) -> bool:
    """Icons OCR reads as a stray character (call arrows, the info button, SIM badges)."""
    text = line.text.strip()
    return len(text) <= 1 and not text.isdigit() and not re.match(r"[\u4e00-\u9fff]", text)


def split_rows(lines: list[OcrLine], width: int, height: int,
               captured: datetime | None) -> tuple[list[Row], list[OcrLine], list[OcrLine]]:
    """(rows, chrome, lines belonging to no row)."""
    chrome = [line for line in lines if _is_chrome(line, width, height)]
    body = [line for line in lines if line not in chrome and not _noise(line)]
    anchors = sorted((line for line in body if (line.rect[0] + line.rect[2]) / 2 > TIME_COLUMN * width
                      and is_time_cell(line.text)), key=_centre_y)
    rows = [Row(anchor) for anchor in anchors]
    heights = [line.rect[3] - line.rect[1] for line in body] or [1.0]
    gaps = [_centre_y(b.anchor) - _centre_y(a.anchor) for a, b in zip(rows, rows[1:], strict=False)]
    pitch = statistics.median(gaps) if gaps else 3.0 * statistics.median(heights)
    loose, headers = [], []
    for line in sorted((x for x in body if x not in anchors), key=_centre_y):
        if line.rect[0] < TIME_COLUMN * width and (day := section_header_day(line.text, captured)) is not None \
                and len(line.text.strip()) <= 12:
            headers.append((_centre_y(line), day))
            continue
        nearest = min(rows, key=lambda r: abs(_centre_y(r.anchor) - _centre_y(line)), default=None)
        if nearest is None or abs(_centre_y(nearest.anchor) - _centre_y(line)) > 0.55 * pitch:
            loose.append(line)
            continue
        nearest.lines.append(line)
    for row in rows:
        above = [day for y, day in headers if y < _centre_y(row.anchor)]
        row.section_day = above[-1] if above else None
        row.lines.sort(key=lambda x: (_centre_y(x), x.rect[0]))
    return rows, chrome, loose


def visual_lines(lines: list[OcrLine]) -> list[list[OcrLine]]:
    """Lines side by side (a name and its badge read as two boxes) grouped, top to bottom, left to right."""
    groups: list[list[OcrLine]] = []
    for line in sorted(lines, key=_centre_y):
        height = line.rect[3] - line.rect[1]
        if groups and abs(_centre_y(groups[-1][0]) - _centre_y(line)) < 0.5 * height:
            groups[-1].append(line)
        else:
            groups.append([line])
    return [sorted(g, key=lambda x: x.rect[0]) for g in groups]


def ink_colour(image: np.ndarray | None, line: OcrLine) -> np.ndarray | None:
    """Mean colour of the text strokes in a line's box (pixels far from the box's background)."""
    if image is None:
        return None
    x0, y0, x1, y1 = (int(round(v)) for v in line.rect)
    crop = image[max(0, y0): max(y0 + 1, y1), max(0, x0): max(x0 + 1, x1), :3].reshape(-1, 3).astype(float)
    if crop.size == 0:
        return None
    background = np.median(crop, axis=0)
    distance = np.abs(crop - background).sum(axis=1)
    ink = crop[distance > 90]
    return ink.mean(axis=0) if len(ink) >= 5 else None


def is_red(colour: np.ndarray | None) -> bool:
    return colour is not None and colour[0] > 150 and colour[0] - colour[1] > 70 and colour[0] - colour[2] > 50


def _box(line: OcrLine) -> dict[str, Any]:
    return {"text": line.text, "box": line.box, "confidence": line.confidence}


def row_entry(row: Row, index: int, captured: datetime | None, image: np.ndarray | None,
              captured_from: str) -> tuple[LogEntry | None, LogProblem | None]:
    """One call of a row, or the problem that keeps it out (one line, with the row's text)."""
    text_lines = list(row.lines)
    where = f"第 {index + 1} 行（{' / '.join(x.text for x in [*text_lines, row.anchor])}）"
    if not text_lines:
        return None, LogProblem(None, f"{where}：只有时间，没有号码或联系人", "row has a time but no number or name")
    groups = visual_lines(text_lines)
    primary, rest = groups[0][0], [x for g in groups[1:] for x in g]
    title = " ".join(x.text.strip() for x in groups[0])
    count = 1
    if badge := _BADGE.search(title):
        count, title = int(badge.group(1)), title[: badge.start()].strip()
    title = re.sub(r"\s+(?:HD|VoLTE|[12]|卡[12])$", "", title)
    secondary = " ".join(x.text.strip() for x in rest)
    number = canonical_number(title) if is_number_like(title) else None
    name = None if number else title
    if not (number or name):
        return None, LogProblem(None, f"{where}：号码或联系人无法识别", "no number or name")
    kind = next((k for k, pattern in _MARKS if pattern.search(secondary) or pattern.search(title)), None)
    notes: list[str] = []
    if kind is None:
        if is_red(ink_colour(image, primary)):
            kind = "missed"
            notes.append("按红色字体判断为未接来电")
        else:
            kind = "unknown"
            notes.append("截图中没有 未接/呼入/呼出 标记，通话类型未知")
    duration = None
    if (m := _DURATION.search(secondary)) and kind in ("incoming", "outgoing", "unknown"):
        try:
            duration = parse_duration(m.group(0).replace(" ", ""))
        except ValueError:
            duration = None
    if kind in ("missed", "rejected", "blocked"):
        duration = 0.0
    resolved = resolve(row.anchor.text, captured, row.section_day)
    entry = LogEntry(index=index, type=kind, number=number, number_raw=title if number else None, contact_name=name,
                     start=resolved.when, time_source="screenshot", time_precision=resolved.precision,
                     time_text=clean_label(row.anchor.text), duration=duration, count=count,
                     ocr=[_box(x) for x in [*text_lines, row.anchor]],
                     confidence=round(min(x.confidence for x in [*text_lines, row.anchor]), 4), notes=notes)
    place = _DURATION.sub("", secondary)
    for _, pattern in _MARKS:
        place = pattern.sub("", place)
    if tag := _TAG.search(place):
        entry.meta["tag"] = tag.group(0)
        place = place.replace(tag.group(0), "")
    if ring := _RING.search(secondary):
        entry.meta["rings"] = int(ring.group(1))
    entry.location = re.sub(r"\s+", " ", re.sub(r"[|｜·,，]", " ", place)).strip() or None
    if resolved.when is None:
        entry.notes.append(resolved.reason)
    elif resolved.relative:
        day = row.section_day and not re.search(r"今天|昨天|前天|星期|周|礼拜|月|/|-", row.anchor.text)
        entry.notes.append(f"“{entry.time_text}”的日期按{'上方的日期标题' if day else '截图时间（' + captured_from + '）'}推算")
    if resolved.precision == "day":
        entry.notes.append("截图只显示日期，没有具体时刻")
    if count > 1:
        entry.notes.append(f"这一行合并了 {count} 次通话（{count}），只显示最近一次的时间，请打开详情核对")
    if entry.confidence is not None and entry.confidence < 0.8:
        entry.notes.append(f"文字识别置信度低（{entry.confidence:.2f}），请对照原图核对")
    return entry, (LogProblem(None, f"{where}：{resolved.reason}", "time could not be resolved", skipped=0)
                   if resolved.when is None else None)


def looks_like_call_log(lines: list[OcrLine], width: int, height: int, *, hinted: bool = False) -> bool:
    """Rows with a time at the right and a number or a call mark at the left (not a chat: its times
    are centred, its lines long). ``hinted``: the file name says dialer/contacts (one row is enough)."""
    rows, _, _ = split_rows(lines, width, height, datetime(2024, 1, 1))
    if not rows:
        return False
    callish = 0
    for row in rows:
        text = " ".join(x.text for x in row.lines)
        first = _BADGE.sub("", row.lines[0].text) if row.lines else ""
        if row.lines and (is_number_like(first) or any(p.search(text) for _, p in _MARKS) or _BADGE.search(row.lines[0].text)):
            callish += 1
    long_lines = sum(len(x.text) > 18 for row in rows for x in row.lines)
    needed = 1 if hinted else 2
    return callish >= needed and callish >= 0.5 * len(rows) and long_lines <= len(rows) // 3


def parse_call_log_lines(lines: list[OcrLine], width: int, height: int, *, image: np.ndarray | None = None,
                         captured: datetime | None = None, captured_from: str = "") -> ParsedLog:
    """Entries of a call-log screen, top to bottom; rows that cannot be read become problems."""
    rows, chrome, loose = split_rows(lines, width, height, captured)
    entries, problems = [], []
    for row in rows:
        entry, problem = row_entry(row, len(entries), captured, image, captured_from)
        if entry is not None:
            entries.append(entry)
        if problem is not None:
            problems.append(problem)
    for line in loose:
        if not (line.text.strip() in CHROME_WORDS or len(line.text.strip()) <= 2):
            problems.append(LogProblem(None, f"“{line.text}”不属于任何一行（没有对应的时间），未计入",
                                       "a line with no time beside it, left out", skipped=0))
    meta = {"size": [width, height], "chrome": [c.text for c in chrome],
            "captured": captured.isoformat() if captured else None, "captured_from": captured_from or None}
    return ParsedLog("screenshot", entries, problems, meta)


def parse_call_log_screenshot(path: Path, reader: Any = None, *, taken: datetime | None = None,
                              lines: list[OcrLine] | None = None) -> ParsedLog:
    """OCR one screenshot (or use ``lines`` already read) and read its call-log rows.

    ``taken``: when the screenshot was taken, when the user knows it (beats the file name and EXIF).
    """
    from pipeline.messages.ocr import load_image, ocr_info, shared_reader
    from pipeline.messages.times import capture_time_from_name

    path = Path(path)
    image, exif_time = load_image(path)
    rgb = np.asarray(image)
    if lines is None:
        lines = (reader or shared_reader()).read_lines(rgb)
    named = capture_time_from_name(path.name)
    captured, source = ((taken, "用户提供") if taken else (named, f"文件名 {named:%Y-%m-%d %H:%M}") if named
                        else (exif_time, f"EXIF {exif_time:%Y-%m-%d %H:%M}") if exif_time else (None, ""))
    parsed = parse_call_log_lines(lines, image.width, image.height, image=rgb, captured=captured, captured_from=source)
    info = ocr_info()
    parsed.meta["ocr"] = {"package": info.package, "version": info.version, "models": info.models}
    return parsed
