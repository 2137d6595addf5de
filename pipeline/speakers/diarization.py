"""Mono diarization: speech regions (Silero VAD) -> 1.6 s windows -> d-vectors -> clusters -> turns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.speakers.cluster import cluster_speakers
from pipeline.speakers.encoder import HOP, SAMPLE_RATE, load_encoder, mel_frames, normalize_volume

FRAME_S = HOP / SAMPLE_RATE  # 10 ms, the mel frame step and the labelling grid


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    speaker: str


@dataclass(frozen=True)
class DiarizeOptions:
    window_s: float = 1.6  # embedding window (the encoder was trained on 1.6 s)
    window_step_s: float = 0.5  # one embedding window every step
    min_window_s: float = 0.4  # speech regions shorter than this get no window of their own
    min_turn_s: float = 0.5  # shorter label runs inside a speech region are absorbed by neighbours
    bridge_gap_s: float = 0.5  # a same-speaker pause up to this long stays inside the turn
    vad_threshold: float = 0.5
    vad_min_silence_ms: int = 250
    vad_pad_ms: int = 60


def parse_num_speakers(value: str | int | None) -> int | None:
    """``--speakers`` value: a count 1..8, or "auto" (None); raises ValueError otherwise."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return None
    count = int(value)
    if not 1 <= count <= 8:
        raise ValueError(f"speakers must be 1-8 or auto, got {value!r}")
    return count


