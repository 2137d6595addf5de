"""The run's per-file flag counts add up to the category table (issue 16, item 9): a file's count is
every flag of its call as the category table counts it (words, off-hours, frequency; not stale),
a second copy of a recording says 同上, and both tables end with the same 合计. Real store, real
rules (recordings from truth scripts, no ASR), real summary."""

from __future__ import annotations

import re
from pathlib import Path

from review_fixtures import build_case
from rich.console import Console

from pipeline.batch import CallOutcome
from pipeline.calllog.rules import apply_call_log_rules
from pipeline.case_outputs import build_summary
from pipeline.commands.run import _print_summary


def _totals(text: str) -> list[int]:
    return [int(m) for m in re.findall(r"合计\s*│?[\s│]*(\d+)", text)]


def test_per_file_counts_add_up_to_the_category_table(tmp_path: Path) -> None:
    store = build_case(tmp_path / "case")
    try:
        apply_call_log_rules(store)  # call-level flags (off-hours, frequency) join the segment flags
        calls = [c for c in store.iter_calls() if c.status == "done"]
        # what the batch reports while running: the words' flags only, before the call-level rules
        outcomes = [CallOutcome(Path(c.source_path), "done", c.id, c.duration or 0.0, 1.0,
                                sum(f.level == "segment" for f in store.call_flags(c.id))) for c in calls]
        outcomes.append(CallOutcome(Path("copy") / Path(calls[0].source_path).name, "skipped", calls[0].id,
                                    calls[0].duration or 0.0, 0.0, 99))  # the same recording found twice
        summary = build_summary(store, outcomes, [], 1.0, {})
        summary["this_run"]["links_outside_input"] = []  # as run adds it
        assert any(f.level == "call" for f in store.all_flags())  # the case has call-level flags to count
    finally:
        store.close()
    console = Console(record=True, width=200)
    _print_summary(console, outcomes, summary, 1.0, tmp_path)
    text = console.export_text()
    per_file = [int(row.split("│")[-2]) for row in text.splitlines()
                if row.count("│") >= 6 and row.split("│")[-2].strip().isdigit() and "合计" not in row]
    total = sum(summary["flags_per_category"].values())
    assert len(per_file) == len(calls) and sum(per_file) == total
    assert _totals(text) == [total, total]
    assert "同上" in text and "99" not in text
    assert "没有列出的通话" not in text


def test_calls_from_another_folder_are_said_to_be_in_the_case_total(tmp_path: Path) -> None:
    console = Console(record=True, width=200)
    outcomes = [CallOutcome(tmp_path / "a.mp3", "done", "c1", 30.0, 3.0, 1)]
    summary = {"flags_per_category": {"CONTACTS_BLAST": 2, "OFF_HOURS": 1}, "calls": 2, "audio_minutes": 1.0,
               "call_list": [{"id": "c1", "flags": {"CONTACTS_BLAST": 1, "OFF_HOURS": 1}},
                             {"id": "c2", "flags": {"CONTACTS_BLAST": 1}}],
               "this_run": {"non_audio_skipped": [], "links_outside_input": []}}
    _print_summary(console, outcomes, summary, 3.0, tmp_path)
    text = console.export_text()
    assert _totals(text) == [2, 3] and "其中 1 处属于本次没有列出的通话" in text
