"""The plain openai-whisper baseline that bench/asr_speed.py compares our pipeline against.

openai-whisper's own ``whisper.transcribe()`` with its defaults except: fp32 on CPU, beam 5
(best_of 5, as its CLI), language zh, on the bundled Whisper base weights converted to an
openai-whisper checkpoint. No VAD, no prompt, no filters: what a user of openai-whisper gets.

    python bench/openai_baseline.py FILE... [--threads N]

prints one JSON object: per-file results and the process's peak RSS, so a caller that runs
it in a subprocess gets a memory figure of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

# The baseline is plain openai-whisper as its users run it: libraries on their native CPU paths.
os.environ.setdefault("CALLPROOF_NATIVE_CPU", "1")

import av  # noqa: E402
import numpy as np  # noqa: E402
from common import peak_rss_mb  # noqa: E402

from pipeline.asr.models import BUNDLED_NAME, bundled_model_dir
from pipeline.asr.openai_engine import converted_checkpoint

ENGINE_LABEL = "openai-whisper transcribe() fp32 CPU, beam 5"


def load_audio_like_whisper(path: str | Path) -> np.ndarray:
    """What ``whisper.load_audio`` returns (16 kHz mono s16 scaled to float), via PyAV instead of the ffmpeg CLI."""
    resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
    frames: list[np.ndarray] = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            frames.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(frame))
    frames.extend(f.to_ndarray().reshape(-1) for f in resampler.resample(None))
    return np.concatenate(frames).astype(np.float32) / 32768.0


def run_openai_baseline(
    files: list[str | Path], *, threads: int = 0, beam_size: int = 5, language: str = "zh"
) -> list[dict[str, Any]]:
    """Transcribe each file with plain openai-whisper; one dict per file.

    Keys: file, audio_seconds, processing_seconds (decode + transcribe, model load excluded),
    rtf, text, load_seconds (the one model load, repeated on every row), engine, model_sha256.
    """
    import torch
    import whisper

    torch.set_num_threads(threads or min(4, os.cpu_count() or 1))
    checkpoint = converted_checkpoint(bundled_model_dir(), BUNDLED_NAME)
    started = time.perf_counter()
    model = whisper.load_model(str(checkpoint.path), device="cpu")
    load_seconds = time.perf_counter() - started
    rows = []
    for path in files:
        started = time.perf_counter()
        audio = load_audio_like_whisper(path)
        result = whisper.transcribe(model, audio, language=language, beam_size=beam_size, best_of=5, fp16=False)
        seconds = time.perf_counter() - started
        duration = len(audio) / 16000
        rows.append(
            {
                "file": str(path),
                "audio_seconds": round(duration, 3),
                "processing_seconds": round(seconds, 3),
                "rtf": round(seconds / duration, 3) if duration else None,
                "text": result["text"],
                "load_seconds": round(load_seconds, 3),
                "engine": ENGINE_LABEL,
                "model_sha256": checkpoint.sha256,
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = min(4, cores))")
    args = parser.parse_args(argv)
    rows = run_openai_baseline(args.files, threads=args.threads)
    json.dump({"results": rows, "peak_rss_mb": round(peak_rss_mb(), 1)}, sys.stdout, ensure_ascii=False)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
