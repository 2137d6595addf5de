"""Blocks and channels decoded in parallel give the transcript one worker gives, also when several
calls share the workers (run); gaps get decoded; stereo words go to the channel that carries them."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from pipeline.asr.base import DECODE_BATCH, SAMPLE_RATE, RawPiece, RawSegment, engine_slots
from pipeline.asr.batching import GenerateBatcher
from pipeline.asr.channels import split_by_channel
from pipeline.asr.faster_engine import FasterWhisperEngine, uncovered_speech
from pipeline.audio import decode, probe, sha256_file
from pipeline.batch import RunSettings, shared_transcripts, shares_workers
from pipeline.reproduce import content_digest, diff_transcripts
from pipeline.transcribe import TranscribeConfig, transcribe_file, with_options
from pipeline.transcript import Transcript

CALLS_DEV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "calls_dev"
SPEECH = CALLS_DEV.parent / "speech_zh"
# 15 s blocks cut at quiet points: call1 (46 s) becomes three blocks, two decoded at once
BLOCKED = TranscribeConfig(block_seconds=15.0, cut_search_seconds=5.0)


@pytest.fixture(scope="module")
def one() -> FasterWhisperEngine:
    return FasterWhisperEngine(threads=1, workers=1, batch=1)  # every decode alone: the reference


@pytest.fixture(scope="module")
def two() -> FasterWhisperEngine:
    return FasterWhisperEngine(threads=2, workers=2)


@pytest.fixture(scope="module")
def call1_alone(one: FasterWhisperEngine) -> Transcript:
    """calls_dev call1 (46 s, several blocks) cut into blocks and decoded by the one-worker reference engine."""
    return transcribe_file(CALLS_DEV / "call1_16k.wav", one, BLOCKED)


def test_engine_splits_its_threads_into_single_thread_workers(two: FasterWhisperEngine) -> None:
    assert (two.workers, two.intra_threads) == (2, 1)
    assert two.compute["workers"] == 2 and two.compute["threads"] == 2
    assert (two.batch, two.slots) == (DECODE_BATCH, 2 * DECODE_BATCH) and engine_slots(two) == two.slots


def _window(audio: np.ndarray, engine: FasterWhisperEngine) -> np.ndarray:
    """The encoder output of one full 30 s window of ``audio`` (zero-padded)."""
    import ctranslate2

    model = engine._model
    features = model.feature_extractor(np.pad(audio, (0, max(0, 30 * SAMPLE_RATE - len(audio)))))[:, :3000]
    features = features if model.frontend is None else model.frontend(features)  # as the engine's encode does
    storage = ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None]))
    return np.asarray(model.model.encode(storage, to_cpu=True))


def test_a_window_decoded_in_a_batch_gives_what_it_gives_alone(one: FasterWhisperEngine) -> None:
    # batches form by timing, so a row's tokens and score must not depend on its neighbours
    import ctranslate2
    from faster_whisper.tokenizer import Tokenizer

    tokenizer = Tokenizer(one._model.hf_tokenizer, True, task="transcribe", language="zh")
    prompt = [tokenizer.sot_prev, *tokenizer.encode(" 以下是普通话的电话录音。"), *tokenizer.sot_sequence]
    audios = [decode(CALLS_DEV / name).mono() for name in ("call1_16k.wav", "call2_tel8k.wav")]
    windows = [_window(a[: 30 * SAMPLE_RATE], one) for a in audios]
    options = dict(beam_size=5, max_length=448, return_scores=True, return_no_speech_prob=True, suppress_blank=True,
                   suppress_tokens=[-1])

    def generate(rows: list[np.ndarray]) -> list[tuple[list[int], float, float]]:
        storage = ctranslate2.StorageView.from_array(np.ascontiguousarray(np.concatenate(rows)))
        results = one._model.model.generate(storage, [prompt] * len(rows), **options)
        return [(r.sequences_ids[0], r.scores[0], r.no_speech_prob) for r in results]

    alone = [generate([w])[0] for w in windows]
    assert all(len(tokens) > 10 for tokens, _, _ in alone)
    assert generate(windows) == alone
    # other neighbours, other positions, the same window twice
    assert generate([windows[1], windows[1], windows[0]]) == [alone[1], alone[1], alone[0]]


def test_the_batcher_runs_waiting_decodes_together_and_hands_back_errors() -> None:
    calls: list[int] = []
    release = threading.Event()

    def generate(features: object, prompts: list[list[int]], **kwargs: object) -> list[int]:
        rows = np.asarray(features)
        calls.append(len(rows))
        if len(calls) == 1:
            release.wait(10)  # hold the only worker until the other requests queue
        if kwargs.get("fail"):
            raise RuntimeError("decoder failed")
        return [int(r[0, 0]) for r in rows]

    batcher = GenerateBatcher(generate, workers=1, max_batch=3)
    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(batcher.generate, np.full((1, 4, 2), i, dtype=np.float32), [[1, 2]]) for i in range(5)]
        while len(batcher._pending) < 4:
            time.sleep(0.01)
        release.set()
        assert [f.result() for f in futures] == [[i] for i in range(5)]
        # one alone (it held the worker), then the four that waited: three, then one
        assert calls == [1, 3, 1] and batcher.batches == [1, 3, 1]
        with pytest.raises(RuntimeError, match="decoder failed"):
            pool.submit(batcher.generate, np.zeros((1, 4, 2), dtype=np.float32), [[1, 2]], fail=True).result()
    # other shapes or options are never batched together
    assert GenerateBatcher(generate, 1, 3).generate(np.zeros((2, 4, 2), dtype=np.float32), [[1], [1]]) == [0, 0]


class _FirstBatchWaits(GenerateBatcher):
    """Starts no beam search until two wait, until a batch has run or 20 s have passed: makes batching
    certain in a test whatever the machine's timing (the other blocks' encoder calls run meanwhile)."""

    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self.lingering = True
        timer = threading.Timer(20.0, self._stop)
        timer.daemon = True
        timer.start()

    def _stop(self) -> None:
        with self._ready:
            self.lingering = False
            self._ready.notify_all()

    def _take(self) -> tuple[list, int]:
        if any(b > 1 for b in self.batches):
            self.lingering = False
        if self.lingering and len(self._pending) == 1 and self._pending[0].key is not None:
            return [], 0
        return super()._take()


def test_batched_blocks_match_every_block_decoded_alone(one: FasterWhisperEngine) -> None:
    # one worker serving three blocks at once, their decodes batched; full 30 s encoder windows, so
    # every block's windows have the same shape and can share a batch
    batching = FasterWhisperEngine(threads=1, workers=1, batch=3)
    batching.batcher = batching._router._batcher = _FirstBatchWaits(batching._router._model.generate, 1, 3)
    full_windows = with_options(BLOCKED, encoder_min_seconds=30.0)
    path = CALLS_DEV / "call1_16k.wav"
    alone = transcribe_file(path, one, full_windows)
    batched = transcribe_file(path, batching, full_windows)
    assert max(batching.batcher.batches) > 1  # some decodes really ran as a batch
    assert diff_transcripts(alone, batched) == [] and content_digest(alone) == content_digest(batched)


def test_blocks_decoded_by_two_workers_match_one_worker(call1_alone: Transcript, two: FasterWhisperEngine) -> None:
    serial = call1_alone
    parallel = transcribe_file(CALLS_DEV / "call1_16k.wav", two, BLOCKED)
    assert len(serial.segments) > 3 and diff_transcripts(serial, parallel) == []
    assert content_digest(serial) == content_digest(parallel)
    times = [w.start for s in parallel.segments for w in s.words]
    assert times == sorted(times)


def test_sampled_decodes_do_not_depend_on_the_worker_or_on_the_order(one: FasterWhisperEngine,
                                                                      two: FasterWhisperEngine) -> None:
    # temperature 1.0 from the first window: every decode samples; stereo = two channels at once
    sampling = with_options(BLOCKED, temperatures=(1.0,))
    path = CALLS_DEV / "call2_tel_stereo.wav"
    serial = transcribe_file(path, one, sampling)
    assert serial.options["channel_mode"] == "split" and serial.options["stereo_decode"] == "mix"
    assert {s.channel for s in serial.segments} == {0, 1}
    # (what was decoded before does not matter either: test_reproducible's sampled-fallback test)
    parallel = transcribe_file(path, two, sampling)
    assert diff_transcripts(serial, parallel) == []


def _seg(start: float, end: float, words: list[tuple[float, float]]) -> RawSegment:
    return RawSegment(start, end, "x", [RawPiece("x", a, b, 0.9) for a, b in words])


def test_uncovered_speech_finds_the_speech_no_word_covers() -> None:
    chunks = [(0.5, 6.0), (7.0, 30.0), (40.0, 40.8)]
    segments = [_seg(0.5, 6.0, [(0.5, 3.0), (3.0, 5.9)]), _seg(7.0, 9.0, [(7.0, 8.9)]), _seg(26.0, 30.0, [(26.2, 29.9)])]
    # 9.4-25.7 s of the second chunk is speech without a word; the 0.8 s chunk is too short to retry
    assert uncovered_speech(chunks, segments) == [(9.4, 25.7)]
    assert uncovered_speech(chunks[:1], segments) == []
    # a segment without word times covers its whole span
    assert uncovered_speech([(0.0, 10.0)], [RawSegment(0.0, 10.0, "x")]) == []


def test_calls_sharing_the_workers_match_each_call_alone(one: FasterWhisperEngine, two: FasterWhisperEngine,
                                                         call1_alone: Transcript) -> None:
    # run: two calls in flight (one of them stereo: two channels), the blocks of both decoded by the same
    # two workers from one queue
    paths = [CALLS_DEV / "call1_16k.wav", CALLS_DEV / "call2_tel_stereo.wav"]
    alone = [call1_alone, transcribe_file(paths[1], one, BLOCKED)]
    assert shares_workers(two) and not shares_workers(one)
    jobs = [(p, probe(p), sha256_file(p)) for p in paths]
    shared = dict(shared_transcripts(jobs, two, BLOCKED, RunSettings(workers=2, diarize=False)))
    for path, serial in zip(paths, alone, strict=True):
        assert diff_transcripts(serial, shared[path]) == [], path.name
    with ThreadPoolExecutor(2) as pool:  # a pool passed in is used, and left open
        again = transcribe_file(paths[0], two, BLOCKED, pool=pool)
        assert pool.submit(int, "1").result() == 1
    assert content_digest(again) == content_digest(alone[0])


def test_a_recording_of_one_block_is_decoded_alone_on_every_thread_with_the_same_text(
        one: FasterWhisperEngine, two: FasterWhisperEngine) -> None:
    path = SPEECH / "funasr_asr_example_zh.wav"  # one block: its model calls come one at a time
    before = two.batcher.solo_runs
    alone = transcribe_file(path, two)
    assert two.batcher.solo_runs > before
    reference = transcribe_file(path, one)  # one worker: no second replica, the one it has has every thread
    assert one.batcher._solo is None and one.batcher.solo_runs == 0
    assert alone.text and diff_transcripts(reference, alone) == [] and content_digest(reference) == content_digest(alone)
    # sampled decodes (every window samples) run on a fresh single-thread sampler, alone or not
    sampling = with_options(TranscribeConfig(), temperatures=(1.0,))
    assert diff_transcripts(transcribe_file(path, one, sampling), transcribe_file(path, two, sampling)) == []


class _Replica:
    """A fake CTranslate2 replica whose calls last until their tag is released; logs when they run."""

    def __init__(self, name: str, log: list[tuple[str, str, str]], release: dict[str, threading.Event]) -> None:
        self.name, self.log, self.release = name, log, release

    def encode(self, tag: str) -> str:
        self.log.append(("start", self.name, tag))
        self.release[tag].wait(10)
        self.log.append(("end", self.name, tag))
        return f"{self.name}:{tag}"


def _wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)


def test_a_lone_call_runs_on_every_thread_and_no_more_calls_than_workers_run_at_once() -> None:
    log: list[tuple[str, str, str]] = []
    release = {tag: threading.Event() for tag in "abcdef"}
    shared, solo = _Replica("shared", log, release), _Replica("solo", log, release)
    batcher = GenerateBatcher(lambda *a, **k: [], workers=2, max_batch=3, solo=solo)
    release["a"].set()
    assert batcher.call(shared.encode, "a") == "solo:a" and batcher.solo_runs == 1  # alone: every thread
    with ThreadPoolExecutor(3) as pool:
        b = pool.submit(batcher.call, shared.encode, "b")
        _wait_for(lambda: ("start", "solo", "b") in log)
        cd = [pool.submit(batcher.call, shared.encode, tag) for tag in "cd"]
        _wait_for(lambda: len(batcher._pending) == 2)
        assert log[-1] == ("start", "solo", "b")  # c and d wait: the lone call b holds both cores
        release["b"].set()
        _wait_for(lambda: ("start", "shared", "c") in log and ("start", "shared", "d") in log)
        release["c"].set()
        release["d"].set()
        assert b.result() == "solo:b" and [f.result() for f in cd] == ["shared:c", "shared:d"]
    running = 0
    for event, _name, _tag in log:
        running += 1 if event == "start" else -1
        assert running <= 2
    assert batcher.solo_runs == 2  # c and d ran side by side, one on each worker
    # two transcribe calls in progress (run: blocks of several recordings): a lone call stays on a worker
    batcher.begin()
    batcher.begin()
    release["f"].set()
    assert batcher.call(shared.encode, "f") == "shared:f" and batcher.solo_runs == 2
    batcher.end()
    batcher.end()
    # an engine with one worker has no solo replica
    release["e"].set()
    assert GenerateBatcher(lambda *a, **k: [], workers=1, max_batch=3).call(shared.encode, "e") == "shared:e"


def test_words_go_to_the_channel_that_carries_them() -> None:
    t = np.arange(4 * SAMPLE_RATE) / SAMPLE_RATE
    tone = 0.3 * np.sin(2 * np.pi * 440 * t).astype(np.float32)
    channels = np.zeros((2, len(t)), dtype=np.float32)
    channels[0, : 2 * SAMPLE_RATE] = tone[: 2 * SAMPLE_RATE]  # A speaks 0-2 s, B 2-4 s, B echoes faintly into A
    channels[1, 2 * SAMPLE_RATE :] = tone[2 * SAMPLE_RATE :]
    channels[0, 2 * SAMPLE_RATE :] += 0.05 * tone[2 * SAMPLE_RATE :]
    words = [RawPiece("你好", 0.2, 0.8, 0.9), RawPiece("吗", 1.0, 1.0, 0.9), RawPiece("我", 2.3, 2.6, 0.9),
             RawPiece("在", 2.6, 3.0, 0.9)]
    seg = RawSegment(0.2, 3.0, "你好吗我在", words, -0.2, 0.1, 1.2)
    a, b = split_by_channel([seg, RawSegment(2.5, 3.5, "对")], channels)
    assert [(s.text, s.start, s.end) for s in a] == [("你好吗", 0.2, 1.0)]
    assert [(s.text, s.start, s.end) for s in b] == [("我在", 2.3, 3.0), ("对", 2.5, 3.5)]
    assert a[0].avg_logprob == -0.2 and [p.text for p in b[0].pieces] == ["我", "在"]


def test_the_words_of_a_loop_cover_no_speech() -> None:
    # "怎么还得起" then a decoding loop over the next 8 s of speech: that speech is decoded again
    loop = [RawPiece("怎么还得起", 0.0, 2.0, 0.9)] + [RawPiece("G", 2.0 + i, 3.0 + i, 0.2) for i in range(8)]
    assert uncovered_speech([(0.0, 10.0)], [RawSegment(0.0, 10.0, "x", loop)]) == [(2.5, 10.0)]


def test_decode_batch_comes_from_the_config_and_bad_values_are_refused() -> None:
    from pipeline.commands.transcribe import engine_kwargs
    from pipeline.config import decode_batch, load_settings
    from pipeline.errors import ConfigError

    assert engine_kwargs({}, load_settings())["batch"] == DECODE_BATCH
    assert engine_kwargs({}, {"decode_batch": 1})["batch"] == 1
    for bad in (0, "3", 2.5, True, 99):
        with pytest.raises(ConfigError, match="decode_batch"):
            decode_batch({"decode_batch": bad})
