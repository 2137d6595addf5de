"""Case store on real SQLite files: schema, migrations, round trips, review decisions, custody, crashes."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from pipeline.audio import AudioInfo
from pipeline.calls import CallMeta
from pipeline.errors import InputError
from pipeline.store import SCHEMA_VERSION, CaseStore, NotFoundError, to_jsonl, verify_chain, verify_jsonl
from pipeline.store import schema as store_schema
from pipeline.transcript import ModelInfo, Segment, SourceInfo, Transcript, Word

REPO = Path(__file__).resolve().parents[1]
SHA_A = hashlib.sha256(b"call a").hexdigest()
SHA_B = hashlib.sha256(b"call b").hexdigest()


def make_transcript(sha: str = SHA_A, n_segments: int = 3, words_per_segment: int = 4, variant: str = "",
                    options: dict | None = None) -> Transcript:
    """A hand-built transcript: segment i has `words_per_segment` CJK characters, one word each."""
    segments = []
    for i in range(n_segments):
        chars = "".join("你欠钱不还老赖通讯录"[(i + k) % 10] for k in range(words_per_segment))
        text = variant + chars
        start = i * 2.0
        words = [Word(ch, round(start + 0.1 * k, 3), round(start + 0.1 * k + 0.08, 3), 0.5 + 0.01 * (k % 40), k)
                 for k, ch in enumerate(text)]
        segments.append(Segment(
            index=i, start=start, end=round(start + 0.1 * len(text), 3), text=text, raw_text=text + "。",
            words=words, avg_logprob=-0.25 - i / 100, no_speech_prob=0.01 * i,
            channel=i % 2 if n_segments > 1 else None, speaker=f"S{i % 2}",
            role="collector" if i % 2 == 0 else "borrower"))
    return Transcript(
        source=SourceInfo("rec/a.m4a", sha, 12345, 2.0 * n_segments, 1, 8000, "aac", "mov,mp4,m4a,3gp,3g2,mj2"),
        model=ModelInfo("whisper-base", "f" * 64, "faster-whisper", "/models/base"),
        segments=segments, options=options or {"beam_size": 5, "language": "zh"}, tool_version="0.1.0",
        created="2025-03-01T10:00:00Z", processing_seconds=1.5,
        dropped=[{"start": 9.0, "end": 10.0, "text": "谢谢观看", "reason": "hallucination"}])


def intake(store: CaseStore, sha: str = SHA_A, name: str = "a.m4a") -> str:
    meta = CallMeta(number="13800138000", number_raw="138 0013 8000", direction="incoming",
                    recorder="miui", notes=["from filename"])
    meta.set("start", datetime(2025, 3, 1, 23, 5, 0), "filename")
    return store.upsert_call_intake(Path("/recordings") / name, sha, size=12345, mtime=1.7e9, meta=meta).id


@pytest.fixture
def store(tmp_path: Path):
    with CaseStore.open(tmp_path / "case") as opened:
        yield opened


def raw(store: CaseStore) -> sqlite3.Connection:
    """A second, plain connection: what a tamperer (or the sqlite3 shell) would use."""
    return sqlite3.connect(store.path, isolation_level=None)


# ---------------------------------------------------------------- schema and migrations

def test_open_creates_case_with_wal_and_current_schema(tmp_path: Path) -> None:
    case_dir = tmp_path / "new" / "case"
    with CaseStore.open(case_dir) as store:
        pragma = store._conn.execute
        assert pragma("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert pragma("PRAGMA foreign_keys").fetchone()[0] == 1
        assert pragma("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert pragma("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {r[0] for r in pragma("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"calls", "segments", "words", "speakers", "flags", "reviews", "custody", "runs"} <= tables
        info = store.case_info()
        assert len(info["case_id"]) == 32 and info["schema_version"] == str(SCHEMA_VERSION)
        assert [e.action for e in store.custody_events()] == ["case_created"]
    assert (case_dir / "case.sqlite").is_file()
    with CaseStore.open(case_dir) as again:  # reopening changes nothing
        assert again.case_info()["case_id"] == info["case_id"]
        assert len(again.custody_events()) == 1


def test_opening_a_version_1_case_migrates_it_and_keeps_its_data(tmp_path: Path) -> None:
    case_dir = tmp_path / "old"
    case_dir.mkdir()
    conn = sqlite3.connect(case_dir / "case.sqlite", isolation_level=None)
    assert store_schema.migrate(conn, target=1) == 1
    conn.execute("INSERT INTO calls (id, sha256, source_path, size, intake_at) VALUES (?, ?, 'a.m4a', 1, 'x')",
                 (SHA_A[:16], SHA_A))
    conn.execute("INSERT INTO flags (call_id, segment_idx, level, category, rule, start_char, end_char, status,"
                 " note, created) VALUES (?, 0, 'segment', 'INSULT', 'insult.laolai', 4, 6, 'accepted', 'n', 'x')",
                 (SHA_A[:16],))
    columns = {r[1] for r in conn.execute("PRAGMA table_info(flags)")}
    assert "stale" not in columns
    conn.close()

    with CaseStore.open(case_dir) as store:
        assert store.case_info()["schema_version"] == str(SCHEMA_VERSION) == "5"
        [flag] = store.all_flags()
        assert (flag.status, flag.note, flag.stale, flag.extra) == ("accepted", "n", False, {})
        # the migrated table works with the current code: the reviewed flag goes stale, not away
        changes = store.replace_flags(SHA_A[:16], [])
        assert changes["stale"] == [flag.id] and store.get_flag(flag.id).stale


def test_refuses_newer_schema_and_foreign_files(tmp_path: Path) -> None:
    with CaseStore.open(tmp_path / "newer"):
        pass
    conn = sqlite3.connect(tmp_path / "newer" / "case.sqlite")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(InputError, match="newer callproof"):
        CaseStore.open(tmp_path / "newer")

    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "case.sqlite").write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(InputError, match="case.sqlite"):
        CaseStore.open(tmp_path / "junk")


# ---------------------------------------------------------------- calls and transcripts

def test_intake_is_idempotent_and_records_moves_and_metadata_changes(store: CaseStore) -> None:
    call_id = intake(store)
    first = store.find_call(SHA_A)
    assert first is not None and first.id == SHA_A[:16] == call_id
    assert (first.number, first.start_source, first.direction, first.status) == (
        "13800138000", "filename", "incoming", "pending")
    assert first.start.hour == 23 and first.notes == ["from filename"]
    intake(store)
    assert store.find_call(SHA_A) == first
    assert [e.action for e in store.custody_events()] == ["case_created", "intake"]
    assert store.custody_events()[-1].sha256 == SHA_A

    store.upsert_call_intake("/recordings/a.m4a", SHA_A, size=12345, meta={"number": "10086", "sources": {}})
    moved = store.upsert_call_intake("/elsewhere/a.m4a", SHA_A, size=12345, meta={"number": "10086"})
    assert moved.source_path == "/elsewhere/a.m4a" and moved.number == "10086"
    assert moved.mtime == first.mtime  # the mtime seen at intake is kept
    metadata, relocate = store.custody_events()[-2:]
    assert metadata.action == "metadata" and metadata.detail["before"]["number"] == "13800138000"
    assert relocate.action == "relocate" and relocate.detail["after"]["source_path"] == "/elsewhere/a.m4a"
    assert len(list(store.iter_calls())) == 1
    # a later run that could not probe the file or read metadata keeps what is known
    again = store.upsert_call_intake("/elsewhere/a.m4a", SHA_A, size=12345)
    assert again == moved and store.custody_events()[-1] == relocate


def test_duplicate_file_is_listed_not_swapped(store: CaseStore, tmp_path: Path) -> None:
    original = tmp_path / "rec.amr"
    original.write_bytes(b"call a")
    copy = tmp_path / "rec(1).amr"
    copy.write_bytes(b"call a")
    info = AudioInfo(str(original), 6, "amr", "amrnb", 8000, 1, 61.5, 12200, {})
    first = store.upsert_call_intake(original, SHA_A, info=info)
    assert (first.size, first.codec, first.duration, first.mtime) == (6, "amrnb", 61.5, original.stat().st_mtime)
    for _ in range(2):
        call = store.upsert_call_intake(copy, SHA_A)
    assert call.source_path == str(original) and call.duplicate_paths == [str(copy)]
    assert [e.action for e in store.custody_events()].count("duplicate") == 1


def test_save_and_load_transcript_round_trip(store: CaseStore) -> None:
    call_id = intake(store)
    transcript = make_transcript()
    store.save_transcript(call_id, transcript, {"S0": "collector", "S1": "borrower"}, "opt-1",
                          speaker_evidence={"S0": {"channel": 0}})
    assert store.load_transcript(call_id) == transcript
    call = store.get_call(call_id)
    assert (call.status, call.engine, call.model_name, call.options_hash) == (
        "done", "faster-whisper", "whisper-base", "opt-1")
    assert call.is_done_with("faster-whisper", "f" * 64, "opt-1")
    assert not call.is_done_with("faster-whisper", "f" * 64, "opt-2")
    assert [(s.speaker, s.role, s.role_source, s.evidence) for s in store.speakers(call_id)] == [
        ("S0", "collector", "auto", {"channel": 0}), ("S1", "borrower", "auto", {})]
    event = store.custody_events()[-1]
    assert event.action == "transcribe" and event.sha256 == SHA_A and event.detail["words"] == 12


def test_resave_replaces_everything_and_keeps_human_edits(store: CaseStore) -> None:
    call_id = intake(store)
    store.save_transcript(call_id, make_transcript(n_segments=5), {}, "opt-1")
    store.correct_segment(call_id, 0, "你欠钱不还（人工）", actor="reviewer")
    store.correct_segment(call_id, 4, "改过的", actor="reviewer")
    store.set_role(call_id, "S1", "third_party", actor="reviewer")

    smaller = make_transcript(n_segments=2, words_per_segment=3, options={"beam_size": 1})
    smaller.segments[0] = make_transcript(n_segments=5).segments[0]  # segment 0 unchanged
    store.save_transcript(call_id, smaller, {"S0": "collector", "S1": "borrower"}, "opt-2")

    loaded = store.load_transcript(call_id)
    assert len(loaded.segments) == 2 and loaded.options == {"beam_size": 1}
    assert store._conn.execute("SELECT COUNT(*) FROM words WHERE call_id = ?", (call_id,)).fetchone()[0] == 4 + 3
    rows = store.segments(call_id)
    assert rows[0].corrected_text == "你欠钱不还（人工）" and rows[0].display_text == "你欠钱不还（人工）"
    assert rows[1].corrected_text is None and rows[1].role == "third_party"  # the override still applies
    speakers = {s.speaker: (s.role, s.role_source) for s in store.speakers(call_id)}
    assert speakers == {"S0": ("collector", "auto"), "S1": ("third_party", "override")}
    detail = store.custody_events()[-1].detail
    assert detail["corrections_carried"] == [0]
    assert [d["corrected_text"] for d in detail["corrections_dropped"]] == ["改过的"]


def test_failed_save_rolls_back_and_mark_failed(store: CaseStore, tmp_path: Path) -> None:
    call_id = intake(store)
    good = make_transcript()
    store.save_transcript(call_id, good, {}, "opt-1")
    events = len(store.custody_events())
    broken = make_transcript(n_segments=4, variant="新")
    broken.segments[3].text = None  # NOT NULL fails after three segments and their words were written
    with pytest.raises(sqlite3.IntegrityError):
        store.save_transcript(call_id, broken, {}, "opt-2")
    assert store.load_transcript(call_id) == good
    assert store.get_call(call_id).options_hash == "opt-1"
    assert len(store.custody_events()) == events

    with pytest.raises(ValueError, match="saved to call"):
        store.save_transcript(call_id, make_transcript(sha=SHA_B), {}, "opt-1")

    failed = store.mark_failed(call_id, "decode error")
    assert (failed.status, failed.error) == ("failed", "decode error")
    assert store.load_transcript(call_id) == good  # the last good transcript stays
    corrupt = tmp_path / "broken.mp3"
    corrupt.write_bytes(b"call b")
    by_path = store.mark_failed(corrupt, "文件损坏")
    assert (by_path.sha256, by_path.status) == (SHA_B, "failed")
    with pytest.raises(NotFoundError):
        store.mark_failed(tmp_path / "missing.mp3", "x")


def test_outer_transaction_groups_transcript_and_flags(store: CaseStore) -> None:
    call_id = intake(store)
    with pytest.raises(RuntimeError), store.transaction():
        store.save_transcript(call_id, make_transcript(), {}, "opt-1")
        store.replace_flags(call_id, [{"category": "INSULT", "rule": "r", "segment_idx": 0}])
        raise RuntimeError("killed between transcript and flags")
    assert store.get_call(call_id).status == "pending"
    assert store.segments(call_id) == [] and store.all_flags() == []
    with store.transaction():
        store.save_transcript(call_id, make_transcript(), {}, "opt-1")
        with pytest.raises(ValueError), store.transaction():  # inner failure: only the savepoint undone
            store.replace_flags(call_id, [{"category": "", "rule": "r"}])
        store.replace_flags(call_id, [{"category": "INSULT", "rule": "r", "segment_idx": 0}])
    assert store.get_call(call_id).status == "done" and len(store.all_flags()) == 1
    assert store.verify_custody() == []


# ---------------------------------------------------------------- flags and review

def _flag(seg: int, category: str, start: int, end: int, rule: str = "r1", **extra) -> dict:
    return {"segment_idx": seg, "category": category, "rule": rule, "start": start, "end": end,
            "severity": 2, "score": 0.9, "legal_basis": ["PSL-42"], "explanation": {"pattern": "老赖"}, **extra}


def test_replace_flags_keeps_review_decisions_and_marks_stale(store: CaseStore) -> None:
    call_id = intake(store)
    store.save_transcript(call_id, make_transcript(), {}, "opt-1")
    pack = {"name": "default", "version": "1", "sha256": "a" * 64}
    store.replace_flags(call_id, [
        _flag(0, "INSULT", 0, 2), _flag(1, "CONTACTS_BLAST", 1, 3), _flag(2, "FALSE_LEGAL", 0, 1),
        _flag(2, "INSULT", 2, 4)], rule_pack=pack)
    insult, blast, legal, pending = store.call_flags(call_id)
    # filled in from the stored segment and its word times
    assert (insult.text, insult.speaker, insult.role, insult.match_text) == ("你欠钱不", "S0", "collector", "你欠")
    assert (insult.start_s, insult.end_s) == (0.0, 0.18) and insult.rule_pack == pack
    store.set_flag_status(insult.id, "accepted", note="清楚的辱骂", actor="rev")
    store.set_flag_status(blast.id, "rejected", actor="rev", category="THIRD_PARTY_CONTACT")
    store.set_flag_status(legal.id, "accepted", actor="rev")

    changes = store.replace_flags(call_id, [
        _flag(0, "INSULT", 0, 2, rule="r2", score=0.5),  # same key: keeps id and decision, new machine data
        _flag(1, "CONTACTS_BLAST", 1, 3),  # reviewer re-categorised it: still the same flag
        _flag(1, "EXPOSURE", 0, 1)],  # new
        rule_pack={**pack, "version": "2"})
    by_id = {f.id: f for f in store.call_flags(call_id)}
    assert changes["updated"] == [insult.id, blast.id] and changes["stale"] == [legal.id]
    assert changes["removed"] == [pending.id] and len(changes["added"]) == 1
    kept = by_id[insult.id]
    assert (kept.status, kept.note, kept.rule, kept.score, kept.stale) == ("accepted", "清楚的辱骂", "r2", 0.5, False)
    assert kept.rule_pack["version"] == "2"
    recat = by_id[blast.id]
    assert (recat.status, recat.category, recat.category_original) == (
        "rejected", "THIRD_PARTY_CONTACT", "CONTACTS_BLAST")
    assert by_id[legal.id].stale and by_id[legal.id].status == "accepted"
    assert pending.id not in by_id
    # a stale flag that fires again is live again
    store.replace_flags(call_id, [_flag(2, "FALSE_LEGAL", 0, 1)])
    assert not store.get_flag(legal.id).stale
    assert store.custody_events()[-1].detail["updated"] == [legal.id]


def test_rule_engine_flags_are_stored_as_they_are(store: CaseStore) -> None:
    from pipeline.rules.flag import Flag  # imports spaCy: only here

    call_id = intake(store)
    store.save_transcript(call_id, make_transcript(), {}, "o")
    flag = Flag(category="INSULT", rules=["insult.laolai", "insult.fuzzy"], start=2, end=4, match="钱不",
                severity=2, score=0.8, legal_basis=["PSL-42", "CC-1024"], explanation={"gates": ["negation"]},
                label="辱骂", segment_index=0, notes=["同音"])
    store.replace_flags(call_id, [flag])
    [row] = store.call_flags(call_id)
    assert (row.segment_idx, row.start_char, row.end_char, row.match_text) == (0, 2, 4, "钱不")
    assert (row.rule, row.rules, row.legal_basis) == ("insult.laolai", flag.rules, flag.legal_basis)
    assert (row.start_s, row.end_s) == (0.2, 0.38)  # from the stored word times
    assert row.extra == {"label": "辱骂", "notes": ["同音"]} and row.explanation == {"gates": ["negation"]}


def test_flag_filters_counts_and_extra_fields(store: CaseStore) -> None:
    a, b = intake(store), intake(store, SHA_B, "b.m4a")
    store.save_transcript(a, make_transcript(), {}, "o")
    store.replace_flags(a, [_flag(0, "INSULT", 0, 1), _flag(1, "INSULT", 0, 1, context="…上下文…")])
    store.replace_flags(b, [{"category": "OFF_HOURS", "rule": "off_hours", "call_ids": [b],
                             "start_s": 0.0, "end_s": 60.0, "description_zh": "夜间来电"}], level="call")
    [off] = store.all_flags(category="OFF_HOURS")
    assert (off.level, off.segment_idx, off.extra["description_zh"], off.extra["call_ids"]) == (
        "call", None, "夜间来电", [b])
    assert store.all_flags(category="INSULT")[1].context == "…上下文…"
    assert len(store.all_flags(speaker="S1")) == 1 and len(store.all_flags(call_id=b)) == 1
    store.set_flag_status(off.id, "accepted")
    assert [f.id for f in store.all_flags(status="accepted")] == [off.id]
    counts = store.flag_counts()
    assert counts["status"] == {"pending": 2, "accepted": 1, "rejected": 0}
    assert counts["category"] == {"INSULT": 2, "OFF_HOURS": 1} and counts["pending_by_category"] == {"INSULT": 2}
    assert off.to_dict()["category"] == "OFF_HOURS"


def test_set_flag_status_writes_review_and_custody(store: CaseStore) -> None:
    call_id = intake(store)
    store.save_transcript(call_id, make_transcript(), {}, "o")
    store.replace_flags(call_id, [_flag(0, "INSULT", 0, 2)])
    [flag] = store.call_flags(call_id)
    after = store.set_flag_status(flag.id, "accepted", note="听录音确认", actor="张三")
    assert (after.status, after.note, after.reviewed_by) == ("accepted", "听录音确认", "张三")
    store.set_flag_status(flag.id, "rejected", actor="李四", category="FALSE_LEGAL")
    reviews = store.flag_reviews(flag.id)
    assert [(r.decision, r.note, r.category, r.actor) for r in reviews] == [
        ("accepted", "听录音确认", "INSULT", "张三"), ("rejected", "听录音确认", "FALSE_LEGAL", "李四")]
    event = store.custody_events()[-1]
    assert (event.action, event.object, event.actor, event.sha256) == ("review", f"flag:{flag.id}", "李四", SHA_A)
    assert event.detail["before"] == {"status": "accepted", "note": "听录音确认", "category": "INSULT"}
    assert event.detail["after"] == {"status": "rejected", "note": "听录音确认", "category": "FALSE_LEGAL"}
    back = store.set_flag_status(flag.id, "pending", note="", category="INSULT")
    assert (back.note, back.category_original) == (None, None)

    events = len(store.custody_events())
    with pytest.raises(ValueError):
        store.set_flag_status(flag.id, "maybe")
    with pytest.raises(NotFoundError):
        store.set_flag_status(9999, "accepted")
    assert len(store.custody_events()) == events and len(store.flag_reviews()) == 3


def test_correct_segment_and_set_role_are_logged(store: CaseStore) -> None:
    call_id = intake(store)
    store.save_transcript(call_id, make_transcript(), {}, "o")
    store.replace_flags(call_id, [_flag(1, "INSULT", 0, 2)])
    seg = store.correct_segment(call_id, 1, "欠钱不还就是老赖", actor="rev")
    assert (seg.text, seg.corrected_text, seg.corrected_by) == ("欠钱不还", "欠钱不还就是老赖", "rev")
    assert store.load_transcript(call_id).segments[1].text == "欠钱不还"  # machine text untouched
    cleared = store.correct_segment(call_id, 1, "欠钱不还")
    assert cleared.corrected_text is None and cleared.corrected_at is None
    correct_events = [e for e in store.custody_events() if e.action == "correct"]
    assert [e.detail["after"] for e in correct_events] == ["欠钱不还就是老赖", None]

    speaker = store.set_role(call_id, "S1", "collector", actor="rev")
    assert (speaker.role, speaker.role_source) == ("collector", "override")
    assert {s.role for s in store.segments(call_id) if s.speaker == "S1"} == {"collector"}
    assert store.call_flags(call_id)[0].role == "collector"
    event = store.custody_events()[-1]
    assert event.detail == {"before": {"role": "borrower", "role_source": "auto"},
                            "after": {"role": "collector", "role_source": "override"}}
    with pytest.raises(ValueError):
        store.set_role(call_id, "S1", "boss")
    with pytest.raises(NotFoundError):
        store.set_role(call_id, "S9", "collector")
    with pytest.raises(NotFoundError):
        store.correct_segment(call_id, 99, "x")


# ---------------------------------------------------------------- custody chain

def test_custody_chain_detects_edited_and_deleted_events(store: CaseStore) -> None:
    call_id = intake(store)
    store.save_transcript(call_id, make_transcript(), {}, "o")
    store.add_custody(None, "note", "case", detail={"text": "交给律师前检查"})
    store.add_custody("律师", "handover", "case")
    assert store.verify_custody() == []
    events = store.custody_events()
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))
    assert verify_chain(vars(e) for e in events) == []  # plain dicts work too

    conn = raw(store)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE custody SET actor = 'x' WHERE seq = 2")
    # a deliberate tamperer drops the guards first; the hashes still give it away
    conn.execute("DROP TRIGGER custody_no_update")
    conn.execute("DROP TRIGGER custody_no_delete")
    conn.execute("UPDATE custody SET detail_json = '{\"text\":\"改过\"}' WHERE seq = 4")
    problems = store.verify_custody()
    assert len(problems) == 1 and "第 4 条内容被改动" in problems[0] and "custody event 4" in problems[0]

    conn.execute("UPDATE custody SET detail_json = ? WHERE seq = 4",
                 ('{"text":"交给律师前检查"}',))
    assert store.verify_custody() == []
    conn.execute("DELETE FROM custody WHERE seq = 3")
    problems = store.verify_custody()
    assert any("3..3 missing" in p for p in problems) and any("event 4: prev_hash" in p for p in problems)


def test_custody_detects_deleted_last_event_and_missing_intake(store: CaseStore) -> None:
    intake(store)
    store.add_custody("rev", "note", "case")
    conn = raw(store)
    conn.execute("DROP TRIGGER custody_no_delete")
    conn.execute("DELETE FROM custody WHERE seq = 3")
    assert any("missing at the end" in p for p in store.verify_custody())
    conn.execute("DELETE FROM custody WHERE seq = 2")  # the intake event
    problems = store.verify_custody()
    assert any(f"call {SHA_A[:16]}: no intake event" in p for p in problems)


def test_custody_jsonl_lines_chain_by_sha256_of_the_previous_line(store: CaseStore) -> None:
    intake(store)
    store.add_custody("rev", "note", "case", detail={"说明": "导出前", "n": 1.5})
    text = to_jsonl(store.custody_events())
    lines = text.splitlines()
    assert len(lines) == 3 and verify_jsonl(text) == []
    for previous, line in zip(lines, lines[1:], strict=False):
        assert json.loads(line)["prev_hash"] == hashlib.sha256(previous.encode()).hexdigest()
    edited = text.replace("导出前", "导出后")
    assert any("event 3" in p for p in verify_jsonl(lines[0] + "\n" + lines[1].replace("intake", "intak") + "\n"
                                                    + lines[2]))
    assert verify_jsonl(edited) == []  # the last line is protected by SHA256SUMS, not by the chain
    assert any("2..2 missing" in p for p in verify_jsonl(lines[0] + "\n" + lines[2]))
    assert "not JSON" in verify_jsonl(text + "{broken\n")[0]


def test_two_writers_never_fork_the_chain(tmp_path: Path) -> None:
    """The batch and the review server write through separate connections at the same time."""
    with CaseStore.open(tmp_path / "case") as first, CaseStore.open(tmp_path / "case") as second:
        def write(store: CaseStore, actor: str) -> None:
            for i in range(40):
                store.add_custody(actor, "note", f"obj{i}")

        threads = [threading.Thread(target=write, args=(s, a)) for s, a in ((first, "batch"), (second, "review"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(first.custody_events()) == 81 and first.verify_custody() == []


def test_runs_are_recorded(store: CaseStore) -> None:
    run_id = store.start_run(engine="faster-whisper", model="base", model_sha256="f" * 64,
                             options={"beam_size": 5}, rule_packs=[{"name": "default", "sha256": "a" * 64}])
    store.finish_run(run_id, {"calls": 3, "failed": 1})
    [run] = store.runs()
    assert (run.id, run.engine, run.options, run.summary) == (run_id, "faster-whisper", {"beam_size": 5},
                                                              {"calls": 3, "failed": 1})
    assert run.finished and run.tool_version
    assert [e.action for e in store.custody_events()][-2:] == ["run_start", "run_finish"]


# ---------------------------------------------------------------- crashes

_CHILD = r"""
import sys, time
sys.path[:0] = [{repo!r}, {tests!r}]
from pathlib import Path
from pipeline.store import CaseStore
from test_store import SHA_A, make_transcript

