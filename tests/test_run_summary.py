"""What `run` prints at the end, read by a non-technical person: Chinese category names, skipped
non-audio files counted once (their names were printed while running), and what to do next."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from pipeline.batch import CallOutcome
from pipeline.commands.run import _print_summary, print_next_steps


def test_summary_names_categories_in_chinese_counts_skips_once_and_says_what_next(tmp_path: Path) -> None:
    console = Console(record=True, width=160)
    outcomes = [CallOutcome(tmp_path / "a.mp3", "done", "c1", 30.0, 3.0, 2)]
    summary = {"flags_per_category": {"CONTACTS_BLAST": 1, "OFF_HOURS": 1}, "calls": 1, "audio_minutes": 0.5,
               "this_run": {"non_audio_skipped": [{"file": "x/notes.txt", "reason": "不是音频文件"},
                                                  {"file": "x/photo.pdf", "reason": "不是音频文件"}]}}
    _print_summary(console, outcomes, summary, 3.0, tmp_path)
    print_next_steps(console, tmp_path)
    text = console.export_text()
    assert "爆通讯录 / 通讯录威胁" in text and "非时段催收" in text
    assert "CONTACTS_BLAST" not in text and "OFF_HOURS" not in text
    assert "跳过非音频文件 2 个" in text and "notes.txt" not in text
    assert "index.html" in text and "python cli.py review" in text and "python cli.py export" in text
    assert "下一步" in text and text.strip().endswith("生成证据包。")  # the very last thing printed
