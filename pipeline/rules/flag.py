"""The ``Flag`` a reviewer sees, and merging of overlapping hits of one category."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.transcript import Segment

SPEAKER_UNCONFIRMED_ZH = "说话人未确认"


@dataclass
class Flag:
    """One evidence hint: a character span of a text, why it was flagged, and (for segments) its times.

    ``explanation`` holds what a reviewer needs to trust or reject it: ``patterns`` (rule id, kind,
    pattern), ``matched`` text, ``context`` words that raised the score, ``gates`` passed,
    ``fuzzy`` (homophone match) with ``heard``/``term`` pairs, ``escalated_by``.
    """

    category: str
    rules: list[str]
    start: int
    end: int
    match: str
    severity: int
    score: float
    legal_basis: list[str]
    explanation: dict[str, Any]
    label: str = ""
    segment_index: int | None = None
    start_s: float | None = None
    end_s: float | None = None
    speaker: str | None = None
    role: str | None = None
    speaker_unconfirmed: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def rule(self) -> str:
        return self.rules[0]

    @property
    def fuzzy(self) -> bool:
        return bool(self.explanation.get("fuzzy"))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        return {"category": data.pop("category"), "rule": self.rule, **data}

    def compact(self) -> dict[str, Any]:
        """The ``flag-text`` record: category, rule, start, end, match, severity, score."""
        return {
            "category": self.category, "rule": self.rule, "start": self.start, "end": self.end,
            "match": self.match, "severity": self.severity, "score": self.score,
        }


def flag_segments_with(flag_text: Callable[..., list[Flag]], segments: Iterable[Segment]) -> list[Flag]:
    """Flags of transcript segments from a ``flag_text(text, role=...)``, each given its segment index,
    start/end seconds and speaker (shared by the rule engine and the two-tier detector)."""
    out: list[Flag] = []
    for segment in segments:
        for flag in flag_text(segment.text, role=segment.role):
            flag.segment_index = segment.index
            flag.start_s, flag.end_s = segment.time_of_span(flag.start, flag.end)
            flag.speaker = segment.speaker
            out.append(flag)
    return out


def merge_flags(flags: list[Flag], text: str) -> list[Flag]:
    """Overlapping flags of one category (in one text) become one flag listing every rule id.

    The merged span covers all of them; the best-scoring hit's rule comes first; severity and
    score are the maxima; the result is fuzzy only if every part was.
    """
    merged: list[Flag] = []
    for flag in sorted(flags, key=lambda f: (f.segment_index or 0, f.category, f.start, -f.end)):
        last = merged[-1] if merged else None
        if last is None or last.category != flag.category or last.segment_index != flag.segment_index or flag.start >= last.end:
            merged.append(flag)
            continue
        merged[-1] = _combine(last, flag, text)
    return sorted(merged, key=lambda f: (f.segment_index or 0, f.start, f.category))


def _combine(a: Flag, b: Flag, text: str) -> Flag:
    best, other = (a, b) if a.score >= b.score else (b, a)
    start, end = min(a.start, b.start), max(a.end, b.end)
    ea, eb = best.explanation, other.explanation
    explanation = {
        **eb,  # keys only the other part has (a model flag's score and neighbours) are kept
        **ea,
        "patterns": ea["patterns"] + [p for p in eb["patterns"] if p not in ea["patterns"]],
        "matched": text[start:end],
        "context": list(dict.fromkeys(ea["context"] + eb["context"])),
        "escalated_by": list(dict.fromkeys(ea.get("escalated_by", []) + eb.get("escalated_by", []))),
        "fuzzy": bool(ea["fuzzy"] and eb["fuzzy"]),
        "fuzzy_terms": ea.get("fuzzy_terms", []) + [t for t in eb.get("fuzzy_terms", []) if t not in ea.get("fuzzy_terms", [])],
    }
    return Flag(
        category=best.category,
        rules=list(dict.fromkeys(best.rules + other.rules)),
        start=start,
        end=end,
        match=text[start:end],
        severity=max(a.severity, b.severity),
        score=max(a.score, b.score),
        legal_basis=best.legal_basis,
        explanation=explanation,
        label=best.label,
        segment_index=best.segment_index,
        speaker=best.speaker,
        role=best.role,
        speaker_unconfirmed=best.speaker_unconfirmed,
        notes=list(dict.fromkeys(best.notes + other.notes)),
    )
