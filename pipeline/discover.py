"""Find the recordings in an input folder by content, not by extension."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pipeline.audio import is_audio

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


@dataclass
class Discovery:
    recordings: list[Path]  # audio by content, or named like audio (then probing reports why it fails)
    skipped: list[tuple[Path, str]]  # (path, Chinese reason) for every non-audio file seen
    companions: list[Path]


def _hidden(name: str) -> bool:
    return name.startswith(".") or name.lower() in SYSTEM_FILES


def discover(input_dir: Path) -> Discovery:
    recordings: list[Path] = []
    skipped: list[tuple[Path, str]] = []
    companions: list[Path] = []
    for root, dirs, files in os.walk(input_dir):
        dirs[:] = sorted(d for d in dirs if not _hidden(d) and d.lower() not in SYSTEM_DIRS)
        for name in sorted(files):
            if _hidden(name):
                continue
            path = Path(root) / name
            if name.lower() in COMPANION_FILES:
                companions.append(path)
            elif path.suffix.lower() == ".json" and any(
                (path.with_suffix(ext)).exists() for ext in (".oga", ".ogg", ".m4a", ".amr", ".flac", ".wav", ".mp3")
            ):
                companions.append(path)  # a BCR metadata sidecar next to its recording
            elif path.suffix.lower() in AUDIO_SUFFIXES or is_audio(path):
                recordings.append(path)
            else:
                skipped.append((path, "不是音频文件，已跳过 (not an audio file, skipped)"))
    return Discovery(recordings, skipped, companions)
