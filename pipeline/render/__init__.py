"""Writers for transcripts: JSON (schema callproof.transcript/1), TXT with times, SRT, VTT."""

from __future__ import annotations

from pipeline.render.writers import FORMATS, get_writer, write_all

__all__ = ["FORMATS", "get_writer", "write_all"]
