"""The default engine: faster-whisper (CTranslate2), int8 on CPU, Silero VAD, word timestamps."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np

from pipeline.asr.base import (
    DECODE_BATCH,
    SAMPLE_RATE,
    VOCABULARY,
    DecodeOptions,
    RawPiece,
    RawSegment,
)
from pipeline.asr.batching import GenerateBatcher
from pipeline.asr.ct2_convert import read_ct2_model
from pipeline.asr.derived_model import derived_model_dir
from pipeline.asr.exact_conv import FRONTEND_NAME, ConvFrontEnd
from pipeline.asr.models import cache_root, resolve_ct2_model
from pipeline.asr.vocab_subset import SUBSET_NAME, SubsetTokenizer, VocabSubset, checked_vocabulary
from pipeline.determinism import SAMPLING_SEED, compute_record
from pipeline.transcript import ModelInfo

TAIL_SECONDS = 0.3
# a stretch of speech with no decoded word this long is decoded again on its own (uncovered_speech)
GAP_MIN_SECONDS = 1.0
GAP_MARGIN_SECONDS = 0.5
GAP_JOIN_SECONDS = 2.0
GAP_CONTEXT_SECONDS = 1.0
LOOP_REPEATS = 2  # a run of words repeated more than this: a loop, whose words cover no speech (0: they do)
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


def speech_chunks(audio: np.ndarray) -> list[tuple[float, float]]:
    """(start, end) seconds of the speech Silero VAD hears, unpadded."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    chunks = get_speech_timestamps(audio, VadOptions(speech_pad_ms=0, min_silence_duration_ms=300))
    return [(c["start"] / SAMPLE_RATE, c["end"] / SAMPLE_RATE) for c in chunks]


def last_speech_end(audio: np.ndarray) -> float | None:
    """End (seconds) of the last speech Silero VAD hears, unpadded; None when it hears none."""
    chunks = speech_chunks(audio)
    return chunks[-1][1] if chunks else None


def uncovered_speech(chunks: list[tuple[float, float]], segments: list[RawSegment], min_seconds: float = GAP_MIN_SECONDS,
                     margin: float = GAP_MARGIN_SECONDS, join: float = GAP_JOIN_SECONDS) -> list[tuple[float, float]]:
    """Stretches of speech (VAD chunks) where no decoded word lies within ``margin`` seconds, at
    least ``min_seconds`` long; stretches less than ``join`` apart are joined.

    Whisper sometimes ends a 30 s window after its first short sentence (a timestamp, then the end
    token) and moves on by the whole window, so the rest of that window's speech is never decoded.
    """
    from pipeline.asr.postprocess import dedupe_piece_loops

    # the words of a decoding loop ("GGGG…", a phrase over and over) cover nothing: the decoder lost the audio
    covered = sorted((p.start - margin, p.end + margin) for seg in segments
                     for p in (dedupe_piece_loops(seg.pieces, keep=0, loop=LOOP_REPEATS) if LOOP_REPEATS and seg.pieces
                               else seg.pieces or [RawPiece(seg.text, seg.start, seg.end, 1.0)]))
    gaps: list[tuple[float, float]] = []
    for start, end in chunks:
        t = start
        for a, b in covered:
            if b <= t or a >= end:
                continue
            if a > t:
                gaps.append((t, a))
            t = max(t, b)
        if t < end:
            gaps.append((t, end))
    joined: list[tuple[float, float]] = []
    for a, b in gaps:
        if joined and a - joined[-1][1] < join:
            joined[-1] = (joined[-1][0], b)
        else:
            joined.append((a, b))
    return [(a, b) for a, b in joined if b - a >= min_seconds]


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


def engine_compute_record(device: str, compute_type: str, vocabulary: str = VOCABULARY) -> dict[str, object]:
    """compute_record of this engine: on CPU its encoder convolutions run in numpy (exact_conv.py); the
    output vocabulary when it is a subset (vocab_subset.py)."""
    record = compute_record(device, compute_type)
    if device == "cpu":
        record = {**record, "encoder_conv": FRONTEND_NAME}
    return {**record, "vocabulary": SUBSET_NAME} if vocabulary == "zh" else record


@lru_cache(maxsize=1)
def _trimming_model_class() -> type:
    from faster_whisper import WhisperModel

    class TrimmingWhisperModel(WhisperModel):
        """WhisperModel whose encoder skips most of the zero padding of a short window and, on CPU,
        whose input convolutions run in numpy (pipeline/asr/exact_conv.py)."""

        pad_seconds = 0.0
        min_seconds = 30.0
        frontend: ConvFrontEnd | None = None

        def encode(self, features: np.ndarray):  # noqa: ANN201 - ctranslate2.StorageView
            features = trimmed_window(features, self.pad_seconds, self.min_seconds)
            return super().encode(features if self.frontend is None else self.frontend(features))

    return TrimmingWhisperModel


