"""What every ASR engine takes and gives: options in, raw timed pieces out.

Engines return the model's own text and word pieces (1-3 characters with punctuation
attached, as Whisper writes them); `pipeline.asr.postprocess` turns them into
normalised per-character `Segment`s, engine-agnostically.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from pipeline.transcript import ModelInfo

SAMPLE_RATE = 16000

# A short Simplified-Chinese prompt biases Whisper toward Simplified output. A longer prompt
# listing collection vocabulary made base hallucinate after the speech ends (see BENCHMARKS.md).
DEFAULT_PROMPT = "以下是普通话的电话录音，使用简体中文。"


@dataclass(frozen=True)
class DecodeOptions:
    language: str = "zh"
    task: str = "transcribe"
    beam_size: int = 5
    initial_prompt: str | None = DEFAULT_PROMPT
    hotwords: str | None = None
    vad: bool = True
    vad_min_silence_ms: int = 700
    vad_speech_pad_ms: int = 1000  # a 0.4 s pad clipped word edges on short clips (BENCHMARKS.md)
    word_timestamps: bool = True
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    # Off: on the long calls the previous window's text as prompt was worse with the gap retry below
    # (CER 0.158 vs 0.153) and slower; it also lets a loop spread (BENCHMARKS.md).
    condition_on_previous_text: bool = False
    no_speech_threshold: float = 0.6
    log_prob_threshold: float = -1.0
    compression_ratio_threshold: float = 2.4
    # Whisper's encoder reads a 30 s window even for 5 s of speech. A shorter window is cut to the
    # speech plus this much silence, never below encoder_min_seconds (30 = always the full window):
    # up to 3x faster on short clips at equal CER (BENCHMARKS.md). faster-whisper only.
    encoder_pad_seconds: float = 5.0
    encoder_min_seconds: float = 15.0
    # Speech (VAD) that no decoded word covers is decoded again on its own: Whisper sometimes ends a
    # window after one short sentence and skips the rest of it; long calls CER 0.188 -> 0.153
    # (BENCHMARKS.md). faster-whisper only.
    fill_gaps: bool = True


@dataclass
class RawPiece:
    """One timed token piece as the model wrote it, e.g. '钱,' (text may carry punctuation)."""

    text: str
    start: float
    end: float
    probability: float


@dataclass
class RawSegment:
    start: float
    end: float
    text: str
    pieces: list[RawPiece] = field(default_factory=list)
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    compression_ratio: float = 1.0


class Engine(Protocol):
    """An ASR engine bound to one loaded model."""

    name: str
    model: ModelInfo
    # what besides model and options decides the text: backend, ISA, seed, threads (pipeline.determinism)
    compute: dict

    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> Iterator[RawSegment]:
        """Transcribe float32 mono 16 kHz audio; yield segments in time order (seconds from audio start)."""
        ...


# blocks each faster-whisper worker serves at once, their beam searches batched (pipeline/asr/batching.py):
# long calls ~20% faster than 1, for more memory (BENCHMARKS.md, issue 18); configs/default.yaml decode_batch
DECODE_BATCH = 3
# faster-whisper's output layer: "zh" = only the tokens a Mandarin transcript uses (vocab_subset.py), "full" = all
VOCABULARIES = ("zh", "full")
VOCABULARY = "full"


def engine_slots(engine: object) -> int:
    """How many ``transcribe`` calls (blocks, channels) an engine serves at once to good effect: its
    workers, times the decodes each batches (faster-whisper); 1 for an engine without workers."""
    return max(1, int(getattr(engine, "slots", getattr(engine, "workers", 1))))
