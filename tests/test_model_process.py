"""run's model process: the calls in flight share one model in a child process, each transcript is
the one the call gets alone, and a crash there fails only the calls being transcribed then."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from pathlib import Path

from pipeline.asr.faster_engine import FasterWhisperEngine
from pipeline.audio import probe, sha256_file
from pipeline.batch import RunSettings, parallel_transcripts
from pipeline.call_asr import transcribe_one
from pipeline.errors import ConfigError, InputError
from pipeline.model_process import in_job_order, process_transcripts
from pipeline.reproduce import content_digest
from pipeline.transcribe import TranscribeConfig
from pipeline.transcript import Transcript
from pipeline.worker_guard import worker_context

SPEECH = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "speech_zh"
# three short real utterances (4-6 s each): the process logic, not the decoding, is under test here
PATHS = [SPEECH / "fireredasr_BAC009S0764W0121.wav", SPEECH / "wenet_aishell-BAC009S0724W0121.wav",
         SPEECH / "paddlespeech_zh.wav"]
LONG_CALL = SPEECH.parent / "calls_dev" / "call1_tel8k.wav"  # 46 s: still decoding 2 s after it starts
SETTINGS = RunSettings(workers=2, diarize=False)
CONFIG = TranscribeConfig()


def _jobs(paths: list[Path]) -> list[tuple[Path, object, str]]:
    return [(p, probe(p), sha256_file(p)) for p in paths]


def test_results_come_back_in_job_order() -> None:
    jobs = [(Path(name), None, "") for name in "abcd"]
    out = list(in_job_order(jobs, [(2, "C"), (0, "A"), (3, "D"), (1, "B")]))  # type: ignore[arg-type]
    assert out == [(Path("a"), "A"), (Path("b"), "B"), (Path("c"), "C"), (Path("d"), "D")]


def test_calls_in_the_model_process_get_the_transcript_each_gets_alone() -> None:
    jobs = _jobs(PATHS)
    results = list(process_transcripts(jobs, {"threads": 2}, CONFIG, SETTINGS, calls_at_once=2))
    assert [path for path, _ in results] == PATHS
    alone = FasterWhisperEngine(threads=1, workers=1, batch=1)
    for (path, result), (_, info, sha) in zip(results, jobs, strict=True):
        assert isinstance(result, Transcript), result
        assert result.text
        reference = transcribe_one(path, alone, CONFIG, SETTINGS, info, sha)
        assert content_digest(result) == content_digest(reference), path.name
    assert not multiprocessing.active_children()


def test_model_processes_are_spawned_not_forked() -> None:
    assert worker_context().get_start_method() == "spawn"


def test_a_process_per_call_gives_the_transcript_each_gets_alone() -> None:
    # run's pool for engines whose model serves one call at a time (openai-whisper); spawned workers
    jobs = _jobs(PATHS[:2])
    results = list(parallel_transcripts(jobs, {"engine": "faster-whisper"}, CONFIG, SETTINGS))
    assert [path for path, _ in results] == PATHS[:2]
    alone = FasterWhisperEngine(threads=1, workers=1, batch=1)
    for (path, result), (_, info, sha) in zip(results, jobs, strict=True):
        assert isinstance(result, Transcript), result
        assert content_digest(result) == content_digest(transcribe_one(path, alone, CONFIG, SETTINGS, info, sha))
    assert not multiprocessing.active_children()


def test_a_crash_fails_the_call_in_flight_and_a_new_model_process_takes_the_rest() -> None:
    paths = [PATHS[0], LONG_CALL, PATHS[2]]
    results = process_transcripts(_jobs(paths), {"threads": 2}, CONFIG, SETTINGS, calls_at_once=1)
    assert next(results)[0] == PATHS[0]
    # the model process reports the next call as started at once and is decoding it for several seconds:
    # kill it there, from outside, as the kernel's out-of-memory killer would
    time.sleep(2.0)
    (model,) = multiprocessing.active_children()
    os.kill(model.pid, signal.SIGKILL)  # type: ignore[arg-type]
    rest = dict(results)
    assert isinstance(rest[PATHS[2]], Transcript)
    error = rest[LONG_CALL]
    assert isinstance(error, InputError) and "\n" not in str(error)
    assert "转写进程意外退出（SIGKILL）" in str(error) and LONG_CALL.name in str(error)
    assert not multiprocessing.active_children()


def test_a_model_that_cannot_load_fails_every_call_with_its_reason() -> None:
    results = list(process_transcripts(_jobs(PATHS[:2]), {"model": "no-such-model"}, CONFIG, SETTINGS, calls_at_once=2))
    assert [path for path, _ in results] == PATHS[:2]
    assert all(isinstance(r, ConfigError) and "no-such-model" in str(r) for _, r in results)


def test_stopping_early_ends_the_model_process() -> None:
    results = process_transcripts(_jobs(PATHS[:2]), {"threads": 2}, CONFIG, SETTINGS, calls_at_once=1)
    path, first = next(results)
    assert path == PATHS[0] and isinstance(first, Transcript)
    results.close()  # an interrupted run
    assert not multiprocessing.active_children()
