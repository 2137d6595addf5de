"""Batch throughput: `python cli.py run` vs the bare engine on the same ≥ 30 minutes of audio.

    python bench/batch_speed.py [--minutes 30] [--workers 1 2]
    python bench/batch_speed.py --long --workers 2   # the long-call set (bench/long_calls.py): few, long calls

Builds a folder of distinct call recordings from calls_dev (each copy with a slightly different
gain, so every file has its own content hash), then in one script:
1. the bare engine: faster-whisper (same model, same decoding options) on each file, one by one;
2. `cli.py run` on the folder, once per --workers value (fresh case each time).
Prints audio-minutes per wall-minute for each, the batch's overhead over the bare engine and the peak
memory of `run` with its model process(es) (PSS summed over the process tree, sampled every 0.5 s).
With --long the folder is the long-call set (long1 mono, long2 mono and stereo: 15 min, 3 calls)
and the baseline is `transcribe_file` one by one instead (each call's blocks on every worker: the
per-recording speed `run` should keep when one long call is left), printed as `overhead_vs_bare`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from common import CALLS_DEV, ROOT, descendants


def build_folder(folder: Path, minutes: float) -> tuple[list[Path], float]:
    sources = sorted(CALLS_DEV.glob("*.wav"))
    files, total, i = [], 0.0, 0
    while total < minutes * 60:
        src = sources[i % len(sources)]
        data, rate = sf.read(src, dtype="float32")
        gain = 0.97 - 0.01 * (i // len(sources))
        out = folder / f"{src.stem}_v{i:02d}.wav"
        sf.write(out, np.clip(data * gain, -1, 1), rate, subtype="PCM_16")
        files.append(out)
        total += len(data) / rate
        i += 1
    return files, total


def long_folder(folder: Path) -> tuple[list[Path], float]:
    import shutil

    from long_calls import build_long_calls, default_dir

    files = [Path(shutil.copy2(path, folder / path.name)) for path, _ in build_long_calls(default_dir())]
    return files, sum(sf.info(path).duration for path in files)


def one_by_one(files: list[Path]) -> float:
    """transcribe_file per call, the engine's workers on its blocks (as `transcribe` does)."""
    from pipeline.asr.faster_engine import FasterWhisperEngine
    from pipeline.transcribe import transcribe_file

    t0 = time.perf_counter()
    engine = FasterWhisperEngine(threads=2)
    for path in files:
        transcribe_file(path, engine)
    return time.perf_counter() - t0


def bare_engine(files: list[Path]) -> float:
    from pipeline.asr.base import DecodeOptions
    from pipeline.asr.faster_engine import FasterWhisperEngine
    from pipeline.audio import decode

    t0 = time.perf_counter()
    engine = FasterWhisperEngine(threads=2)
    options = DecodeOptions()
    for path in files:
        list(engine.transcribe(decode(path).mono(), options))
    return time.perf_counter() - t0


def tree_memory_mb(pid: int) -> float:
    """Memory of ``pid`` and every process below it: the sum of their PSS (shared pages split between
    the processes that share them, so a forked model process is not counted twice; VmRSS where PSS is
    not readable)."""
    total = 0.0
    for current in {pid} | descendants(pid):
        for name, key in (("smaps_rollup", "Pss:"), ("status", "VmRSS:")):
            try:
                line = next(x for x in Path(f"/proc/{current}/{name}").read_text().splitlines() if x.startswith(key))
            except (OSError, StopIteration):
                continue
            total += int(line.split()[1]) / 1024
            break
    return total


def batch(folder: Path, case: Path, workers: int, share: bool = False) -> tuple[float, float]:
    """Wall seconds of `cli.py run` on ``folder``, and the peak memory of its processes (MB, sampled)."""
    log = case.with_name(case.name + ".log")
    t0 = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "cli.py", "run", str(folder), "-o", str(case), "--workers", str(workers),
                                 *(["--share-engine"] if share else [])], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        peak = 0.0
        while proc.poll() is None:
            peak = max(peak, tree_memory_mb(proc.pid))
            time.sleep(0.5)
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"run failed ({proc.returncode}): {log.read_text(errors='replace')[-2000:]}")
    return wall, peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--long", action="store_true", help="the long-call set instead of calls_dev copies")
    parser.add_argument("--share-engine", action="store_true", help="run --share-engine (calls share one model)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "calls"
        folder.mkdir()
        files, audio_s = long_folder(folder) if args.long else build_folder(folder, args.minutes)
        minutes = audio_s / 60
        print(f"files={len(files)} audio={minutes:.1f} min")
        if args.long:  # the bare engine would decode each long call as one piece on one worker
            bare = one_by_one(files)
            print(f"transcribe_file one by one wall={bare:.0f}s  audio-min/wall-min={minutes / (bare / 60):.2f}")
        else:
            bare = bare_engine(files)
            print(f"bare engine (one by one)  wall={bare:.0f}s  audio-min/wall-min={minutes / (bare / 60):.2f}")
        for workers in args.workers:
            wall, peak = batch(folder, Path(tmp) / f"case_w{workers}", workers, args.share_engine)
            print(f"run --workers {workers}{' --share-engine' if args.share_engine else ''} wall={wall:.0f}s  audio-min/wall-min={minutes / (wall / 60):.2f}"
                  f"  overhead_vs_bare={(wall - bare) / bare * 100:+.1f}%  peak_memory={peak:.0f} MB (PSS, all its processes)")


if __name__ == "__main__":
    main()
