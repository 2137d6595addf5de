"""Blocks and channels decoded in parallel give the transcript one worker gives; gaps get decoded."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.asr.base import RawPiece, RawSegment
from pipeline.asr.faster_engine import FasterWhisperEngine, uncovered_speech
from pipeline.reproduce import content_digest, diff_transcripts
from pipeline.transcribe import TranscribeConfig, transcribe_file, with_options

CALLS_DEV = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "calls_dev"
# 15 s blocks cut at quiet points: call1 (46 s) becomes three blocks, two decoded at once
BLOCKED = TranscribeConfig(block_seconds=15.0, cut_search_seconds=5.0)


@pytest.fixture(scope="module")
def one() -> FasterWhisperEngine:
    return FasterWhisperEngine(threads=1, workers=1)


@pytest.fixture(scope="module")
def two() -> FasterWhisperEngine:
    return FasterWhisperEngine(threads=2, workers=2)


def test_engine_splits_its_threads_into_single_thread_workers(two: FasterWhisperEngine) -> None:
    assert (two.workers, two.intra_threads) == (2, 1)
    assert two.compute["workers"] == 2 and two.compute["threads"] == 2


def test_blocks_decoded_by_two_workers_match_one_worker(one: FasterWhisperEngine, two: FasterWhisperEngine) -> None:
    path = CALLS_DEV / "call1_16k.wav"
    serial = transcribe_file(path, one, BLOCKED)
    parallel = transcribe_file(path, two, BLOCKED)
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
    assert serial.options["channel_mode"] == "split"
    parallel = transcribe_file(path, two, sampling)
    again = transcribe_file(path, two, sampling)
    assert diff_transcripts(serial, parallel) == [] and diff_transcripts(parallel, again) == []


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
