"""``--redact``: mask third parties' phone numbers, ID numbers and bank card numbers in text.

Masking replaces digits by ``*`` one for one, so text keeps its length and every character
offset (flag spans, word offsets) still points at the same place. Phone numbers keep their
first 3 and last 4 digits (138****5678); ID and bank card numbers keep their last 4. The calls'
own numbers (the collectors' numbers the complaint is about) are kept. Digits may be Arabic (also
full-width, １３７…), spoken or formal Chinese (幺三八…, 壹叁柒…), with up to three spaces, dashes or
dots between groups (137.1234.5678, 137  1234  5678); when a whole run is not a number, its
longest spans of groups that are get masked. Recordings are never touched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pipeline.store.custody import GENESIS, CustodyEvent

_CN_DIGITS = "零〇一幺二三四五六七八九壹贰叁肆伍陆柒捌玖"
_FW_DIGITS = "０１２３４５６７８９"
_VALUE = {"零": "0", "〇": "0", "一": "1", "幺": "1", "二": "2", "三": "3", "四": "4", "五": "5",
          "六": "6", "七": "7", "八": "8", "九": "9", "壹": "1", "贰": "2", "叁": "3", "肆": "4", "伍": "5",
          "陆": "6", "柒": "7", "捌": "8", "玖": "9", **{ch: str(i) for i, ch in enumerate(_FW_DIGITS)},
          **{str(i): str(i) for i in range(10)}, "X": "X", "x": "X", "Ｘ": "X", "ｘ": "X"}
_DIGIT = f"0-9{_FW_DIGITS}{_CN_DIGITS}"
# between two digits: up to 3 spaces (ASCII, no-break, ideographic), dashes, dots or brackets, any width
_SEP = "[ \t\u00a0\u3000\\-\u2010\u2011\u2013\u2014\uff0d.\uff0e\u00b7\u30fb()（）]{1,3}"
# A run of digits (groups may be split by separators), an optional +, and an ID number's final
# X; not part of a longer alphanumeric token (a hash, a file name's hex id).
_RUN = re.compile(rf"(?<![0-9A-Za-z{_DIGIT}+＋])[+＋]?[{_DIGIT}](?:(?:{_SEP})?[{_DIGIT}])*[XxＸｘ]?"
                  rf"(?![0-9A-Za-z{_DIGIT}])")
_GROUP = re.compile(rf"[+＋]?[{_DIGIT}]+[XxＸｘ]?")
_MOBILE = re.compile(r"1[3-9]\d{9}")
# area code 010 or 02X with 8 digits, 0XXX (03–09) with 7 or 8: not a date such as 01-16 10-06-40
_LANDLINE = re.compile(r"0(?:10|2\d)\d{8}|0[3-9]\d{2}\d{7,8}")
_ID = re.compile(r"\d{17}[\dX]|\d{15}")
_CARD = re.compile(r"\d{16,19}")
_MAX_DIGITS = 22  # 0086 + an 18-digit ID
# values under these keys are hashes, keys and signatures, never numbers to mask
_HASH_KEYS = ("sha256", "hash", "prev_hash", "head", "public_key", "fingerprint", "signature")


def ascii_digits(text: str) -> str:
    """The digits of ``text`` (any width, spoken or formal Chinese) as ASCII, with an ID's X."""
    return "".join(_VALUE[ch] for ch in text if ch in _VALUE)


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
        if not text or not any(ch in _VALUE for ch in text):
            return text
        return _RUN.sub(self._mask_run, text)

    def _mask_run(self, match: re.Match[str]) -> str:
        return self._run(match.group(0))

    def _run(self, run: str) -> str:
        """A kept number splits the run (the parts on either side are runs of their own); else
        the whole run when it is a number; else its longest spans of groups that are."""
        groups = [(g.start(), g.end()) for g in _GROUP.finditer(run)]
        kept = self._kept_span(run, groups)
        if kept is not None:
            start, end = kept
            return _RUN.sub(self._mask_run, run[:start]) + run[start:end] + _RUN.sub(self._mask_run, run[end:])
        whole = self._mask(run)
        if whole is not None:
            return whole
        out, i = [], 0
        done = 0  # characters of ``run`` already copied to ``out``
        while i < len(groups):
            # spans of 2+ groups (single groups were tried as runs); no number has more than 22 digits
            for j in range(min(len(groups), i + _MAX_DIGITS), i + 1, -1):
                start, end = groups[i][0], groups[j - 1][1]
                masked = self._mask(run[start:end])
                if masked is not None:
                    out += [run[done:start], masked]
                    done, i = end, j
                    break
            else:
                i += 1
        return "".join([*out, run[done:]])

    def _kept_span(self, run: str, groups: list[tuple[int, int]]) -> tuple[int, int] | None:
        if not self.kept:
            return None
        for i in range(len(groups)):
            for j in range(min(len(groups), i + _MAX_DIGITS), i, -1):
                start, end = groups[i][0], groups[j - 1][1]
                if _strip_country(ascii_digits(run[start:end])) in self.kept:
                    return start, end
        return None

    def _mask(self, run: str) -> str | None:
        """``run`` masked when it is a third party's number, else None."""
        digits = _strip_country(ascii_digits(run))
        kind = classify(digits)
        if kind is None or digits in self.kept:
            return None
        self.masked += 1
        positions = [i for i, ch in enumerate(run) if ch in _VALUE]
        keep_head = 3 if kind == "phone" else 0
        # the country code, when there is one, is kept along with the first 3 digits of the number
        keep_head += len(positions) - len(digits)
        masked_positions = set(positions[keep_head:len(positions) - 4])
        return "".join("*" if i in masked_positions else ch for i, ch in enumerate(run))

    def value(self, value: Any, key: str = "") -> Any:
        """Mask every string (keys too: they can be file names) in a JSON-like value, except
        hashes, keys and signatures (values under keys ending in sha256, hash, public_key...)."""
        if key.endswith(_HASH_KEYS):
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {self.text(k) if isinstance(k, str) else k: self.value(v, str(k)) for k, v in value.items()}
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
