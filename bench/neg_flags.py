"""False positives of the detection tiers on *training* text: which hard negatives fire, by register and rule.

    python bench/neg_flags.py                         # neg.tsv + detect_dev testset, rules and both; counts only
    python bench/neg_flags.py --show 40               # also list up to 40 flagged negatives per mode
    python bench/neg_flags.py --positives             # also recall on data/detect/corpus/pos_*.tsv

Reads only data/detect/corpus/ and shared/data/detect_dev/testset.tsv (never the blind set): it is the
tool for tuning the rule pack and gates against false positives. Every line is read as the collector's
speech, as ``flag-text`` does.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import ROOT  # noqa: E402
from eval_detect import TESTSET, Row, read_tsv  # noqa: E402

from pipeline.detect import load_detector  # noqa: E402

CORPUS = ROOT / "data" / "detect" / "corpus"


def _rule_ids(flag) -> list[str]:  # type: ignore[no-untyped-def]
    return list(dict.fromkeys(flag.rules))


def negatives_report(detector, name: str, rows: list[Row], show: int) -> None:  # type: ignore[no-untyped-def]
    detector.prepare([r.text for r in rows])
    by_group: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_rule: Counter[str] = Counter()
    shown: list[str] = []
    flagged = 0
    for r in rows:
        flags = detector.flag_text(r.text, role="collector")
        by_group[r.group][1] += 1
        if not flags:
            continue
        flagged += 1
        by_group[r.group][0] += 1
        ids = sorted({i for f in flags for i in _rule_ids(f)})
        by_rule.update(ids)
        if len(shown) < show:
            shown.append(f"  [{r.group}] {r.text}  <- {', '.join(ids)}")
    print(f"{name} [{detector.mode}]: {flagged}/{len(rows)} negatives flagged ({flagged / max(1, len(rows)):.1%})")
    print("  by register: " + ", ".join(f"{g} {a}/{b}" for g, (a, b) in sorted(by_group.items())))
    print("  by rule: " + ", ".join(f"{k} {v}" for k, v in by_rule.most_common(25)))
    for s in shown:
        print(s)


def recall(detector, name: str, rows: list[Row]) -> None:  # type: ignore[no-untyped-def]
    detector.prepare([r.text for r in rows])
    caught = sum(bool({f.category for f in detector.flag_text(r.text, role="collector")} & r.gold) for r in rows)
    print(f"{name} [{detector.mode}]: recall {caught / max(1, len(rows)):.3f} ({caught}/{len(rows)})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--modes", default="rules,both")
    ap.add_argument("--show", type=int, default=0, help="list up to N flagged negatives per set and mode")
    ap.add_argument("--positives", action="store_true", help="also recall on corpus pos_*.tsv and the testset")
    ap.add_argument("--registers", default="", help="only these registers of neg.tsv (comma-separated)")
    args = ap.parse_args()
    neg = read_tsv(CORPUS / "neg.tsv", "labels", "register")
    if args.registers:
        keep = set(args.registers.split(","))
        neg = [r for r in neg if r.group in keep]
    test = read_tsv(TESTSET, "gold", "group")
    test_neg = [r for r in test if not r.gold]
    for mode in args.modes.split(","):
        detector = load_detector(mode)
        negatives_report(detector, "corpus/neg.tsv", neg, args.show)
        negatives_report(detector, "detect_dev/testset NEG", test_neg, args.show)
        if args.positives:
            for path in sorted(CORPUS.glob("pos_*.tsv")):
                recall(detector, f"corpus/{path.name}", [r for r in read_tsv(path, "labels", "register") if r.gold])
            recall(detector, "detect_dev/testset POS", [r for r in test if r.gold])


if __name__ == "__main__":
    main()
