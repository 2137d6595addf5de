"""Train the model tier (dev-time): corpus → augmentation → embeddings → head → calibration → artefact.

    .venv/bin/python tools/train_detector.py                       # use + n-grams, MLP head → configs/detect/detector.json
    .venv/bin/python tools/train_detector.py --encoders e5 --head linear --out /tmp/x.json
    .venv/bin/python tools/train_detector.py --cv-only             # cross-validated figures, no artefact

Reads data/detect/corpus/*.tsv and shared/data/detect_dev/exemplars.yaml (never data/detect/blind/ nor
detect_dev/testset.tsv). Folds are by source line, made before augmentation, so the phone-line copies of
a line (tools/detect_augment.py) stay in its fold. Out-of-fold scores of the original lines give the
Platt calibration and per-category thresholds (precision ≥ --precision, hard-negative rate ≤
--max-neg-rate); the shipped head is then trained on every line. Deterministic for a given --seed.
Embeddings are cached per encoder in the user cache (CALLPROOF_CACHE) so retraining is quick.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import sys
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

from detect_augment import Confuser, augment  # noqa: E402
from detect_head import choose_threshold, head_logits, platt, train_head  # noqa: E402
from detect_torch_head import TorchHead  # noqa: E402

from pipeline.detect.artifact import DEFAULT_ARTIFACT, save_artifact  # noqa: E402
from pipeline.detect.encoder import load_encoders  # noqa: E402

CORPUS = ROOT / "data" / "detect" / "corpus"
EXEMPLARS = ROOT.parent / "shared" / "data" / "detect_dev" / "exemplars.yaml"
COLD = ROOT.parent / "shared" / "data" / "text_zh" / "COLD"
CATEGORIES = ["CONTACTS_BLAST", "THIRD_PARTY_CONTACT", "THIRD_PARTY_DISCLOSURE", "VIOLENCE_THREAT", "HOME_WORK_VISIT",
              "FALSE_LEGAL", "IMPERSONATION", "INSULT", "OBSCENE", "EXPOSURE", "FORCED_BORROW"]
HARD_NEG = {"compliant", "negated", "hypothetical", "borrower", "retelling", "everyday", "service", "guarantor"}


def read_corpus(with_exemplars: bool = True, cold_negatives: int = 0) -> list[dict]:
    rows: list[dict] = []
    for path in sorted(CORPUS.glob("*.tsv")):
        with open(path, encoding="utf-8", newline="") as fh:
            for r in csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
                text, labels = (r.get("text") or "").strip(), (r.get("labels") or "").strip()
                if not text or not labels:
                    continue
                codes = [c.strip() for c in labels.split(",") if c.strip() in CATEGORIES]
                if labels != "NEG" and not codes:
                    continue
                rows.append({"text": text, "labels": codes, "register": (r.get("register") or "").strip(),
                             "source": f"{path.name}:{(r.get('source') or '').strip()}"})
    if with_exemplars:
        data = yaml.safe_load(EXEMPLARS.read_text(encoding="utf-8"))
        for code, items in data.items():
            for text in items:
                rows.append({"text": text.strip(), "labels": [] if code == "NEG" else [code],
                             "register": "everyday" if code == "NEG" else "exemplar", "source": "detect_dev/exemplars"})
    if cold_negatives:
        with open(COLD / "train.csv", encoding="utf-8-sig", newline="") as fh:
            cold = [r["TEXT"] for r in csv.DictReader(fh) if r["label"] == "0" and len(r["TEXT"]) <= 60]
        random.Random(7).shuffle(cold)
        rows += [{"text": t, "labels": [], "register": "cold", "source": "COLD/train"} for t in cold[:cold_negatives]]
    merged: dict[str, dict] = {}
    for r in rows:  # one row per text; labels of duplicates are united (a positive wins over NEG)
        if r["text"] in merged:
            merged[r["text"]]["labels"] = sorted(set(merged[r["text"]]["labels"]) | set(r["labels"]))
        else:
            merged[r["text"]] = r
    return list(merged.values())


def corpus_sha256() -> str:
    digest = hashlib.sha256()
    for path in sorted(CORPUS.glob("*.tsv")) + [EXEMPLARS]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


class EmbeddingCache:
    """Text → embedding per encoder, persisted between training runs."""

    def __init__(self, encoders: list, folder: Path) -> None:
        self.encoders = encoders
        self.folder = folder
        self.maps: list[dict[str, np.ndarray]] = []
        for enc in encoders:
            path = folder / f"{enc.spec.key}-{enc.spec.sha256[:12]}.npz"
            found: dict[str, np.ndarray] = {}
            if path.is_file():
                with np.load(path, allow_pickle=False) as z:
                    found = dict(zip((str(t) for t in z["texts"]), z["emb"], strict=True))
            self.maps.append(found)

    def get(self, texts: list[str]) -> np.ndarray:
        out = []
        for enc, cache in zip(self.encoders, self.maps, strict=True):
            missing = list(dict.fromkeys(t for t in texts if t not in cache))
            started = time.perf_counter()
            for i in range(0, len(missing), 512):
                batch = missing[i : i + 512]
                for t, row in zip(batch, enc.encode(batch), strict=True):
                    cache[t] = row.astype(np.float16)
                if i and i % 4096 == 0:  # keep what is done if the run is stopped
                    self.save(enc, cache)
            if missing:
                print(f"  embedded {len(missing)} new texts with {enc.spec.key} in {time.perf_counter() - started:.0f} s",
                      flush=True)
                self.save(enc, cache)
            out.append(np.stack([cache[t] for t in texts]).astype(np.float32))
        return np.hstack(out)

    def save(self, enc, cache: dict[str, np.ndarray]) -> None:  # type: ignore[no-untyped-def]
        self.folder.mkdir(parents=True, exist_ok=True)
        texts = list(cache)
        np.savez(self.folder / f"{enc.spec.key}-{enc.spec.sha256[:12]}.npz", texts=np.array(texts),
                 emb=np.stack([cache[t] for t in texts]))


def fold_of(text: str, k: int, seed: int) -> int:
    return zlib.crc32(f"{seed}:{text}".encode()) % k


def label_matrix(rows: list[dict]) -> np.ndarray:
    return np.array([[c in r["labels"] for c in CATEGORIES] for r in rows], dtype=np.float32)


def build_training(rows: list[dict], confuser: Confuser, seed: int, copies: int) -> tuple[list[str], list[int]]:
    """Texts for training and, for each, the index of its source row (augmented copies share it)."""
    rng = random.Random(seed)
    neutrals = [r["text"] for r in rows if not r["labels"] and r["register"] in ("everyday", "service", "compliant")]
    texts, owners = [], []
    for i, r in enumerate(rows):
        texts.append(r["text"])
        owners.append(i)
        if copies:
            for t in augment(r["text"], neutrals or ["好的"], confuser, rng, copies):
                texts.append(t)
                owners.append(i)
    return texts, owners


def line_metrics(p: np.ndarray, y: np.ndarray, thr: np.ndarray, hard: np.ndarray) -> dict:
    pred = p >= thr
    pos_lines = y.any(1)
    flagged = pred.any(1)
    correct = (pred & (y > 0)).any(1)
    tp = int((flagged & pos_lines & correct).sum())
    fp = int((flagged & ~(pos_lines & correct)).sum())
    out = {"line_recall": round(tp / max(int(pos_lines.sum()), 1), 3), "line_precision": round(tp / max(tp + fp, 1), 3),
           "hard_neg_flagged": round(float((flagged & hard).sum() / max(int(hard.sum()), 1)), 4), "per_category": {}}
    for j, c in enumerate(CATEGORIES):
        tp_c = int((pred[:, j] & (y[:, j] > 0)).sum())
        fp_c = int((pred[:, j] & (y[:, j] == 0)).sum())
        out["per_category"][c] = {"precision": round(tp_c / max(tp_c + fp_c, 1), 3),
                                  "recall": round(tp_c / max(int(y[:, j].sum()), 1), 3), "positives": int(y[:, j].sum())}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encoders", default="use", help="comma-separated: e5, use (default use)")
    ap.add_argument("--head", choices=("linear", "mlp"), default="mlp")
    ap.add_argument("--hidden", type=int, default=512, help="MLP hidden units")
    ap.add_argument("--ngram-dim", type=int, default=32, help="hashed char/pinyin n-gram vector size (0 = none; mlp only)")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--no-augment", action="store_true")
    ap.add_argument("--copies", type=int, default=1, choices=(1, 2), help="phone-line copies per line")
    ap.add_argument("--cold-negatives", type=int, default=0, help="add this many COLD non-offensive rows as negatives")
    ap.add_argument("--precision", type=float, default=0.92)
    ap.add_argument("--max-neg-rate", type=float, default=0.004, help="per category, share of hard negatives above threshold")
    ap.add_argument("--l2", type=float, default=1e-3)
    ap.add_argument("--epochs", type=int, default=0, help="default: 25 (mlp, minibatch) or 300 (linear, full batch)")
    ap.add_argument("--version", default="1")
    ap.add_argument("--out", type=Path, default=DEFAULT_ARTIFACT)
    ap.add_argument("--cv-only", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    args.epochs = args.epochs or (25 if args.head == "mlp" else 300)
    np.random.seed(args.seed)
    started = time.perf_counter()

    rows = read_corpus(cold_negatives=args.cold_negatives)
    y_rows = label_matrix(rows)
    hard = np.array([not r["labels"] and r["register"] in HARD_NEG for r in rows])
    print(f"corpus: {len(rows)} lines, {int(y_rows.any(1).sum())} positive, {int((~y_rows.any(1)).sum())} NEG "
          f"({int(hard.sum())} hard negatives); per category {dict(zip(CATEGORIES, y_rows.sum(0).astype(int).tolist(), strict=True))}")
    from pipeline.asr.models import cache_root

    encoders = load_encoders(args.encoders.split(","), threads=args.threads)
    cache = EmbeddingCache(encoders, cache_root().parent / "detect-train")
    common = [r["text"] for r in rows]
    with open(COLD / "train.csv", encoding="utf-8-sig", newline="") as fh:
        common += [r["TEXT"] for r in csv.DictReader(fh)]
    confuser = Confuser(common)
    texts, owners = build_training(rows, confuser, args.seed, copies=0 if args.no_augment else args.copies)
    owners_a = np.array(owners)
    print(f"training texts with augmentation: {len(texts)}", flush=True)
    x = cache.get(texts)
    y = y_rows[owners_a]
    is_orig = np.r_[True, owners_a[1:] != owners_a[:-1]]
    folds = np.array([fold_of(r["text"], args.folds, args.seed) for r in rows])

    torch_head = dict(hidden=args.hidden, bag_dim=args.ngram_dim, epochs=args.epochs, seed=args.seed)
    grams = TorchHead(**torch_head).grams(texts) if args.head == "mlp" else []

    def fit(sel: np.ndarray) -> tuple[dict | TorchHead, np.ndarray, np.ndarray]:
        mu, sd = x[sel].mean(0), x[sel].std(0) + 1e-4
        if args.head == "mlp":
            return TorchHead(**torch_head).fit((x - mu) / sd, y, grams, np.where(sel)[0]), mu, sd
        params = train_head((x[sel] - mu) / sd, y[sel], kind=args.head, l2=args.l2, epochs=args.epochs, seed=args.seed)
        return params, mu, sd

    def predict(head: dict | TorchHead, mu: np.ndarray, sd: np.ndarray, idx: np.ndarray) -> np.ndarray:
        if isinstance(head, TorchHead):
            return head.logits((x - mu) / sd, grams, idx)
        return head_logits(head, (x[idx] - mu) / sd)

    oof = np.zeros((len(rows), len(CATEGORIES)), np.float32)
    oof_aug: list[tuple[int, np.ndarray]] = []
    for k in range(args.folds):
        train_sel = folds[owners_a] != k
        head, mu, sd = fit(train_sel)
        held = np.where(~train_sel)[0]
        logits = predict(head, mu, sd, held)
        for idx, row in zip(held, logits, strict=True):
            if is_orig[idx]:
                oof[owners_a[idx]] = row
            else:
                oof_aug.append((owners_a[idx], row))
        print(f"  fold {k + 1}/{args.folds} done ({time.perf_counter() - started:.0f} s)", flush=True)

    calibration = {c: platt(oof[:, j], y_rows[:, j]) for j, c in enumerate(CATEGORIES)}
    a = np.array([calibration[c][0] for c in CATEGORIES])
    b = np.array([calibration[c][1] for c in CATEGORIES])
    prob = 1 / (1 + np.exp(-(oof * a + b)))
    thresholds = {c: choose_threshold(prob[:, j], y_rows[:, j] > 0, hard, precision=args.precision,
                                      max_neg_rate=args.max_neg_rate) for j, c in enumerate(CATEGORIES)}
    thr = np.array([thresholds[c] for c in CATEGORIES])
    cv = line_metrics(prob, y_rows, thr, hard)
    aug_rows = np.array([o for o, _ in oof_aug])
    aug_prob = 1 / (1 + np.exp(-(np.array([r for _, r in oof_aug]) * a + b))) if oof_aug else np.zeros((0, len(CATEGORIES)))
    cv_aug = line_metrics(aug_prob, y_rows[aug_rows], thr, hard[aug_rows]) if oof_aug else {}

    # nearest user-example similarity: lowest cosine at which a line's nearest other line (other fold)
    # carries one of its categories at least 95% of the time
    bank = x[is_orig] / np.linalg.norm(x[is_orig], axis=1, keepdims=True)
    sims = bank @ bank.T
    sims[folds[:, None] == folds[None, :]] = -1
    nn = sims.argmax(1)
    nn_sim = sims[np.arange(len(rows)), nn]
    nn_pos = y_rows[nn].any(1)
    agree = (y_rows[nn] * y_rows).sum(1) > 0
    order = np.argsort(-nn_sim[nn_pos])
    ok = np.cumsum(agree[nn_pos][order]) / np.arange(1, int(nn_pos.sum()) + 1)
    good = np.where(ok >= 0.95)[0]
    example_similarity = float(np.clip(nn_sim[nn_pos][order][good.max()] if len(good) else 0.95, 0.85, 0.98))

    print(json.dumps({"cv": cv, "cv_augmented_copies": {k: v for k, v in cv_aug.items() if k != "per_category"},
                      "thresholds": thresholds, "example_similarity": example_similarity}, ensure_ascii=False, indent=1))
    if args.cv_only:
        return
    head, mu, sd = fit(np.ones(len(texts), bool))
    params = head.params() if isinstance(head, TorchHead) else head
    arrays = {"mu": mu.astype(np.float32), "sd": sd.astype(np.float32),
              **{k: v if k == "bag" else v.astype(np.float32) for k, v in params.items()},
              "bank_emb": x[is_orig].astype(np.float16), "bank_labels": y_rows.astype(np.uint8),
              "bank_texts": np.array([r["text"] for r in rows])}
    name = "+".join(e.spec.key for e in encoders)
    meta = {
        "schema": "callproof.detector/1", "rule_id": f"model.{name}.v{args.version}", "version": args.version,
        "encoders": [e.spec.key for e in encoders], "encoder_info": [e.spec.info() for e in encoders],
        "head": args.head, "ngram_buckets": int(params["bag"].shape[0]) if "bag" in params else 0,
        "categories": CATEGORIES, "thresholds": thresholds,
        "calibration": {c: [round(v, 5) for v in calibration[c]] for c in CATEGORIES},
        "example_similarity": round(example_similarity, 4),
        "corpus_sha256": corpus_sha256(), "corpus_lines": len(rows), "training_texts": len(texts),
        "trained": datetime.now(UTC).isoformat(timespec="seconds"),
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "cv": cv, "cv_augmented_copies": {k: v for k, v in cv_aug.items() if k != "per_category"},
    }
    art = save_artifact(args.out, meta, arrays)
    size = args.out.with_suffix(".npz").stat().st_size
    print(f"wrote {args.out} (+ .npz {size / 1e6:.1f} MB, sha256 {art.sha256[:16]}…) in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
