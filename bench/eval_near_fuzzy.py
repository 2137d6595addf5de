"""Near-homophone tolerance in the rule tier: false positives it adds, recall it gains, speed.

    python bench/eval_near_fuzzy.py                    # near matching on vs off, same pack
    python bench/eval_near_fuzzy.py --show-new 30      # print lines that only flag with near matching
    python bench/eval_near_fuzzy.py --split dev        # COLD dev (the tuning split) instead of test
    python bench/eval_near_fuzzy.py --sweep            # + a larger everyday pool at several distances

"Flagged-line rate" is the share of everyday lines with a flag of any category, read as the
collector's speech: COLD's non-offensive rows (label 0), the 246 everyday SMS of
tests/data/everyday_sms_zh.txt and the negatives of shared/data/detect_dev/testset.tsv. Recall is
the share of testset.tsv's abusive lines with any flag (and with a flag of the gold category).
Speed: flag_text over the first 5,000 COLD train rows, CPU seconds, start-up excluded.
``--sweep``: every non-offensive row of COLD (train+dev+test), ToxiCN and SWSR's comments
(~33 k lines): flagged lines and lines where a near-homophone rewrite happened at all, for
several ``near_max_distance`` values (the exposure, even where no rule then fires).
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import time
from collections.abc import Callable

from common import ROOT, SHARED

from pipeline.rules import RuleEngine, load_engine

TESTSET = SHARED / "detect_dev" / "testset.tsv"
EVERYDAY_SMS = ROOT / "tests" / "data" / "everyday_sms_zh.txt"


def read_cold(split: str) -> list[tuple[str, bool]]:
    with open(SHARED / "text_zh" / "COLD" / f"{split}.csv", encoding="utf-8-sig", newline="") as fh:
        return [(row["TEXT"], row["label"] == "1") for row in csv.DictReader(fh)]


def read_testset() -> list[tuple[str, str, str]]:
    rows = []
    with open(TESTSET, encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#") or not line.strip():
                continue
            text, gold, group = line.rstrip("\n").split("\t")
            rows.append((text, gold, group))
    return rows


def with_near_distance(engine: RuleEngine, distance: float) -> RuleEngine:
    """The same packs with another ``near_max_distance`` (0: same-pinyin homophones only)."""
    packs = [dataclasses.replace(p, settings=dataclasses.replace(p.settings, near_max_distance=distance)) for p in engine.packs]
    return RuleEngine(packs)


def without_near(engine: RuleEngine) -> RuleEngine:
    return with_near_distance(engine, 0.0)


def everyday_pool() -> list[str]:
    lines = [text for split in ("train", "dev", "test") for text, offensive in read_cold(split) if not offensive]
    for split in ("train", "test"):
        with open(SHARED / "text_zh" / "ToxiCN" / f"{split}.csv", encoding="utf-8", newline="") as fh:
            lines += [row["content"] for row in csv.DictReader(fh) if row["toxic"] == "0"]
    with open(SHARED / "text_zh" / "SWSR" / "SexComment.csv", encoding="utf-8-sig", newline="") as fh:
        lines += [row["comment_text"] for row in csv.DictReader(fh) if row["label"] == "0"]
    return lines


def sweep(engine: RuleEngine, distances: tuple[float, ...] = (0.0, 0.4, 0.6, 0.8, 1.0)) -> None:
    lines = everyday_pool()
    print(f"everyday pool: {len(lines):,} non-offensive lines (COLD all splits, ToxiCN, SWSR comments)")
    for distance in distances:
        variant = with_near_distance(engine, distance)
        flags = [variant.flag_text(text) for text in lines]
        near_lines = sum(any(m.kind == "near" for m in variant._fuzzy.normalize(text)[1]) for text in lines)
        near_flags = sum(any(t.get("kind") == "near" for f in fl for t in f.explanation["fuzzy_terms"]) for fl in flags)
        print(f"  near_max_distance {distance}: flagged {rate([bool(f) for f in flags])}; "
              f"lines with a near rewrite {near_lines}; lines flagged through one {near_flags}")


def flagged(engine: RuleEngine, lines: list[str]) -> list[bool]:
    return [bool(engine.flag_text(text)) for text in lines]


def rate(marks: list[bool]) -> str:
    return f"{sum(marks) / max(len(marks), 1):.2%} ({sum(marks)}/{len(marks)})"


def cpu_seconds(run: Callable[[], object]) -> float:
    started = time.process_time()
    run()
    return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", default="test", choices=("train", "dev", "test"), help="COLD split (default: test)")
    parser.add_argument("--show-new", type=int, default=0, help="print this many lines flagged only with near matching")
    parser.add_argument("--sweep", action="store_true", help="also run the larger everyday pool at several distances")
    args = parser.parse_args()

    near = load_engine()
    off = without_near(near)
    packs = ", ".join(f"{p['name']} {p['version']} ({p['sha256'][:12]})" for p in near.pack_info)
    settings = near.settings
    print(f"rule packs: {packs}; near_max_distance {settings.near_max_distance}, "
          f"near_fuzzy_penalty {settings.near_fuzzy_penalty}, fuzzy_penalty {settings.fuzzy_penalty}")

    cold = [text for text, offensive in read_cold(args.split) if not offensive]
    sms = [line.strip() for line in EVERYDAY_SMS.read_text(encoding="utf-8").splitlines() if line.strip()]
    testset = read_testset()
    negatives = [text for text, _, group in testset if group != "pos"]
    positives = [(text, gold) for text, gold, group in testset if group == "pos"]
    shown = 0
    for name, lines in ((f"COLD {args.split} non-offensive", cold), ("everyday SMS", sms), ("testset negatives", negatives)):
        before, after = flagged(off, lines), flagged(near, lines)
        print(f"{name}: flagged lines near off {rate(before)} → near on {rate(after)}")
        for text, was, now in zip(lines, before, after, strict=True):
            if now and not was and shown < args.show_new:
                shown += 1
                print("  new:", [(f.category, f.match, f.score) for f in near.flag_text(text)], text[:80])

    for label, engine in (("near off", off), ("near on", near)):
        any_hit = [bool(engine.flag_text(text)) for text, _ in positives]
        right = [any(f.category == gold for f in engine.flag_text(text)) for text, gold in positives]
        print(f"testset abusive lines, {label}: any flag {rate(any_hit)}, gold category {rate(right)}")

    train = [text for text, _ in read_cold("train")[:5000]]
    chars = sum(map(len, train))
    for label, engine in (("near off", off), ("near on", near)):
        engine.flag_text(train[0])
        seconds = cpu_seconds(lambda engine=engine: [engine.flag_text(t) for t in train])
        print(f"speed, {label}: {len(train):,} COLD train lines ({chars:,} chars) in {seconds:.2f} s CPU "
              f"= {len(train) / seconds:,.0f} lines/s, {chars / seconds / 1000:,.0f} k chars/s")
    if args.sweep:
        sweep(near)


if __name__ == "__main__":
    main()
