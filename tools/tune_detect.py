"""Choose how the two tiers combine, on the dev set only (dev-time), and record it in the artefact.

    .venv/bin/python tools/tune_detect.py            # print the table, write the choice into detector.json
    .venv/bin/python tools/tune_detect.py --dry-run  # print only

In mode ``both`` a rule's conduct flag is dropped when the model tier gives every category of the
sentence a probability below ``rule_veto`` (the model saw no misconduct there at all: a retelling, a
borrower's question, a true statement the rules caught by their words). The value is the
candidate flagging the fewest dev negatives while its line recall stays within ``--max-recall-loss``
of no veto (ties: the better recall, then the larger veto); it is written to
``combine`` in configs/detect/detector.json with the dev set's SHA-256. Reads data/detect/dev/dev.tsv
only: never the blind set (data/detect/blind/) nor shared/data/detect_dev/testset.tsv.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from eval_detect import DEV, evaluate, read_tsv  # noqa: E402

from pipeline.detect import load_detector  # noqa: E402
from pipeline.detect.artifact import DEFAULT_ARTIFACT, load_artifact  # noqa: E402

CANDIDATES = (0.0, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--artifact", type=Path, default=DEFAULT_ARTIFACT)
    ap.add_argument("--max-recall-loss", type=float, default=0.01, help="dev line recall the veto may cost")
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()

    rows = read_tsv(DEV, "labels", "register")
    detector = load_detector("both", artifact=args.artifact)
    meta = detector.model.artifact.meta
    saved = meta.get("combine")
    table = []
    for veto in CANDIDATES:
        meta["combine"] = {"rule_veto": veto}
        res = evaluate(detector, rows)
        recall = res.caught / max(res.positives, 1)
        table.append((veto, recall, res))
        print(f"rule_veto {veto:.2f}: {res.line()}")
    meta["combine"] = saved
    base = table[0][1]
    # fewest negatives flagged within the recall budget; then the best recall; then the largest veto
    # of that plateau (the same dev figures, more room against rule hits the model sees nothing in)
    allowed = [(v, r, res) for v, r, res in table if r >= base - args.max_recall_loss]
    chosen = min(allowed, key=lambda t: (t[2].neg_flagged, -t[1], -t[0]))[0]
    res = next(res for v, _, res in table if v == chosen)
    print(f"chosen rule_veto {chosen:.2f} ({res.line()})")
    if args.dry_run:
        return
    path = Path(args.artifact)
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["combine"] = {
        "rule_veto": chosen, "chosen_on": str(DEV.relative_to(ROOT)),
        "dev_sha256": hashlib.sha256(DEV.read_bytes()).hexdigest(),
        "max_recall_loss": args.max_recall_loss,
        "dev": {"line_recall": round(res.caught / max(res.positives, 1), 3),
                "line_precision": round(res.correct_flagged / max(res.flagged, 1), 3),
                "negatives_flagged": round(res.neg_flagged / max(res.negatives, 1), 4)},
    }
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote combine to {path} (sha256 {load_artifact(path).sha256[:16]}…)")


if __name__ == "__main__":
    main()
