"""Detection tiers on held-out text: line and per-category precision/recall, negatives flagged, speed.

    python bench/eval_detect.py                        # dev, both blind sets, detect_dev testset, COLD test, all modes
    python bench/eval_detect.py --sets testset --modes model
    python bench/eval_detect.py --calls                # + e2e flag recall on calls_dev (transcribes: slow)
    python bench/eval_detect.py --calls --case DIR     # e2e on a case already made from calls_dev

Every line is read as the collector's speech (as `flag-text` does). A positive line is caught when a
flag of one of its gold categories fires; line precision = caught lines / flagged lines (a positive
line flagged only with wrong categories counts against it); "negatives flagged" = share of NEG lines
with any conduct flag (severity ≥ 2: a severity-1 note on a true statement such as 逾期会上报征信 is not a
flag; flag-text lists it under "notes"). The dev set (data/detect/dev/dev.tsv) is the tuning set:
thresholds and the tier combination may be chosen on it, so its figures are optimistic. The blind sets (data/detect/blind/blind.tsv and blind_v2.tsv, two authors) are only read here, to
report: nothing in training or thresholds looks at them. COLD test: non-offensive rows flagged INSULT/OBSCENE (insult FPR)
and with any flag.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from common import CALLS_DEV, ROOT, SHARED, peak_rss_mb

from pipeline.detect import load_detector

BLIND = ROOT / "data" / "detect" / "blind" / "blind.tsv"
BLIND2 = ROOT / "data" / "detect" / "blind" / "blind_v2.tsv"  # a second author, frozen before model v5
DEV = ROOT / "data" / "detect" / "dev" / "dev.tsv"
TESTSET = SHARED / "detect_dev" / "testset.tsv"
COLD_TEST = SHARED / "text_zh" / "COLD" / "test.csv"
MODES = ("rules", "model", "both")
CONDUCT = 2  # a line counts as flagged by a conduct flag; severity-1 notes (a true 上报征信) are not flags (flag-text)


@dataclass
class Row:
    text: str
    gold: set[str]
    group: str = ""


@dataclass
class Result:
    lines: int = 0
    positives: int = 0
    caught: int = 0
    flagged: int = 0
    correct_flagged: int = 0
    negatives: int = 0
    neg_flagged: int = 0
    per_cat: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0, 0]))  # tp, fp, fn
    per_group: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))  # caught/flagged, lines

    def line(self) -> str:
        p = self.correct_flagged / self.flagged if self.flagged else 0.0
        r = self.caught / self.positives if self.positives else 0.0
        neg = self.neg_flagged / self.negatives if self.negatives else 0.0
        return (f"line recall {r:.3f} ({self.caught}/{self.positives}), line precision {p:.3f} "
                f"({self.correct_flagged}/{self.flagged}), negatives flagged {neg:.1%} ({self.neg_flagged}/{self.negatives})")


def read_tsv(path: Path, label_col: str, group_col: str) -> list[Row]:
    with open(path, encoding="utf-8", newline="") as fh:
        lines = [ln for ln in fh.read().splitlines() if ln.strip()]
    header = lines[0].lstrip("# ").split("\t")
    header = [h.split()[0] for h in header]
    rows = []
    for ln in lines[1:]:
        cells = dict(zip(header, ln.split("\t"), strict=False))
        gold = {c.strip() for c in (cells.get(label_col) or "").split(",")} - {"NEG", "-", ""}
        rows.append(Row(cells["text"], gold, cells.get(group_col, "")))
    return rows


def read_cold(limit: int) -> list[Row]:
    with open(COLD_TEST, encoding="utf-8-sig", newline="") as fh:
        rows = [Row(r["TEXT"], set(), "cold") for r in csv.DictReader(fh) if r["label"] == "0"]
    return rows[:limit] if limit else rows


def evaluate(detector, rows: list[Row]) -> Result:  # type: ignore[no-untyped-def]
    detector.prepare([r.text for r in rows])
    res = Result()
    for r in rows:
        cats = {f.category for f in detector.flag_text(r.text, role="collector") if f.severity >= CONDUCT}
        res.lines += 1
        group = res.per_group[r.group]
        group[1] += 1
        if r.gold:
            res.positives += 1
            hit = bool(cats & r.gold)
            res.caught += hit
            group[0] += hit
        else:
            res.negatives += 1
            res.neg_flagged += bool(cats)
            group[0] += bool(cats)
        if cats:
            res.flagged += 1
            res.correct_flagged += bool(cats & r.gold)
        for c in cats | r.gold:
            tp_fp_fn = res.per_cat[c]
            if c in cats and c in r.gold:
                tp_fp_fn[0] += 1
            elif c in cats:
                tp_fp_fn[1] += 1
            else:
                tp_fp_fn[2] += 1
    return res


def category_table(results: dict[str, Result]) -> str:
    cats = sorted({c for res in results.values() for c in res.per_cat})
    head = "| category | " + " | ".join(f"{m} P | {m} R" for m in results) + " |"
    out = [head, "|" + "---|" * (1 + 2 * len(results))]
    for c in cats:
        cells = []
        for res in results.values():
            tp, fp, fn = res.per_cat.get(c, [0, 0, 0])
            cells += [f"{tp / (tp + fp):.2f}" if tp + fp else "–", f"{tp / (tp + fn):.2f}" if tp + fn else "–"]
        out.append(f"| {c} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def insult_fpr(detector, rows: list[Row]) -> str:  # type: ignore[no-untyped-def]
    detector.prepare([r.text for r in rows])
    insult = anyflag = 0
    for r in rows:
        cats = {f.category for f in detector.flag_text(r.text, role="collector") if f.severity >= CONDUCT}
        insult += bool(cats & {"INSULT", "OBSCENE"})
        anyflag += bool(cats)
    n = max(len(rows), 1)
    return f"insult/obscene FPR {insult / n:.1%} ({insult}/{len(rows)}), any-category FPR {anyflag / n:.1%}"


def speed(detector, texts: list[str]) -> str:  # type: ignore[no-untyped-def]
    """flag-text's work on a batch of fresh texts (empty caches), and again (all cached).

    Reported per text and per sentence (the model tier's units: a text's sentences, long ones cut into
    clauses or windows), since a COLD comment holds about two sentences and a call segment about one.
    """
    from pipeline.detect.units import split_units

    if detector.model is not None:
        detector.model.clear_caches()
    sentences = sum(len(split_units(t)) for t in texts)
    t0 = time.perf_counter()
    detector.prepare(texts)
    for t in texts:
        json.dumps([f.compact() for f in detector.flag_text(t)], ensure_ascii=False)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    for t in texts:
        detector.flag_text(t)
    warm = time.perf_counter() - t0
    chars = sum(map(len, texts)) / max(len(texts), 1)
    return (f"{len(texts)} texts ({chars:.0f} chars, {sentences / max(len(texts), 1):.2f} sentences each): "
            f"{len(texts) / cold:.0f} texts/s = {sentences / cold:.0f} sentences/s new, "
            f"{len(texts) / warm:.0f} texts/s repeated (cached); machine load {os.getloadavg()[0]:.1f}")


def e2e_calls(case: Path | None, modes: list[str]) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    from eval_calls import score, version_of

    with tempfile.TemporaryDirectory() as tmp:
        case = case or Path(tmp) / "case"
        if not (case / "calls").is_dir():
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "cli.py", "run", str(CALLS_DEV), "-o", str(case), "--detect", "rules"],
                           cwd=ROOT, check=True, capture_output=True)
            print(f"calls_dev transcribed in {time.perf_counter() - t0:.0f} s")
        for mode in modes:
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "cli.py", "run", str(CALLS_DEV), "-o", str(case), "--reflag", "--detect", mode],
                           cwd=ROOT, check=True, capture_output=True)
            took = time.perf_counter() - t0
            totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
            for flags_json in sorted(case.glob("calls/*/flags.json")):
                doc = json.loads(flags_json.read_text(encoding="utf-8"))
                truth = json.loads(Path(doc["source"]["path"]).with_suffix(".truth.json").read_text(encoding="utf-8"))
                flags = [f for f in doc["flags"] if f["level"] == "segment" and (f["severity"] or 0) >= 2]
                version = version_of(Path(doc["source"]["path"]).name)
                totals[version] = [a + b for a, b in zip(totals[version], score(truth, flags), strict=True)]
            parts = [f"{v}: recall {f}/{e}, false flags {x}/{n}" for v, (f, e, x, n) in sorted(totals.items())]
            print(f"  e2e calls_dev --detect {mode} (reflag {took:.0f} s): " + "; ".join(parts))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", default="dev,blind,blind2,testset,cold")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--cold-limit", type=int, default=1000, help="COLD test non-offensive rows (0 = all)")
    ap.add_argument("--calls", action="store_true", help="also e2e flag recall on calls_dev (runs the pipeline)")
    ap.add_argument("--case", type=Path)
    ap.add_argument("--no-speed", action="store_true")
    args = ap.parse_args()
    modes = args.modes.split(",")
    sets = args.sets.split(",")

    rss0 = peak_rss_mb()
    t0 = time.perf_counter()
    detectors = {"rules": load_detector("rules")}
    t_rules = time.perf_counter() - t0
    rss_rules = peak_rss_mb()
    t0 = time.perf_counter()
    detectors["both"] = load_detector("both")
    t_model = time.perf_counter() - t0
    detectors["model"] = load_detector("model")
    info = detectors["both"].info()["model"]
    print(f"model {info['name']} (sha256 {info['sha256'][:12]}, encoders {[e['name'] for e in info['encoders']]}); "
          f"start-up: rules {t_rules:.2f} s, model tier +{t_model:.2f} s; peak RSS {rss0:.0f} → {rss_rules:.0f} (rules) "
          f"→ {peak_rss_mb():.0f} MB (model)")

    data = {}
    if "dev" in sets and DEV.is_file():
        data["dev"] = read_tsv(DEV, "labels", "register")
    if "blind" in sets and BLIND.is_file():
        data["blind"] = read_tsv(BLIND, "labels", "register")
    if "blind2" in sets and BLIND2.is_file():
        data["blind2"] = read_tsv(BLIND2, "labels", "register")
    if "testset" in sets:
        data["testset"] = read_tsv(TESTSET, "gold", "group")
    for name, rows in data.items():
        results = {m: evaluate(detectors[m], rows) for m in modes}
        print(f"\n## {name} ({len(rows)} lines)")
        for m, res in results.items():
            print(f"  {m:5s}: {res.line()}")
        print(category_table(results))
        groups = sorted({g for res in results.values() for g in res.per_group})
        print("  per register (positives: caught/lines; negatives: flagged/lines): " + "; ".join(
            f"{g} " + "/".join(f"{results[m].per_group[g][0]}" for m in modes) + f" of {results[modes[0]].per_group[g][1]}"
            for g in groups) + f"  [{'/'.join(modes)}]")
    if "cold" in sets:
        rows = read_cold(args.cold_limit)
        print(f"\n## COLD test non-offensive rows ({len(rows)})")
        for m in modes:
            print(f"  {m:5s}: {insult_fpr(detectors[m], rows)}")
    if not args.no_speed:
        texts = [r.text for r in read_cold(0)[-1000:]]
        print("\n## speed (flag-text work, both tiers)")
        print("  both: " + speed(detectors["both"], texts))
        print("  both, encoder on 1 thread (as in run beside ASR workers): "
              + speed(load_detector("both", threads=1), texts))
        print("  rules: " + speed(detectors["rules"], texts))
    if args.calls:
        print("\n## e2e calls_dev (severity ≥ 2 flags on the right turn)")
        e2e_calls(args.case, modes)


if __name__ == "__main__":
    main()
