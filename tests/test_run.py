"""End-to-end `python cli.py run` with the real model: flags, resume, failures, originals untouched."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from filelock import FileLock

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
CALLS_DEV = ROOT.parent / "shared" / "data" / "calls_dev"
CONDUCT = 2  # severity-1 notes (e.g. a true "逾期会上报征信") are not conduct flags


def run_cli(*args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "cli.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
    )


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.rglob("*")) if p.is_file()}


def call_outputs(case: Path) -> dict[str, dict]:
    """File name of each original -> its flags.json document."""
    out = {}
    for flags_json in sorted((case / "calls").glob("*/flags.json")):
        doc = json.loads(flags_json.read_text(encoding="utf-8"))
        out[Path(doc["source"]["path"]).name] = doc
    return out


def expected_turn_hits(truth: dict, flags: list[dict]) -> tuple[int, int, list[str]]:
    """(labels found on their turn, labels expected, misses) — a hit overlaps the turn's times."""
    found, expected, misses = 0, 0, []
    for turn in truth["turns"]:
        for label in turn["labels"]:
            expected += 1
            if any(f["category"] == label and f["start_s"] < turn["end"] + 0.5 and f["end_s"] > turn["start"] - 0.5 for f in flags):
                found += 1
            else:
                misses.append(f"{label} @ {turn['text']}")
    return found, expected, misses


@pytest.fixture(scope="module")
def samples_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict, subprocess.CompletedProcess[str]]:
    base = tmp_path_factory.mktemp("samples_run")
    inputs = base / "in"
    shutil.copytree(SAMPLES, inputs, copy_function=shutil.copy2)
    before = snapshot(inputs)
    case = base / "case"
    result = run_cli("run", str(inputs), "-o", str(case))
    return inputs, case, before, result


def test_run_on_samples_flags_every_expected_category_on_its_turn(samples_run) -> None:
    inputs, case, _, result = samples_run
    assert result.returncode == 0, result.stderr
    outputs = call_outputs(case)
    assert len(outputs) == 4
    total_found = total_expected = 0
    for audio_name, doc in outputs.items():
        truth = json.loads((inputs / audio_name).with_suffix(".truth.json").read_text(encoding="utf-8"))
        conduct = [f for f in doc["flags"] if f["level"] == "segment" and (f["severity"] or 0) >= CONDUCT]
        found, expected, misses = expected_turn_hits(truth, conduct)
        total_found += found
        total_expected += expected
        assert found >= expected - 1, (audio_name, misses)
        for flag in doc["flags"]:
            for key in ("category", "rule", "start_s", "end_s", "speaker", "role", "text", "score", "severity", "legal_basis", "status"):
                assert key in flag, key
            assert 0 <= flag["start_s"] <= flag["end_s"] <= truth["duration"] + 0.5
    assert total_found / total_expected >= 0.85
    off_hours = [f for doc in outputs.values() for f in doc["flags"] if f["category"] == "OFF_HOURS"]
    assert {Path(d["source"]["path"]).name for d in outputs.values() if any(f["category"] == "OFF_HOURS" for f in d["flags"])} == {
        "通话录音@张三(13800138000)_20240115223402.mp3"
    }
    assert off_hours[0]["level"] == "call" and off_hours[0]["legal_basis"]


def test_run_writes_outputs_summary_and_leaves_originals_untouched(samples_run) -> None:
    inputs, case, before, result = samples_run
    assert snapshot(inputs) == before
    summary = json.loads((case / "summary.json").read_text(encoding="utf-8"))
    assert summary["calls"] == 4 and summary["audio_minutes"] > 2
    assert summary["model"]["sha256"] and summary["rule_packs"][0]["sha256"]
    skipped = {Path(s["file"]).name for s in summary["this_run"]["non_audio_skipped"]}
    assert "13912345678_20240116093015.truth.json" in skipped
    for call in (case / "calls").iterdir():
        for name in ("transcript.json", "transcript.txt", "transcript.srt", "transcript.vtt", "flags.json", "transcript.html"):
            assert (call / name).is_file(), name
    assert (case / "index.html").is_file()
    assert not list(case.rglob(".*.tmp"))
    assert "不是音频文件" in result.stderr


def test_second_run_is_a_fast_no_op(samples_run) -> None:
    inputs, case, _, _ = samples_run
    transcripts = {p: p.read_bytes() for p in case.rglob("transcript.json")}
    t0 = time.perf_counter()
    result = run_cli("run", str(inputs), "-o", str(case))
    elapsed = time.perf_counter() - t0
    assert result.returncode == 0, result.stderr
    summary = json.loads((case / "summary.json").read_text(encoding="utf-8"))
    assert summary["this_run"]["processed"] == 0 and summary["this_run"]["skipped_already_done"] == 4
    assert elapsed < 60, elapsed  # no transcription: start-up, hashing and rendering only
    assert {p: p.read_bytes() for p in case.rglob("transcript.json")} == transcripts


