"""Rule engine on real text: INSULT|OBSCENE vs offensive labels, false positives, speed.

    python bench/eval_rules.py                 # COLD test + ToxiCN test + speed on COLD train
    python bench/eval_rules.py --split dev     # COLD dev (the tuning split)
    python bench/eval_rules.py --show-fp 20    # print some false positives

Precision/recall are per row: a row counts as flagged when any INSULT or OBSCENE flag fires
(text read as the collector's speech). "FP rate" is the share of non-offensive rows flagged;
"any-category FP" is the share of non-offensive rows with a flag of any category (a proxy for
false alarms on everyday Chinese). Speed: ``flag_text`` + JSON line output over COLD train
(one line per row), single core, start-up excluded.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import time
from dataclasses import dataclass

from common import SHARED

from pipeline.rules import RuleEngine, load_engine

TEXT_ZH = SHARED / "text_zh"
INSULT_CATEGORIES = {"INSULT", "OBSCENE"}


@dataclass
class Scores:
    name: str
    rows: int
    tp: int
    fp: int
    fn: int
    negatives: int
    any_fp: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    def line(self) -> str:
        return (
            f"{self.name}: rows {self.rows}, precision {self.precision:.3f}, recall {self.recall:.3f}, "
            f"FP rate {self.fp / max(self.negatives, 1):.2%} ({self.fp}/{self.negatives} non-offensive rows), "
            f"any-category FP {self.any_fp / max(self.negatives, 1):.2%}"
        )


def read_cold(split: str) -> list[tuple[str, bool]]:
    with open(TEXT_ZH / "COLD" / f"{split}.csv", encoding="utf-8-sig", newline="") as fh:
        return [(row["TEXT"], row["label"] == "1") for row in csv.DictReader(fh)]


def read_toxicn(split: str = "test") -> list[tuple[str, bool]]:
    with open(TEXT_ZH / "ToxiCN" / f"{split}.csv", encoding="utf-8", newline="") as fh:
        return [(row["content"], row["toxic"] == "1") for row in csv.DictReader(fh)]


def evaluate(engine: RuleEngine, name: str, rows: list[tuple[str, bool]], show_fp: int = 0) -> Scores:
    tp = fp = fn = negatives = any_fp = 0
    shown = 0
    for text, offensive in rows:
        flags = engine.flag_text(text)
        insult = any(f.category in INSULT_CATEGORIES for f in flags)
        if offensive:
            tp += insult
            fn += not insult
        else:
            negatives += 1
            fp += insult
            any_fp += bool(flags)
            if flags and shown < show_fp:
                shown += 1
                print(f"  FP  {[(f.category, f.match) for f in flags]}  {text[:80]}")
    return Scores(name, len(rows), tp, fp, fn, negatives, any_fp)


def speed(engine: RuleEngine) -> tuple[int, float, float]:
    """Characters, wall seconds and CPU seconds of flag-text's work (flag + one JSON line per
    row) on COLD train. CPU time is the single-core figure on a shared machine."""
    lines = [text for text, _ in read_cold("train")]
    out = io.StringIO()
    wall, cpu = time.perf_counter(), time.process_time()
    for number, text in enumerate(lines, start=1):
        flags = engine.flag_text(text)
        out.write(json.dumps({"line": number, "text": text, "flags": [f.compact() for f in flags]}, ensure_ascii=False) + "\n")
    return sum(len(t) for t in lines), time.perf_counter() - wall, time.process_time() - cpu


def call_speed(engine: RuleEngine, chars: int = 15_000, segment_chars: int = 40) -> float:
    """Seconds to flag a one-hour-call-sized transcript (~15 k chars in ~40-char segments)."""
    text = "".join(t for t, _ in read_cold("test"))[:chars]
    segments = [text[i : i + segment_chars] for i in range(0, len(text), segment_chars)]
    started = time.process_time()
    for segment in segments:
        engine.flag_text(segment, role=None)
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="test", choices=("train", "dev", "test"), help="COLD split (default: test)")
    parser.add_argument("--show-fp", type=int, default=0, help="print this many false positives per data set")
    parser.add_argument("--no-speed", action="store_true", help="skip the speed measurement")
    args = parser.parse_args()

    started = time.perf_counter()
    engine = load_engine()
    packs = ", ".join(f"{p['name']} {p['version']} ({p['sha256'][:12]})" for p in engine.pack_info)
    print(f"rule packs: {packs}; start-up {time.perf_counter() - started:.2f} s")
    print(evaluate(engine, f"COLD {args.split}", read_cold(args.split), args.show_fp).line())
    print(evaluate(engine, "ToxiCN test", read_toxicn("test"), args.show_fp).line())
    if not args.no_speed:
        chars, wall, cpu = speed(engine)
        print(f"speed: COLD train {chars:,} chars: CPU {cpu:.2f} s = {chars / cpu / 1000:,.0f} k chars/s (single core); "
              f"wall {wall:.2f} s = {chars / wall / 1000:,.0f} k chars/s (machine load {os.getloadavg()[0]:.1f})")
        print(f"one-hour call (~15 k chars, 40-char segments): {call_speed(engine) * 1000:.0f} ms CPU")


if __name__ == "__main__":
    main()
