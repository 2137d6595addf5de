"""What one recording's call is known to be (`CallMeta`), and the helpers every metadata source
shares: phone-number canonicalisation, the device time zone and the plausible-date check.

Split out of ``pipeline.calls`` so that the file-name parser (``pipeline.callnames``) and the
other sources (``pipeline.calls``) can both use them without importing each other.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_ZONE = "Asia/Shanghai"


@dataclass
class CallMeta:
    number: str | None = None  # canonical: +86/0086/86 dropped from CN mobiles
    number_raw: str | None = None  # as written in the name / sidecar / csv
    contact_name: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    direction: str | None = None  # incoming | outgoing | conference
    duration: float | None = None
    recorder: str | None = None  # which file-name template matched
    sources: dict[str, str] = field(default_factory=dict)  # field -> filename|tag|mtime|user|sidecar
    time_precision: str | None = None  # ms | s | minute
    participants: list[tuple[str | None, str | None]] = field(default_factory=list)  # (number, name)
    received_by: str | None = None
    user_note: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def start_source(self) -> str | None:
        return self.sources.get("start")

    def set(self, name: str, value: Any, source: str) -> None:
        setattr(self, name, value)
        self.sources[name] = source

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in vars(self).items() if k != "participants"}
        out["participants"] = [list(p) for p in self.participants]
        for key in ("start", "end"):
            out[key] = out[key].isoformat() if out[key] else None
        return out


def local_zone(name: str = DEFAULT_ZONE) -> ZoneInfo | timezone:
    """The zone naive phone times are in; China (no DST) still works without tzdata."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        if name in ("Asia/Shanghai", "Asia/Chongqing", "PRC", "Asia/Hong_Kong", "Asia/Taipei"):
            return timezone(timedelta(hours=8))
        raise


# ---------------------------------------------------------------- numbers

def is_number_like(text: str) -> bool:
    """Pitfall 1: after dropping spaces, '-', brackets and a leading '+', all digits (>= 3)?"""
    core = re.sub(r"[\s\-()（）]", "", text).lstrip("+")
    return core.isdigit() and len(core) >= 3


def canonical_number(raw: str | None, *, miui: bool = False) -> str | None:
    """Digits (and a leading + or *) of a phone number; China's +86/0086/86 dropped."""
    if not raw:
        return None
    text = unicodedata.normalize("NFKC", raw).strip()
    if miui:  # MIUI wrote '+'->'00', ','->'p' (pause), '*'->'s'
        text = re.split(r"[p,]", text)[0].replace("s", "*")
    text = re.sub(r"^_(?=\d)", "*", text)  # Samsung wrote *6900 as _6900
    text = re.sub(r"[^\d+*#]", "", text)
    if not re.search(r"\d", text):
        return None
    if m := re.fullmatch(r"(?:\+|00)?86(1[3-9]\d{9})", text):
        return m.group(1)
    if m := re.fullmatch(r"(?:\+|00)86([1-9]\d{8,10})", text):  # +86 landline: put the trunk 0 back
        return "0" + m.group(1)
    if m := re.fullmatch(r"00([1-9]\d{6,14})", text):
        return "+" + m.group(1)
    return text


def plausible_time(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0,
                   tz: timezone | None = None) -> datetime | None:
    """Plausible calendar time or None: year 2010..next year, valid month/day/hour."""
    if not 2010 <= y <= datetime.now().year + 1:
        return None
    try:
        return datetime(y, mo, d, h, mi, s, us, tzinfo=tz)
    except ValueError:
        return None