def _on_own_thread(load: Callable[[], object]) -> object:
    """``load()`` on a thread of its own, so the OpenMP threads CTranslate2 starts while loading a
    multi-threaded replica belong to that thread, not to the caller: a model process forked from a
    process whose main thread had loaded one hung while loading its own model."""
    with ThreadPoolExecutor(1, thread_name_prefix="ct2-load") as pool:
        return pool.submit(load).result()


def vocabulary_subset(model_dir: Path, vocabulary: str) -> VocabSubset | None:
    """``zh``: the output layer cut to the tokens a Mandarin transcript uses (vocab_subset.py); ``full``: all."""
    return VocabSubset.for_model(model_dir) if checked_vocabulary(vocabulary) == "zh" else None


def _shifted(seg: RawSegment, seconds: float) -> RawSegment:
    pieces = [RawPiece(p.text, p.start + seconds, p.end + seconds, p.probability) for p in seg.pieces]
    return RawSegment(seg.start + seconds, seg.end + seconds, seg.text, pieces, seg.avg_logprob, seg.no_speech_prob,
                      seg.compression_ratio)


class _SamplingRouter:
    """The shared CTranslate2 model, except that a decode which samples (temperature fallback) runs
    on a model of its own call.

    CTranslate2 seeds its random generator once per decoding thread. The shared model's threads
    live as long as the engine and serve every call (other blocks, channels, files, in any order),
    so samples drawn there would depend on what was decoded before and by which worker. Each
    ``Engine.transcribe`` call instead gets, at its first sampled decode, a fresh single-replica
    model (new threads, generators seeded with SAMPLING_SEED) that serves its sampled decodes in
    order: a call's text depends only on its audio and options. Beam search draws no samples and
    stays on the shared replicas. Every call to the shared replicas (encoder, alignment, beam search)
    goes through the engine's queue (pipeline/asr/batching.py), which batches beam searches.
    """

    def __init__(self, model: object, load_sampler: Callable[[], object], batcher: GenerateBatcher,
                 multilingual: bool) -> None:
        self._model = model
        # a subset vocabulary is not 51,865 tokens, by which CTranslate2 tells a multilingual model
        self.is_multilingual = multilingual
        self._load_sampler = load_sampler
        self._batcher = batcher
        self._local = threading.local()

    def __getattr__(self, name: str) -> object:
        return getattr(self._model, name)

    def begin_call(self) -> None:
        self._local.sampler = None

    def encode(self, *args: object, **kwargs: object) -> object:
        return self._batcher.call(self._model.encode, *args, **kwargs)

    def align(self, *args: object, **kwargs: object) -> object:
        return self._batcher.call(self._model.align, *args, **kwargs)

    def end_call(self) -> None:
        self._local.sampler = None

    def generate(self, *args: object, **kwargs: object) -> object:
        if kwargs.get("sampling_topk", 1) == 1:  # faster-whisper samples with topk 0 at temperature > 0
            return self._batcher.generate(*args, **kwargs)
        if getattr(self._local, "sampler", None) is None:
            self._local.sampler = self._load_sampler()
        return self._local.sampler.generate(*args, **kwargs)


