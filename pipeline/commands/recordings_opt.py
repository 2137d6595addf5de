"""``--recordings DIR`` for ``review`` and ``export``: where moved originals are now (``pipeline.locate``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.text import Text

from pipeline.locate import missing_originals, relocate_missing
from pipeline.store import CaseStore

recordings_option: Callable[[Any], Any] = click.option(
    "--recordings", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder where moved recordings (and message files) are now; each missing one is found by its "
         "SHA-256 and its new place recorded in the case (repeatable).")


def report_relocations(console: Console, store: CaseStore, recordings: tuple[Path, ...]) -> None:
    """Relocate what ``--recordings`` finds and say so; without it, say which originals are missing."""
    if recordings:
        found, missing = relocate_missing(store, recordings)
        for item in found:
            console.print(Text.assemble(("找到", "green"), " ", item.line), highlight=False)
        for line in missing:
            console.print(Text.assemble(("注意", "yellow"), " ", f"{line} 在 --recordings 指定的文件夹中也没有找到"),
                          highlight=False)
        return
    missing = missing_originals(store)
    if missing:
        console.print(Text.assemble(("注意", "yellow"), " ", f"{len(missing)} 个录音不在接收时的位置（如 {missing[0]}）；"
                                    "用 --recordings 文件夹 指定它们现在所在的位置，会按 SHA-256 找回"), highlight=False)


def relocate_originals(console: Console, case_dir: Path, recordings: tuple[Path, ...]) -> None:
    """``report_relocations`` on a case folder (``export`` opens the case itself afterwards)."""
    if not recordings or not (case_dir / "case.sqlite").is_file():
        return
    with CaseStore.open(case_dir) as store:
        report_relocations(console, store, recordings)