def speech_regions(mono16k: np.ndarray, options: DiarizeOptions | None = None) -> list[tuple[float, float]]:
    """Speech (start, end) seconds from faster-whisper's bundled Silero VAD (ONNX, no download)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    opts = options or DiarizeOptions()
    vad = VadOptions(
        threshold=opts.vad_threshold,
        min_silence_duration_ms=opts.vad_min_silence_ms,
        speech_pad_ms=opts.vad_pad_ms,
        min_speech_duration_ms=150,
    )
    stamps = get_speech_timestamps(mono16k.astype(np.float32), vad, sampling_rate=SAMPLE_RATE)
    return [(s["start"] / SAMPLE_RATE, s["end"] / SAMPLE_RATE) for s in stamps]


def _plan_windows(
    regions_frames: list[tuple[int, int]], size: int, step: int, min_frames: int
) -> list[tuple[int, int, int]]:
    """(region index, first frame, last frame exclusive) per window; windows stay inside a region."""
    plan = []
    for r, (a, b) in enumerate(regions_frames):
        length = b - a
        if length < min_frames:
            continue
        if length <= size:
            plan.append((r, a, b))
            continue
        starts = list(range(a, b - size + 1, step))
        if starts[-1] + size < b:
            starts.append(b - size)
        plan.extend((r, s, s + size) for s in starts)
    return plan


def _window_mels(mels: np.ndarray, a: int, b: int, size: int) -> np.ndarray:
    """``size`` frames for the encoder; a short region is tiled to length (zeros would read as silence)."""
    chunk = mels[a:b]
    if len(chunk) >= size:
        return chunk[:size]
    reps = int(np.ceil(size / len(chunk)))
    return np.tile(chunk, (reps, 1))[:size]


def _smooth_runs(labels: np.ndarray, min_len: int) -> np.ndarray:
    """Absorb runs shorter than ``min_len`` frames into the longer neighbouring run."""
    labels = labels.copy()
    while True:
        bounds = np.flatnonzero(np.diff(labels)) + 1
        starts = np.concatenate([[0], bounds])
        ends = np.concatenate([bounds, [len(labels)]])
        lengths = ends - starts
        if len(lengths) <= 1 or lengths.min() >= min_len:
            return labels
        i = int(np.argmin(lengths))
        left = lengths[i - 1] if i > 0 else -1
        right = lengths[i + 1] if i + 1 < len(lengths) else -1
        neighbour = i - 1 if left >= right else i + 1
        labels[starts[i] : ends[i]] = labels[starts[neighbour]]


@dataclass
class WindowEmbeddings:
    """The speech regions (in 10 ms frames) of a recording and one embedding per planned window."""

    n_frames: int
    regions: list[tuple[int, int]]
    windows: list[tuple[int, int, int]]  # (region index, first frame, end frame)
    embeddings: np.ndarray  # (len(windows), 256)


def embed_speech(
    mono16k: np.ndarray,
    speech: list[tuple[float, float]] | None = None,
    options: DiarizeOptions | None = None,
) -> WindowEmbeddings:
    opts = options or DiarizeOptions()
    audio = normalize_volume(np.asarray(mono16k, dtype=np.float32))
    if speech is None:
        speech = speech_regions(audio, opts)
    n_frames = int(len(audio) // HOP) + 1
    regions = [(max(0, int(s / FRAME_S)), min(n_frames, int(np.ceil(e / FRAME_S)))) for s, e in speech]
    regions = [(a, b) for a, b in regions if b > a]
    size = round(opts.window_s / FRAME_S)
    step = max(1, round(opts.window_step_s / FRAME_S))
    windows = _plan_windows(regions, size, step, round(opts.min_window_s / FRAME_S))
    if not windows:
        return WindowEmbeddings(n_frames, regions, [], np.zeros((0, 256), dtype=np.float32))
    mels = mel_frames(audio)
    batch = np.stack([_window_mels(mels, a, b, size) for _r, a, b in windows])
    return WindowEmbeddings(n_frames, regions, windows, load_encoder().embed_windows(batch))


def turns_from_labels(
    emb: WindowEmbeddings, labels: np.ndarray, options: DiarizeOptions | None = None
) -> list[Turn]:
    """Frame labels by window votes inside each speech region, smoothed, as turns."""
    opts = options or DiarizeOptions()
    if not emb.regions:
        return []
    k = int(labels.max()) + 1 if len(labels) else 1
    votes = np.zeros((emb.n_frames, k), dtype=np.float32)
    for (_r, a, b), label in zip(emb.windows, labels, strict=True):
        votes[a:b, label] += 1.0
    covered = np.flatnonzero(votes.sum(axis=1))
    turns: list[Turn] = []
    for a, b in emb.regions:
        region_votes = votes[a:b]
        if not len(covered):
            frame_labels = np.zeros(b - a, dtype=int)
        elif region_votes.sum() == 0:  # too short for its own window: the nearest window's speaker
            nearest = covered[np.argmin(np.abs(covered - (a + b) // 2))]
            frame_labels = np.full(b - a, int(np.argmax(votes[nearest])))
        else:
            frame_labels = np.argmax(region_votes, axis=1)
            uncovered = region_votes.sum(axis=1) == 0
            frame_labels[uncovered] = int(np.argmax(region_votes.sum(axis=0)))
            frame_labels = _smooth_runs(frame_labels, round(opts.min_turn_s / FRAME_S))
        bounds = np.flatnonzero(np.diff(frame_labels)) + 1
        for s, e in zip(
            np.concatenate([[0], bounds]), np.concatenate([bounds, [len(frame_labels)]]), strict=True
        ):
            start, end = round(float((a + s) * FRAME_S), 3), round(float((a + e) * FRAME_S), 3)
            turns.append(Turn(start, end, f"S{frame_labels[s]}"))
    return _relabel_by_first_appearance(merge_turns(turns, opts.bridge_gap_s))


def diarize(
    mono16k: np.ndarray,
    num_speakers: int | None = 2,
    speech: list[tuple[float, float]] | None = None,
    *,
    options: DiarizeOptions | None = None,
) -> list[Turn]:
    """Speaker turns (S0, S1, ...; S0 speaks first) of a 16 kHz mono recording.

    ``num_speakers``: expected count and upper bound (2 for a phone call); ``None`` = auto.
    ``speech``: speech regions in seconds if the caller already has them (else Silero VAD).
    """
    emb = embed_speech(mono16k, speech, options)
    return turns_from_labels(emb, cluster_speakers(emb.embeddings, num_speakers), options)


def merge_turns(turns: list[Turn], max_gap: float) -> list[Turn]:
    """Join a turn to the previous one when the same speaker goes on after at most ``max_gap`` s."""
    merged: list[Turn] = []
    for turn in sorted(turns, key=lambda t: (t.start, t.end)):
        prev = merged[-1] if merged else None
        if prev is not None and prev.speaker == turn.speaker and turn.start - prev.end <= max_gap:
            merged[-1] = Turn(prev.start, max(prev.end, turn.end), prev.speaker)
        else:
            merged.append(turn)
    return merged


def _relabel_by_first_appearance(turns: list[Turn]) -> list[Turn]:
    order = {old: f"S{i}" for i, old in enumerate(dict.fromkeys(t.speaker for t in turns))}
    return [Turn(t.start, t.end, order[t.speaker]) for t in turns]
