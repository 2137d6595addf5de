"""Pieces several commands share: the case lock and the off-hours window option."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import time
from pathlib import Path

from filelock import FileLock, Timeout

from pipeline.errors import ConfigError

LOCK_NAME = ".callproof.lock"


@contextmanager
def exclusive_case(case_dir: Path) -> Iterator[None]:
    """Hold the case folder for this process; a second writer gets a clear ConfigError, not a wait."""
    case_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(case_dir / LOCK_NAME))
    try:
        lock.acquire(timeout=0)
    except Timeout as exc:
        raise ConfigError(
            f"{case_dir}: 另一个 callproof 正在处理这个案件目录，请等它结束 (another run is using this case folder)"
        ) from exc
    try:
        yield
    finally:
        lock.release()


def parse_window(window: str) -> tuple[time, time]:
    """'22:00-08:00' → (22:00, 08:00); the window may wrap midnight."""
    try:
        start, end = (time.fromisoformat(part.strip()) for part in window.split("-"))
    except ValueError as exc:
        raise ConfigError(f"--off-hours 应为 HH:MM-HH:MM (got {window!r})") from exc
    return start, end
