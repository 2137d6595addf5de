"""`run`'s calls on one shared model: in this process, or in one model process of their own.

The calls in flight share one engine whose single-thread workers decode the blocks of every call
from one queue (``transcribe_calls``): while calls remain each worker has work, and the blocks of
the last long call are spread over all of them, so a recording is decoded as fast inside `run` as
alone. ``process_transcripts`` runs that engine in one child process: one copy of the weights
however many calls are in flight, and the run's own process, which alone writes the case, outlives
a native crash of the model. A crash fails only the calls being transcribed at that moment (each
reported on its own line, retried by the next run); a new model process takes the calls not yet
started.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from pipeline.asr.base import Engine, engine_slots
from pipeline.audio import AudioInfo
from pipeline.call_asr import SpeakerSettings, transcribe_one
from pipeline.errors import InputError
from pipeline.transcribe import TranscribeConfig
from pipeline.transcript import Transcript
from pipeline.worker_guard import die_with_parent, worker_context

Job = tuple[Path, AudioInfo, str]  # recording, what probe() found, its SHA-256
Result = Transcript | Exception
POLL_SECONDS = 0.5


def transcribe_calls(jobs: list[Job], engine: Engine, config: TranscribeConfig, settings: SpeakerSettings,
                     calls_at_once: int, on_start: Callable[[int], None] | None = None,
                     on_finish: Callable[[int, Result], None] | None = None) -> Iterator[tuple[int, Result]]:
    """(index in ``jobs``, transcript or the error it raised) for each call, as each finishes;
    ``calls_at_once`` calls in flight, their blocks decoded by all of ``engine``'s workers. Each block is
    one engine call cut where it would be alone, so every transcript is the one a single worker gives.
    ``on_start`` / ``on_finish`` run on the call's own thread, before it takes the next call."""
    blocks = ThreadPoolExecutor(engine_slots(engine), thread_name_prefix="asr-block")
    calls = ThreadPoolExecutor(max(1, calls_at_once), thread_name_prefix="asr-call")

    def one(index: int, path: Path, info: AudioInfo, sha256: str) -> Result:
        if on_start is not None:
            on_start(index)
        try:
            result: Result = transcribe_one(path, engine, config, settings, info, sha256, None, blocks)
        except Exception as exc:  # an InputError of one call comes back as its result
            result = exc
        if on_finish is not None:
            on_finish(index, result)
        return result

    try:
        futures = {calls.submit(one, i, *job): i for i, job in enumerate(jobs)}
        for future in as_completed(futures):
            yield futures[future], future.result()
    finally:  # all done, or interrupted: then only the blocks being decoded finish (seconds, not a call)
        calls.shutdown(wait=False, cancel_futures=True)
        blocks.shutdown(wait=False, cancel_futures=True)


def in_job_order(jobs: list[Job], results: Iterable[tuple[int, Result]]) -> Iterator[tuple[Path, Result]]:
    """(path, result) in the order of ``jobs``, whatever order the results come in."""
    waiting: dict[int, Result] = {}
    following = 0
    for index, result in results:
        waiting[index] = result
        while following in waiting:
            yield jobs[following][0], waiting.pop(following)
            following += 1


def crash_error(path: Path, exitcode: int | None) -> InputError:
    """The one line a call gets when the model process died under it (a native crash, out of memory)."""
    if exitcode is not None and exitcode < 0:
        try:
            how = signal.Signals(-exitcode).name
        except ValueError:
            how = f"signal {-exitcode}"
    else:
        how = f"exit code {exitcode}"
    return InputError(path, f"转写进程意外退出（{how}），本次未完成，下次运行会重试",
                      f"the model process died ({how}) while transcribing this call; the next run retries it")


def _portable(exc: Exception) -> Exception:
    """The error as it can cross to the parent: itself when it pickles, else a RuntimeError naming it."""
    import pickle

    try:
        pickle.dumps(exc)
    except Exception:  # noqa: BLE001 - any unpicklable error is summarised
        return RuntimeError(f"{type(exc).__name__}: {exc}")
    return exc


def _serve(writer: Any, jobs: list[tuple[int, Job]], engine_kwargs: dict[str, Any], config: TranscribeConfig,
           settings: SpeakerSettings, calls_at_once: int, parent_pid: int) -> None:
    """The model process: load the engine once, transcribe ``jobs``, report each call's start and result."""
    die_with_parent(parent_pid)  # a killed run must not leave a model process behind
    lock = threading.Lock()

    def send(message: tuple[Any, ...]) -> None:
        with lock:
            writer.send(message)

    try:
        from pipeline.asr.factory import load_engine

        engine = load_engine(**engine_kwargs)
    except Exception as exc:  # noqa: BLE001 - every call gets the reason (e.g. ConfigError: missing model)
        send(("load_failed", _portable(exc)))
        return
    indices = [index for index, _ in jobs]

    def finished(local: int, result: Result) -> None:  # sent at once: a crash of the next call cannot lose it
        send(("done", indices[local], result if isinstance(result, Transcript) else _portable(result)))

    for _ in transcribe_calls([job for _, job in jobs], engine, config, settings, calls_at_once,
                              on_start=lambda local: send(("started", indices[local])), on_finish=finished):
        pass
    writer.close()


def process_transcripts(jobs: list[Job], engine_kwargs: dict[str, Any], config: TranscribeConfig,
                        settings: SpeakerSettings, calls_at_once: int) -> Iterator[tuple[Path, Result]]:
    """Transcribe ``jobs`` in one model process (see the module's docstring); (path, result) in job order."""
    return in_job_order(jobs, _process_results(jobs, engine_kwargs, config, settings, calls_at_once))


def _process_results(jobs: list[Job], engine_kwargs: dict[str, Any], config: TranscribeConfig,
                     settings: SpeakerSettings, calls_at_once: int) -> Iterator[tuple[int, Result]]:
    context = worker_context()
    remaining = list(range(len(jobs)))
    while remaining:
        reader, writer = context.Pipe(duplex=False)
        process = context.Process(
            target=_serve, name="callproof-model", daemon=True,
            args=(writer, [(i, jobs[i]) for i in remaining], engine_kwargs, config, settings, calls_at_once, os.getpid()),
        )
        process.start()
        writer.close()  # the child holds the only write end: its death reads as end of file here
        started: set[int] = set()
        finished: set[int] = set()
        try:
            while True:
                try:
                    if not reader.poll(POLL_SECONDS):
                        if process.is_alive():
                            continue
                        if not reader.poll(0):
                            break
                    message = reader.recv()
                except (EOFError, OSError):
                    break
                if message[0] == "started":
                    started.add(message[1])
                elif message[0] == "done":
                    finished.add(message[1])
                    yield message[1], message[2]
                else:  # load_failed: the engine could not be loaded, so no call can be transcribed
                    for index in remaining:
                        yield index, message[1]
                    return
        finally:
            reader.close()
            if process.is_alive():  # interrupted by our caller
                process.kill()
            process.join()
        lost = sorted(started - finished)
        for index in lost:
            yield index, crash_error(jobs[index][0], process.exitcode)
        remaining = [i for i in remaining if i not in started and i not in finished]
        if remaining and not started:  # it died before starting a call: starting it again would die again
            for index in remaining:
                yield index, crash_error(jobs[index][0], process.exitcode)
            return
