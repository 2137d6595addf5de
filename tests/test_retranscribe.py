"""`verify --retranscribe`: a pack's transcripts are what the recorded engine and options write again."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from pipeline.evidence.retranscribe import decode_options, retranscribe_pack
from pipeline.transcribe import TranscribeConfig

ROOT = Path(__file__).resolve().parent.parent
CALLS_DEV = ROOT.parent / "shared" / "data" / "calls_dev"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "cli.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def real_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pack made the way a user makes one: `run` (with diarization) on a real recording, then `export`."""
    base = tmp_path_factory.mktemp("retranscribe")
    recordings = base / "in"
    recordings.mkdir()
    shutil.copy2(CALLS_DEV / "call2_tel8k.wav", recordings / "13800000000_20240115_223400.wav")
    run = cli("run", str(recordings), "-o", str(base / "case"), "--detect", "rules", "--workers", "1")
    assert run.returncode == 0, run.stderr
    export = cli("export", str(base / "case"), "-o", str(base / "pack.zip"), "--include-pending")
    assert export.returncode == 0, export.stderr
    return base / "pack.zip"


def test_decode_options_round_trip_through_a_transcript() -> None:
    options = TranscribeConfig().options
    recorded = json.loads(json.dumps({**options.__dict__, "compute": {}, "channel_mode": "mix"}))
    assert decode_options(recorded) == options


def test_an_untouched_pack_retranscribes_identically(real_pack: Path) -> None:
    result = cli("verify", str(real_pack), "--retranscribe")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "重新转写与包内转写逐字、逐时间一致" in result.stdout
    assert "证据包完好" in result.stdout


def test_an_edited_transcript_is_reported_with_the_differing_segment(real_pack: Path, tmp_path: Path) -> None:
    folder = tmp_path / "pack"
    with zipfile.ZipFile(real_pack) as zf:
        zf.extractall(folder)
    [path] = [p for p in (folder / "transcripts").glob("*.json")]
    document = json.loads(path.read_text(encoding="utf-8"))
    segment = document["transcript"]["segments"][0]
    segment["text"] = "我们从来没有说过这句话" + segment["text"][11:]
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    report = retranscribe_pack(folder)
    [call] = report.calls
    assert call.status == "different" and not report.ok
    assert any(d.position == 0 and "文字不同" in d.describe() for d in call.diffs)
    result = cli("verify", str(folder), "--retranscribe")
    assert result.returncode == 1
    assert "✗" in result.stdout and "第 1 段文字不同" in result.stdout


def test_a_replaced_original_is_not_retranscribed(real_pack: Path, tmp_path: Path) -> None:
    folder = tmp_path / "pack"
    with zipfile.ZipFile(real_pack) as zf:
        zf.extractall(folder)
    [original] = [p for p in (folder / "originals").rglob("*") if p.is_file()]
    shutil.copy2(CALLS_DEV / "call1_tel8k.wav", original)
    [call] = retranscribe_pack(folder).calls
    assert call.status == "skipped" and "SHA-256" in call.reason


@pytest.mark.parametrize(("compute", "vocabulary"), [({"vocabulary": "zh-v1"}, "zh"), ({}, "full")])
def test_the_recorded_output_vocabulary_is_used_again(monkeypatch: pytest.MonkeyPatch, compute: dict,
                                                      vocabulary: str) -> None:
    from types import SimpleNamespace

    import pipeline.asr.factory as factory
    from pipeline.asr.models import bundled_model_dir, model_dir_hash
    from pipeline.evidence.retranscribe import _engine_for

    loaded: list[dict] = []
    monkeypatch.setattr(factory, "load_engine", lambda engine, **kwargs: loaded.append({"engine": engine, **kwargs}))
    model = SimpleNamespace(engine="faster-whisper", sha256=model_dir_hash(bundled_model_dir()), name="whisper-base")
    _engine_for(SimpleNamespace(model=model, options={"compute": compute}), {})
    assert loaded == [{"engine": "faster-whisper", "model_dir": None, "vocabulary": vocabulary}]
