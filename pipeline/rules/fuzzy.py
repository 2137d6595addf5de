"""Homophone tolerance: Whisper writes 通讯路/通讯陆 for 通讯录, 老来 for 老赖, 金针 for 经侦.

``FuzzyNormalizer`` rewrites, in a same-length shadow copy of the text, every misheard form of
a key term to the term itself. Rules then run on the shadow text, so every pattern that
mentions a key term tolerates the ASR error; hits touching a rewritten span are tagged fuzzy
and scored lower. Two kinds of misheard form:

- ``homophone``: same toneless pinyin, at most one character in three different (通讯陆);
- ``near``: one syllable in two at most is a near-homophone (``near_pinyin``: z/zh, n/l,
  in/ing…) of the term's syllable, the summed confusion cost stays within the term's maximum,
  and at most one more character differs than a homophone allows (金针 → 经侦: jin/jing, and
  针 a homophone of 侦). Scored lower than a homophone.
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

from pipeline.rules.near_pinyin import near_syllables
from pipeline.rules.pack import FuzzyTerm, Settings

HOMOPHONE = "homophone"
NEAR = "near"


@dataclass(frozen=True)
class NearSyllable:
    """One near-matched syllable: the heard character and reading against the term's."""

    index: int
    heard: str
    term: str
    heard_pinyin: str
    term_pinyin: str
    cost: float

    def as_dict(self) -> dict[str, object]:
        return {"heard": self.heard, "term": self.term, "heard_pinyin": self.heard_pinyin,
                "term_pinyin": self.term_pinyin, "cost": self.cost}


@dataclass(frozen=True)
class FuzzyMark:
    start: int
    end: int
    heard: str
    term: str
    kind: str = HOMOPHONE
    distance: float = 0.0
    near: tuple[NearSyllable, ...] = ()


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


def sound_alikes(char: str, max_cost: float) -> dict[str, tuple[float, str, str]]:
    """Characters whose main reading is ``char``'s main reading or near it (within ``max_cost``).

    ``{heard char: (cost, heard reading, term reading)}``; cost 0 for a homophone, ``char``
    itself excluded. Main readings only: Whisper writes 技 for ji, not for its rare reading qi.
    """
    by_syllable, by_char = _pinyin_index()
    readings = by_char.get(char)
    if not readings or max_cost <= 0:
        return {}
    syllable = readings[0]
    targets = {syllable: 0.0, **near_syllables(syllable, frozenset(by_syllable), max_cost)}
    found: dict[str, tuple[float, str, str]] = {}
    for other, cost in targets.items():
        for heard in by_syllable[other]:
            if heard != char and by_char[heard][0] == other:
                found[heard] = (cost, other, syllable)
    return found


class FuzzyNormalizer:
    """Finds near-homophones of the pack's key terms and rewrites them to the term."""

    def __init__(self, terms: list[FuzzyTerm], near_max_distance: float = Settings.near_max_distance) -> None:
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
        self._init_near(near_max_distance)

    def _init_near(self, default_max: float) -> None:
        """Per term and position, the near-homophone characters with their cost (precomputed)."""
        self._near_max: list[float] = []
        self._near_chars: list[list[dict[str, tuple[float, str, str]]]] = []
        self._near_patterns: dict[int, re.Pattern[str]] = {}
        self._near_first: dict[str, list[int]] = defaultdict(list)
        first: set[str] = set()
        rests: list[str] = []
        for index, term in enumerate(self.terms):
            limit = default_max if term.near is None else term.near
            chars = [sound_alikes(ch, limit) for ch in term.term]
            self._near_max.append(limit)
            self._near_chars.append(chars)
            if limit <= 0 or not any(cost for alikes in chars for cost, _, _ in alikes.values()):
                continue
            classes = ["[" + "".join(sorted({ch, *alikes})) + "]" for ch, alikes in zip(term.term, chars, strict=True)]
            self._near_patterns[index] = re.compile("".join(classes))
            rests.append("".join(classes[1:]))
            for ch in {term.term[0], *chars[0]}:
                self._near_first[ch].append(index)
                first.add(ch)
        # One scan (a character-set prefix, which the regex engine skips to quickly) finds the
        # starts where some term's near form could begin and some term's could continue; only
        # those get the per-term check.
        self._near_scan = (
            re.compile("[" + "".join(sorted(first)) + "](?=" + "|".join(f"(?:{r})" for r in dict.fromkeys(rests)) + ")")
            if rests else None
        )

    def normalize(self, text: str) -> tuple[str, list[FuzzyMark]]:
        """Return the shadow text (same length) and the spans that were rewritten."""
        found: dict[int, FuzzyMark] = {}
        if self._anchor is not None and self._anchor.search(text):
            self._find_homophones(text, found)
        if self._near_scan is not None:
            for hit in self._near_scan.finditer(text):
                start = hit.start()
                if start in found:
                    continue
                for index in self._near_first.get(text[start], ()):
                    mark = self._check_near(text, start, index)
                    if mark is not None:
                        found[start] = mark
                        break
        if not found:
            return text, []
        return self._rewrite(text, found)

    def _find_homophones(self, text: str, found: dict[int, FuzzyMark]) -> None:
        for hit in self._anchor.finditer(text):  # type: ignore[union-attr]
            piece = hit.group()
            key = piece if len(piece) < 3 else f"{piece[0]}.{piece[2]}"
            for index, offset in self._anchor_terms.get(key, ()):
                start = hit.start() - offset
                if start >= 0 and start not in found:
                    mark = self._check(text, start, index)
                    if mark is not None:
                        found[start] = mark

    @staticmethod
    def _rewrite(text: str, found: dict[int, FuzzyMark]) -> tuple[str, list[FuzzyMark]]:
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

    def _check_near(self, text: str, start: int, index: int) -> FuzzyMark | None:
        """A near form of term ``index`` at ``start``: at least one near syllable, within budget."""
        term = self.terms[index]
        m = self._near_patterns[index].match(text, start)
        if m is None:
            return None
        heard = m.group()
        differing = 0
        near: list[NearSyllable] = []
        for i, (h, t) in enumerate(zip(heard, term.term, strict=True)):
            if h != t:
                differing += 1
                cost, heard_pinyin, term_pinyin = self._near_chars[index][i][h]
                if cost:
                    near.append(NearSyllable(i, h, t, heard_pinyin, term_pinyin, cost))
        length = len(term.term)
        distance = round(sum(n.cost for n in near), 2)
        if (
            not near
            or len(near) > length // 2
            or differing > max(1, length // 3) + 1
            or distance > self._near_max[index] + 1e-9
        ):
            return None
        before = self._before[index]
        if self._excluded(text, start, m.end(), term) or (
            before is not None and not before.search(text, max(0, start - 6), start)
        ):
            return None
        return FuzzyMark(start, m.end(), heard, term.term, NEAR, distance, tuple(near))

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