store = CaseStore.open(Path({case!r}))
mode = sys.argv[1]
if mode == "pause":
    big = make_transcript(n_segments=1500, words_per_segment=40, variant="新", options={{"beam_size": 1}})
    inserts = 0
    def pause_inside(statement):
        global inserts
        if statement.startswith("INSERT INTO words"):
            inserts += 1
            if inserts == 50000:  # deep inside the transaction, pages already spilled to the WAL
                print("inside", flush=True)
                time.sleep(120)
    store._conn.set_trace_callback(pause_inside)
    store.save_transcript(SHA_A[:16], big, {{}}, "opt-big")
else:
    versions = [make_transcript(n_segments=200, words_per_segment=20, variant=v) for v in ("甲", "乙")]
    print("ready", flush=True)
    i = 0
    while True:
        store.save_transcript(SHA_A[:16], versions[i % 2], {{}}, f"opt-{{i % 2}}")
        i += 1
"""


def _start_child(case_dir: Path, mode: str) -> subprocess.Popen:
    code = _CHILD.format(repo=str(REPO), tests=str(REPO / "tests"), case=str(case_dir))
    return subprocess.Popen([sys.executable, "-c", code, mode], stdout=subprocess.PIPE, text=True)


def _wait_for_line(child: subprocess.Popen, expected: str, timeout: float = 60.0) -> None:
    box: list[str] = []
    reader = threading.Thread(target=lambda: box.append(child.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not box or box[0].strip() != expected:
        child.kill()
        pytest.fail(f"child did not reach {expected!r}: {box}")


def test_sigkill_inside_save_leaves_previous_state(tmp_path: Path) -> None:
    case_dir = tmp_path / "case"
    with CaseStore.open(case_dir) as store:
        call_id = intake(store)
        old = make_transcript()
        store.save_transcript(call_id, old, {}, "opt-1")
        events = len(store.custody_events())

    child = _start_child(case_dir, "pause")
    try:
        _wait_for_line(child, "inside")
        assert (case_dir / "case.sqlite-wal").stat().st_size > 1_000_000  # half a transcript is on disk
        with CaseStore.open(case_dir) as reader:  # the review server reads meanwhile, unblocked
            assert reader.load_transcript(call_id) == old
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(30)
    assert child.returncode == -signal.SIGKILL

    with CaseStore.open(case_dir) as store:
        assert store._conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert store.load_transcript(call_id) == old
        assert store.get_call(call_id).options_hash == "opt-1"
        assert len(store.custody_events()) == events and store.verify_custody() == []


def test_sigkill_at_random_moments_never_leaves_half_a_transcript(tmp_path: Path) -> None:
    case_dir = tmp_path / "case"
    versions = {f"opt-{i}": make_transcript(n_segments=200, words_per_segment=20, variant=v)
                for i, v in enumerate(("甲", "乙"))}
    with CaseStore.open(case_dir) as store:
        call_id = intake(store)
        store.save_transcript(call_id, versions["opt-0"], {}, "opt-0")
    rng = random.Random(7)
    for _ in range(3):
        child = _start_child(case_dir, "loop")
        try:
            _wait_for_line(child, "ready")
            time.sleep(rng.uniform(0.3, 1.2))
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.wait(30)
        with CaseStore.open(case_dir) as store:
            call = store.get_call(call_id)
            assert call.status == "done"
            assert store.load_transcript(call_id) == versions[call.options_hash]
            assert store.verify_custody() == []
    with CaseStore.open(case_dir) as store:
        assert sum(e.action == "transcribe" for e in store.custody_events()) > 3
