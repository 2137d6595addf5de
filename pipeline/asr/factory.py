"""Build the engine the user asked for."""

from __future__ import annotations

from pathlib import Path

from pipeline.asr.base import DECODE_BATCH, VOCABULARY, Engine
from pipeline.asr.models import BUNDLED_NAME, bundled_model_dir, list_models, model_dir_hash
from pipeline.errors import ConfigError

ENGINES = ("faster-whisper", "openai-whisper")


def resolve_model_dir(model: str | None, model_dir: Path | None) -> Path | None:
    """--model-dir wins; --model NAME picks a model `models list` shows; the bundled base is the default."""
    if model_dir is not None:
        return Path(model_dir)
    if model in (None, "", BUNDLED_NAME, "base"):
        return None
    for entry in list_models():
        if entry.name == model:
            return entry.path
    raise ConfigError(
        f"找不到模型 {model}；运行 `python cli.py models list` 查看可用模型 "
        f"(model {model!r} not found locally; nothing is downloaded)"
    )


def load_engine(
    engine: str = "faster-whisper",
    *,
    model: str | None = None,
    model_dir: Path | None = None,
    device: str = "auto",
    threads: int = 0,
    workers: int = 0,
    batch: int = DECODE_BATCH,
    vocabulary: str = VOCABULARY,
) -> Engine:
    """``threads``: CPU threads in all (0 = min(4, cores)); ``workers``: replicas sharing the weights
    (0 = one per thread on CPU); ``batch``: decodes each worker runs as one batch; ``vocabulary``: the
    tokens the output layer scores (both faster-whisper only)."""
    path = resolve_model_dir(model, model_dir)
    if engine == "faster-whisper":
        from pipeline.asr.faster_engine import FasterWhisperEngine

        return FasterWhisperEngine(path, device=device, threads=threads, workers=workers, batch=batch,
                                   vocabulary=vocabulary)
    if engine == "openai-whisper":
        try:
            from pipeline.asr.openai_engine import OpenAIWhisperEngine
        except ImportError as exc:
            raise ConfigError(
                "openai-whisper 未安装：pip install torch==2.13.0 && pip install -r requirements-openai.txt "
                f"(optional openai-whisper extra not installed: {exc})"
            ) from exc
        return OpenAIWhisperEngine(path, device=device, threads=threads)
    raise ConfigError(f"未知引擎 {engine} (unknown engine; choose from {', '.join(ENGINES)})")


def model_fingerprint(engine: str, *, model: str | None = None, model_dir: Path | None = None, **_: object) -> str:
    """Engine + the SHA-256 of the weights it would load, without loading them (for resume checks)."""
    path = resolve_model_dir(model, model_dir)
    sha = model_dir_hash(bundled_model_dir()) if path is None else model_dir_hash(path)
    return f"{engine}:{sha}"


def compute_fingerprint(engine: str, *, device: str = "auto", vocabulary: str = VOCABULARY,
                        **_: object) -> dict[str, object]:
    """The compute path the engine would decode on (backend, ISA, seed), without loading it."""
    from pipeline.determinism import compute_record, reuse_key

    if engine == "openai-whisper":
        from pipeline.asr.openai_engine import pick_torch_device

        chosen = pick_torch_device(device)
        return reuse_key(compute_record(chosen, "float16" if chosen == "cuda" else "float32"))
    from pipeline.asr.faster_engine import engine_compute_record, pick_device

    chosen = pick_device(device)
    return reuse_key(engine_compute_record(chosen, "int8" if chosen == "cpu" else "float16", vocabulary))
