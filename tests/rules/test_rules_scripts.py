"""The development call scripts in shared/data/calls_dev: expected categories per line, both ways
the acceptance reads them (flag-text's collector assumption, and with the known speaker roles)."""

from __future__ import annotations

from pathlib import Path

import pytest

CALLS_DEV = Path(__file__).resolve().parents[3] / "shared" / "data" / "calls_dev"
ROLE = {"A": "collector", "B": "borrower"}


def script_lines() -> list[tuple[str, str, str, set[str]]]:
    rows = []
    for path in sorted(CALLS_DEV.glob("call*.tsv")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip() or line.startswith("#"):
                continue
            speaker, text, labels = (line.split("\t") + ["-"])[:3]
            expected = set() if labels.strip() == "-" else set(labels.strip().split(","))
            rows.append((f"{path.name}:{number}", speaker, text, expected))
    return rows


LINES = script_lines() if CALLS_DEV.is_dir() else []


@pytest.mark.skipif(not LINES, reason="shared/data/calls_dev not present")
@pytest.mark.parametrize(("where", "speaker", "text", "expected"), LINES, ids=[row[0] for row in LINES])
def test_line_categories_as_collector_speech(engine, where: str, speaker: str, text: str, expected: set[str]) -> None:
    assert {f.category for f in engine.flag_text(text)} == expected


@pytest.mark.skipif(not LINES, reason="shared/data/calls_dev not present")
@pytest.mark.parametrize(("where", "speaker", "text", "expected"), LINES, ids=[row[0] for row in LINES])
def test_line_categories_with_known_roles(engine, where: str, speaker: str, text: str, expected: set[str]) -> None:
    found = {f.category for f in engine.flag_text(text, role=ROLE[speaker])}
    assert found == (expected if speaker == "A" else set())
