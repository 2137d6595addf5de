"""Whole call scripts, line by line: shared/data/calls_dev (the development calls) and
tests/rules/data/collector_lines.tsv (lines written for this engine). Each line is checked both
ways the acceptance reads them: as flag-text's collector speech, and with the known speaker role."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CALLS_DEV = HERE.parents[2] / "shared" / "data" / "calls_dev"
ROLE = {"A": "collector", "B": "borrower"}


def script_lines(path: Path) -> list[tuple[str, str, str, set[str]]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        speaker, text, labels = (line.split("\t") + ["-"])[:3]
        expected = set() if labels.strip() == "-" else set(labels.strip().split(","))
        rows.append((f"{path.name}:{number}", speaker, text, expected))
    return rows


LINES = [row for path in sorted(CALLS_DEV.glob("call*.tsv")) for row in script_lines(path)]
LINES += script_lines(HERE / "data" / "collector_lines.tsv")
IDS = [row[0] for row in LINES]


@pytest.mark.parametrize(("where", "speaker", "text", "expected"), LINES, ids=IDS)
def test_line_categories_as_collector_speech(engine, where: str, speaker: str, text: str, expected: set[str]) -> None:
    assert {f.category for f in engine.flag_text(text)} == expected


@pytest.mark.parametrize(("where", "speaker", "text", "expected"), LINES, ids=IDS)
def test_line_categories_with_known_roles(engine, where: str, speaker: str, text: str, expected: set[str]) -> None:
    found = {f.category for f in engine.flag_text(text, role=ROLE[speaker])}
    assert found == (expected if speaker == "A" else set())


def test_calls_dev_scripts_are_present() -> None:
    assert any(where.startswith("call1.tsv") for where in IDS) and any(where.startswith("call2.tsv") for where in IDS)
