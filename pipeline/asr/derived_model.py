"""The copy of a CTranslate2 Whisper model the engine runs: exact convolutions (exact_conv.py) and/or
a Mandarin output vocabulary (vocab_subset.py), derived from the verified weights once and cached."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from filelock import FileLock

from pipeline.asr.ct2_convert import read_ct2_model, write_ct2_model
from pipeline.asr.exact_conv import FRONTEND_VERSION, exact_copy
from pipeline.asr.vocab_subset import SUBSET_NAME, VocabSubset
from pipeline.errors import ConfigError

_MODEL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt", "vocabulary.json", "preprocessor_config.json")


def derived_model_dir(source: Path, sha256: str, cache: Path, *, exact_conv: bool = True,
                      subset: VocabSubset | None = None) -> Path:
    """The derived copy of the CTranslate2 model in ``source`` (weights hash ``sha256``), written once
    under ``cache`` and reused; ``source`` itself when nothing is to change."""
    parts = ([f"exact-conv-v{FRONTEND_VERSION}"] if exact_conv else []) + ([f"vocab-{SUBSET_NAME}"] if subset else [])
    if not parts:
        return source
    target = cache / f"{'-'.join(parts)}-{sha256[:16]}"
    if _complete(target, sha256):
        return target
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with FileLock(str(target) + ".lock"):  # `run`'s worker processes may all start here at once
            if not _complete(target, sha256):
                _write_derived(source, sha256, target, exact_conv, subset)
    except OSError as exc:
        raise ConfigError(f"{cache}: 无法写入模型缓存 (cannot write the model cache: {exc})") from exc
    return target


def _complete(target: Path, sha256: str) -> bool:
    """Whether ``target`` holds a finished copy of the model with weights hash ``sha256`` (the marker
    is written last, inside the temporary directory that is then renamed into place)."""
    marker = target / ".source-sha256"
    return marker.is_file() and marker.read_text().strip() == sha256


def _write_derived(source: Path, sha256: str, target: Path, exact_conv: bool, subset: VocabSubset | None) -> None:
    model = read_ct2_model(source / "model.bin")
    if model.spec != "WhisperSpec":
        raise ConfigError(f"{source}: 不是 Whisper 模型 (not a CTranslate2 Whisper model)")
    if exact_conv:
        model = exact_copy(model)
    if subset is not None:
        model = subset.model(model)
    work = Path(tempfile.mkdtemp(prefix=target.name + ".", dir=target.parent))
    try:
        write_ct2_model(model, work / "model.bin")
        for name in _MODEL_FILES:
            if (source / name).is_file():
                shutil.copyfile(source / name, work / name)
        if subset is not None:
            _subset_files(work, subset)
        (work / ".source-sha256").write_text(sha256)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(work, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _subset_files(work: Path, subset: VocabSubset) -> None:
    """config.json's token ids and the vocabulary CTranslate2 reads, in the subset's ids (tokenizer.json
    stays the original: SubsetTokenizer translates)."""
    config = work / "config.json"
    if config.is_file():
        config.write_text(json.dumps(subset.config(json.loads(config.read_text(encoding="utf-8"))), indent=2),
                          encoding="utf-8")
    vocabulary = work / "vocabulary.txt"
    if vocabulary.is_file():
        lines = vocabulary.read_text(encoding="utf-8").split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        vocabulary.write_text("\n".join(subset.vocabulary_lines(lines)) + "\n", encoding="utf-8")
    tokens = work / "vocabulary.json"
    if tokens.is_file():
        tokens.write_text(json.dumps(subset.vocabulary_lines(json.loads(tokens.read_text(encoding="utf-8"))),
                                     ensure_ascii=False), encoding="utf-8")
