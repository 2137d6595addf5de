"""``--redact``: mask third parties' phone numbers, ID numbers and bank card numbers in text.

Masking replaces digits by ``*`` one for one, so text keeps its length and every character
offset (flag spans, word offsets) still points at the same place. Phone numbers keep their
first 3 and last 4 digits (138****5678); ID and bank card numbers keep their last 4. The calls'
own numbers (the collectors' numbers the complaint is about) are kept. Digits may be Arabic or
spoken Chinese (幺三八…), with spaces or dashes between groups. Recordings are never touched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.store.custody import GENESIS, CustodyEvent

_CN_DIGITS = "零〇一幺二三四五六七八九"
_CN_VALUE = {"零": "0", "〇": "0", "一": "1", "幺": "1", "二": "2", "三": "3", "四": "4", "五": "5",
             "六": "6", "七": "7", "八": "8", "九": "9"}
_DIGIT = f"0-9{_CN_DIGITS}"
# A run of digits (groups may be split by one space or dash), an optional +, and an ID number's
# final X; not part of a longer alphanumeric token (a hash, a file name's hex id).
_RUN = re.compile(rf"(?<![0-9A-Za-z{_CN_DIGITS}+])\+?[{_DIGIT}](?:[ \-]?[{_DIGIT}])*[Xx]?(?![0-9A-Za-z{_CN_DIGITS}])")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0[1-9]\d{8,10}")
_ID = re.compile(r"\d{17}[\dXx]|\d{15}")
_CARD = re.compile(r"\d{16,19}")
_HASH_KEYS = ("sha256", "hash", "prev_hash")


def ascii_digits(text: str) -> str:
    return "".join(_CN_VALUE.get(ch, ch) for ch in text if ch.isdigit() or ch in _CN_VALUE or ch in "Xx")


def _strip_country(digits: str) -> str:
    for prefix in ("0086", "86"):
        if digits.startswith(prefix) and _MOBILE.fullmatch(digits[len(prefix):]):
            return digits[len(prefix):]
    return digits


def classify(digits: str) -> str | None:
    """'phone', 'id' or 'card' for a run of ASCII digits (and X), None for anything else."""
    if _MOBILE.fullmatch(digits) or _LANDLINE.fullmatch(digits):
        return "phone"
    if _ID.fullmatch(digits):
        return "id"
    if _CARD.fullmatch(digits):
        return "card"
    return None


@dataclass
class Redactor:
    """Masks numbers in text; ``kept`` are ASCII-digit numbers left alone (the calls' own)."""

    kept: frozenset[str] = frozenset()
    masked: int = 0  # numbers masked so far, for the manifest

    @classmethod
    def keeping(cls, numbers: Iterable[str]) -> Redactor:
        return cls(frozenset(_strip_country(ascii_digits(n)) for n in numbers if n))

    def text(self, text: str) -> str:
        if not text or not any(ch.isdigit() or ch in _CN_VALUE for ch in text):
            return text
        return _RUN.sub(self._mask_match, text)

    def _mask_match(self, match: re.Match[str]) -> str:
        run = match.group(0)
        digits = _strip_country(ascii_digits(run).lstrip("+"))
        kind = classify(digits)
        if kind is None or digits in self.kept:
            return run
        self.masked += 1
        positions = [i for i, ch in enumerate(run) if ch.isdigit() or ch in _CN_VALUE or ch in "Xx"]
        keep_head = 3 if kind == "phone" else 0
        # the country code, when there is one, is kept along with the first 3 digits of the number
        keep_head += len(positions) - len(digits)
        masked_positions = set(positions[keep_head:len(positions) - 4])
        return "".join("*" if i in masked_positions else ch for i, ch in enumerate(run))

    def value(self, value: Any, key: str = "") -> Any:
        """Mask every string in a JSON-like value, except hashes (keys ending in sha256/hash)."""
        if key.endswith(_HASH_KEYS):
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {k: self.value(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v, key) for v in value]
        return value


def redact_custody(events: list[CustodyEvent], redactor: Redactor) -> tuple[list[CustodyEvent], bool]:
    """The custody log with numbers masked in its details.

    A masked event no longer matches its hash, so when anything was masked the whole chain is
    hashed again (the case database keeps the original chain; the pack's manifest says so).
    Returns (events, rechained).
    """
    masked = [CustodyEvent(e.seq, e.at, e.actor, e.action, redactor.text(e.object), e.sha256,
                           redactor.value(e.detail), e.prev_hash, e.hash) for e in events]
    if all(m.object == e.object and m.detail == e.detail for m, e in zip(masked, events, strict=True)):
        return list(events), False
    prev = GENESIS
    for event in masked:
        event.prev_hash = prev
        event.hash = event.compute_hash()
        prev = event.hash
    return masked, True
