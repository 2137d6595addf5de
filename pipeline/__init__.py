"""callproof: turn phone-call recordings into reviewable evidence."""

import os

# OpenMP threads that spin while waiting made torch/CTranslate2 several times slower whenever
# another program used the CPU (measured: a 5 s clip 31 s → 6.4 s). Must be set before they load.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
