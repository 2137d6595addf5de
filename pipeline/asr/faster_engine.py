"""The default engine: faster-whisper (CTranslate2), int8 on CPU, Silero VAD, word timestamps."""

from __future__ import annotations

import os
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

import numpy as np

from pipeline.asr.base import SAMPLE_RATE, DecodeOptions, RawPiece, RawSegment
from pipeline.asr.models import resolve_ct2_model
from pipeline.determinism import SAMPLING_SEED, compute_record
from pipeline.transcript import ModelInfo

TAIL_SECONDS = 0.3
FRAMES_PER_SECOND = 100  # Whisper's log-mel hop is 10 ms
FRAME_STEP = 100  # trimmed windows are whole seconds long, so few distinct encoder shapes occur


def trimmed_window(features: np.ndarray, pad_seconds: float, min_seconds: float) -> np.ndarray:
    """Cut the zero padding faster-whisper adds to a window shorter than 30 s down to
    ``pad_seconds`` of it, keeping at least ``min_seconds`` in all (trailing axis = frames).

    The encoder's cost grows faster than its input (attention), so a 5 s clip encoded as 15 s
    instead of 30 s takes about a third of the time. Whisper never saw a window without silence
    after short speech, so some padding stays: without it base repeated or dropped short clips.
    """
    frames = features.shape[-1]
    if min_seconds * FRAMES_PER_SECOND >= frames:
        return features
    voiced = np.flatnonzero(np.any(features.reshape(-1, *features.shape[-2:]) != 0, axis=(0, 1)))
    content = int(voiced[-1]) + 1 if len(voiced) else 0
    wanted = max(content + pad_seconds * FRAMES_PER_SECOND, min_seconds * FRAMES_PER_SECOND)
    keep = min(frames, int(-(-wanted // FRAME_STEP) * FRAME_STEP))
    return features if keep >= frames else np.ascontiguousarray(features[..., :keep])


def last_speech_end(audio: np.ndarray) -> float | None:
    """End (seconds) of the last speech Silero VAD hears, unpadded; None when it hears none."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    chunks = get_speech_timestamps(audio, VadOptions(speech_pad_ms=0, min_silence_duration_ms=300))
    return chunks[-1]["end"] / SAMPLE_RATE if chunks else None


def force_offline() -> None:
    """Make every Hugging Face code path fail fast instead of reaching the network."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"


def pick_device(device: str) -> str:
    if device != "auto":
        return device
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


@lru_cache(maxsize=1)
def _trimming_model_class() -> type:
    from faster_whisper import WhisperModel

    class TrimmingWhisperModel(WhisperModel):
        """WhisperModel whose encoder skips most of the zero padding of a short window."""

        pad_seconds = 0.0
        min_seconds = 30.0

        def encode(self, features: np.ndarray):  # noqa: ANN201 - ctranslate2.StorageView
            return super().encode(trimmed_window(features, self.pad_seconds, self.min_seconds))

    return TrimmingWhisperModel


class _SamplingWatch:
    """The CTranslate2 model, noting whether a decode drew random samples (temperature fallback).

    CTranslate2 seeds its generator once per decoding thread, so after one sampled window every
    later window would depend on what was decoded before it (other files, other workers).
    """

    def __init__(self, model: object) -> None:
        self._model = model
        self.sampled = False

    def __getattr__(self, name: str) -> object:
        return getattr(self._model, name)

    def generate(self, *args: object, **kwargs: object) -> object:
        if kwargs.get("sampling_topk", 1) != 1:  # faster-whisper samples with topk 0 at temperature > 0
            self.sampled = True
        return self._model.generate(*args, **kwargs)


class FasterWhisperEngine:
    name = "faster-whisper"

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        device: str = "auto",
        threads: int = 0,
        compute_type: str | None = None,
    ) -> None:
        force_offline()
        entry = resolve_ct2_model(model_dir)
        self.device = pick_device(device)
        # Weights are fp16; on CPU float16 is refused and "default" means slow fp32: int8 is the fast path.
        self.compute_type = compute_type or ("int8" if self.device == "cpu" else "float16")
        self.model = ModelInfo(name=entry.name, sha256=entry.sha256, engine=self.name, path=str(entry.path))
        self.threads = threads or min(4, os.cpu_count() or 1)
        self.compute = {**compute_record(self.device, self.compute_type), "threads": self.threads}
        import ctranslate2

        ctranslate2.set_random_seed(SAMPLING_SEED)
        self._model = _trimming_model_class()(
            str(entry.path),
            device=self.device,
            compute_type=self.compute_type,
            cpu_threads=self.threads,
            local_files_only=True,
        )
        self._model.model = _SamplingWatch(self._model.model)
        self._path = str(entry.path)

    def _fresh_generator(self) -> None:
        """Reload the CTranslate2 model (new threads, so a generator seeded anew) after sampling."""
        import ctranslate2

        ctranslate2.set_random_seed(SAMPLING_SEED)
        old = self._model.model
        self._model.model = _SamplingWatch(ctranslate2.models.Whisper(
            self._path, device=self.device, compute_type=self.compute_type,
            intra_threads=self.threads, inter_threads=1,
        ))
        del old

    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> Iterator[RawSegment]:
        # Every call (a block of a recording, or one channel of it) starts from the same sampler
        # state, so its text does not depend on what this engine decoded before.
        if self._model.model.sampled:
            self._fresh_generator()
        speech_end = last_speech_end(audio) if options.vad else None
        self._model.pad_seconds = options.encoder_pad_seconds
        self._model.min_seconds = options.encoder_min_seconds
        segments, _info = self._model.transcribe(
            audio,
            language=options.language,
            task=options.task,
            beam_size=options.beam_size,
            initial_prompt=options.initial_prompt,
            hotwords=options.hotwords,
            vad_filter=options.vad,
            vad_parameters=(
                {"min_silence_duration_ms": options.vad_min_silence_ms, "speech_pad_ms": options.vad_speech_pad_ms}
                if options.vad
                else None
            ),
            word_timestamps=options.word_timestamps,
            temperature=list(options.temperatures),
            condition_on_previous_text=options.condition_on_previous_text,
            no_speech_threshold=options.no_speech_threshold,
            log_prob_threshold=options.log_prob_threshold,
            compression_ratio_threshold=options.compression_ratio_threshold,
        )
        for seg in segments:
            if speech_end is not None and seg.start >= speech_end:
                break  # a window decoded from the silence after the last speech: hallucination bait
            pieces = [
                RawPiece(text=w.word, start=float(w.start), end=float(w.end), probability=float(w.probability))
                for w in (seg.words or [])
            ]
            yield RawSegment(
                start=float(seg.start),
                end=float(seg.end),
                text=seg.text,
                pieces=pieces,
                avg_logprob=float(seg.avg_logprob),
                no_speech_prob=float(seg.no_speech_prob),
                compression_ratio=float(seg.compression_ratio),
            )
            if speech_end is not None and seg.end >= speech_end - TAIL_SECONDS:
                # Only the VAD padding is left. faster-whisper would decode it as one more window
                # (with word timestamps it restarts at the last word), loop on it and retry at every
                # fallback temperature: 5x the cost of a short call, for a segment we drop anyway.
                break
