"""callproof: turn phone-call recordings into reviewable evidence."""

import os

# libgomp threads (CTranslate2, torch) spin ~3 ms by default before sleeping, which made decoding
# several times slower whenever another program used the CPU (a 5 s clip: 31 s instead of 6.4 s).
# Sleeping at once (OMP_WAIT_POLICY=PASSIVE) costs 5% on a quiet machine: Whisper's decoder runs
# thousands of tiny parallel steps. A 0.1 ms spin is as fast as that on a busy CPU and quicker on
# a quiet one (bench/asr_speed.py). Must be set before those libraries load; a user's own
# OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "10000")

# One transcript per recording on any x86-64-v3 CPU: choose the libraries' code paths before they load.
from pipeline.determinism import pin_cpu_paths  # noqa: E402

pin_cpu_paths()

__version__ = "0.1.0"
