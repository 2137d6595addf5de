"""The time column of a call-log screen (``22:31``, ``昨天``, ``星期三``, ``12月1日``, ``2023/12/1``,
``上午10:31``, ``刚刚``) resolved against the day the screenshot was taken."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

_PERIOD = r"(?P<ampm>凌晨|早上|早晨|上午|中午|下午|晚上|傍晚|半夜)?"
_CLOCK = rf"{_PERIOD}\s*(?P<h>\d{{1,2}})[:：](?P<mi>\d{{2}})"
_DAY = (r"(?:(?P<rel>今天|昨天|前天)|(?:星期|周|礼拜)(?P<wd>[一二三四五六日天])|"
        r"(?:(?P<y>\d{4}|\d{2})\s*[年/.-]\s*)?(?P<mo>\d{1,2})\s*[月/.-]\s*(?P<d>\d{1,2})\s*日?)")
_LABEL_RE = re.compile(rf"^\s*(?:(?P<now>刚刚)|(?P<ago>\d{{1,2}})\s*分钟前|(?:{_DAY})?\s*(?:{_CLOCK})?)\s*$")
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_PM = {"下午", "晚上", "傍晚"}


@dataclass
class ResolvedTime:
    when: datetime | None  # naive, phone-local; the day at 00:00 when precision is 'day'
    precision: str | None  # minute | day | None (could not resolve)
    relative: bool  # needed the capture day (today/yesterday/weekday/no year)
    reason: str = ""  # why it could not be resolved


def _match(text: str) -> re.Match[str] | None:
    m = _LABEL_RE.match(clean_label(text))
    return m if m and (m["now"] or m["ago"] or m["rel"] or m["wd"] or m["mo"] or m["h"]) else None


def clean_label(text: str) -> str:
    """OCR text of a time cell without the info icon iOS and MIUI draw after it."""
    return re.sub(r"\s*[ⓘ①iI>〉›]\s*$", "", text.strip()).strip()


def is_time_cell(text: str) -> bool:
    return _match(text) is not None


def _hour(h: int, period: str | None) -> int:
    if period in _PM and h < 12:
        return h + 12
    if period in ("凌晨", "半夜") and h == 12:
        return 0
    if period == "中午" and h < 11:
        return h + 12
    return h


def resolve(text: str, captured: datetime | None, section_day: date | None = None) -> ResolvedTime:
    """``text`` as a time; a clock alone is on ``section_day`` (a "昨天" header above it) or the capture day."""
    m = _match(text)
    if m is None:
        return ResolvedTime(None, None, False, f"时间“{text}”无法识别")
    if m["now"] or m["ago"]:
        if captured is None:
            return ResolvedTime(None, None, True, f"“{text}”需要截图时间，文件名和 EXIF 都没有")
        return ResolvedTime((captured - timedelta(minutes=int(m["ago"] or 0))).replace(second=0, microsecond=0),
                            "minute", True)
    has_day = bool(m["rel"] or m["wd"] or m["mo"])
    full_year = m["y"] is not None
    if not full_year and captured is None and not (section_day and not has_day):
        return ResolvedTime(None, None, True, f"“{text}”没有日期，且截图时间未知（文件名、EXIF 都没有）")
    try:
        if m["rel"]:
            day = captured.date() - timedelta(days={"今天": 0, "昨天": 1, "前天": 2}[m["rel"]])
        elif m["wd"]:
            today = captured.date()
            day = today - timedelta(days=(today.weekday() - _WEEKDAYS[m["wd"]]) % 7 or 7)
        elif m["mo"]:
            year = (int(m["y"]) + (2000 if len(m["y"]) == 2 else 0)) if full_year else captured.year
            day = date(year, int(m["mo"]), int(m["d"]))
            if not full_year and day > captured.date():
                day = date(year - 1, day.month, day.day)
        else:
            day = section_day or captured.date()
        if m["h"] is None:
            return ResolvedTime(datetime(day.year, day.month, day.day), "day", not full_year)
        hour = _hour(int(m["h"]), m["ampm"])
        when = datetime(day.year, day.month, day.day, hour, int(m["mi"]))
    except ValueError:
        return ResolvedTime(None, None, False, f"时间“{text}”不是有效日期")
    return ResolvedTime(when, "minute", not full_year)


def section_header_day(text: str, captured: datetime | None) -> date | None:
    """A date-only heading between rows (``今天``, ``昨天``, ``2024年1月14日``) as a day, else None."""
    m = _match(text)
    if m is None or m["h"] is not None or not (m["rel"] or m["wd"] or m["mo"]):
        return None
    resolved = resolve(text, captured)
    return resolved.when.date() if resolved.when else None
