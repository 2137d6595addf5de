"""A full disk during ``run``: recognise it (OSError ENOSPC/EDQUOT, SQLite's "disk is full") and say
in one line what could not be written, how much room is left and about how much the case needs.

Nothing is half-written when this happens: every store write is one transaction (rolled back),
and every output file is written to a temp file that is removed on failure before it would
replace the old one. The same command, run again with room, resumes where it stopped.
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
from pathlib import Path

from pipeline.display import printable

FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
SQLITE_FULL = 13
# What a case holds per minute of audio (segments, words, flags, the per-call outputs), measured on
# the demo calls (~0.25 MB/min), with room to spare; plus a fixed part (schema, index, WAL).
BYTES_PER_AUDIO_MINUTE = 400_000
BASE_BYTES = 2_000_000


def is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in FULL_ERRNOS
    if isinstance(exc, sqlite3.OperationalError):
        return getattr(exc, "sqlite_errorcode", None) == SQLITE_FULL or "disk is full" in str(exc)
    return False


def _case_audio_minutes(case_dir: Path) -> float | None:
    try:
        with sqlite3.connect(f"file:{case_dir / 'case.sqlite'}?mode=ro", uri=True, timeout=5) as conn:
            return float(conn.execute("SELECT COALESCE(SUM(duration), 0) FROM calls").fetchone()[0]) / 60
    except sqlite3.Error:
        return None


def _mb(n: float) -> str:
    return f"{n / 1e6:.1f} MB"


def disk_full_line(exc: BaseException, case_dir: Path) -> str:
    """One line (Chinese, then English) for a disk-full error met while writing the case."""
    target = Path(getattr(exc, "filename", None) or case_dir / "case.sqlite")
    try:
        free = shutil.disk_usage(case_dir if case_dir.exists() else case_dir.parent).free
    except OSError:
        free = None
    minutes = _case_audio_minutes(case_dir)
    needed = BASE_BYTES + BYTES_PER_AUDIO_MINUTE * minutes if minutes is not None else None
    room = f"该处剩余 {_mb(free)}" if free is not None else "剩余空间未知"
    need = (f"；这个案件（{minutes:.1f} 分钟录音）约需 {_mb(needed)}，请至少再腾出 {_mb(max(needed - (free or 0), 1e6))}"
            if needed is not None else "；请至少腾出 50 MB")
    return (f"磁盘空间不足：无法写入 {printable(target)}（{room}{need}）。已完成的通话都已保存，没有留下写了一半的文件；"
            f"腾出空间后重新运行同一命令即可接着处理 (disk full: cannot write {printable(target)}; "
            f"free {_mb(free) if free is not None else '?'}, needed about {_mb(needed) if needed else '?'})")
