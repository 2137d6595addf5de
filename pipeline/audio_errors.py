"""Why a file is not audio we can read: the InputError for a missing, empty, unreadable or
undecodable file, named by what its first bytes look like (an image, an archive, a text file, an
MP4 cut before its index...). Used by ``pipeline.audio``; nothing here imports PyAV.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from pipeline.errors import InputError

_NOT_AUDIO_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG 图片", "a PNG image"),
    (b"\xff\xd8\xff", "JPEG 图片", "a JPEG image"),
    (b"GIF8", "GIF 图片", "a GIF image"),
    (b"%PDF", "PDF 文档", "a PDF document"),
    (b"PK\x03\x04", "ZIP 压缩包或 Office 文档", "a ZIP archive or Office document"),
    (b"Rar!", "RAR 压缩包", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "7z 压缩包", "a 7z archive"),
)


def check_file(path: str | Path) -> Path:
    """``path`` as a Path if it is an existing, non-empty, readable file; else InputError."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputError(path, "文件不存在", "file not found") from None
    except OSError as exc:
        raise unreadable_error(path, exc) from None
    if path.is_dir():
        raise InputError(path, "这是文件夹，不是音频文件", "is a directory, not an audio file")
    special = special_file_reason(st.st_mode)
    if special:
        raise InputError(path, *special)
    if st.st_size == 0:
        raise InputError(path, "文件为空（0 字节）", "empty file, 0 bytes")
    if not os.access(path, os.R_OK):
        raise InputError(path, "没有读取权限", "permission denied")
    return path


def special_file_reason(mode: int) -> tuple[str, str] | None:
    """(中文, English) naming a file that is not a regular file (FIFO, device, socket); None if regular.

    Such a file is never opened: reading a FIFO waits for a writer forever, a device never ends.
    """
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "这是命名管道（FIFO），不是普通文件", "a FIFO (named pipe), not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "这是设备文件，不是录音", "a device, not a recording"
    if stat.S_ISSOCK(mode):
        return "这是套接字（socket），不是普通文件", "a socket, not a regular file"
    return "不是普通文件", "not a regular file"


def unreadable_error(path: Path, exc: OSError) -> InputError:
    """The InputError for an OSError met while reading ``path``."""
    reason = exc.strerror or type(exc).__name__
    return InputError(path, f"无法读取文件（{reason}）", f"cannot read file: {reason}")


def open_error(path: Path, exc: Exception) -> InputError:
    """The InputError for a file FFmpeg could not open, named by what its first bytes look like."""
    head = _read_head(path)
    for magic, kind_zh, kind_en in _NOT_AUDIO_SIGNATURES:
        if head.startswith(magic):
            return InputError(path, f"不是音频文件，看起来是{kind_zh}", f"not audio; looks like {kind_en}")
    if _looks_like_text(head):
        return InputError(path, "不是音频文件，看起来是文本文件", "not audio; looks like a text file")
    kind = _audio_kind(head)
    if kind:
        return InputError(
            path, f"{kind}文件不完整或已损坏（可能录音未正常结束）", f"truncated or corrupt {kind} file"
        )
    if getattr(exc, "errno", None) == errno.EINVAL:  # a demuxer outside the allow-list
        return InputError(path, "不支持的文件格式", "unsupported file format")
    return InputError(
        path, "无法识别的文件格式：不是音频或已损坏", "unrecognised format: not audio, or corrupt"
    )


def _read_head(path: Path, size: int = 4096) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(size)
    except OSError:
        return b""


def _looks_like_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    for encoding in ("utf-8", "gb18030"):
        try:
            text = head.decode(encoding)
        except UnicodeDecodeError:
            continue
        printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
        return printable >= 0.95 * len(text)
    return False


def _audio_kind(head: bytes) -> str | None:
    """Name an audio format by its magic bytes, for a file that FFmpeg could not open."""
    if head[4:8] in (b"ftyp", b"mdat", b"moov", b"free", b"wide"):
        return "MP4/M4A/3GP"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "WAV"
    for magic, kind in ((b"ID3", "MP3"), (b"#!AMR", "AMR"), (b"OggS", "OGG"), (b"fLaC", "FLAC")):
        if head.startswith(magic):
            return kind
    return None
