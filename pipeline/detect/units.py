"""What the model tier scores: sentences of a text, split further into clauses or windows when long.

Whisper often writes a whole turn without punctuation; such a run is cut into overlapping windows so
that a threat in the middle of a long segment is scored on its own words, not diluted by the rest.
Every unit keeps its character offsets in the original text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SENTENCE_END = re.compile(r"[。！？!?；;\n]+")
CLAUSE_BREAK = re.compile(r"[，,、：:]+")
MAX_UNIT = 40
WINDOW = 28
STRIDE = 14
_MIN_CHARS = 4  # shorter units ("你好", "喂") carry too little for the model; the rules still see them
_WORD = re.compile(r"[\w\u4e00-\u9fff]")


@dataclass(frozen=True)
class Unit:
    start: int
    end: int
    text: str


def _pieces(text: str, pattern: re.Pattern[str], start: int, end: int) -> list[tuple[int, int]]:
    out, left = [], start
    for m in pattern.finditer(text, start, end):
        if m.start() > left:
            out.append((left, m.end()))
        left = m.end()
    if left < end:
        out.append((left, end))
    return out


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and not _WORD.match(text[start]):
        start += 1
    while end > start and not _WORD.match(text[end - 1]):
        end -= 1
    return start, end


def _pack(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Clauses of a long sentence, packed greedily up to ``MAX_UNIT`` characters."""
    out: list[tuple[int, int]] = []
    for s, e in _pieces(text, CLAUSE_BREAK, start, end):
        if out and e - out[-1][0] <= MAX_UNIT:
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def _windows(start: int, end: int) -> list[tuple[int, int]]:
    spans, s = [], start
    while True:
        e = min(s + WINDOW, end)
        spans.append((s, e))
        if e >= end:
            return spans
        s += STRIDE


def split_units(text: str) -> list[Unit]:
    """Units to score, in order; a long unpunctuated run becomes overlapping windows."""
    units: list[Unit] = []
    for s, e in _pieces(text, SENTENCE_END, 0, len(text)):
        spans = [(s, e)] if e - s <= MAX_UNIT else _pack(text, s, e)
        for cs, ce in spans:
            cs, ce = _trim(text, cs, ce)
            if ce - cs < _MIN_CHARS:
                continue
            for ws, we in ([(cs, ce)] if ce - cs <= MAX_UNIT else _windows(cs, ce)):
                units.append(Unit(ws, we, text[ws:we]))
    return units


def clauses(text: str) -> list[tuple[int, int]]:
    """(start, end) of every comma-separated clause in ``text`` (a unit)."""
    return [span for s, e in _pieces(text, CLAUSE_BREAK, 0, len(text)) if (span := _trim(text, s, e))[1] > span[0]]
