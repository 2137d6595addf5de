"""Diarization benchmark: DER (0.25 s collar) on two-speaker calls built from real clips, and cost.

Calls are built from the real Mandarin clips in ../shared/data/speech_zh/ (each file a
different real speaker): each clip is cut at its pauses into pieces, the two speakers'
pieces alternate with short gaps, and every call has one short overlap. The 8 kHz set is
the same calls through a telephone line (300-3400 Hz band-pass, 8 kHz, G.711 mu-law, back
to 16 kHz) plus calls whose second party is the real 8 kHz debtor replies in
cuishou_8k_keywords/. Also scores ../shared/data/calls_dev/ (mono 16k, mono 8k, stereo).

    python bench/eval_speakers.py            # ends with: DER_16k=0.xxx DER_8k=0.xxx
    python bench/eval_speakers.py --cost     # also times diarization vs transcription
    python bench/eval_speakers.py --auto     # the same calls with `--speakers auto` instead of 2
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pipeline  # noqa: E402, F401, I001  (first: CPU code paths pinned before numpy loads; tests import this module too)

# isort: split

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from math import gcd  # noqa: E402

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from pipeline.speakers.der import DerResult, diarization_error_rate  # noqa: E402
from pipeline.speakers.diarization import diarize, speech_regions  # noqa: E402
from pipeline.speakers.stereo import channel_turns, channels_are_distinct  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SPEECH = DATA / "speech_zh"
CALLS_DEV = DATA / "calls_dev"
SR = 16000

# One real speaker per file (different corpora / recordings).
CLIPS = [
    "fireredasr_BAC009S0764W0121.wav",
    "wenet_aishell-BAC009S0724W0121.wav",
    "funasr_asr_example_zh.wav",
    "paddlespeech_zh.wav",
    "masr_test.wav",
    "cosyvoice_zero_shot_prompt.wav",
    "f5tts_basic_ref_zh.wav",
    "baidu_speech_demo_16k.wav",
    "fireredasr_TEST_MEETING_T0000000001_S00000.wav",
    "fireredasr_IT0011W0001.wav",
    "fireredasr_TEST_NET_Y0000000000_-KTKHdZ2fb8_S00000.wav",
]
# Each word folder of cuishou_8k_keywords is one voice (same-folder files: cosine 0.91, across folders 0.70).
REPLY_FOLDERS = ["1/dui", "2/buneng", "3/meiyou", "4/buzhidao", "5/keyi"]


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling with a Kaiser-windowed sinc low-pass (numpy only)."""
    if sr_in == sr_out:
        return x.astype(np.float32)
    g = gcd(sr_in, sr_out)
    up, down = sr_out // g, sr_in // g
    cutoff = 0.5 / max(up, down)  # cycles per sample at the upsampled rate
    half = 16 * max(up, down)
    n = np.arange(-half, half + 1)
    taps = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(len(n), 8.0) * up
    stuffed = np.zeros(len(x) * up)
    stuffed[::up] = x
    y = np.convolve(stuffed, taps)[half : half + len(stuffed)]
    return y[::down].astype(np.float32)


def _fir_bandpass(low: float, high: float, sr: int, taps: int = 255) -> np.ndarray:
    n = np.arange(taps) - taps // 2
    h = 2 * high / sr * np.sinc(2 * high / sr * n) - 2 * low / sr * np.sinc(2 * low / sr * n)
    return h * np.hamming(taps)


def telephone(x16k: np.ndarray) -> np.ndarray:
    """A phone line: 300-3400 Hz, 8 kHz, 8-bit mu-law, then back to 16 kHz as the decoder gives it."""
    band = np.convolve(x16k, _fir_bandpass(300, 3400, SR), mode="same")
    narrow = resample(band, SR, 8000)
    peak = max(1e-9, float(np.max(np.abs(narrow))))
    y = np.clip(narrow / peak * 0.7, -1, 1)
    mu = 255.0
    coded = np.round(np.sign(y) * np.log1p(mu * np.abs(y)) / np.log1p(mu) * 127) / 127
    decoded = np.sign(coded) * ((1 + mu) ** np.abs(coded) - 1) / mu * peak / 0.7
    return resample(decoded, 8000, SR)


def load_16k(path: Path) -> np.ndarray:
    x, sr = sf.read(path, dtype="float32", always_2d=True)
    return resample(x.mean(axis=1), sr, SR)


