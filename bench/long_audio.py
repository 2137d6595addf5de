"""Memory over an hour-long recording: does RSS grow with the length of the call?

    python bench/long_audio.py [--minutes 60]

Builds an 8 kHz phone-line WAV of MINUTES minutes from the real calls in calls_dev (repeated,
with pauses), transcribes it with the default pipeline, and samples the process RSS as the
audio is processed. Prints RSS at each quarter of the audio, the peak, and the RTF.
"""

from __future__ import annotations

import common  # noqa: F401  (first: project on sys.path, CPU code paths pinned before numpy loads)

# isort: split

import argparse
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from common import CALLS_DEV


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def build_long_wav(path: Path, minutes: float) -> float:
    pieces = [sf.read(CALLS_DEV / name, dtype="float32")[0] for name in ("call1_tel8k.wav", "call2_tel8k.wav")]
    pause = np.zeros(8000 * 3, dtype=np.float32)
    target = int(minutes * 60 * 8000)
    written = 0
    with sf.SoundFile(path, "w", samplerate=8000, channels=1, subtype="PCM_16") as out:
        i = 0
        while written < target:
            chunk = np.concatenate([pieces[i % 2], pause])[: target - written]
            out.write(chunk)
            written += len(chunk)
            i += 1
    return written / 8000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=60.0)
    args = parser.parse_args()

    from pipeline.asr.faster_engine import FasterWhisperEngine
    from pipeline.transcribe import transcribe_file

    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "long_call.wav"
        duration = build_long_wav(wav, args.minutes)
        engine = FasterWhisperEngine(threads=2)
        base = rss_mb()
        samples: list[tuple[float, float]] = []  # (audio seconds done, rss)
        peak = [base]
        done = [0.0]
        stop = threading.Event()

        def sampler() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], rss_mb())
                time.sleep(0.5)

        thread = threading.Thread(target=sampler, daemon=True)
        thread.start()

        def progress(seconds: float) -> None:
            done[0] = seconds
            samples.append((seconds, rss_mb()))

        t0 = time.perf_counter()
        transcript = transcribe_file(wav, engine, progress=progress)
        elapsed = time.perf_counter() - t0
        stop.set()
        thread.join()

    print(f"audio={duration / 60:.1f} min segments={len(transcript.segments)} RTF={elapsed / duration:.3f}")
    print(f"RSS after model load={base:.0f}MB")
    for quarter in (0.25, 0.5, 0.75, 1.0):
        at = min(samples, key=lambda s: abs(s[0] - quarter * duration))
        print(f"RSS at {at[0] / 60:5.1f} min of audio: {at[1]:.0f}MB")
    print(f"peak_RSS={peak[0]:.0f}MB")


if __name__ == "__main__":
    main()
