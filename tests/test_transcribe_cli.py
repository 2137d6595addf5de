"""`python cli.py transcribe` on a batch with bad files: clear lines, the rest written, originals untouched."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT.parent / "shared" / "data" / "speech_zh" / "paddlespeech_zh.wav"


def test_transcribe_batch_with_bad_inputs(tmp_path: Path, bad_audio_inputs: dict[str, tuple[Path, str]]) -> None:
    good = Path(shutil.copy2(CLIP, tmp_path / "好的录音.wav"))
    bad = [path for name, (path, _) in bad_audio_inputs.items() if name in ("empty", "text_renamed_mp3", "truncated_m4a", "missing")]
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in [good, *bad] if p.exists()}
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "cli.py", "transcribe", str(bad[0]), str(good), *map(str, bad[1:]), "-o", str(out), "--format", "json,txt,srt,vtt"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    for path in bad:
        assert any(path.name in line and "失败" in line for line in result.stderr.splitlines()), path.name
    assert sorted(p.name for p in out.iterdir()) == ["好的录音.json", "好的录音.srt", "好的录音.txt", "好的录音.vtt"]
    doc = json.loads((out / "好的录音.json").read_text(encoding="utf-8"))
    assert doc["schema"] == "callproof.transcript/1"
    assert doc["source"]["sha256"] and doc["model"]["sha256"] and doc["tool_version"] and doc["created"]
    assert "跑步" in "".join(s["text"] for s in doc["segments"])
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in before} == before


def test_unknown_format_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "cli.py", "transcribe", str(CLIP), "-o", str(tmp_path), "--format", "docx"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "docx" in result.stderr and "Traceback" not in result.stderr


def test_vocabulary_setting_reaches_the_engine_and_the_transcript(tmp_path: Path) -> None:
    config = tmp_path / "zh.yaml"
    config.write_text("vocabulary: zh\n", encoding="utf-8")
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "cli.py", "transcribe", str(CLIP), "-o", str(out), "--format", "json",
                             "--config", str(config)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    doc = json.loads((out / "paddlespeech_zh.json").read_text(encoding="utf-8"))
    assert doc["options"]["compute"]["vocabulary"] == "zh-v1"
    assert "跑步" in "".join(s["text"] for s in doc["segments"])
    config.write_text("vocabulary: english\n", encoding="utf-8")
    bad = subprocess.run([sys.executable, "cli.py", "transcribe", str(CLIP), "-o", str(out), "--config", str(config)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "vocabulary" in bad.stderr and "Traceback" not in bad.stderr
