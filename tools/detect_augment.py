"""Phone-line augmentation of training sentences (dev-time, deterministic with a seeded RNG).

Whisper base on 8 kHz audio writes same- and near-homophones (法院→发院, 经侦→金监, 通讯录→通讯路),
drops punctuation and runs sentences together. ``asr_noise`` swaps some characters for common
characters with the same or a confusable toneless pinyin (z/zh, c/ch, s/sh, n/l, f/h, in/ing,
en/eng, an/ang, ian/an); ``run_on`` strips punctuation and joins a sentence with a neutral one.
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable

from pipeline.rules.fuzzy import _pinyin_index

_PUNCT = re.compile(r"[，。！？、,.!?；;：:“”\"'‘’（）()…~～\s]+")
_CONFUSIONS = (("zh", "z"), ("ch", "c"), ("sh", "s"), ("n", "l"), ("f", "h"), ("ing", "in"), ("eng", "en"),
               ("ang", "an"), ("ian", "an"), ("uan", "an"))


def _variants(syllable: str) -> set[str]:
    out = set()
    for a, b in _CONFUSIONS:
        for x, y in ((a, b), (b, a)):
            if syllable.startswith(x) and x in ("zh", "ch", "sh", "z", "c", "s", "n", "l", "f", "h"):
                out.add(y + syllable[len(x):])
            if syllable.endswith(x) and x not in ("zh", "ch", "sh", "z", "c", "s", "n", "l", "f", "h"):
                out.add(syllable[: -len(x)] + y)
    out.discard(syllable)
    return out


class Confuser:
    """Same- and near-pinyin substitutes among common characters (those seen often in ``common_text``)."""

    def __init__(self, common_text: Iterable[str], min_count: int = 5) -> None:
        counts = Counter(ch for text in common_text for ch in text if "\u4e00" <= ch <= "\u9fff")
        common = {ch for ch, n in counts.items() if n >= min_count}
        by_syllable, self.by_char = _pinyin_index()
        self.same: dict[str, list[str]] = {}
        self.near: dict[str, list[str]] = {}
        index: dict[str, set[str]] = defaultdict(set)
        for syllable, chars in by_syllable.items():
            index[syllable] = {c for c in chars if c in common}
        for ch in common:
            syllables = self.by_char.get(ch, ())
            same = sorted({c for s in syllables for c in index.get(s, ())} - {ch}, key=lambda c: -counts[c])[:8]
            near = sorted({c for s in syllables for v in _variants(s) for c in index.get(v, ())} - {ch} - set(same),
                          key=lambda c: -counts[c])[:8]
            if same:
                self.same[ch] = same
            if near:
                self.near[ch] = near

    def asr_noise(self, text: str, rng: random.Random, rate: float = 0.12) -> str:
        chars = list(text)
        for i, ch in enumerate(chars):
            if rng.random() >= rate:
                continue
            pool = self.same.get(ch) if rng.random() < 0.65 else self.near.get(ch)
            if pool:
                chars[i] = pool[min(int(rng.expovariate(0.7)), len(pool) - 1)]
        return "".join(chars)


def strip_punct(text: str) -> str:
    return _PUNCT.sub("", text)


def run_on(text: str, neutral: str, rng: random.Random) -> str:
    """``text`` and a neutral sentence, unpunctuated, in random order (Whisper's run-on turn)."""
    parts = [strip_punct(text), strip_punct(neutral)]
    if rng.random() < 0.5:
        parts.reverse()
    return "".join(parts)


def augment(text: str, neutrals: list[str], confuser: Confuser, rng: random.Random, copies: int = 2) -> list[str]:
    """Phone-line copies of ``text``: homophone noise without punctuation, and a run-on merge with a
    neutral sentence (``copies`` = 1 picks one of the two at random)."""
    noisy = strip_punct(confuser.asr_noise(text, rng))
    merged = run_on(confuser.asr_noise(text, rng, rate=0.06), rng.choice(neutrals), rng)
    both = (noisy, merged) if copies >= 2 else ((noisy,) if rng.random() < 0.5 else (merged,))
    return [t for t in dict.fromkeys(both) if t and t != text]
