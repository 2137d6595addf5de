"""Shared helpers for benchmarks: the reference clips and peak memory."""

from __future__ import annotations

import csv
import resource
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pipeline  # noqa: E402, F401  (pins the CPU code paths before numpy / CTranslate2 load)

SHARED = ROOT.parent / "shared" / "data"
SPEECH = SHARED / "speech_zh"
CALLS_DEV = SHARED / "calls_dev"


def full_sentence_refs() -> list[tuple[Path, str]]:
    """The full sentences of refs.tsv (not the one-word cuishou_8k_keywords clips)."""
    with open(SPEECH / "refs.tsv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [(SPEECH / r["file"], r["reference"]) for r in rows if not r["file"].startswith("cuishou_8k_keywords/")]


def keyword_refs() -> list[tuple[Path, str]]:
    with open(SPEECH / "refs.tsv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [(SPEECH / r["file"], r["reference"]) for r in rows if r["file"].startswith("cuishou_8k_keywords/")]


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
