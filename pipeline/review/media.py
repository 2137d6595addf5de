"""Audio for the review page: the original recording's bytes (read-only, HTTP Range for seeking), and
a decoded WAV copy for formats browsers cannot play (AMR, ...), on the same timeline.

Before its first byte is served, an original is checked against the SHA-256 taken at intake, so
the reviewer never listens to a file that changed since.
"""

from __future__ import annotations

import io
import mimetypes
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from pipeline.audio import decode, sha256_file

AUDIO_TYPES = {
    ".amr": "audio/amr", ".awb": "audio/amr-wb", ".m4a": "audio/mp4", ".mp4": "audio/mp4", ".aac": "audio/aac",
    ".3gp": "audio/3gpp", ".3gpp": "audio/3gpp", ".oga": "audio/ogg", ".ogg": "audio/ogg", ".opus": "audio/ogg",
    ".mp3": "audio/mpeg", ".wav": "audio/wav", ".flac": "audio/flac", ".webm": "audio/webm", ".wma": "audio/x-ms-wma",
}
DECODED_RATE = 16_000
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class RangeNotSatisfiable(ValueError):
    pass


class OriginalChanged(Exception):
    """The file at the call's path is not the one taken in (moved, edited, replaced)."""


def content_type(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    return AUDIO_TYPES.get(suffix) or mimetypes.guess_type(str(path))[0] or "application/octet-stream"


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte, inclusive, of a single ``bytes=`` range; None for the whole file.

    Several ranges, or a header that is not a byte range, get the whole file (allowed by RFC 9110).
    """
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # suffix: the last N bytes
        n = int(last)
        if n == 0:
            raise RangeNotSatisfiable(header)
        return max(0, size - n), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        raise RangeNotSatisfiable(header)
    return start, end


@dataclass(frozen=True)
class _Stamp:
    size: int
    mtime_ns: int


class MediaCache:
    """Verified originals and decoded copies, per call; thread-safe."""

    def __init__(self, max_decoded: int = 3) -> None:
        self._verified: dict[tuple[str, str], _Stamp] = {}
        self._decoded: dict[str, bytes] = {}
        self._max_decoded = max_decoded
        self._lock = threading.Lock()

    def original(self, path: str | Path, sha256: str) -> Path:
        """The original's path once its content hash matches ``sha256`` (checked again if it changes)."""
        path = Path(path)
        try:
            stat = path.stat()
        except OSError as exc:
            raise OriginalChanged(f"找不到原始录音（{exc.strerror}）：{path}") from exc
        stamp = _Stamp(stat.st_size, stat.st_mtime_ns)
        key = (str(path), sha256)
        with self._lock:
            if self._verified.get(key) == stamp:
                return path
        if sha256_file(path) != sha256:
            raise OriginalChanged(f"原始录音已被改动（SHA-256 与接收时不同）：{path}")
        with self._lock:
            self._verified[key] = stamp
        return path

    def decoded_wav(self, path: str | Path, sha256: str) -> bytes:
        """A 16-bit WAV of the original (all channels, 16 kHz), for browsers that cannot play it."""
        with self._lock:
            if sha256 in self._decoded:
                return self._decoded[sha256]
        audio = decode(self.original(path, sha256), sample_rate=DECODED_RATE)
        buffer = io.BytesIO()
        sf.write(buffer, audio.samples.T.clip(-1.0, 1.0), DECODED_RATE, subtype="PCM_16", format="WAV")
        data = buffer.getvalue()
        with self._lock:
            while len(self._decoded) >= self._max_decoded:
                self._decoded.pop(next(iter(self._decoded)))
            self._decoded[sha256] = data
        return data
