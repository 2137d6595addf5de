"""What the message parsers produce: ``Message`` (one SMS / chat line / screenshot bubble) and
``ParsedFile`` (one input file: its messages and the entries that could not be read)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

KINDS = ("sms", "chat", "screenshot")
DIRECTIONS = ("received", "sent")


@dataclass
class OcrLine:
    """One text line OCR read: its text, its quadrilateral in image pixels, the model's confidence."""

    text: str
    box: list[list[float]]  # four [x, y] corners, clockwise from top-left
    confidence: float

    @property
    def rect(self) -> tuple[float, float, float, float]:
        xs, ys = [p[0] for p in self.box], [p[1] for p in self.box]
        return min(xs), min(ys), max(xs), max(ys)


@dataclass
class Message:
    """One message. ``time`` naive = phone-local wall time; tz-aware when the source gave an epoch.

    ``direction`` None = unknown (e.g. a chat export whose owner is not known): conduct flags are
    then kept but marked unconfirmed. For screenshots ``ocr_lines`` hold each line's box and
    confidence and ``confidence`` is their minimum.
    """

    index: int  # position in its source file
    kind: str  # sms | chat | screenshot
    direction: str | None  # received | sent | None
    text: str
    number: str | None = None  # counterpart (canonical, as pipeline.calls.canonical_number)
    number_raw: str | None = None
    contact_name: str | None = None  # counterpart's name as the source shows it
    sender: str | None = None  # who wrote it, as the source names them (chat exports)
    time: datetime | None = None
    time_source: str | None = None  # epoch | export | screenshot | user
    time_text: str | None = None  # the time as written in the source
    line: int | None = None  # 1-based line in the source file (text formats)
    received_by: str | None = None
    ocr_lines: list[OcrLine] = field(default_factory=list)
    confidence: float | None = None
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["time"] = self.time.isoformat() if self.time else None
        return data


@dataclass
class Problem:
    """An entry that could not be read (the other entries of the file are kept), or a file-level warning.

    ``skipped``: how many entries this problem left out (1 for a malformed entry, n for "n image
    rows skipped", 0 for a warning such as a missing time column or a message kept with a bad time).
    """

    line: int | None
    reason_zh: str
    reason_en: str
    skipped: int = 1

    def __str__(self) -> str:
        where = f"第 {self.line} 行: " if self.line else ""
        return f"{where}{self.reason_zh} ({self.reason_en})"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ParsedFile:
    """One input file after parsing. ``format``: sms_xml | sms_csv | sms_db | chat_text | qq_mht | screenshot |
    qce_json | qce_txt | memotrace_html | wechat_exporter_txt | wechat_exporter_html | vmsg | android_backup.

    ``meta["notices"]``: how the file was read, for the user (e.g. which owner a group chat got).
    """

    format: str
    kind: str
    messages: list[Message]
    problems: list[Problem] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
