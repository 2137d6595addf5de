"""Does the transcript depend on the machine? The same files under every setting that could change it.

    python bench/reproducibility.py                 # calls_dev (6 calls) + the 11 refs.tsv sentences
    python bench/reproducibility.py --quick         # calls_dev 8 kHz + stereo only

Each setting runs in its own process (the CPU code paths are chosen when the libraries load):
the default with 1 and 2 threads and with 2 workers (as `run` decodes), the default under a user
environment that asks for Intel MKL or AVX-512 kernels (what another CPU would pick on its own),
and, for comparison, the libraries' native choices (CALLPROOF_NATIVE_CPU=1) with MKL, AVX2 and
AVX-512. Prints, per setting, how many transcripts differ from the reference (default, 1 thread)
and the time, and last ``differing_default=N`` (must be 0).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from common import CALLS_DEV, ROOT, full_sentence_refs

from pipeline.determinism import unpinned_environ

AVX512_ENV = {"CT2_FORCE_CPU_ISA": "AVX512", "ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16", "OPENBLAS_CORETYPE": "SkylakeX"}
SETTINGS: list[tuple[str, dict[str, str], int, int]] = [
    # name, extra environment, threads per decode, workers
    ("default, 1 thread", {}, 1, 1),
    ("default, 2 threads", {}, 2, 1),
    ("default, 2 workers x 1 thread", {}, 1, 2),
    ("default, user env asks for MKL", {"CT2_USE_MKL": "1"}, 1, 1),
    ("default, user env asks for AVX-512", AVX512_ENV, 1, 1),
    ("default, user env asks for 8 BLAS threads", {"OPENBLAS_NUM_THREADS": "8"}, 1, 1),
    ("native (no pinning), 1 thread", {"CALLPROOF_NATIVE_CPU": "1"}, 1, 1),
    ("native, MKL (Intel's default)", {"CALLPROOF_NATIVE_CPU": "1", "CT2_USE_MKL": "1"}, 1, 1),
    ("native, oneDNN AVX2", {"CALLPROOF_NATIVE_CPU": "1", "CT2_USE_MKL": "0", "CT2_FORCE_CPU_ISA": "AVX2",
                             "ONEDNN_MAX_CPU_ISA": "AVX2"}, 1, 1),
    ("native, oneDNN AVX-512", {"CALLPROOF_NATIVE_CPU": "1", "CT2_USE_MKL": "0", **AVX512_ENV}, 1, 1),
    ("native, OpenBLAS 1 thread", {"CALLPROOF_NATIVE_CPU": "1", "OPENBLAS_NUM_THREADS": "1"}, 1, 1),
]

WORKER = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
import pipeline
from pathlib import Path
from pipeline.asr.factory import load_engine
from pipeline.batch import RunSettings
from pipeline.model_process import process_transcripts
from pipeline.audio import probe, sha256_file
from pipeline.reproduce import content_digest
from pipeline.transcribe import TranscribeConfig, transcribe_file
threads, workers, files = int(sys.argv[2]), int(sys.argv[3]), [Path(p) for p in sys.argv[4:]]
started = time.perf_counter()
if workers == 1:
    engine = load_engine(threads=threads)
    results = {p.name: transcribe_file(p, engine, TranscribeConfig()) for p in files}
else:
    jobs = [(p, probe(p), sha256_file(p)) for p in files]
    settings = RunSettings(workers=workers, diarize=False)
    # as run decodes: one model process, ``workers`` single-thread replicas, as many calls at once
    results = {p.name: t for p, t in process_transcripts(jobs, {"threads": threads * workers}, TranscribeConfig(),
                                                         settings, workers)}
record = next(iter(results.values())).options["compute"]
print(json.dumps({"seconds": time.perf_counter() - started, "compute": record,
                  "digests": {name: content_digest(t) for name, t in results.items()},
                  "texts": {name: t.text for name, t in results.items()}}, ensure_ascii=False))
"""


def run_setting(env_extra: dict[str, str], threads: int, workers: int, files: list[Path]) -> dict:
    # importing pipeline pinned this process's environment: children start from the user's own
    env = unpinned_environ()
    env.pop("CALLPROOF_NATIVE_CPU", None)
    env.update(env_extra)
    out = subprocess.run([sys.executable, "-c", WORKER, str(ROOT), str(threads), str(workers), *map(str, files)],
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="two calls only")
    args = parser.parse_args()
    if args.quick:
        files = [CALLS_DEV / "call2_tel8k.wav", CALLS_DEV / "call1_tel_stereo.wav"]
    else:
        files = sorted(CALLS_DEV.glob("*.wav")) + [path for path, _ in full_sentence_refs()]
    print(f"{len(files)} files; CPU: {cpu_name()}; each setting in its own process")
    reference: dict | None = None
    differing_default = 0
    print(f"{'setting':40} {'differ':>7} {'seconds':>8} {'x ref':>6}  compute")
    for name, env_extra, threads, workers in SETTINGS:
        t0 = time.perf_counter()
        result = run_setting(env_extra, threads, workers, files)
        reference = reference or result
        differ = [f for f, d in result["digests"].items() if d != reference["digests"][f]]
        if name.startswith("default"):
            differing_default += len(differ)
        compute = result["compute"]
        path = f"{compute.get('gemm')}/{compute.get('isa')}" + ("" if compute.get("reproducible") else " (not pinned)")
        print(f"{name:40} {len(differ):>7} {result['seconds']:>8.1f} {result['seconds'] / reference['seconds']:>6.2f}  {path}"
              f"  [{time.perf_counter() - t0:.0f}s wall]")
        for f in differ[:3]:
            print(f"    {f}: {result['texts'][f][:70]}")
    print(f"differing_default={differing_default}")


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


if __name__ == "__main__":
    main()
