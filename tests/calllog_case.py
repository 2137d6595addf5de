"""A case with recordings (samples/, no ASR: ``review_fixtures.build_case``) and call logs: the
samples' own calls XML (which merges with the recordings) and a relative's log of eight unanswered
evening calls from a number nobody recorded, so the log-only findings (EXCESS_FREQ unanswered,
OFF_HOURS) exist. Used by tests/test_calllog_pack.py and the review-app tests."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from review_fixtures import SAMPLES, build_case

from pipeline.calllog.importer import discover_call_logs, import_call_logs
from pipeline.calllog.rules import apply_call_log_rules
from pipeline.store import CaseStore

LOG_ONLY_NUMBER = "17100001234"


def ms(y: int, mo: int, d: int, h: int, mi: int) -> int:
    """Epoch ms of a Beijing wall time (UTC+8), as Android stores it."""
    return int((datetime(y, mo, d, h, mi, tzinfo=UTC).timestamp() - 8 * 3600) * 1000)


def relative_log() -> str:
    """Eight unanswered calls (missed / rejected) 2024-01-14 21:00–22:10 from one number."""
    rows = [f'  <call number="+86 171 0000 1234" duration="0" date="{ms(2024, 1, 14, 21, 0) + i * 600_000}" '
            f'type="{5 if i % 3 == 0 else 3}" presentation="1" readable_date="" contact_name="(Unknown)" />'
            for i in range(8)]
    return ("<?xml version='1.0' encoding='UTF-8' standalone='yes' ?>\n"
            f'<calls count="8" backup_set="1" backup_date="{ms(2024, 1, 16, 8, 0)}" type="full">\n'
            + "\n".join(rows) + "\n</calls>\n")


def build_log_case(case_dir: Path, input_dir: Path) -> CaseStore:
    """The sample case plus ``input_dir``/本人/<samples' calls XML> and 母亲/calls-20240116.xml,
    imported and run through the call-log rules; the caller closes the store."""
    store = build_case(case_dir, SAMPLES)
    (input_dir / "本人").mkdir(parents=True)
    (input_dir / "母亲").mkdir(parents=True)
    for xml in SAMPLES.glob("calls-*.xml"):
        shutil.copy2(xml, input_dir / "本人" / xml.name)
    (input_dir / "母亲" / "calls-20240116.xml").write_text(relative_log(), encoding="utf-8")
    import_call_logs(store, discover_call_logs(input_dir), input_dir)
    apply_call_log_rules(store)
    return store


def log_only(store: CaseStore, rule: str) -> list:
    return [f for f in store.calllog_flags() if f.log_only and f.rule.startswith(rule)]
