"""Stereo recordings with one party per channel: detect them, and merge per-channel transcripts."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from pipeline.speakers.diarization import (
    SAMPLE_RATE,
    DiarizeOptions,
    Turn,
    diarize,
    merge_turns,
    speech_regions,
)
from pipeline.transcript import Segment

FRAME = SAMPLE_RATE // 20  # 50 ms energy frames
SILENT_SIDE_DB = -35.0  # a channel this far below the other carries nothing of its own
COPY_CORRELATION = 0.9  # waveform correlation above this: the same signal twice
MIN_SPREAD_DB = 15.0  # two parties: the level difference swings both ways by at least this


def _frame_db(x: np.ndarray) -> np.ndarray:
    n = len(x) // FRAME
    frames = x[: n * FRAME].astype(np.float64).reshape(n, FRAME)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)


def channels_are_distinct(samples: np.ndarray) -> bool:
    """True when the two channels carry different content (one party each), not one signal twice.

    ``samples``: (2, n). False for identical or scaled/near copies (correlation), and for a
    recording whose second side is silent (then the active side is a mono mix to diarize).
    """
    if samples.ndim != 2 or samples.shape[0] != 2 or samples.shape[1] < FRAME:
        return False
    left, right = samples[0].astype(np.float64), samples[1].astype(np.float64)
    rms = np.sqrt([np.mean(left**2), np.mean(right**2)]) + 1e-12
    if 20 * np.log10(rms.min() / rms.max()) < SILENT_SIDE_DB:
        return False
    if abs(float(np.corrcoef(left, right)[0, 1])) > COPY_CORRELATION:
        return False
    db_left, db_right = _frame_db(left), _frame_db(right)
    active = np.maximum(db_left, db_right) > np.max(np.maximum(db_left, db_right)) - 40
    if active.sum() < 10:
        return False
    diff = (db_left - db_right)[active]
    # Each channel must clearly dominate in some frames: the level gap swings both ways.
    low, high = np.percentile(diff, [10, 90])
    return bool(high - low >= MIN_SPREAD_DB and high > 0 > low)


def channel_turns(
    samples: np.ndarray,
    speech: list[list[tuple[float, float]]] | None = None,
    *,
    options: DiarizeOptions | None = None,
) -> list[Turn]:
    """Turns of a distinct-channel recording: channel c's speech is speaker ``S{c}``."""
    opts = options or DiarizeOptions()
    turns = []
    for c, channel in enumerate(samples):
        regions = (
            speech[c] if speech is not None else speech_regions(np.asarray(channel, dtype=np.float32), opts)
        )
        turns.extend(
            merge_turns([Turn(round(s, 3), round(e, 3), f"S{c}") for s, e in regions], opts.bridge_gap_s)
        )
    return sorted(turns, key=lambda t: (t.start, t.speaker))


def merge_channel_segments(per_channel: list[list[Segment]]) -> list[Segment]:
    """One time-ordered transcript from per-channel transcripts; channel c becomes speaker S{c}."""
    merged = [
        replace(seg, channel=c, speaker=f"S{c}") for c, segments in enumerate(per_channel) for seg in segments
    ]
    merged.sort(key=lambda s: (s.start, s.channel, s.index))
    return [replace(seg, index=i) for i, seg in enumerate(merged)]


def recording_turns(
    channels: np.ndarray, num_speakers: int | None = 2, *, options: DiarizeOptions | None = None
) -> tuple[list[Turn], str]:
    """Speaker turns of a 16 kHz recording given as (channels, n): ``(turns, method)``.

    method "channels": distinct stereo, speaker = channel (no clustering); "diarize": the
    mono mix clustered by voice.
    """
    channels = np.atleast_2d(np.asarray(channels, dtype=np.float32))
    if len(channels) == 2 and channels_are_distinct(channels):
        return channel_turns(channels, options=options), "channels"
    return diarize(channels.mean(axis=0), num_speakers, options=options), "diarize"
