"""Homophone tolerance: Whisper writes 通讯路/通讯陆 for 通讯录, 老来 for 老赖.

``FuzzyNormalizer`` rewrites, in a same-length shadow copy of the text, every near-homophone
of a key term (same toneless pinyin, at most one character in three different) to the term
itself. Rules then run on the shadow text, so every pattern that mentions a key term tolerates
the ASR error; hits touching a rewritten span are tagged fuzzy and scored lower.
"""

from __future__ import annotations

import importlib.util
import json
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pipeline.rules.pack import FuzzyTerm


@dataclass(frozen=True)
class FuzzyMark:
    start: int
    end: int
    heard: str
    term: str


def _toneless(reading: str) -> str:
    decomposed = unicodedata.normalize("NFD", reading)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _bundled_pinyin_dict() -> dict[str, str]:
    """pypinyin's character table ({codepoint: "pīn,yīn"}).

    Read from its JSON file directly: ``import pypinyin`` also parses a 2.5 MB phrase table
    (over a second) that this module does not need.
    """
    spec = importlib.util.find_spec("pypinyin")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = Path(folder) / "pinyin_dict.json"
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    from pypinyin.pinyin_dict import pinyin_dict

    return {str(k): v for k, v in pinyin_dict.items()}


@lru_cache(maxsize=1)
def _pinyin_index() -> tuple[dict[str, frozenset[str]], dict[str, tuple[str, ...]]]:
    """(toneless syllable -> CJK chars, char -> its toneless syllables), from pypinyin's bundled data."""
    by_syllable: dict[str, set[str]] = defaultdict(set)
    by_char: dict[str, tuple[str, ...]] = {}
    for key, readings in _bundled_pinyin_dict().items():
        codepoint = int(key)
        if 0x4E00 <= codepoint <= 0x9FFF:
            char = chr(codepoint)
            syllables = tuple(dict.fromkeys(_toneless(r) for r in readings.split(",")))
            by_char[char] = syllables
            for syllable in syllables:
                by_syllable[syllable].add(char)
    return {k: frozenset(v) for k, v in by_syllable.items()}, by_char


def homophones(char: str) -> frozenset[str]:
    """Characters sharing a toneless reading with ``char`` (itself included)."""
    by_syllable, by_char = _pinyin_index()
    found = {char}
    for syllable in by_char.get(char, ()):
        found |= by_syllable[syllable]
    return frozenset(found)


def toneless_pinyin(text: str) -> str:
    _, by_char = _pinyin_index()
    return " ".join(by_char.get(ch, (ch,))[0] for ch in text)


class FuzzyNormalizer:
    """Finds near-homophones of the pack's key terms and rewrites them to the term."""

    def __init__(self, terms: list[FuzzyTerm]) -> None:
        self.terms = sorted(terms, key=lambda t: -len(t.term))
        self._before = [re.compile(f"(?:{t.before})$") if t.before else None for t in self.terms]
        self._patterns = [
            re.compile("".join("[" + "".join(sorted(homophones(ch))) + "]" for ch in term.term)) for term in self.terms
        ]
        # Cheap anchors: with at most len//3 characters replaced, some exact piece of the term is
        # always there: two adjacent characters ("通讯", "讯录"), the ends around one gap ("通.录"),
        # or for two-character terms either character. Only anchor hits get the full check.
        self._anchor_terms: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for index, term in enumerate(self.terms):
            t = term.term
            pieces = [(ch, i) for i, ch in enumerate(t)] if len(t) == 2 else [(t[i : i + 2], i) for i in range(len(t) - 1)]
            pieces += [(f"{t[i]}.{t[i + 2]}", i) for i in range(len(t) - 2)]
            for key, offset in pieces:
                self._anchor_terms[key].append((index, offset))
        anchors = sorted(self._anchor_terms, key=len, reverse=True)
        self._anchor = re.compile("|".join(re.escape(a).replace(r"\.", ".") for a in anchors)) if anchors else None

    def normalize(self, text: str) -> tuple[str, list[FuzzyMark]]:
        """Return the shadow text (same length) and the spans that were rewritten."""
        if self._anchor is None or not self._anchor.search(text):
            return text, []
        found: dict[int, FuzzyMark] = {}
        for hit in self._anchor.finditer(text):
            piece = hit.group()
            key = piece if len(piece) < 3 else f"{piece[0]}.{piece[2]}"
            for index, offset in self._anchor_terms.get(key, ()):
                start = hit.start() - offset
                if start >= 0 and start not in found:
                    mark = self._check(text, start, index)
                    if mark is not None:
                        found[start] = mark
        marks: list[FuzzyMark] = []
        for start in sorted(found):
            if not marks or start >= marks[-1].end:
                marks.append(found[start])
        if not marks:
            return text, []
        pieces, last = [], 0
        for mark in marks:
            pieces.append(text[last : mark.start])
            pieces.append(mark.term)
            last = mark.end
        pieces.append(text[last:])
        return "".join(pieces), marks

    def _check(self, text: str, start: int, index: int) -> FuzzyMark | None:
        term = self.terms[index]
        m = self._patterns[index].match(text, start)
        if m is None:
            return None
        heard = m.group()
        differing = sum(a != b for a, b in zip(heard, term.term, strict=True))
        if differing == 0 or differing > max(1, len(term.term) // 3):
            return None
        before = self._before[index]
        if self._excluded(text, start, m.end(), term) or (
            before is not None and not before.search(text, max(0, start - 6), start)
        ):
            return None
        return FuzzyMark(start, m.end(), heard, term.term)

    @staticmethod
    def _excluded(text: str, start: int, end: int, term: FuzzyTerm) -> bool:
        for word in term.exclude:
            lo = max(0, start - len(word) + 1)
            pos = text.find(word, lo, end + len(word) - 1)
            while pos >= 0 and pos < end:
                if pos + len(word) > start:
                    return True
                pos = text.find(word, pos + 1, end + len(word) - 1)
        return False
