"""Shared fixtures: real speech encoded into every phone format, and broken inputs.

Other test modules may use `encoded_audio` (format name -> file) for their own checks,
e.g. that each format transcribes to the same text. Append new fixtures below.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pipeline  # noqa: F401  (first: pins CPU code paths and the OpenMP wait before numpy/CTranslate2/torch load)

# isort: split

import audio_fixtures  # tests/ is on sys.path: pytest's default (prepend) import mode puts it there
import pytest


@pytest.fixture(scope="session")
def encoded_audio(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The funasr clip (and a second voice on the right channel for stereo) in every format.

    Keys are `audio_fixtures.FORMATS` names plus the committed AMR-WB files ("amr_wb",
    "3gp_amr_wb"), copied so that no test touches the repository's copy.
    """
    directory = tmp_path_factory.mktemp("encoded_audio")
    files = {spec.name: audio_fixtures.write_format(directory, spec) for spec in audio_fixtures.FORMATS}
    for name, committed in audio_fixtures.COMMITTED_AMR_WB.items():
        files[name] = Path(shutil.copy2(committed, directory / committed.name))
    return files


@pytest.fixture(scope="session")
def bad_audio_inputs(
    tmp_path_factory: pytest.TempPathFactory, encoded_audio: dict[str, Path]
) -> dict[str, tuple[Path, str]]:
    """Case name -> (path, fragment of the English reason the InputError must give)."""
    return audio_fixtures.make_bad_inputs(tmp_path_factory.mktemp("bad_audio"), encoded_audio)


@pytest.fixture(scope="session", autouse=True)
def private_config_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test gets a throw-away user config folder (the export signing key lives there),
    so no test ever reads or creates a key in the real home."""
    import os

    directory = tmp_path_factory.mktemp("user_config")
    previous = os.environ.get("CALLPROOF_CONFIG")
    os.environ["CALLPROOF_CONFIG"] = str(directory)
    yield directory
    if previous is None:
        os.environ.pop("CALLPROOF_CONFIG", None)
    else:
        os.environ["CALLPROOF_CONFIG"] = previous
