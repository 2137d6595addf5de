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


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid``, from /proc (no psutil needed)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def cpu_ticks() -> tuple[int, int] | None:
    """(steal, total) ticks of all CPUs since boot from Linux's /proc/stat; None where there is none.
    Steal is time the hypervisor gave to other guests while this one wanted the CPU."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = [int(x) for x in fh.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    return (fields[7] if len(fields) == 8 else 0), sum(fields)


def steal_share(before: tuple[int, int] | None, after: tuple[int, int] | None) -> float | None:
    """Share of the CPU time between two cpu_ticks() readings that went to other guests."""
    if before is None or after is None or after[1] <= before[1]:
        return None
    return (after[0] - before[0]) / (after[1] - before[1])
