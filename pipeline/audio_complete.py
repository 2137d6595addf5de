"""Is a decoded recording whole? What the file's own structure says about a recording cut short.

A recorder killed mid-call (battery, crash, full storage) leaves a file that still decodes up to
the cut. FFmpeg reads such a file quietly, so the decoder's counts (``pipeline.audio``) are
combined here with what each container states about itself:

* a header that states a duration (MP3 Xing/Info, FLAC, MP4) longer than what decoded;
* a read that failed part-way (an MP4 cut after its index);
* WAV: the ``data`` chunk's stated size is larger than the bytes present, or was never written;
* AMR: the last frame is cut in the middle (each frame's size is fixed by its header byte);
* Ogg (Opus/Vorbis/Speex): the last page is cut, or no page ends the stream (EOS flag).

The result is a ``Damage`` (or None for a whole file) stored with the transcript and shown as
完成（录音不完整） with how much was decoded. A file cut exactly between two frames of a format
without a stated length cannot be told from a shorter recording.
"""

from __future__ import annotations

import struct
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# Bytes per frame, header byte included, by frame type (FFmpeg libavformat/amr.c).
_AMR_NB = (13, 14, 16, 18, 20, 21, 27, 32, 6, 1, 1, 1, 1, 1, 1, 1)
_AMR_WB = (18, 24, 33, 37, 41, 47, 51, 59, 61, 6, 1, 1, 1, 1, 1, 1)
_AMR_FRAME_SECONDS = 0.02
_UNSET_SIZES = (0, 0xFFFFFFFF)

LABELS = {"truncated": "录音不完整", "corrupt": "录音有损坏"}


@dataclass(frozen=True)
class Damage:
    """Why a recording that decoded is not whole; ``kind`` truncated | corrupt."""

    kind: str
    decoded_seconds: float
    expected_seconds: float | None  # what the file says it should hold, when it says
    decode_errors: int
    reason_zh: str
    reason_en: str

    @property
    def label(self) -> str:
        """完成（录音不完整） / 完成（录音有损坏）: the status shown for such a call."""
        return f"完成（{LABELS[self.kind]}）"

    @property
    def summary(self) -> str:
        """完成（录音不完整）：<why, how much decoded> — one line for pages and packs."""
        return f"{self.label}：{self.reason_zh.split('：', 1)[-1]}"

    @property
    def line(self) -> str:
        return f"{self.reason_zh} ({self.reason_en})"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Damage | None:
        return cls(**data) if data else None


def _share(decoded: float, expected: float) -> str:
    return f"{min(99, int(100 * decoded / expected))}%" if expected > 0 else "?"


def structural_cut(path: Path, container: str) -> tuple[float | None, str, str] | None:
    """(stated seconds or None, 中文, English) when the container's structure shows a cut; else None."""
    name = container.split(",")[0]
    try:
        if name == "wav":
            return _wav_cut(path)
        if name in ("amr", "amrnb", "amrwb"):
            return _amr_cut(path)
        if name == "ogg":
            return _ogg_cut(path)
    except OSError:
        return None
    return None


def assess(path: Path, container: str, stated_seconds: float, decoded_seconds: float,
           decode_errors: int, read_failed: bool) -> Damage | None:
    """The Damage of a decoded file, or None when nothing shows it is incomplete or damaged."""
    got = round(decoded_seconds, 2)
    short = decoded_seconds < stated_seconds - max(0.5, 0.02 * stated_seconds)
    if short:
        exp = round(stated_seconds, 2)
        return Damage("truncated", got, exp, decode_errors,
                      f"录音不完整：文件头标明 {exp:.1f} 秒，只解码出 {got:.1f} 秒（{_share(got, exp)}）",
                      f"incomplete: header states {exp:.1f} s, {got:.1f} s decoded")
    cut = structural_cut(path, container)
    if cut is not None:
        exp, zh, en = cut
        share = f"，文件头标明 {exp:.1f} 秒（{_share(got, exp)}）" if exp else ""
        return Damage("truncated", got, round(exp, 2) if exp else None, decode_errors,
                      f"录音不完整：{zh}，已解码 {got:.1f} 秒{share}", f"incomplete: {en}; {got:.1f} s decoded")
    if read_failed:
        return Damage("truncated", got, None, decode_errors,
                      f"录音不完整：读到 {got:.1f} 秒处中断，后面的数据缺失或损坏",
                      f"incomplete: reading stopped at {got:.1f} s")
    if decode_errors:
        return Damage("corrupt", got, None, decode_errors,
                      f"录音有损坏：{decode_errors} 处数据无法解码，已跳过；已解码 {got:.1f} 秒",
                      f"damaged: {decode_errors} undecodable packet(s) skipped; {got:.1f} s decoded")
    return None


# --- per container ---------------------------------------------------------------------------


def _wav_cut(path: Path) -> tuple[float | None, str, str] | None:
    size = path.stat().st_size
    with open(path, "rb") as handle:
        head = handle.read(12)
        if len(head) < 12 or head[:4] not in (b"RIFF", b"RIFX") or head[8:12] != b"WAVE":
            return None
        endian = "<" if head[:4] == b"RIFF" else ">"
        byte_rate = 0
        pos = 12
        while pos + 8 <= size:
            handle.seek(pos)
            chunk = handle.read(8)
            kind, length = chunk[:4], struct.unpack(f"{endian}I", chunk[4:8])[0]
            if kind == b"fmt ":
                fmt = handle.read(16)
                if len(fmt) >= 12:
                    byte_rate = struct.unpack(f"{endian}I", fmt[8:12])[0]
            elif kind == b"data":
                present = size - pos - 8
                if length in _UNSET_SIZES and present > 0:
                    return None, "文件头中的长度没有写入（录音程序未正常结束）", "the WAV header's data size was never written"
                if length > present:
                    stated = length / byte_rate if byte_rate else None
                    return stated, "文件比文件头标明的短（文件被截断）", "the file is shorter than its WAV header states"
                return None
            pos += 8 + length + (length & 1)
    return None


def _amr_cut(path: Path) -> tuple[float | None, str, str] | None:
    data = path.read_bytes()
    if data.startswith(b"#!AMR-WB\n"):
        sizes, pos = _AMR_WB, 9
    elif data.startswith(b"#!AMR\n"):
        sizes, pos = _AMR_NB, 6
    else:
        return None  # multi-channel AMR or not raw AMR: no frame walk
    while pos < len(data):
        pos += sizes[(data[pos] >> 3) & 0x0F]
    if pos > len(data):
        return None, "最后一帧被截断（录音未正常结束）", "the last AMR frame is cut off"
    return None


def _ogg_cut(path: Path) -> tuple[float | None, str, str] | None:
    size = path.stat().st_size
    pos = 0
    last_flags = None
    with open(path, "rb") as handle:
        while pos < size:
            handle.seek(pos)
            header = handle.read(27)
            if len(header) < 27:
                return None, "最后一页被截断（录音未正常结束）", "the last Ogg page is cut off"
            if header[:4] != b"OggS":
                return None  # not a page boundary: damaged in the middle, the decoder counts that
            table = handle.read(header[26])
            if len(table) < header[26]:
                return None, "最后一页被截断（录音未正常结束）", "the last Ogg page is cut off"
            end = pos + 27 + len(table) + sum(table)
            if end > size:
                return None, "最后一页被截断（录音未正常结束）", "the last Ogg page is cut off"
            last_flags, pos = header[5], end
    if last_flags is not None and not last_flags & 0x04:
        return None, "文件没有结束页（录音未正常结束）", "no Ogg end-of-stream page"
    return None
