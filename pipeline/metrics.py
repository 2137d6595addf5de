"""Character error rate, the accuracy figure for Mandarin ASR."""

from __future__ import annotations

from pipeline.text import normalize, strip_punctuation


def edit_distance(ref: str, hyp: str) -> int:
    prev = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        cur = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (r != h))
        prev = cur
    return prev[-1]


def cer_text(text: str) -> str:
    """The form both sides are compared in: Simplified, half-width, no punctuation or spaces."""
    return strip_punctuation(normalize(text).text).replace(" ", "").lower()


def cer(ref: str, hyp: str) -> float:
    r, h = cer_text(ref), cer_text(hyp)
    return edit_distance(r, h) / max(1, len(r))


def corpus_cer(pairs: list[tuple[str, str]]) -> float:
    """Total edits over total reference characters (not the mean of per-clip CERs)."""
    edits = sum(edit_distance(cer_text(r), cer_text(h)) for r, h in pairs)
    chars = sum(len(cer_text(r)) for r, _ in pairs)
    return edits / max(1, chars)
