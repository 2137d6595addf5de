"""Transcript data model shared by every stage (schema ``callproof.transcript/1``).

All times are seconds in the ORIGINAL recording. ``Segment.text`` is the normalised
text (Simplified, half-width); ``Segment.raw_text`` is what the model wrote.
Each ``Word`` is one CJK character or one Latin/digit run of ``Segment.text``;
``Word.offset`` is its character index in ``Segment.text``, so any character span
of the text maps to times through the words it covers.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = "callproof.transcript/1"


@dataclass
class Word:
    text: str
    start: float
    end: float
    probability: float
    offset: int


@dataclass
class Segment:
    index: int
    start: float
    end: float
    text: str
    raw_text: str
    words: list[Word] = field(default_factory=list)
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    channel: int | None = None
    speaker: str | None = None
    role: str | None = None

    def time_of_span(self, start_char: int, end_char: int) -> tuple[float, float]:
        """Start/end seconds of the characters ``[start_char, end_char)`` of ``text``."""
        covered = [w for w in self.words if w.offset < end_char and w.offset + len(w.text) > start_char]
        if not covered:
            before = [w for w in self.words if w.offset < start_char]
            after = [w for w in self.words if w.offset >= end_char]
            start = before[-1].end if before else self.start
            end = after[0].start if after else self.end
            return (round(start, 3), round(max(start, end), 3))
        return (round(covered[0].start, 3), round(covered[-1].end, 3))


@dataclass
class SourceInfo:
    path: str
    sha256: str
    size: int
    duration: float
    channels: int
    sample_rate: int
    codec: str
    container: str
    # set when the recording is cut short or damaged (pipeline.audio_complete.Damage.to_dict()):
    # the transcript then covers only what decoded
    damage: dict[str, Any] | None = None


@dataclass
class ModelInfo:
    name: str
    sha256: str
    engine: str
    path: str = ""


@dataclass
class Transcript:
    source: SourceInfo
    model: ModelInfo
    segments: list[Segment]
    language: str = "zh"
    options: dict[str, Any] = field(default_factory=dict)
    tool_version: str = ""
    created: str = ""
    processing_seconds: float = 0.0
    # Segments the hallucination/loop/silence filters removed, kept for transparency.
    dropped: list[dict[str, Any]] = field(default_factory=list)
    schema: str = SCHEMA

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.segments)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {"schema": data.pop("schema"), **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcript:
        if data.get("schema") != SCHEMA:
            raise ValueError(f"not a {SCHEMA} document (schema={data.get('schema')!r})")
        segments = [
            Segment(**{**s, "words": [Word(**w) for w in s.get("words", [])]}) for s in data["segments"]
        ]
        fields = {k: v for k, v in data.items() if k not in ("schema", "segments", "source", "model")}
        return cls(
            source=SourceInfo(**data["source"]),
            model=ModelInfo(**data["model"]),
            segments=segments,
            **fields,
        )

    @classmethod
    def load(cls, path: str | Path) -> Transcript:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