class FasterWhisperEngine:
    """Whisper on CTranslate2. ``threads`` CPU threads in all, split into ``workers`` replicas that
    share the weights. ``transcribe`` may be called from ``slots`` Python threads at once (one block
    or channel each): ``batch`` of them per worker, whose beam-search decodes run as one batched
    call (pipeline/asr/batching.py). The text never depends on threads, workers or batching."""

    name = "faster-whisper"

    def __init__(
        self,
        model_dir: Path | None = None,
        *,
        device: str = "auto",
        threads: int = 0,
        workers: int = 0,
        batch: int = DECODE_BATCH,
        compute_type: str | None = None,
        vocabulary: str = VOCABULARY,
    ) -> None:
        force_offline()
        entry = resolve_ct2_model(model_dir)
        self.device = pick_device(device)
        # Weights are fp16; on CPU float16 is refused and "default" means slow fp32: int8 is the fast path.
        self.compute_type = compute_type or ("int8" if self.device == "cpu" else "float16")
        self.model = ModelInfo(name=entry.name, sha256=entry.sha256, engine=self.name, path=str(entry.path))
        self.threads = threads or min(4, os.cpu_count() or 1)
        # single-thread workers on CPU: one decode leaves a second thread idle ~40% of the time
        self.workers = max(1, workers or (self.threads if self.device == "cpu" else 1))
        self.intra_threads = max(1, self.threads // self.workers)
        self.batch = max(1, batch)
        self.slots = self.workers * self.batch
        subset = vocabulary_subset(entry.path, vocabulary)
        self.vocabulary = vocabulary
        self.compute = {**engine_compute_record(self.device, self.compute_type, vocabulary), "threads": self.threads,
                        "workers": self.workers, "batch": self.batch}
        frontend = None
        exact_conv = "encoder_conv" in self.compute
        if exact_conv:
            # oneDNN's convolution sums in a cache-size-dependent order: the convolutions run in numpy instead
            frontend = ConvFrontEnd(read_ct2_model(entry.path / "model.bin"))
        run_path = derived_model_dir(entry.path, entry.sha256, cache_root(), exact_conv=exact_conv, subset=subset)
        import ctranslate2

        ctranslate2.set_random_seed(SAMPLING_SEED)
        self._model = _trimming_model_class()(
            str(run_path),
            device=self.device,
            compute_type=self.compute_type,
            cpu_threads=self.intra_threads,
            num_workers=self.workers,
            local_files_only=True,
        )
        self._model.frontend = frontend
        self._path = str(run_path)
        self.suppress_tokens: list[int] = [-1]  # faster-whisper's default: its non-speech symbols
        if subset is not None:
            from faster_whisper.tokenizer import Tokenizer

            original = Tokenizer(self._model.hf_tokenizer, True, task="transcribe", language="zh")
            self.suppress_tokens = subset.to_new(list(original.non_speech_tokens))
            self._model.hf_tokenizer = SubsetTokenizer(self._model.hf_tokenizer, subset)
        # a lone model call while every worker idles (a short recording, a long one's last block) runs on
        # one more replica that has every thread (batching.py). Loaded now, on a thread of its own: loaded
        # later on a block's short-lived thread, a model process forked afterwards (run) hung loading its
        # model in 3 of 10 tries; loaded on the main thread, in 10 of 10 (0 of 24 this way). run's model
        # processes are spawned now (worker_guard.worker_context); this still spares a caller who forks.
        solo = _on_own_thread(self._load_solo_replica) if self.workers > 1 else None
        self.batcher = GenerateBatcher(self._model.model.generate, self.workers, self.batch, solo=solo)
        self._router = _SamplingRouter(self._model.model, self._load_sampler, self.batcher,
                                       subset is not None or self._model.model.is_multilingual)
        self._model.model = self._router

    def _replica(self, threads: int) -> object:
        """One more CTranslate2 replica of the engine's model, with ``threads`` intra-op threads."""
        import ctranslate2

        return ctranslate2.models.Whisper(self._path, device=self.device, compute_type=self.compute_type,
                                          intra_threads=threads, inter_threads=1)

    def _load_solo_replica(self) -> object:
        """One replica with every thread of the engine, for a model call nothing else runs beside."""
        return self._replica(self.threads)

    def _load_sampler(self) -> object:
        """A model with new decoding threads, so a generator seeded anew (see _SamplingRouter)."""
        import ctranslate2

        ctranslate2.set_random_seed(SAMPLING_SEED)
        return self._replica(self.intra_threads)

    def transcribe(self, audio: np.ndarray, options: DecodeOptions) -> Iterator[RawSegment]:
        # Every call (a block of a recording, or one channel of it) starts from the same sampler
        # state, so its text does not depend on what was decoded before or on which worker.
        self._router.begin_call()
        self.batcher.begin()
        try:
            yield from self._transcribe(audio, options)
        finally:
            self._router.end_call()
            self.batcher.end()

    def _transcribe(self, audio: np.ndarray, options: DecodeOptions) -> Iterator[RawSegment]:
        checked_vocabulary(self.vocabulary, options.language)
        chunks = speech_chunks(audio) if options.vad else []
        first = list(self._decode(audio, options, chunks[-1][1] if chunks else None))
        if not (options.vad and options.fill_gaps):
            yield from first
            return
        extra: list[RawSegment] = []
        for a, b in uncovered_speech(chunks, first):
            lo = max(0.0, a - GAP_CONTEXT_SECONDS)
            hi = min(len(audio) / SAMPLE_RATE, b + GAP_CONTEXT_SECONDS)
            part = audio[int(lo * SAMPLE_RATE) : int(hi * SAMPLE_RATE)]
            for seg in self._decode(part, options, last_speech_end(part)):
                extra.append(_shifted(seg, lo))
        yield from sorted(first + extra, key=lambda seg: seg.start)

    def _decode(self, audio: np.ndarray, options: DecodeOptions, speech_end: float | None) -> Iterator[RawSegment]:
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
            suppress_tokens=list(self.suppress_tokens),
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
