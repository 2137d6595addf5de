"""The cluster side: one Ray actor per model, transcribing one recording at a time.

This module is imported by the Ray worker process before anything else of ours, and it is part of
``pipeline``: importing it pins the CPU code paths (``pipeline.determinism``) before numpy or
CTranslate2 load, so a worker gives the same transcript as a local run. ``describe`` reports what
the worker computes with, and the driver refuses a worker that differs from itself.
"""

from __future__ import annotations

import hashlib
import os
import socket
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pipeline
from pipeline.audio import AudioInfo, sha256_file
from pipeline.call_asr import Diarization, transcribe_one
from pipeline.errors import InputError
from pipeline.transcribe import TranscribeConfig
from pipeline.transcript import Transcript

_PACKAGE = Path(pipeline.__file__).resolve().parent


def source_digest() -> str:
    """SHA-256 over callproof's own Python sources: driver and workers must run the same code."""
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def where_am_i() -> dict[str, Any]:
    import ray

    context = ray.get_runtime_context()
    return {"node_id": context.get_node_id(), "ip": ray.util.get_node_ip_address(), "host": socket.gethostname(),
            "pid": os.getpid()}


@dataclass
class RemoteCall:
    """One recording as the driver hands it out (its bytes travel beside it, through the object store)."""

    path: str  # the path on the driver (the input folder); read directly only with --shared-fs
    sha256: str  # the intake hash the worker checks what it received against
    info: AudioInfo
    config: TranscribeConfig
    settings: Diarization


@dataclass
class RemoteResult:
    result: Transcript | InputError
    where: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0  # time in the worker from receiving the call to its transcript
    checked: str = ""  # what the SHA-256 was checked on: "bytes received" or "shared file"


def _mismatch(path: str, got: str, expected: str) -> InputError:
    return InputError(path, f"工作节点收到的录音 SHA-256 ({got[:16]}…) 与登记时 ({expected[:16]}…) 不一致，未转写",
                      "the recording the worker received does not match its intake SHA-256; not transcribed")


def _on_original_path(exc: InputError, original: str) -> InputError:
    """An error raised while reading the worker's copy names the original recording."""
    return InputError(original, exc.reason_zh, exc.reason_en)


class Transcriber:
    """Holds one loaded model for the life of the actor (Ray restarts it, and so reloads, when lost)."""

    def __init__(self, engine_kwargs: dict[str, Any]) -> None:
        from pipeline.asr.factory import load_engine

        started = time.perf_counter()
        self.engine = load_engine(**engine_kwargs)
        self.load_seconds = time.perf_counter() - started
        self.where = where_am_i()

    def describe(self) -> dict[str, Any]:
        from pipeline.determinism import reuse_key

        return {**self.where, "model": asdict(self.engine.model), "compute": reuse_key(self.engine.compute),
                "code": source_digest(), "version": pipeline.__version__, "load_seconds": self.load_seconds}

    def transcribe(self, call: RemoteCall, data: bytes | None) -> RemoteResult:
        started = time.perf_counter()
        if data is None:  # --shared-fs: this node reads the original itself
            result, checked = self._from_shared_path(call), "shared file"
        else:
            result, checked = self._from_bytes(call, data), "bytes received"
        return RemoteResult(result, self.where, time.perf_counter() - started, checked)

    def _from_shared_path(self, call: RemoteCall) -> Transcript | InputError:
        try:
            got = sha256_file(call.path)
            if got != call.sha256:
                return _mismatch(call.path, got, call.sha256)
            return transcribe_one(Path(call.path), self.engine, call.config, call.settings, call.info, call.sha256)
        except InputError as exc:
            return exc

    def _from_bytes(self, call: RemoteCall, data: bytes) -> Transcript | InputError:
        got = hashlib.sha256(data).hexdigest()
        if got != call.sha256:
            return _mismatch(call.path, got, call.sha256)
        with tempfile.TemporaryDirectory(prefix="callproof-") as tmp:
            copy = Path(tmp) / f"recording{Path(call.path).suffix}"
            copy.write_bytes(data)
            try:
                transcript = transcribe_one(copy, self.engine, call.config, call.settings, call.info, call.sha256)
            except InputError as exc:
                return _on_original_path(exc, call.path)
        transcript.source.path = call.path
        return transcript
