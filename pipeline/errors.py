"""The one error type users see for bad input, with a bilingual one-line message."""

from __future__ import annotations

from pathlib import Path

from pipeline.display import printable


class InputError(Exception):
    """A user-side problem with one input file (corrupt, empty, unsupported...).

    `str(err)` is a single line: ``<file>: <中文原因> (<English reason>)``, control characters in
    the file name escaped (``pipeline.display.printable``); ``path`` keeps the name as it is.
    """

    def __init__(self, path: str | Path, reason_zh: str, reason_en: str) -> None:
        self.path = str(path)
        self.reason_zh = reason_zh
        self.reason_en = reason_en
        super().__init__(f"{printable(self.path)}: {printable(reason_zh)} ({printable(reason_en)})")

    def __reduce__(self) -> tuple[type, tuple[str, str, str]]:
        # picklable, so an InputError raised in a worker process reaches the batch intact
        return (type(self), (self.path, self.reason_zh, self.reason_en))


class ConfigError(Exception):
    """A usage or configuration problem (bad option, missing model, invalid rule pack)."""
