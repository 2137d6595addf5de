"""Settings: configs/default.yaml, optionally merged with a user YAML file."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from pipeline.asr.base import DECODE_BATCH, VOCABULARY, DecodeOptions
from pipeline.errors import ConfigError
from pipeline.transcribe import TranscribeConfig

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = PROJECT_ROOT / "configs" / "default.yaml"


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def load_settings(user_file: Path | None = None) -> dict[str, Any]:
    settings = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    if user_file is not None:
        try:
            extra = yaml.safe_load(Path(user_file).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{user_file}: 配置文件无法读取 (cannot read config: {exc})") from exc
        if not isinstance(extra, dict):
            raise ConfigError(f"{user_file}: 配置文件应为 YAML 映射 (config must be a YAML mapping)")
        settings = _merge(settings, extra)
    return settings


def decode_options(settings: dict[str, Any], **overrides: Any) -> DecodeOptions:
    known = {f.name for f in fields(DecodeOptions)}
    values = {k: v for k, v in settings.get("decode", {}).items() if k in known}
    unknown = set(settings.get("decode", {})) - known
    if unknown:
        raise ConfigError(f"未知的 decode 选项 (unknown decode options): {', '.join(sorted(unknown))}")
    values.update({k: v for k, v in overrides.items() if v is not None})
    if "temperatures" in values:
        values["temperatures"] = tuple(values["temperatures"])
    return DecodeOptions(**values)


def transcribe_config(settings: dict[str, Any], options: DecodeOptions, channel_mode: str | None = None) -> TranscribeConfig:
    audio = settings.get("audio", {})
    if audio.get("stereo_decode", "mix") not in ("mix", "channels"):
        raise ConfigError(f"audio.stereo_decode 只能是 mix 或 channels (got {audio.get('stereo_decode')!r})")
    return TranscribeConfig(
        options=options,
        block_seconds=float(audio.get("block_seconds", 300)),
        channel_mode=channel_mode or audio.get("channel_mode", "auto"),
        stereo_decode=str(audio.get("stereo_decode", "mix")),
    )


def output_vocabulary(settings: dict[str, Any]) -> str:
    """``vocabulary``: the tokens faster-whisper's output layer scores (zh = a Mandarin transcript's)."""
    from pipeline.asr.vocab_subset import checked_vocabulary

    language = settings.get("decode", {}).get("language", DecodeOptions().language)
    return checked_vocabulary(settings.get("vocabulary", VOCABULARY), language)


def decode_batch(settings: dict[str, Any]) -> int:
    """``decode_batch``: decodes each faster-whisper worker batches (1 = none)."""
    value = settings.get("decode_batch", DECODE_BATCH)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 16:
        raise ConfigError(f"decode_batch 应为 1 到 16 的整数 (decode_batch must be an integer 1-16, got {value!r})")
    return value
