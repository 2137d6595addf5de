"""Flags found on the right turn in the calls_dev calls, per version (16 kHz, 8 kHz line, stereo line).

    python bench/eval_calls.py [--case DIR]

Runs `python cli.py run` on calls_dev (or reuses --case if it already holds them), then for each
file compares the segment flags of severity ≥ 2 with the labels of `*.truth.json`:
recall = expected labels found on a flag overlapping their turn; false flags = flags that overlap
no turn carrying their category.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from common import CALLS_DEV, ROOT


def version_of(name: str) -> str:
    return "stereo" if "stereo" in name else "8k" if "8k" in name else "16k"


def score(truth: dict, flags: list[dict]) -> tuple[int, int, int, int]:
    """(found, expected, false flags, flags)."""
    turns = truth["turns"]
    found = expected = 0
    for turn in turns:
        for label in turn["labels"]:
            expected += 1
            found += any(
                f["category"] == label and f["start_s"] < turn["end"] + 0.5 and f["end_s"] > turn["start"] - 0.5
                for f in flags
            )
    false = sum(
        not any(f["category"] in t["labels"] and f["start_s"] < t["end"] + 0.5 and f["end_s"] > t["start"] - 0.5 for t in turns)
        for f in flags
    )
    return found, expected, false, len(flags)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        case = args.case or Path(tmp) / "case"
        subprocess.run([sys.executable, "cli.py", "run", str(CALLS_DEV), "-o", str(case)], cwd=ROOT, check=True,
                       capture_output=True)
        totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for flags_json in sorted(case.glob("calls/*/flags.json")):
            doc = json.loads(flags_json.read_text(encoding="utf-8"))
            audio = Path(doc["source"]["path"])
            truth = json.loads(audio.with_suffix(".truth.json").read_text(encoding="utf-8"))
            flags = [f for f in doc["flags"] if f["level"] == "segment" and (f["severity"] or 0) >= 2]
            result = score(truth, flags)
            print(f"{audio.name:28s} found {result[0]}/{result[1]}  false flags {result[2]}/{result[3]}")
            for i, value in enumerate(result):
                totals[version_of(audio.name)][i] += value
        for version, (found, expected, false, n) in sorted(totals.items()):
            print(f"{version:7s} recall={found / max(1, expected):.2f} ({found}/{expected})  false_flags={false}/{n}")


if __name__ == "__main__":
    main()
