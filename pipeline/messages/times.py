"""Times as message sources write them: epoch milliseconds, ``2024-01-15 22:31:05``, ``2024/1/15
22:31``, ``2024年1月15日 下午10:31``, 12-hour clocks with the period after the time (``2019-09-23
8:43:38 PM``, QQ and WeChat on an English system), ``Jul 23, 2011 6:12:54 AM`` (iOS tools), and the
relative labels of chat screenshots (``昨天 22:31``)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

_DATE = r"(?P<y>\d{4})\s*[-/.年]\s*(?P<mo>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
_PERIOD = r"(?P<ampm>凌晨|早上|早晨|上午|中午|下午|晚上|傍晚|半夜|AM|PM|am|pm)?"
# a period after the clock: "8:43:38 PM" (English-locale QQ / WeChat, iOS tools)
_AFTER = r"(?:\s*(?P<after>[AaPp]\.?[Mm]\.?)(?![A-Za-z]))?"
_CLOCK = rf"{_PERIOD}\s*(?P<h>\d{{1,2}}):(?P<mi>\d{{2}})(?::(?P<s>\d{{2}}))?(?:\.\d+)?{_AFTER}"
DATETIME_RE = re.compile(rf"{_DATE}(?:\s*[T ]?\s*{_CLOCK})?")
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov",
                                       "dec"), start=1)}
ENGLISH_RE = re.compile(rf"(?P<mon>[A-Za-z]{{3}})[a-z]*\.?\s+(?P<d>\d{{1,2}}),?\s+(?P<y>\d{{4}})(?:,?\s+(?:at\s+)?{_CLOCK})?")
CLOCK_RE = re.compile(_CLOCK)
_PM = {"下午", "晚上", "傍晚", "PM", "pm"}
_WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_RELATIVE = re.compile(
    rf"^\s*(?:(?P<rel>今天|昨天|前天)|(?:星期|周|礼拜)(?P<wd>[一二三四五六日天])|"
    rf"(?:(?P<y>\d{{4}})\s*年\s*)?(?P<mo>\d{{1,2}})\s*[月/-]\s*(?P<d>\d{{1,2}})\s*日?)?\s*{_CLOCK}\s*$")


def _hour(h: int, period: str | None, after: str | None = None) -> int:
    if after:  # 12-hour clock: 12:xx AM is just after midnight, 12:xx PM just after noon
        pm = after.replace(".", "").lower() == "pm"
        if not 1 <= h <= 12:
            raise ValueError(f"hour {h} on a 12-hour clock")
        return (h % 12) + (12 if pm else 0)
    if period in _PM and h < 12:
        return h + 12
    if period in ("凌晨", "半夜") and h == 12:
        return 0
    if period == "中午" and h < 11:
        return h + 12
    return h


def parse_epoch(value: str) -> datetime | None:
    """Epoch seconds (10 digits) or milliseconds (13 digits) as an aware UTC datetime."""
    text = value.strip()
    if not re.fullmatch(r"\d{9,13}", text):
        return None
    seconds = int(text) / (1000 if len(text) >= 12 else 1)
    when = datetime.fromtimestamp(seconds, UTC)
    return when if 2000 <= when.year <= datetime.now().year + 1 else None


def parse_datetime(text: str) -> datetime | None:
    """A full date with an optional clock time (naive local), an ISO string, or an epoch; else None."""
    text = text.strip()
    if not text:
        return None
    if (epoch := parse_epoch(text)) is not None:
        return epoch
    m = DATETIME_RE.fullmatch(text)
    month = None
    if m is None and (m := ENGLISH_RE.fullmatch(text)) is not None:
        month = _MONTHS.get(m["mon"].lower())
        if month is None:
            return None
    if m:
        try:
            return datetime(int(m["y"]), month or int(m["mo"]), int(m["d"]),
                            _hour(int(m["h"] or 0), m["ampm"], m["after"]) if m["h"] else 0,
                            int(m["mi"] or 0), int(m["s"] or 0))
        except ValueError:
            return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def is_time_label(text: str) -> bool:
    """A line that is only a time (the centred separators of chat screenshots)."""
    return bool(_RELATIVE.match(text.strip()) or DATETIME_RE.fullmatch(text.strip()))


def resolve_label(text: str, captured: datetime | None) -> datetime | None:
    """A screenshot's time label as a datetime; relative ones need the capture time, else None.

    ``22:31`` is on the capture day, ``昨天 22:31`` the day before, ``星期一 22:31`` the last Monday
    before it, ``1月15日 22:31`` in the capture year (the year before when that would be later).
    """
    text = text.strip()
    full = DATETIME_RE.fullmatch(text)
    if full and full["h"]:
        return parse_datetime(text)
    m = _RELATIVE.match(text)
    if not m:
        return None
    try:
        clock = (_hour(int(m["h"]), m["ampm"], m["after"]), int(m["mi"]), int(m["s"] or 0))
        if m["y"]:
            return datetime(int(m["y"]), int(m["mo"]), int(m["d"]), *clock)
        if captured is None:
            return None
        day: date = captured.date()
        if m["rel"]:
            day -= timedelta(days={"今天": 0, "昨天": 1, "前天": 2}[m["rel"]])
        elif m["wd"]:
            back = (day.weekday() - _WEEKDAYS[m["wd"]]) % 7 or 7
            day -= timedelta(days=back)
        elif m["mo"]:
            day = date(day.year, int(m["mo"]), int(m["d"]))
            if day > captured.date():
                day = date(day.year - 1, day.month, day.day)
        return datetime(day.year, day.month, day.day, *clock)
    except ValueError:
        return None


_CAPTURE_PATTERNS = [
    # Screenshot_2024-01-15-22-35-10-123_com.tencent.mm.jpg, Screenshot_20240115_223510.png,
    # 微信图片_20240115223510.jpg, IMG_20240115_223510.jpg, 截屏2024-01-15 22.35.10.png
    re.compile(r"(?<!\d)(20\d{2})-?(\d{2})-?(\d{2})[-_ ]?(\d{2})[-_.:]?(\d{2})[-_.:]?(\d{2})(?!\d)"),
]


def capture_time_from_name(name: str) -> datetime | None:
    """When a screenshot was taken, from the date-time stamp phones put in its file name."""
    for pattern in _CAPTURE_PATTERNS:
        for m in pattern.finditer(name):
            try:
                when = datetime(*(int(g) for g in m.groups()))
            except ValueError:
                continue
            if 2010 <= when.year <= datetime.now().year + 1:
                return when
    return None
