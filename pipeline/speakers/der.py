"""Diarization error rate (NIST-style): (missed + false alarm + confusion) / scored reference speech.

Frame-based on a 10 ms grid. A collar around every reference turn boundary is not scored;
overlapping reference speech counts once per speaker; hypothesis speakers are mapped to
reference speakers one-to-one so as to maximise the matched time.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

STEP = 0.01


@dataclass(frozen=True)
class DerResult:
    der: float
    missed: float
    false_alarm: float
    confusion: float
    scored: float  # seconds of reference speech scored (overlap counted per speaker)
    mapping: dict[str, str]


def _activity(turns: Iterable[tuple[float, float, str]], n: int) -> tuple[list[str], np.ndarray]:
    turns = list(turns)
    names = sorted({spk for _s, _e, spk in turns})
    act = np.zeros((len(names), n), dtype=bool)
    for s, e, spk in turns:
        act[names.index(spk), max(0, round(s / STEP)) : min(n, round(e / STEP))] = True
    return names, act


def diarization_error_rate(
    reference: Iterable[tuple[float, float, str]],
    hypothesis: Iterable[tuple[float, float, str]],
    *,
    collar: float = 0.25,
) -> DerResult:
    """Turns are (start, end, speaker). Returns the DER and its parts in seconds."""
    reference, hypothesis = list(reference), list(hypothesis)
    end = max([e for _s, e, _k in reference + hypothesis], default=0.0)
    n = round(end / STEP) + 1
    ref_names, ref = _activity(reference, n)
    hyp_names, hyp = _activity(hypothesis, n)

    scored = np.ones(n, dtype=bool)
    c = round(collar / STEP)
    for s, e, _spk in reference:
        for t in (round(s / STEP), round(e / STEP)):
            scored[max(0, t - c) : min(n, t + c)] = False
    ref, hyp = ref[:, scored], hyp[:, scored]

    n_ref = ref.sum(axis=0)
    n_hyp = hyp.sum(axis=0)
    total = float(n_ref.sum())
    missed = float(np.maximum(n_ref - n_hyp, 0).sum())
    false_alarm = float(np.maximum(n_hyp - n_ref, 0).sum())

    overlap = ref.astype(np.int64) @ hyp.T.astype(np.int64)  # (n_ref_speakers, n_hyp_speakers)
    best, mapping = 0, {}
    if len(ref_names) and len(hyp_names):
        small, large = sorted((len(ref_names), len(hyp_names)))
        for perm in itertools.permutations(range(large), small):
            if len(ref_names) <= len(hyp_names):
                pairs = list(zip(range(len(ref_names)), perm, strict=True))
            else:
                pairs = list(zip(perm, range(len(hyp_names)), strict=True))
            matched = sum(int(overlap[r, h]) for r, h in pairs)
            if matched > best or not mapping:
                best, mapping = matched, {hyp_names[h]: ref_names[r] for r, h in pairs}
    confusion = float(np.minimum(n_ref, n_hyp).sum()) - best
    der = (missed + false_alarm + confusion) / total if total else 0.0
    return DerResult(
        der=der,
        missed=missed * STEP,
        false_alarm=false_alarm * STEP,
        confusion=confusion * STEP,
        scored=total * STEP,
        mapping=mapping,
    )
