"""Reproducible zip archives: fixed entry dates, order, permissions and compression.

Python's zipfile stamps entries with the current time; the same content written twice would
then differ. Every entry here gets the pack's ``date_time`` (the time of its content, not of
the export), mode 0644, and a fixed creator system.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

ZipDate = tuple[int, int, int, int, int, int]
_FILE_MODE = 0o100644 << 16
_COPY_CHUNK = 1 << 20


@dataclass(frozen=True)
class ZipEntry:
    name: str  # '/'-separated path inside the archive
    data: bytes | None = None
    source: Path | None = None  # streamed from this file instead (originals)
    compress: bool = True


def zip_info(name: str, date_time: ZipDate, compress: bool, size: int | None = None) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=date_time)
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.external_attr = _FILE_MODE
    info.create_system = 3  # unix, whatever machine writes it
    if size is not None:
        info.file_size = size  # lets zipfile choose ZIP64 up front for a large original
    return info


def write_zip(target: io.BufferedIOBase | Path, entries: Iterable[ZipEntry], date_time: ZipDate) -> dict[str, str]:
    """Write entries in the order given; returns name -> sha256 of what was written.

    A streamed source is hashed while it is copied, so the hash is of the bytes in the archive.
    """
    written: dict[str, str] = {}
    with zipfile.ZipFile(target, "w", allowZip64=True) as archive:
        for entry in entries:
            digest = hashlib.sha256()
            if entry.source is not None:
                size = entry.source.stat().st_size
                info = zip_info(entry.name, date_time, entry.compress, size)
                with open(entry.source, "rb") as src, archive.open(info, "w", force_zip64=size > 1 << 30) as dst:
                    while chunk := src.read(_COPY_CHUNK):
                        digest.update(chunk)
                        dst.write(chunk)
            else:
                data = entry.data or b""
                digest.update(data)
                archive.writestr(zip_info(entry.name, date_time, entry.compress), data,
                                 compresslevel=6 if entry.compress else None)
            written[entry.name] = digest.hexdigest()
    return written


def normalise_zip(data: bytes, date_time: ZipDate) -> bytes:
    """The same archive (same entry order and contents) with reproducible metadata: e.g. a .docx."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source:
        entries = [ZipEntry(info.filename, source.read(info)) for info in source.infolist()]
    write_zip(out, entries, date_time)
    return out.getvalue()
