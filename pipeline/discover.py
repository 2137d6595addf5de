"""Find the recordings in an input folder by content, not by extension.

Only regular files are looked at: a FIFO would block the first read forever and a device
(``/dev/zero``) never ends, so they, sockets and broken links are skipped with their reason and
never opened. Symbolic links are followed (folders too, each real folder once, so a link loop
ends); a link whose target lies outside the input folder is listed in ``links_outside`` so the
run can say so and record it in the custody log.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.audio import is_audio
from pipeline.audio_errors import special_file_reason

SYSTEM_FILES = {"thumbs.db", "desktop.ini", ".ds_store", "icon\r"}
SYSTEM_DIRS = {"__macosx", "$recycle.bin", "system volume information", ".trashes", ".thumbnails"}
# Files the batch reads itself; they are inputs, not skipped recordings.
COMPANION_FILES = {"calls.csv", "messages.csv"}
# A file with one of these names that does not decode is a damaged recording (a failure with its
# reason), not a non-audio file to skip.
AUDIO_SUFFIXES = {
    ".mp3", ".m4a", ".amr", ".awb", ".3gp", ".3ga", ".wav", ".flac", ".ogg", ".oga", ".opus", ".aac",
    ".wma", ".mka", ".webm", ".aiff", ".aif", ".caf", ".mp4", ".spx",
}
NOT_AUDIO = "不是音频文件，已跳过 (not an audio file, skipped)"


@dataclass
class Discovery:
    recordings: list[Path]  # audio by content, or named like audio (then probing reports why it fails)
    skipped: list[tuple[Path, str]]  # (path, Chinese reason) for every non-audio file seen
    companions: list[Path]
    links_outside: dict[Path, Path] = field(default_factory=dict)  # path in the input folder -> real target outside


def _hidden(name: str) -> bool:
    return name.startswith(".") or name.lower() in SYSTEM_FILES


def not_regular_reason(path: Path) -> str | None:
    """Why ``path`` (links followed) is not a regular file to read, one line; None when it is one."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if path.is_symlink():
            return "符号链接指向的文件不存在，已跳过 (broken symbolic link, skipped)"
        return "文件不存在，已跳过 (file not found, skipped)"
    except OSError as exc:
        return f"无法读取文件信息（{exc.strerror}），已跳过 (cannot stat: {exc.strerror}, skipped)"
    special = special_file_reason(mode)
    return f"{special[0]}，已跳过，未读取 ({special[1]}: skipped, not read)" if special else None


def outside_target(path: Path, real_root: str) -> Path | None:
    """The real location of ``path`` when a link leads it outside ``real_root``; else None."""
    real = os.path.realpath(path)
    if real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep):
        return None
    return Path(real)


def _walk(input_dir: Path) -> list[tuple[Path, list[str]]]:
    """(folder, sorted file names) for every folder under ``input_dir``, links followed, loops cut."""
    seen: set[str] = set()
    out: list[tuple[Path, list[str]]] = []
    for root, dirs, files in os.walk(input_dir, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:  # reached again through a link (or a loop): already walked
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not _hidden(d) and d.lower() not in SYSTEM_DIRS)
        out.append((Path(root), sorted(files)))
    return out


def discover(input_dir: Path) -> Discovery:
    recordings: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    companions: list[Path] = []
    outside: dict[Path, Path] = {}
    real_root = os.path.realpath(input_dir)
    for root, files in _walk(input_dir):
        for name in files:
            if _hidden(name):
                continue
            path = root / name
            special = not_regular_reason(path)
            if special:
                skipped.append((path, special))
                continue
            target = outside_target(path, real_root)
            if name.lower() in COMPANION_FILES:
                companions.append(path)
            elif path.suffix.lower() == ".json" and any(
                (path.with_suffix(ext)).exists() for ext in (".oga", ".ogg", ".m4a", ".amr", ".flac", ".wav", ".mp3")
            ):
                companions.append(path)  # a BCR metadata sidecar next to its recording
            elif path.suffix.lower() in AUDIO_SUFFIXES or is_audio(path):
                recordings.append(path)
                if target is not None:
                    outside[path] = target
            else:
                skipped.append((path, NOT_AUDIO))
    return Discovery(recordings, skipped, companions, outside)
