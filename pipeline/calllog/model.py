"""What the call-log readers produce: ``LogEntry`` (one call of a log, with or without a recording)
and ``ParsedLog`` (one log file: its entries and the rows that could not be read, one line each)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from pipeline.messages.model import Problem

# Android CallLog.Calls types, as SMS Backup & Restore writes them, and the words of the other sources
TYPES = ("incoming", "outgoing", "missed", "voicemail", "rejected", "blocked", "unknown")
UNANSWERED = frozenset({"missed", "voicemail", "rejected", "blocked"})
TYPE_LABELS = {"incoming": "已接来电", "outgoing": "去电", "missed": "未接来电", "voicemail": "语音信箱",
               "rejected": "已拒接", "blocked": "已拦截", "unknown": "类型未知"}
TIME_SOURCES = {"phone": "手机通话记录", "carrier": "运营商详单", "user": "用户填写", "screenshot": "通话记录截图"}


@dataclass
class LogEntry:
    """One call of a log. ``start`` naive = phone-local wall time, tz-aware for epochs.

    ``time_precision``: ms | s | minute | day (a screenshot row showing only "昨天" gives the day).
    ``count`` > 1: a screenshot row with a badge, e.g. "(3)" = three calls, the time is the latest.
    """

    index: int
    type: str  # one of TYPES
    number: str | None = None  # canonical (pipeline.callmeta.canonical_number)
    number_raw: str | None = None
    contact_name: str | None = None
    start: datetime | None = None
    time_source: str | None = None  # phone | carrier | user | screenshot
    time_precision: str | None = None
    time_text: str | None = None
    duration: float | None = None  # seconds talked; 0 for unanswered calls
    count: int = 1
    location: str | None = None
    received_by: str | None = None
    line: int | None = None  # 1-based row / line in the source file
    confidence: float | None = None
    ocr: list[dict[str, Any]] = field(default_factory=list)  # screenshots: [{text, box, confidence}]
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def direction(self) -> str | None:
        if self.type == "outgoing":
            return "outgoing"
        return None if self.type == "unknown" else "incoming"

    @property
    def connected(self) -> bool | None:
        if self.type in UNANSWERED:
            return False
        if self.duration is None:
            return None if self.type == "unknown" else self.type == "incoming"
        return self.duration > 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["start"] = self.start.isoformat() if self.start else None
        data["direction"] = self.direction
        return data


# A row that could not be read (the other rows are kept), or a file-level warning (``skipped`` 0):
# the same record message imports report.
LogProblem = Problem


@dataclass
class ParsedLog:
    format: str  # calls_xml | carrier | user_csv | screenshot
    entries: list[LogEntry]
    problems: list[LogProblem] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