def clip_pieces(x: np.ndarray, max_piece_s: float = 3.5) -> list[np.ndarray]:
    """The clip's speech cut at its pauses into pieces of at most ~max_piece_s (no silence at the edges)."""
    regions = speech_regions(x)
    if not regions:
        return [x]
    pieces, start, end = [], regions[0][0], regions[0][1]
    for s, e in regions[1:]:
        if e - start > max_piece_s:
            pieces.append((start, end))
            start = s
        end = e
    pieces.append((start, end))
    return [x[int(s * SR) : int(e * SR)] for s, e in pieces]


@dataclass
class Call:
    name: str
    audio: np.ndarray
    turns: list[tuple[float, float, str]]


def build_call(name: str, a: list[np.ndarray], b: list[np.ndarray], rng: np.random.Generator) -> Call:
    """Alternate A and B pieces (at least two turns each) with 0.2-0.8 s gaps and one 0.4 s overlap."""
    n_turns = max(len(a), len(b), 2)
    order = [(a, "A"), (b, "B")]
    sequence = []
    for i in range(n_turns):
        for pieces, spk in order:
            sequence.append((pieces[i % len(pieces)], spk))
    overlap_at = int(rng.integers(1, len(sequence)))
    t, placed = 0.3, []
    for i, (piece, spk) in enumerate(sequence):
        if i:
            t += -0.4 if i == overlap_at else float(rng.uniform(0.2, 0.8))
        placed.append((t, piece, spk))
        t += len(piece) / SR
    audio = np.zeros(int((t + 0.5) * SR), dtype=np.float32)
    turns = []
    for start, piece, spk in placed:
        i = int(start * SR)
        audio[i : i + len(piece)] += piece / max(1e-6, float(np.sqrt(np.mean(piece**2)))) * 0.05
        turns.append((round(start, 3), round(start + len(piece) / SR, 3), spk))
    return Call(name, audio, turns)


def clip_calls(seed: int = 7) -> list[Call]:
    """Every clip paired with two others (different partner and who speaks first)."""
    rng = np.random.default_rng(seed)
    pieces = {c: clip_pieces(load_16k(SPEECH / c)) for c in CLIPS}
    calls = []
    for i, first in enumerate(CLIPS):
        for shift in (1, 4):
            second = CLIPS[(i + shift) % len(CLIPS)]
            calls.append(build_call(f"{first[:14]}+{second[:14]}", pieces[first], pieces[second], rng))
    return calls


def reply_calls(seed: int = 11) -> list[Call]:
    """A 16 kHz clip speaker (after the phone line) against real 8 kHz short replies."""
    rng = np.random.default_rng(seed)
    calls = []
    for i, folder in enumerate(REPLY_FOLDERS):
        replies = [load_16k(p) for p in sorted((SPEECH / "cuishou_8k_keywords" / folder).glob("*.wav"))]
        replies = [r[int(s * SR) : int(e * SR)] for r in replies for s, e in speech_regions(r)[:1]]
        caller = [telephone(p) for p in clip_pieces(load_16k(SPEECH / CLIPS[i]))]
        calls.append(build_call(f"{CLIPS[i][:14]}+{folder}", caller, replies[:3], rng))
    return calls


def score(calls: list[tuple[str, list, list]]) -> DerResult:
    """Corpus DER: errors and scored time summed over calls (not a mean of per-call DERs)."""
    parts = [diarization_error_rate(ref, hyp) for _name, ref, hyp in calls]
    total = sum(p.scored for p in parts)
    errors = sum(p.missed + p.false_alarm + p.confusion for p in parts)
    return DerResult(
        der=errors / total,
        missed=sum(p.missed for p in parts),
        false_alarm=sum(p.false_alarm for p in parts),
        confusion=sum(p.confusion for p in parts),
        scored=total,
        mapping={},
    )


def run_set(label: str, calls: list[Call], degrade: bool, verbose: bool) -> tuple[DerResult, float]:
    scored, seconds, audio_s = [], 0.0, 0.0
    for call in calls:
        audio = telephone(call.audio) if degrade else call.audio
        t0 = time.perf_counter()
        turns = diarize(audio)
        seconds += time.perf_counter() - t0
        audio_s += len(audio) / SR
        hyp = [(t.start, t.end, t.speaker) for t in turns]
        scored.append((call.name, call.turns, hyp))
        if verbose:
            r = diarization_error_rate(call.turns, hyp)
            print(
                f"  {label} {call.name:34s} DER={r.der:.3f} conf={r.confusion:.2f}s miss={r.missed:.2f}s fa={r.false_alarm:.2f}s"
            )
    result = score(scored)
    print(
        f"{label}: {len(calls)} calls, {audio_s:.0f} s audio, DER={result.der:.3f} "
        f"(miss {result.missed:.1f} s, false alarm {result.false_alarm:.1f} s, confusion {result.confusion:.1f} s "
        f"of {result.scored:.1f} s), diarization RTF {seconds / audio_s:.3f}"
    )
    return result, seconds / audio_s


