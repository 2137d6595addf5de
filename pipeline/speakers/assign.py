"""Give each word a speaker by time overlap with the turns, splitting segments where the speaker changes."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from pipeline.speakers.diarization import Turn
from pipeline.transcript import Segment, Word

MIN_RUN_S = 0.3  # a shorter speaker run inside a segment is absorbed by its longer neighbour


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    return max(0.0, min(a1, b1) - max(a0, b0))


def speaker_at(start: float, end: float, turns: list[Turn]) -> str | None:
    """The speaker with the most overlap with [start, end]; else the nearest turn's speaker."""
    if not turns:
        return None
    per_speaker: dict[str, float] = defaultdict(float)
    for t in turns:
        per_speaker[t.speaker] += _overlap(start, end, t.start, t.end)
    best = max(per_speaker, key=lambda s: per_speaker[s])
    if per_speaker[best] > 0:
        return best
    mid = (start + end) / 2
    return min(
        turns, key=lambda t: 0.0 if t.start <= mid <= t.end else min(abs(mid - t.start), abs(mid - t.end))
    ).speaker


def _runs(labels: list[str]) -> list[tuple[int, int]]:
    runs, start = [], 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            runs.append((start, i))
            start = i
    return runs


def _smooth(words: list[Word], labels: list[str]) -> list[str]:
    """Absorb speaker runs shorter than MIN_RUN_S (one stray character) into a neighbour."""
    labels = list(labels)
    while True:
        runs = _runs(labels)
        if len(runs) <= 1:
            return labels
        durations = [words[b - 1].end - words[a].start for a, b in runs]
        i = min(range(len(runs)), key=lambda j: durations[j])
        if durations[i] >= MIN_RUN_S:
            return labels
        left = durations[i - 1] if i > 0 else -1.0
        right = durations[i + 1] if i + 1 < len(runs) else -1.0
        a, b = runs[i]
        donor = runs[i - 1] if left >= right else runs[i + 1]
        labels[a:b] = [labels[donor[0]]] * (b - a)


def _split_raw(seg: Segment, cuts: list[int]) -> list[str]:
    """raw_text per piece: cut at the same offsets when normalisation kept the length, else
    the whole raw text stays on the first piece (offsets of raw text are unknown)."""
    if len(seg.raw_text) == len(seg.text):
        bounds = [0, *cuts, len(seg.text)]
        return [seg.raw_text[a:b] for a, b in zip(bounds, bounds[1:], strict=False)]
    return [seg.raw_text] + [""] * len(cuts)


def split_segment(seg: Segment, turns: list[Turn]) -> list[Segment]:
    """One segment per speaker run of its words (the segment itself when one speaker said it all)."""
    if not seg.words:
        return [replace(seg, speaker=speaker_at(seg.start, seg.end, turns))]
    labels = _smooth(seg.words, [speaker_at(w.start, w.end, turns) or "" for w in seg.words])
    runs = _runs(labels)
    if len(runs) == 1:
        return [replace(seg, speaker=labels[0] or None)]
    # Text cut at each run's first word; punctuation before it stays with the previous piece.
    cuts = [seg.words[a].offset for a, _b in runs[1:]]
    bounds = [0, *cuts, len(seg.text)]
    raws = _split_raw(seg, cuts)
    pieces = []
    for i, (a, b) in enumerate(runs):
        lo, hi = bounds[i], bounds[i + 1]
        words = [replace(w, offset=w.offset - lo) for w in seg.words[a:b]]
        pieces.append(
            replace(
                seg,
                start=seg.start if i == 0 else seg.words[a].start,
                end=seg.end if i == len(runs) - 1 else seg.words[b - 1].end,
                text=seg.text[lo:hi],
                raw_text=raws[i],
                words=words,
                speaker=labels[a] or None,
            )
        )
    return pieces


def assign_speakers(segments: list[Segment], turns: list[Turn]) -> list[Segment]:
    """Speaker per segment from the turns (per-word majority), split at speaker changes, reindexed."""
    out = [piece for seg in segments for piece in split_segment(seg, turns)]
    return [replace(seg, index=i) for i, seg in enumerate(out)]