def test_reflag_with_a_new_rule_pack_changes_flags_not_transcripts(samples_run, tmp_path: Path) -> None:
    inputs, case, _, _ = samples_run
    pack = tmp_path / "extra.yaml"
    pack.write_text(
        "name: test-extra\nversion: '1'\nlanguage: zh\n"
        "rules:\n  - id: test.must_pay\n    category: FORCED_BORROW\n    severity: 2\n    score: 0.6\n    phrases: [必须还钱]\n",
        encoding="utf-8",
    )
    transcripts = {p: p.read_bytes() for p in case.rglob("transcript.json")}
    result = run_cli("run", str(inputs), "-o", str(case), "--reflag", "--rules", str(pack))
    assert result.returncode == 0, result.stderr
    summary = json.loads((case / "summary.json").read_text(encoding="utf-8"))
    assert summary["this_run"]["reflagged"] == 4 and summary["this_run"]["processed"] == 0
    assert {p: p.read_bytes() for p in case.rglob("transcript.json")} == transcripts
    rules = {r for doc in call_outputs(case).values() for f in doc["flags"] for r in (f.get("rules") or [f["rule"]])}
    assert "test.must_pay" in rules


def test_second_run_on_a_locked_case_refuses(samples_run) -> None:
    inputs, case, _, _ = samples_run
    with FileLock(str(case / ".callproof.lock")):
        result = run_cli("run", str(inputs), "-o", str(case))
    assert result.returncode == 2
    assert "另一个 callproof 正在处理" in result.stderr
    assert "Traceback" not in result.stderr


def test_corrupt_file_in_the_middle_of_a_batch(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy2(SAMPLES / "13800138000 2024-01-16 10-06-40.amr", inputs / "a_first.amr")
    (inputs / "b_broken.mp3").write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x10" + os.urandom(3000))
    shutil.copy2(SAMPLES / "13912345678_20240116093015.m4a", inputs / "c_last.m4a")
    case = tmp_path / "case"
    result = run_cli("run", str(inputs), "-o", str(case), "--speakers", "off")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    summary = json.loads((case / "summary.json").read_text(encoding="utf-8"))
    assert summary["calls"] == 2
    failed = summary["this_run"]["failed"]
    assert len(failed) == 1 and failed[0]["file"].endswith("b_broken.mp3")
    assert "b_broken.mp3" in failed[0]["error"]
    assert any("b_broken.mp3" in line and "失败" in line for line in result.stderr.splitlines())


def test_sigkill_mid_run_loses_nothing_and_the_next_run_finishes(tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name in ("13800138000 2024-01-16 10-06-40.amr", "13912345678_20240116093015.m4a",
                 "通话录音@张三(13800138000)_20240115223402.mp3"):
        shutil.copy2(SAMPLES / name, inputs / name)
    before = snapshot(inputs)
    case = tmp_path / "case"
    proc = subprocess.Popen([sys.executable, "cli.py", "run", str(inputs), "-o", str(case), "--speakers", "off"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = case / "case.sqlite"
    deadline = time.time() + 600
    done = 0
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.5)
        if db.exists():
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
                    done = conn.execute("select count(*) from calls where status='done'").fetchone()[0]
            except sqlite3.Error:
                continue
            if done >= 1:
                break
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with sqlite3.connect(db) as conn:
        assert conn.execute("pragma integrity_check").fetchone()[0] == "ok"
        rows = conn.execute("select id, status from calls").fetchall()
        for call_id, status in rows:
            n_segments = conn.execute("select count(*) from segments where call_id=?", (call_id,)).fetchone()[0]
            assert (status == "done") == (n_segments > 0), (call_id, status, n_segments)
        assert sum(status == "done" for _, status in rows) >= 1
    result = run_cli("run", str(inputs), "-o", str(case), "--speakers", "off")
    assert result.returncode == 0, result.stderr
    summary = json.loads((case / "summary.json").read_text(encoding="utf-8"))
    assert summary["calls"] == 3
    assert summary["this_run"]["skipped_already_done"] >= 1
    assert summary["this_run"]["processed"] == 3 - summary["this_run"]["skipped_already_done"]
    assert not list(case.rglob(".*.tmp"))
    assert snapshot(inputs) == before


@pytest.mark.parametrize("version", ["16k", "tel8k", "tel_stereo"])
def test_run_on_calls_dev_finds_expected_flags_on_their_turns(calls_dev_run, version: str) -> None:
    case, result = calls_dev_run
    assert result.returncode == 0, result.stderr
    outputs = call_outputs(case)
    found = expected = 0
    for name, doc in outputs.items():
        if not name.endswith(f"_{version}.wav"):
            continue
        truth = json.loads((CALLS_DEV / name).with_suffix(".truth.json").read_text(encoding="utf-8"))
        conduct = [f for f in doc["flags"] if f["level"] == "segment" and (f["severity"] or 0) >= CONDUCT]
        hit, total, misses = expected_turn_hits(truth, conduct)
        found += hit
        expected += total
        if version == "tel_stereo":  # one party per channel: every segment has its channel's speaker
            assert {f["speaker"] for f in doc["flags"] if f["level"] == "segment"} <= {"S0", "S1"}
    assert expected > 0
    # Measured (BENCHMARKS.md): 16k 8/9, tel8k 8/9, tel_stereo 7/9. The misses are ASR errors on the
    # phone-line channels (去你单位→请你单位, 借→界), not rule or speaker errors.
    assert found / expected >= {"16k": 0.8, "tel8k": 0.8, "tel_stereo": 0.6}[version], (version, found, expected)


@pytest.fixture(scope="module")
def calls_dev_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    inputs = tmp_path_factory.mktemp("calls_dev_in")
    for wav in CALLS_DEV.glob("*.wav"):
        shutil.copy2(wav, inputs / wav.name)
    case = tmp_path_factory.mktemp("calls_dev_case")
    return case, run_cli("run", str(inputs), "-o", str(case))
