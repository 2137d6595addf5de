"""Plain dataclasses for rows read from the case store (JSON columns already decoded)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

FLAG_STATUSES = ("pending", "accepted", "rejected")
ROLES = ("collector", "borrower", "third_party", "unknown")


def _decode(row: sqlite3.Row) -> dict[str, Any]:
    """Row -> dict, ``x_json`` columns decoded into ``x``."""
    out: dict[str, Any] = {}
    for key in row.keys():  # noqa: SIM118 (iterating a sqlite3.Row yields values)
        value = row[key]
        if key.endswith("_json"):
            out[key[: -len("_json")]] = json.loads(value) if value is not None else None
        else:
            out[key] = value
    return out


def _build(cls: type, row: sqlite3.Row) -> Any:
    data = _decode(row)
    return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def _parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass
class CallRow:
    id: str
    sha256: str
    source_path: str
    size: int
    intake_at: str
    mtime: float | None = None
    duration: float | None = None
    channels: int | None = None
    sample_rate: int | None = None
    codec: str | None = None
    container: str | None = None
    number: str | None = None
    number_raw: str | None = None
    contact_name: str | None = None
    start_time: str | None = None  # ISO; naive = phone-local wall time
    start_source: str | None = None  # filename|tag|mtime|user|sidecar
    end_time: str | None = None
    direction: str | None = None
    direction_source: str | None = None
    recorder: str | None = None
    received_by: str | None = None
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    duplicate_paths: list[str] = field(default_factory=list)
    status: str = "pending"  # pending | done | failed (the last processing attempt)
    error: str | None = None
    engine: str | None = None  # engine/model/options describe the stored segments
    model_name: str | None = None
    model_sha256: str | None = None
    options_hash: str | None = None
    options: dict[str, Any] | None = None
    transcribed_at: str | None = None
    processing_seconds: float | None = None
    source_rel: str | None = None  # relative to the input folder at intake (schema v5)

    # datetime views, so a CallRow serves pipeline.callrules as a CallLike
    @property
    def start(self) -> datetime | None:
        return _parse_time(self.start_time)

    @property
    def end(self) -> datetime | None:
        return _parse_time(self.end_time)

    def is_done_with(self, engine: str, model_sha256: str, options_hash: str) -> bool:
        """Already transcribed with exactly this engine, model and options (skip it)."""
        return (self.status == "done" and self.engine == engine
                and self.model_sha256 == model_sha256 and self.options_hash == options_hash)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> CallRow:
        return _build(cls, row)


@dataclass
class SegmentRow:
    """A stored segment with the human correction beside the machine text."""

    call_id: str
    idx: int
    start: float
    end: float
    text: str  # machine text, normalised
    raw_text: str
    avg_logprob: float
    no_speech_prob: float
    channel: int | None = None
    speaker: str | None = None
    role: str | None = None
    corrected_text: str | None = None
    corrected_by: str | None = None
    corrected_at: str | None = None

    @property
    def display_text(self) -> str:
        return self.corrected_text if self.corrected_text is not None else self.text

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> SegmentRow:
        data = _decode(row)
        data["start"], data["end"] = data.pop("start_s"), data.pop("end_s")
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


@dataclass
class SpeakerRow:
    call_id: str
    speaker: str
    role: str
    role_source: str  # auto | override
    evidence: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> SpeakerRow:
        return _build(cls, row)


@dataclass
class FlagRow:
    id: int
    call_id: str
    level: str  # segment | call
    category: str  # current category (the reviewer's, if changed)
    rule: str
    created: str
    segment_idx: int | None = None
    category_original: str | None = None  # the machine's category, set when a reviewer changed it
    rules: list[Any] = field(default_factory=list)
    severity: int | None = None
    score: float | None = None
    start_char: int | None = None
    end_char: int | None = None
    start_s: float | None = None
    end_s: float | None = None
    match_text: str | None = None
    text: str | None = None
    context: str | None = None
    speaker: str | None = None
    role: str | None = None
    speaker_unconfirmed: bool = False
    legal_basis: list[str] = field(default_factory=list)
    explanation: Any = field(default_factory=dict)
    rule_pack: dict[str, Any] = field(default_factory=dict)
    status: str = "pending"
    note: str | None = None
    reviewed_by: str | None = None
    reviewed_at: str | None = None
    stale: bool = False  # reviewed, but the current rules no longer produce it
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def machine_category(self) -> str:
        return self.category_original or self.category

    def to_dict(self) -> dict[str, Any]:
        """The ``flags.json`` entry: all fields, booleans as booleans."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> FlagRow:
        flag = _build(cls, row)
        flag.speaker_unconfirmed, flag.stale = bool(flag.speaker_unconfirmed), bool(flag.stale)
        return flag


@dataclass
class ReviewRow:
    id: int
    flag_id: int
    decision: str
    actor: str
    at: str
    note: str | None = None
    category: str | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ReviewRow:
        return _build(cls, row)


@dataclass
class RunRow:
    id: int
    started: str
    actor: str
    tool_version: str
    finished: str | None = None
    engine: str | None = None
    model: str | None = None
    model_sha256: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    rule_packs: list[Any] = field(default_factory=list)
    summary: dict[str, Any] | None = None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> RunRow:
        return _build(cls, row)
