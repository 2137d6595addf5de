"""The trained model tier on disk: ``configs/detect/<name>.json`` (metadata) + ``<name>.npz`` (arrays).

The JSON records the encoders, categories, per-category thresholds and calibration, the corpus
SHA-256 and the SHA-256 of the npz, which is checked at load. The npz holds the feature scaling, the
classifier head (linear or one hidden layer), the hashed n-gram table (``bag``, optional,
``pipeline.detect.ngrams``) and the labelled corpus bank (float16 embeddings,
texts, labels) that the nearest-neighbour explanations are drawn from.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_ARTIFACT = PROJECT_ROOT / "configs" / "detect" / "detector.json"
NPZ_KEYS = ("mu", "sd", "bank_emb", "bank_labels", "bank_texts")  # + W, b (linear) or W1, b1, W2, b2 (mlp); bag


@dataclass
class Artifact:
    path: Path
    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]
    sha256: str  # of the metadata JSON, which itself records the npz's SHA-256

    @property
    def rule_id(self) -> str:
        return str(self.meta["rule_id"])

    @property
    def categories(self) -> list[str]:
        return list(self.meta["categories"])

    def info(self) -> dict[str, Any]:
        """Name, version and hashes: recorded in flags.json, summary.json and the pack manifest."""
        return {
            "name": self.rule_id, "version": str(self.meta["version"]), "sha256": self.sha256,
            "path": str(self.path), "npz_sha256": self.meta["npz_sha256"],
            "corpus_sha256": self.meta.get("corpus_sha256", ""), "encoders": self.meta["encoders"],
        }

    def logits(self, x: np.ndarray, texts: list[str] | None = None) -> np.ndarray:
        """Head output (before calibration) for embedding rows ``x`` of ``texts``.

        With an n-gram table (``bag``) the texts' hashed n-gram vectors join the standardised embedding.
        """
        z = (x - self.arrays["mu"]) / self.arrays["sd"]
        if "bag" in self.arrays:
            from pipeline.detect.ngrams import bag_features

            z = np.hstack([z, bag_features(list(texts or []), self.arrays["bag"])])
        if self.meta.get("head", "linear") == "mlp":
            h = np.maximum(z @ self.arrays["W1"] + self.arrays["b1"], 0.0)
            return h @ self.arrays["W2"] + self.arrays["b2"]
        return z @ self.arrays["W"] + self.arrays["b"]

    def probabilities(self, x: np.ndarray, texts: list[str] | None = None) -> np.ndarray:
        """Calibrated probability per category (Platt scaling fitted on held-out folds)."""
        a = np.asarray([self.meta["calibration"][c][0] for c in self.categories], dtype=np.float32)
        b = np.asarray([self.meta["calibration"][c][1] for c in self.categories], dtype=np.float32)
        return 1.0 / (1.0 + np.exp(-(self.logits(x, texts) * a + b)))

    def thresholds(self) -> np.ndarray:
        return np.asarray([self.meta["thresholds"][c] for c in self.categories], dtype=np.float32)


def _fail(path: Path, zh: str, en: str) -> ConfigError:
    return ConfigError(f"{path}: {zh} ({en})")


def load_artifact(path: Path | str = DEFAULT_ARTIFACT) -> Artifact:
    """Read and verify an artefact; a missing file or a hash mismatch raises a one-line ``ConfigError``."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        meta = json.loads(raw.decode("utf-8"))
    except OSError as exc:
        raise _fail(path, "找不到检测模型文件，请重新安装或运行 tools/train_detector.py",
                    "detector artefact missing: reinstall or run tools/train_detector.py") from exc
    except ValueError as exc:
        raise _fail(path, "检测模型元数据不是有效的 JSON", f"detector metadata is not valid JSON: {exc}") from exc
    npz_path = path.with_suffix(".npz")
    try:
        blob = npz_path.read_bytes()
    except OSError as exc:
        raise _fail(npz_path, "找不到检测模型权重文件", "detector weights missing") from exc
    digest = hashlib.sha256(blob).hexdigest()
    if digest != meta.get("npz_sha256"):
        raise _fail(npz_path, f"检测模型权重校验失败：SHA-256 {digest[:16]}… 与记录的 {str(meta.get('npz_sha256'))[:16]}… 不符",
                    "detector weights hash mismatch; reinstall or retrain")
    import io

    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    missing = [k for k in NPZ_KEYS if k not in arrays]
    if missing:
        raise _fail(npz_path, f"检测模型缺少数组 {missing}", "detector weights incomplete")
    for key in ("bank_emb", "bag"):
        if key in arrays:
            arrays[key] = arrays[key].astype(np.float32)
    return Artifact(path=path.resolve(), meta=meta, arrays=arrays, sha256=hashlib.sha256(raw).hexdigest())


def save_artifact(path: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> Artifact:
    """Write npz + JSON (the JSON gets the npz's SHA-256); used by tools/train_detector.py."""
    import io

    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    blob = buffer.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".npz").write_bytes(blob)
    meta = {**meta, "npz_sha256": hashlib.sha256(blob).hexdigest()}
    path.write_text(json.dumps(meta, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return load_artifact(path)
