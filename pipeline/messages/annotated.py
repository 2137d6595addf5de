"""The case's annotated copy of a screenshot: ``CASE_DIR/messages/<file id>/annotated.png``.

The lines of every flag that is not rejected are boxed in red and labelled with the category
code; the original is only read. A sidecar ``annotated.json`` records what was drawn (the
original's hash and the boxes), so the copy is redrawn only when that changes (a decision in the
review app, a re-flag) and is removed when no flag is left to box.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pipeline.audio import sha256_file
from pipeline.errors import InputError
from pipeline.messages.ocr import annotate_screenshot

ANNOTATED_NAME = "annotated.png"
SIDECAR_NAME = "annotated.json"
Box = tuple[list[list[float]], str]


def screenshot_boxes(flags: Iterable[Any], label: Callable[[Any], str] = lambda f: str(f.category)) -> list[Box]:
    """(box, label) for every line box of ``flags``, each pair once, in flag order."""
    out: list[Box] = []
    for flag in flags:
        for box in flag.boxes or []:
            item = ([[float(x), float(y)] for x, y in box], label(flag))
            if item not in out:
                out.append(item)
    return out


def annotated_path(case_dir: Path, source_id: str) -> Path:
    return Path(case_dir) / "messages" / source_id / ANNOTATED_NAME


def sync_annotated_copy(case_dir: Path, source: Any, flags: Iterable[Any]) -> Path | None:
    """Bring the annotated copy of one screenshot in step with its flags; its path, or None.

    ``source`` is a ``MessageSourceRow``; ``flags`` its ``MessageFlagRow``s (rejected ones are
    left out here). Nothing is drawn from a file that no longer hashes to its intake sha256.
    """
    if source.kind != "screenshot" and source.format != "screenshot":
        return None
    out = annotated_path(case_dir, source.id)
    sidecar = out.with_name(SIDECAR_NAME)
    boxes = screenshot_boxes(f for f in flags if f.status != "rejected")
    if not boxes:
        out.unlink(missing_ok=True)
        sidecar.unlink(missing_ok=True)
        return None
    record = {"original_sha256": source.sha256, "boxes": [[box, label] for box, label in boxes]}
    try:
        if out.is_file() and json.loads(sidecar.read_text(encoding="utf-8")) == record:
            return out
    except (OSError, ValueError):
        pass
    original = Path(source.source_path)
    try:
        if sha256_file(original) != source.sha256:
            return out if out.is_file() else None
        annotate_screenshot(original, boxes, out)
    except (OSError, InputError):
        return out if out.is_file() else None
    temporary = sidecar.with_name(sidecar.name + ".tmp")
    temporary.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(temporary, sidecar)
    return out


def annotation_versions() -> dict[str, str]:
    """What draws the annotated copies (recorded in a pack's manifest; verify redraws with it)."""
    import zlib

    import PIL

    return {"Pillow": PIL.__version__, "zlib": zlib.ZLIB_RUNTIME_VERSION}
