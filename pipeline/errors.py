"""The one error type users see for bad input, with a bilingual one-line message."""

from __future__ import annotations

from pathlib import Path


class InputError(Exception):
    """A user-side problem with one input file (corrupt, empty, unsupported...).

    `str(err)` is a single line: ``<file>: <中文原因> (<English reason>)``.
    """

    def __init__(self, path: str | Path, reason_zh: str, reason_en: str) -> None:
        self.path = str(path)
        self.reason_zh = reason_zh
        self.reason_en = reason_en
        super().__init__(f"{self.path}: {reason_zh} ({reason_en})")


class ConfigError(Exception):
    """A usage or configuration problem (bad option, missing model, invalid rule pack)."""
