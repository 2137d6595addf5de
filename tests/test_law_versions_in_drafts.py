"""The drafts cite the 治安管理处罚法 article in force on the date of the call: the 2012 law for a
call in 2025, the 2025 revision (in force 2026-01-01, text verified: status V) for a call in 2026,
never marked （待核实）; an article still marked S would be. Small hand-built cases, no ASR."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from test_store import make_transcript  # tests/ is on sys.path

from pipeline.calls import CallMeta
from pipeline.evidence.complaints import COMPLAINTS, TemplateSet, complaint_context
from pipeline.evidence.legal import citable_bases, law_citations
from pipeline.evidence.select import PackOptions, collect
from pipeline.evidence.select_messages import attach_messages
from pipeline.render.legal_bases import UNVERIFIED, BasisVersion, load_bases
from pipeline.store import CaseStore

NEW_THREAT = "治安管理处罚法（2025修订）第50条"
NEW_IMPERSONATION = "治安管理处罚法（2025修订）第62条"
OLD_THREAT = "治安管理处罚法（2012）第42条"
OLD_IMPERSONATION = "治安管理处罚法（2012）第51条"


def _drafts(case_dir: Path, start: datetime) -> dict[str, str]:
    """Every complaint draft of a case with one call at ``start``: an insult and an impersonation
    said by the collector (segment 0), both accepted."""
    with CaseStore.open(case_dir) as store:
        meta = CallMeta(number="13800138000", number_raw="13800138000", direction="incoming", recorder="miui")
        meta.set("start", start, "filename")
        call_id = store.upsert_call_intake(Path("/recordings/a.m4a"), "c" * 64, size=1, mtime=1.7e9, meta=meta).id
        store.save_transcript(call_id, make_transcript("c" * 64), {"S0": "collector", "S1": "borrower"}, "o")
        base = {"segment_idx": 0, "severity": 2, "score": 0.9, "explanation": {}}
        store.replace_flags(call_id, [
            {**base, "category": "INSULT", "rule": "insult", "start": 0, "end": 2, "legal_basis": ["PSL-42", "CC-1024"]},
            {**base, "category": "IMPERSONATION", "rule": "impersonation", "start": 2, "end": 4,
             "legal_basis": ["CL-279", "PSL-51"]}])
        for flag in store.call_flags(call_id):
            store.set_flag_status(flag.id, "accepted")
        options = PackOptions()
        case = collect(store, options)
        attach_messages(case, store, options)
    context = complaint_context(case, options.to_dict())
    # what the export adds once the excerpts are cut (pipeline/evidence/pack.py); none are cut here
    context["pack"] = {"originals": 1, "excerpts": 0, "padding": "2", "message_originals": 0, "annotated": 0}
    context["excerpt_sizes"] = {}
    templates = TemplateSet()
    return {path: templates.render(name, context) for path, name in COMPLAINTS.items()}


@pytest.fixture(scope="module")
def drafts_2026(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return _drafts(tmp_path_factory.mktemp("y2026") / "case", datetime(2026, 1, 10, 14, 0, 0))


@pytest.fixture(scope="module")
def drafts_2025(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return _drafts(tmp_path_factory.mktemp("y2025") / "case", datetime(2025, 12, 31, 21, 0, 0))


def test_a_2026_call_cites_the_verified_2025_revision_without_daihesshi(drafts_2026: dict[str, str]) -> None:
    statement = drafts_2026["complaints/110_statement.txt"]
    assert NEW_THREAT in statement and NEW_IMPERSONATION in statement
    for name, text in drafts_2026.items():
        assert UNVERIFIED not in text and "待核实" not in text, name
        assert OLD_THREAT not in text and OLD_IMPERSONATION not in text, name  # repealed on 2025-12-31


def test_a_2025_call_cites_the_2012_law(drafts_2025: dict[str, str]) -> None:
    statement = drafts_2025["complaints/110_statement.txt"]
    assert OLD_THREAT in statement and OLD_IMPERSONATION in statement
    for name, text in drafts_2025.items():
        assert "2025修订" not in text and "待核实" not in text, name


def test_the_court_filings_cite_the_verified_civil_articles(drafts_2026: dict[str, str]) -> None:
    application = drafts_2026["complaints/behaviour_preservation.txt"]
    for article in ("民法典第997条", "民事诉讼法（2023修正）第103条", "民事诉讼法（2023修正）第104条"):
        assert article in application, article
    assert "请核对后写明条号" not in application
    complaint = drafts_2026["complaints/civil_complaint.txt"]
    assert "民法典第1183条" in complaint and "个人信息保护法第69条" in complaint


def test_the_2025_revision_articles_are_verified_and_dated() -> None:
    bases = load_bases()
    threat, impersonation = bases["PSL-42"][-1], bases["PSL-51"][-1]
    assert (threat.id, threat.status, threat.valid_from) == ("PSL-2025-50", "V", date(2026, 1, 1))
    assert (impersonation.id, impersonation.status, impersonation.valid_from) == ("PSL-2025-62", "V", date(2026, 1, 1))
    assert bases["PSL-42"][0].valid_to == date(2025, 12, 31) == bases["PSL-51"][0].valid_to
    assert citable_bases(["PSL-51"], date(2025, 12, 31)) == ["PSL-51"]
    assert citable_bases(["PSL-51"], date(2026, 1, 1)) == ["PSL-2025-62"]
    law = law_citations()
    assert law["CC-997"].startswith("民法典第997条") and law["CPL-103"].startswith("民事诉讼法（2023修正）第103条")


def test_an_unverified_article_is_still_cited_only_with_daihesshi() -> None:
    unchecked = BasisVersion("X", "X-1", "某法第1条", "S", date(2026, 1, 1), None)
    assert unchecked.cited == "某法第1条" + UNVERIFIED
    assert BasisVersion("X", "X-1", "某法第1条", "V", None, None).cited == "某法第1条"
