"""Originals that are no longer where they were taken in: found again by their SHA-256.

``run`` stores each original's absolute path (and its path relative to the input folder), so
``review`` and ``export`` work from any folder. When the recordings were moved (another disk,
another computer, a renamed folder), ``--recordings DIR`` names where they are now: each missing
original is looked up there, first at its old relative path and name, then among all regular
files of the same size, and accepted only when its bytes hash to the intake SHA-256. The new
place is written to the case as a 'relocate' custody event, so the move is on record and later
commands find the file without the option.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pipeline.display import printable
from pipeline.store import CaseStore

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Found:
    kind: str  # 录音 | 消息文件
    item_id: str
    old: str
    new: Path

    @property
    def line(self) -> str:
        return (f"{self.kind} {self.item_id} 不在原处（{printable(self.old)}），已按 SHA-256 找到：{printable(self.new)}"
                "（已记入保管记录）")


def _sha256(path: Path) -> str | None:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _regular_size(path: Path) -> int | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size if stat.S_ISREG(st.st_mode) else None  # never open a FIFO or a device


class RecordingFinder:
    """Looks files up by content under the given folders (walked once, hashed lazily, cached)."""

    def __init__(self, folders: Iterable[Path]) -> None:
        self.folders = [Path(f) for f in folders]
        self._by_size: dict[int, list[Path]] | None = None
        self._hashes: dict[Path, str | None] = {}

    def _hash(self, path: Path) -> str | None:
        if path not in self._hashes:
            self._hashes[path] = _sha256(path)
        return self._hashes[path]

    def _index(self) -> dict[int, list[Path]]:
        if self._by_size is None:
            self._by_size = {}
            for folder in self.folders:
                for root, _, files in os.walk(folder, followlinks=True):
                    for name in files:
                        path = Path(root) / name
                        size = _regular_size(path)
                        if size is not None:
                            self._by_size.setdefault(size, []).append(path)
        return self._by_size

    def find(self, sha256: str, size: int | None, *, rel: str | None = None, name: str | None = None) -> Path | None:
        guesses = [folder / r for folder in self.folders for r in (rel, name) if r]
        for path in guesses:
            if _regular_size(path) is not None and self._hash(path) == sha256:
                return path
        candidates = self._index().get(size, []) if size is not None else [p for ps in self._index().values() for p in ps]
        return next((p for p in candidates if self._hash(p) == sha256), None)


def _missing(paths: Iterable[str]) -> bool:
    return not any(Path(p).is_file() for p in paths)


def relocate_missing(store: CaseStore, folders: Iterable[Path]) -> tuple[list[Found], list[str]]:
    """Find every missing call recording and message file under ``folders`` and record where it is now.

    Returns (found, still missing: one line each).
    """
    finder = RecordingFinder(folders)
    found: list[Found] = []
    missing: list[str] = []
    for call in list(store.iter_calls()):
        if not _missing([call.source_path, *call.duplicate_paths]):
            continue
        path = finder.find(call.sha256, call.size, rel=call.source_rel, name=Path(call.source_path).name)
        if path is None:
            missing.append(f"录音 {call.id}（{printable(call.source_path)}）")
            continue
        store.upsert_call_intake(Path(os.path.abspath(path)), call.sha256)
        found.append(Found("录音", call.id, call.source_path, path))
    for source in store.message_sources():
        if not _missing([source.source_path, *source.duplicate_paths]):
            continue
        path = finder.find(source.sha256, source.size, name=Path(source.source_path).name)
        if path is None:
            missing.append(f"消息文件 {source.id}（{printable(source.source_path)}）")
            continue
        store.upsert_message_source(Path(os.path.abspath(path)), source.sha256)
        found.append(Found("消息文件", source.id, source.source_path, path))
    return found, missing


def missing_originals(store: CaseStore) -> list[str]:
    """One line per call recording whose file is not where it was taken in (for the hint to use --recordings)."""
    return [f"录音 {c.id}（{printable(c.source_path)}）" for c in store.iter_calls()
            if _missing([c.source_path, *c.duplicate_paths])]