def calls_dev(verbose: bool) -> None:
    for kind in ("16k", "tel8k", "tel_stereo"):
        scored = []
        for truth_path in sorted(CALLS_DEV.glob(f"call*_{kind}.truth.json")):
            ref = [
                (t["start"], t["end"], t["speaker"])
                for t in json.loads(truth_path.read_text("utf-8"))["turns"]
            ]
            wav = truth_path.with_name(truth_path.name.replace(".truth.json", ".wav"))
            x, sr = sf.read(wav, dtype="float32", always_2d=True)
            channels = np.stack([resample(c, sr, SR) for c in x.T])
            if len(channels) == 2 and channels_are_distinct(channels):
                turns, path = channel_turns(channels), "stereo: speaker = channel"
            else:
                turns, path = diarize(channels.mean(axis=0)), "mono: diarize"
            hyp = [(t.start, t.end, t.speaker) for t in turns]
            scored.append((wav.name, ref, hyp))
            if verbose:
                print(f"  calls_dev {wav.name:26s} {path:26s} DER={diarization_error_rate(ref, hyp).der:.3f}")
        r = score(scored)
        print(
            f"calls_dev {kind}: DER={r.der:.3f} (miss {r.missed:.1f} s, fa {r.false_alarm:.1f} s, confusion {r.confusion:.1f} s)"
        )


def cost() -> None:
    """Diarization time vs transcription time of the same call (faster-whisper base int8, VAD on)."""
    from faster_whisper import WhisperModel

    from pipeline.asr.models import resolve_ct2_model

    audio = load_16k(CALLS_DEV / "call1_16k.wav")
    dur = len(audio) / SR
    diarize(audio)  # warm: model load, VAD session
    model = WhisperModel(
        str(resolve_ct2_model(None).path), device="cpu", compute_type="int8", local_files_only=True
    )

    def timed(job) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        job()
        return time.perf_counter() - wall, time.process_time() - cpu

    # Alternate the two jobs so that load from other processes hits both alike.
    d_runs, t_runs = [], []
    for _ in range(2):
        d_runs.append(timed(lambda: diarize(audio)))
        t_runs.append(
            timed(
                lambda: list(
                    model.transcribe(
                        audio, language="zh", beam_size=5, vad_filter=True, word_timestamps=True
                    )[0]
                )
            )
        )
    d_wall, d_cpu = min(d_runs)
    t_wall, t_cpu = min(t_runs)
    print(
        f"cost call1_16k ({dur:.1f} s): transcription {t_wall:.2f} s wall / {t_cpu:.2f} s CPU (RTF {t_wall / dur:.3f}), "
        f"diarization {d_wall:.2f} s wall / {d_cpu:.2f} s CPU (RTF {d_wall / dur:.3f}) "
        f"-> overhead {d_wall / t_wall:.0%} wall, {d_cpu / t_cpu:.0%} CPU"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verbose", "-v", action="store_true", help="per-call figures")
    parser.add_argument(
        "--cost", action="store_true", help="also time transcription of a call (loads Whisper)"
    )
    parser.add_argument("--auto", action="store_true", help="diarize with the count chosen (--speakers auto)")
    args = parser.parse_args()
    if args.auto:
        global diarize
        expected_two = diarize
        diarize = lambda audio: expected_two(audio, None)  # noqa: E731
    calls = clip_calls()
    der16, _ = run_set("clips 16k", calls, degrade=False, verbose=args.verbose)
    tel, _ = run_set("clips 8k line", calls, degrade=True, verbose=args.verbose)
    replies, _ = run_set("8k replies", reply_calls(), degrade=False, verbose=args.verbose)
    der8 = (
        tel.missed
        + tel.false_alarm
        + tel.confusion
        + replies.missed
        + replies.false_alarm
        + replies.confusion
    ) / (tel.scored + replies.scored)
    calls_dev(args.verbose)
    if args.cost:
        cost()
    print(f"DER_16k={der16.der:.3f} DER_8k={der8:.3f}")


if __name__ == "__main__":
    main()
