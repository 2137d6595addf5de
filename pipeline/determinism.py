"""Pin every CPU code path that changes a transcript, so one recording gives one transcript.

Measured (bench/reproducibility.py): on the same machine, CTranslate2's GEMM backend (Intel MKL is
the default on Intel CPUs, oneDNN on AMD ones), the instruction set oneDNN and CTranslate2's own
kernels use (AVX2 / AVX-512 / VNNI), the OpenBLAS kernel numpy's matmul uses (the mel filter bank),
numpy's own SIMD level and OpenBLAS's thread count (1 vs 2+) each change the text Whisper writes;
CTranslate2's thread count does not. So
before those libraries load we select one path that every x86-64-v3 CPU (AVX2 + FMA: Intel since
2013, AMD since 2017) runs identically: oneDNN for GEMM, AVX2 everywhere, OpenBLAS's Haswell
kernels on one thread, numpy without its AVX-512 loops. Cost: BENCHMARKS.md ("Reproducible transcripts").

``CALLPROOF_NATIVE_CPU=1`` keeps each library's own choice (faster on some CPUs, but the transcript
then depends on the machine); the choice is recorded in every transcript either way.
"""

from __future__ import annotations

import os
import platform
import sys
from typing import Any

ISA = "AVX2"
PINNED_ENV = {
    "CT2_USE_MKL": "0",  # oneDNN on Intel and AMD alike
    "CT2_FORCE_CPU_ISA": ISA,
    "ONEDNN_MAX_CPU_ISA": ISA,
    "DNNL_MAX_CPU_ISA": ISA,  # the name older oneDNN builds read
    "OPENBLAS_CORETYPE": "Haswell",
    # single-threaded OpenBLAS rounds numpy's matrix products (the mel spectrogram) differently from
    # 2+ threads, which changed the text; one thread on every machine, whatever its core count
    "OPENBLAS_NUM_THREADS": "1",
    # numpy's dispatched loops above x86-64-v3; disabling one the CPU lacks is a no-op
    "NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR",
    # the optional openai-whisper engine (torch): ATen's kernels and MKL's reproducible mode
    "ATEN_CPU_CAPABILITY": "avx2",
    "MKL_CBWR": "AVX2,STRICT",
}
NATIVE_SWITCH = "CALLPROOF_NATIVE_CPU"
# Seed of the random sampling Whisper falls back to at temperature > 0 (recorded per transcript).
SAMPLING_SEED = 0

_state: dict[str, Any] = {}


def _linux_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _has_avx2_fma() -> bool:
    """Whether this CPU runs the pinned path (x86-64 with AVX2 and FMA)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    if sys.platform.startswith("linux"):
        return {"avx2", "fma"} <= _linux_flags()
    if sys.platform == "win32":
        import ctypes

        pf_avx2_instructions_available = 40
        return bool(ctypes.windll.kernel32.IsProcessorFeaturePresent(pf_avx2_instructions_available))
    if sys.platform == "darwin":
        import subprocess

        try:
            out = subprocess.run(["sysctl", "-n", "hw.optional.avx2_0"], capture_output=True, text=True, timeout=5)
        except (OSError, subprocess.SubprocessError):
            return False
        return out.stdout.strip() == "1"
    return False


def pin_cpu_paths() -> None:
    """Select the reproducible path by environment; must run before numpy/CTranslate2/torch load."""
    if _state:
        return
    late = sorted(m for m in ("numpy", "ctranslate2", "torch") if m in sys.modules)
    if os.environ.get(NATIVE_SWITCH) == "1":
        _state.update(pinned=False, reason="CALLPROOF_NATIVE_CPU=1")
    elif not _has_avx2_fma():
        _state.update(pinned=False, reason=f"CPU without AVX2/FMA ({platform.machine()})")
    else:
        _state["before"] = {k: os.environ.get(k) for k in PINNED_ENV}
        os.environ.update(PINNED_ENV)
        _state["pinned"] = True
    # Loaded before us, a library has already chosen its path: the record says so.
    _state["loaded_before_pinning"] = late


def unpinned_environ() -> dict[str, str]:
    """This process's environment as the user set it, before pinning (for a child that must choose natively)."""
    env = dict(os.environ)
    for key, value in (_state.get("before") or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def _cpu_model() -> str:
    """The CPU's name: without pinning a transcript is only reproducible on the same kind of CPU."""
    if sys.platform.startswith("linux"):
        try:
            with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
                for line in fh:
                    if line.startswith("model name"):
                        return line.split(":", 1)[1].strip()
        except OSError:
            pass
    return platform.processor() or platform.machine()


def compute_record(device: str = "cpu", compute_type: str = "int8") -> dict[str, Any]:
    """What, besides the model and decode options, decides the transcript: stored in its options."""
    if device != "cpu":
        return {"device": device, "compute_type": compute_type, "reproducible": False,
                "reason": "GPU kernels are not pinned"}
    pin_cpu_paths()
    pinned = bool(_state.get("pinned")) and not _state.get("loaded_before_pinning")
    record: dict[str, Any] = {
        "device": "cpu",
        "compute_type": compute_type,
        "arch": platform.machine().lower(),
        "reproducible": pinned,
        "seed": SAMPLING_SEED,
    }
    if pinned:
        record.update(gemm="dnnl", isa=ISA, blas_core=PINNED_ENV["OPENBLAS_CORETYPE"], blas_threads=1,
                      numpy_simd="X86_V3")
    else:
        record.update(gemm="native", isa="native", cpu=_cpu_model(), reason=_state.get("reason") or
                      f"loaded before pinning: {', '.join(_state.get('loaded_before_pinning', []))}")
    return record


def reuse_key(record: dict[str, Any]) -> dict[str, Any]:
    """The part of a compute record two transcripts must share to be the same (CTranslate2's threads are
    not in it: measured identical across 1-8 threads and across --workers)."""
    keys = ("device", "compute_type", "arch", "reproducible", "seed", "gemm", "isa", "blas_core", "blas_threads",
            "numpy_simd", "cpu", "encoder_conv")
    key = {k: record.get(k) for k in keys}
    # only when set, so that a case transcribed with the full vocabulary keeps its key (and is not redone)
    return {**key, "vocabulary": record["vocabulary"]} if record.get("vocabulary") else key
