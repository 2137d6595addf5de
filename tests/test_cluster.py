"""`run --cluster` on a real local Ray: the same case as a local run, a lost actor re-runs only its call,
a killed driver resumes without duplicates over ray://, and the custody checks hold on the worker."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pipeline.asr.factory import compute_fingerprint, load_engine
from pipeline.batch import RunEvents, RunSettings, run_batch
from pipeline.call_asr import Diarization
from pipeline.cluster.actor import RemoteCall, Transcriber, source_digest
from pipeline.cluster.dispatch import check_worker
from pipeline.cluster.ledger import ClusterLedger
from pipeline.cluster.options import ClusterOptions
from pipeline.commands.detect_opts import build_detector
from pipeline.commands.transcribe import build_config
from pipeline.discover import discover
from pipeline.errors import ConfigError, InputError
from pipeline.reproduce import content_digest
from pipeline.store import CaseStore

ROOT = Path(__file__).resolve().parents[1]
CALL = ROOT.parent / "shared" / "data" / "calls_dev" / "call2_tel8k.wav"
SAMPLE = ROOT / "samples" / "13800138000 2024-01-16 10-06-40.amr"
KILLED = CALL.name  # the call whose actor is killed mid-call

ENGINE = {"engine": "faster-whisper", "model": None, "model_dir": None, "device": "cpu"}


class Recorder(RunEvents):
    """Keeps the last cluster ledger; optionally kills the actor running one call, once, mid-call."""

    def __init__(self, kill_call: str | None = None, after: float = 2.0) -> None:
        self.ledger: ClusterLedger | None = None
        self.kill_call, self.after, self.killed = kill_call, after, threading.Event()

    def cluster_status(self, ledger: ClusterLedger) -> None:
        self.ledger = ledger
        record = next((c for c in ledger.calls.values() if c.file == self.kill_call), None)
        if record is not None and record.attempts == 1 and not self.killed.is_set():
            self.killed.set()
            threading.Thread(target=self._kill, args=(record.actor,), daemon=True).start()

    def _kill(self, name: str) -> None:
        import ray

        time.sleep(self.after)  # the model is loaded; the 31 s call takes far longer than this
        ray.kill(ray.get_actor(name), no_restart=False)  # Ray restarts it; the call must run again


def run_case(inputs: Path, case: Path, settings: RunSettings, events: RunEvents, threads: int) -> Any:
    _, config = build_config({})
    kwargs = {**ENGINE, "threads": threads}
    rules = build_detector("rules", (), ())
    with CaseStore.open(case) as store:
        report = run_batch(discover(inputs), inputs, store, lambda: load_engine(**kwargs), kwargs, config, settings,
                           rules, events)
        calls = {Path(c.source_path).name: c for c in store.iter_calls()}
        transcripts = {name: store.load_transcript(c.id) for name, c in calls.items()}
        digests = {name: content_digest(t) for name, t in transcripts.items()}
        compute = {name: t.options["compute"] for name, t in transcripts.items()}
        flags = {name: sorted((f.category, f.rule, f.start_s, f.end_s, f.speaker, f.role) for f in store.call_flags(c.id))
                 for name, c in calls.items()}
        custody = [e for e in store.custody_events() if e.action == "transcribed_on_node"]
    return report, digests, flags, compute, custody


def counts(case: Path) -> dict[str, int]:
    db = sqlite3.connect(case / "case.sqlite")
    try:
        return {
            "calls": db.execute("SELECT count(*) FROM calls").fetchone()[0],
            "segments": db.execute("SELECT count(*) FROM segments").fetchone()[0],
            "duplicate_segments": db.execute(
                "SELECT count(*) FROM (SELECT call_id, idx FROM segments GROUP BY call_id, idx HAVING count(*) > 1)").fetchone()[0],
            "flags": db.execute("SELECT count(*) FROM flags").fetchone()[0],
        }
    finally:
        db.close()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cluster_in")
    for src in (CALL, SAMPLE):
        shutil.copy2(src, folder / src.name)
    return folder


@pytest.fixture(scope="module")
def local_run(inputs: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    case = tmp_path_factory.mktemp("local_case")
    return run_case(inputs, case, RunSettings(workers=1), RunEvents(), threads=2)


# ------------------------------------------------------------------ without a cluster


def test_without_ray_the_error_is_one_chinese_line(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['ray'] = None; sys.argv = ['cli.py', 'run', sys.argv[1], '-o', sys.argv[2], "
            "'--cluster', 'local']; import runpy; runpy.run_path('cli.py', run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path), str(tmp_path / "case")], cwd=ROOT,
                            capture_output=True, text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ["错误 --cluster 需要可选的集群组件 Ray，请先运行 pip install -r requirements-cluster.txt (Ray is not installed)"]
    assert not (tmp_path / "case").exists()  # refused before anything was written


def test_a_ray_client_server_that_fails_to_start_the_client_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    import ray

    from pipeline.cluster import connect

    calls: list[dict] = []

    def init(**kwargs: Any) -> None:  # the head's client server is slow once, then answers
        calls.append(kwargs)
        if len(calls) == 1:
            raise ConnectionError("Initialization failure from server:\nTraceback ...")

    monkeypatch.setattr(ray, "init", init)
    monkeypatch.setattr(ray, "shutdown", lambda: None)
    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(connect, "RETRY_SECONDS", 0.0)
    with connect.session("ray://127.0.0.1:1") as connected:
        assert connected is ray
    assert len(calls) == 2 and calls[1]["address"] == "ray://127.0.0.1:1"

    def refused(**kwargs: Any) -> None:  # not transient, or a local address: one try, one line
        calls.append(kwargs)
        raise ValueError("bad token")

    calls.clear()
    monkeypatch.setattr(ray, "init", refused)
    with pytest.raises(ConfigError, match="无法连接 Ray 集群 ray://127.0.0.1:1.*bad token"), connect.session("ray://127.0.0.1:1"):
        pass
    assert len(calls) == 1


def test_worker_refuses_bytes_that_do_not_match_the_intake_hash() -> None:
    worker = Transcriber.__new__(Transcriber)  # no model needed: the check comes before any decoding
    _, config = build_config({})
    call = RemoteCall("/in/call.wav", "0" * 64, None, config, Diarization())  # type: ignore[arg-type]
    result = worker._from_bytes(call, CALL.read_bytes())
    assert isinstance(result, InputError)
    assert result.path == "/in/call.wav" and "SHA-256" in result.reason_zh and "未转写" in result.reason_zh


def test_a_worker_that_computes_differently_is_refused() -> None:
    from dataclasses import asdict

    from pipeline.asr.models import BUNDLED_NAME, bundled_model_dir, model_dir_hash

    kwargs = {**ENGINE, "threads": 1}
    good = {"ip": "10.0.0.7", "node_id": "abcdef123", "version": "0.1.0", "code": source_digest(),
            "model": {"name": BUNDLED_NAME, "sha256": model_dir_hash(bundled_model_dir()), "engine": "faster-whisper", "path": ""},
            "compute": dict(compute_fingerprint(**kwargs))}
    check_worker(good, kwargs)
    arm = {**good, "compute": {**good["compute"], "arch": "aarch64", "reproducible": False}}
    with pytest.raises(ConfigError, match="计算路径与本机不同"):
        check_worker(arm, kwargs)
    with pytest.raises(ConfigError, match="代码"):
        check_worker({**good, "code": "0" * 64}, kwargs)
    with pytest.raises(ConfigError, match="模型"):
        check_worker({**good, "model": {**good["model"], "sha256": "f" * 64}}, kwargs)
    assert asdict(ClusterOptions("local")) == {"address": "local", "shared_fs": False, "workers": 0,
                                              "max_attempts": 3, "stall_seconds": 600.0}


# ------------------------------------------------------------------ in-process Ray


@pytest.fixture()
def ray_local():
    ray = pytest.importorskip("ray")
    ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    yield ray
    ray.shutdown()


def test_ray_run_with_an_actor_killed_mid_call_equals_the_local_run(ray_local, inputs: Path, local_run: tuple,
                                                                     tmp_path: Path) -> None:
    events = Recorder(kill_call=KILLED)
    settings = RunSettings(workers=2, cluster=ClusterOptions("local", workers=2))
    report, digests, flags, compute, custody = run_case(inputs, tmp_path / "case", settings, events, threads=1)
    _, local_digests, local_flags, _, _ = local_run

    assert [o.status for o in report.outcomes] == ["done", "done"], [o.error for o in report.outcomes]
    assert digests == local_digests  # word for word and time for time
    assert flags == local_flags and any(flags.values())
    assert all(c["reproducible"] for c in compute.values()), compute  # pinned on the Ray workers too

    ledger = events.ledger
    assert ledger is not None and events.killed.is_set()
    attempts = {c.file: c.attempts for c in ledger.calls.values()}
    assert attempts == {KILLED: 2, SAMPLE.name: 1}  # only the call whose actor was lost ran again
    assert sum(s.lost for s in ledger.nodes.values()) == 1
    assert sorted(e.detail["attempts"] for e in custody) == [1, 2]
    assert {e.detail["sha256_checked_on"] for e in custody} == {"bytes received"}
    assert counts(tmp_path / "case")["duplicate_segments"] == 0


# ------------------------------------------------------------------ a `ray start --head` cluster over ray://


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_head():
    pytest.importorskip("ray")
    # a short folder of its own: Ray's socket paths under it must stay within the 107-byte AF_UNIX limit
    temp = Path(tempfile.mkdtemp(prefix="cprh", dir="/tmp"))
    port, client_port = free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_AUTH_MODE": "token"}
    log = temp / "head.log"
    with open(log, "wb") as out:
        head = subprocess.Popen(
            [str(Path(sys.executable).with_name("ray")), "start", "--head", "--block", f"--port={port}",
             f"--ray-client-server-port={client_port}", "--num-cpus=2", "--include-dashboard=false",
             "--disable-usage-stats", f"--temp-dir={temp}", "--object-store-memory=200000000"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    deadline = time.monotonic() + 90
    while "Ray runtime started" not in log.read_text(errors="replace"):
        assert head.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-2000:]
        time.sleep(0.5)
    yield f"ray://127.0.0.1:{client_port}"
    head.send_signal(signal.SIGTERM)  # stop the head by its own pid: it stops its raylet, GCS and workers
    try:
        head.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(head.pid, signal.SIGKILL)  # its own process group (start_new_session): nothing else
        head.wait(timeout=30)
    shutil.rmtree(temp, ignore_errors=True)


def test_driver_killed_over_ray_client_resumes_without_duplicates(ray_head: str, tmp_path: Path) -> None:
    import numpy as np

    from pipeline.audio import decode, write_wav

    inputs = tmp_path / "in"
    inputs.mkdir()
    mono = decode(CALL).mono()
    for name, (a, b) in {"13800138000_20240116093015.wav": (0, 12), "13800138000_20240116101500.wav": (12, 24)}.items():
        write_wav(inputs / name, np.ascontiguousarray(mono[a * 16000:b * 16000]), 16000)
    case = tmp_path / "case"
    args = [sys.executable, "cli.py", "run", str(inputs), "-o", str(case), "--cluster", ray_head, "--workers", "1",
            "--detect", "rules", "--threads", "1"]
    env = {**os.environ, "COLUMNS": "200", "RAY_AUTH_MODE": "token"}

    first = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline and first.poll() is None:
        db = case / "case.sqlite"
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                if conn.execute("SELECT count(*) FROM calls WHERE status = 'done'").fetchone()[0] >= 1:
                    break
        except sqlite3.OperationalError:
            pass  # not created yet, or its schema not yet written
        time.sleep(0.2)
    assert first.poll() is None, first.stderr.read() if first.stderr else ""
    first.send_signal(signal.SIGKILL)  # the driver dies mid-batch: one call stored, one not
    first.wait(timeout=30)
    with sqlite3.connect(case / "case.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM calls WHERE status = 'done'").fetchone()[0] == 1

    second = subprocess.run([*args, "--shared-fs"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert second.returncode == 0, second.stderr[-3000:]
    summary = json.loads((case / "summary.json").read_text(encoding="utf-8"))
    assert summary["this_run"]["processed"] == 1 and summary["this_run"]["skipped_already_done"] == 1
    assert summary["calls"] == 2 and summary["cluster"]["address"] == ray_head
    assert [c["attempts"] for c in summary["cluster"]["calls"]] == [1]
    assert "集群节点分工" in second.stderr
    numbers = counts(case)
    assert numbers["calls"] == 2 and numbers["duplicate_segments"] == 0 and numbers["segments"] > 0
    with CaseStore.open(case) as store:
        events = [e for e in store.custody_events() if e.action == "transcribed_on_node"]
        assert len(events) == 2 and len({e.object for e in events}) == 2  # one per call, none twice
        # the first run sent bytes through the object store, the second (--shared-fs) only the path
        assert sorted(e.detail["sha256_checked_on"] for e in events) == ["bytes received", "shared file"]
        assert not store.verify_custody()
