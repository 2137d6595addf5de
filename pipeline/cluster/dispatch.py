"""The driver side of `run --cluster`: hand each pending call to a free Ray actor, take its transcript back.

A pool of ``Transcriber`` actors (one loaded model each, ``max_restarts=-1``) gets one call per
actor at a time; ``ray.wait`` returns whichever finishes first, so results reach the case store
(written only here, on the driver) as soon as they exist. A call whose actor is lost (node down,
process killed) is put back at the head of the queue and nothing else is redone; Ray restarts the
actor (reloading its model), and it takes work again once it answers. Ray's own task retries are
off (``max_task_retries=0``) so the driver knows every re-run and reports it.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from pipeline.asr.factory import compute_fingerprint, model_fingerprint
from pipeline.audio import AudioInfo
from pipeline.call_asr import Diarization
from pipeline.cluster.actor import RemoteCall, RemoteResult, Transcriber, source_digest
from pipeline.cluster.connect import session
from pipeline.cluster.ledger import ClusterLedger, node_label
from pipeline.cluster.options import ClusterOptions
from pipeline.determinism import NATIVE_SWITCH
from pipeline.errors import ConfigError, InputError
from pipeline.transcribe import TranscribeConfig
from pipeline.transcript import ModelInfo, Transcript

WAIT_SECONDS = 10.0


@dataclass
class Job:
    path: Path
    info: AudioInfo
    sha256: str
    row: Any
    attempts: int = 0
    data: Any = None  # ObjectRef of the recording's bytes (kept for a re-run), None with --shared-fs


def check_worker(desc: dict[str, Any], engine_kwargs: dict[str, Any]) -> None:
    """A worker must compute exactly what this machine would: same code, weights and compute path."""
    where = node_label(desc)
    if desc["code"] != source_digest():
        raise ConfigError(f"节点 {where} 上的 callproof 代码（{desc['version']}）与本机不同，请在每个节点安装同一版本 "
                          "(worker runs different callproof code)")
    model = desc["model"]
    if f"{model['engine']}:{model['sha256']}" != model_fingerprint(**engine_kwargs):
        raise ConfigError(f"节点 {where} 的模型 {model['name']} ({model['sha256'][:16]}…) 与本机不同 "
                          "(worker has different model weights)")
    expected = compute_fingerprint(**engine_kwargs)
    if desc["compute"] != expected:
        differ = ", ".join(f"{k}: {desc['compute'].get(k)} ≠ {v}" for k, v in expected.items() if desc["compute"].get(k) != v)
        raise ConfigError(f"节点 {where} 的计算路径与本机不同（{differ}），转写会不一致；需要 x86-64 AVX2/FMA 的 CPU，"
                          "或两边用同一 --device (worker decodes on a different compute path)")


def blas_threads() -> int:
    """The OpenBLAS thread count a local run here gets (its own default: one per CPU, or what the user set)."""
    for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return os.cpu_count() or 1


def worker_env() -> dict[str, str]:
    """Environment that makes a worker compute like a local run on this machine.

    Ray starts workers with OMP_NUM_THREADS=1, which OpenBLAS also obeys; single-threaded OpenBLAS
    rounds numpy's matrix products (Whisper's mel spectrogram) differently from 2+ threads, and
    that changed the text (measured: OPENBLAS_NUM_THREADS=1 vs 2, 4, 8 on the same CPU). So workers
    get this machine's OpenBLAS thread count, and the CPU-pinning switch if the user set it.
    """
    env = {"OPENBLAS_NUM_THREADS": str(blas_threads())}
    if NATIVE_SWITCH in os.environ:
        env[NATIVE_SWITCH] = os.environ[NATIVE_SWITCH]
    return env


def actor_count(ray: ModuleType, options: ClusterOptions, threads: int, calls: int) -> int:
    if options.workers > 0:
        wanted = options.workers
    else:
        wanted = max(1, int(ray.cluster_resources().get("CPU", 1)) // threads)
    return max(1, min(wanted, calls))


def _last_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1][:300] if lines else type(exc).__name__


def cluster_transcripts(pending: list[tuple[Path, AudioInfo, str, Any]], store: Any, engine_kwargs: dict[str, Any],
                        config: TranscribeConfig, settings: Any, events: Any) -> Iterator[tuple[Path, Transcript | Exception]]:
    """Transcripts of ``pending`` (path, info, intake sha, call row), each as soon as a worker returns it."""
    options: ClusterOptions = settings.cluster
    ledger = ClusterLedger(options.address)
    started = time.perf_counter()
    with session(options.address) as ray:
        threads = int(engine_kwargs.get("threads") or 0) or 1
        remote = ray.remote(Transcriber).options  # type: ignore[attr-defined]
        token = uuid.uuid4().hex[:8]
        count = actor_count(ray, options, threads, len(pending))
        kwargs = {**engine_kwargs, "threads": threads}
        names = [f"callproof-asr-{token}-{i}" for i in range(count)]
        env = {"env_vars": worker_env()}
        actors = [remote(name=name, num_cpus=threads, max_restarts=-1, max_task_retries=0, runtime_env=env).remote(kwargs)
                  for name in names]
        ledger.workers = count
        try:
            yield from _dispatch(ray, actors, names, pending, store, engine_kwargs, config,
                                 Diarization(settings.diarize, settings.num_speakers), options, ledger, events, started)
        finally:
            for actor in actors:
                ray.kill(actor)


def _dispatch(ray: ModuleType, actors: list[Any], names: list[str], pending: list[tuple[Path, AudioInfo, str, Any]], store: Any,
              engine_kwargs: dict[str, Any], config: TranscribeConfig, speakers: Diarization, options: ClusterOptions,
              ledger: ClusterLedger, events: Any, started: float) -> Iterator[tuple[Path, Transcript | Exception]]:
    from ray.exceptions import ActorDiedError, RayActorError

    queue = deque(Job(path, info, sha, row) for path, info, sha, row in pending)
    idle: deque[int] = deque()
    where: dict[int, dict[str, Any]] = {}
    pings = {actors[i].describe.remote(): i for i in range(len(actors))}  # model loaded = first answer
    inflight: dict[Any, tuple[Job, int, float]] = {}
    dead: dict[int, str] = {}
    failures: list[tuple[Job, InputError]] = []  # read errors on the driver, reported like a worker's
    last_progress = time.perf_counter()

    def hand_out() -> None:
        while queue and idle:
            job, i = queue.popleft(), idle.popleft()
            if job.data is None and not options.shared_fs:
                try:
                    job.data = ray.put(job.path.read_bytes())
                except OSError as exc:
                    idle.appendleft(i)
                    failures.append((job, InputError(job.path, "无法读取录音", str(exc))))
                    continue
            if job.attempts == 0:
                events.call_started(job.path, job.info.duration)
            job.attempts += 1
            call = RemoteCall(str(job.path), job.sha256, job.info, config, speakers)
            record = ledger.call(job.path)
            record.attempts, record.node, record.actor = job.attempts, node_label(where[i]), names[i]
            ledger.node(record.node).running += 1
            inflight[actors[i].transcribe.remote(call, None if options.shared_fs else job.data)] = (job, i, time.perf_counter())
        events.cluster_status(ledger)

    while queue or inflight or failures:
        while failures:
            job, error = failures.pop()
            yield job.path, error
        if not (queue or inflight):
            break
        ready, _ = ray.wait([*inflight, *pings], num_returns=1, timeout=WAIT_SECONDS)
        if not ready:
            if not inflight and not idle and time.perf_counter() - last_progress > options.stall_seconds:
                raise ConfigError(f"集群上没有可用的工作进程（{options.stall_seconds:.0f} 秒内没有一个恢复）"
                                  f"{'：' + next(iter(dead.values())) if dead else ''} (no worker available on the cluster)")
            continue
        ref = ready[0]
        if ref in pings:
            i = pings.pop(ref)
            try:
                desc = ray.get(ref)
            except ActorDiedError as exc:  # for good: it could not start, or its restarts ran out
                dead[i] = _last_line(exc)
                if len(dead) == len(actors):
                    raise ConfigError(f"集群上的工作进程无法启动：{dead[i]} (workers could not start)") from exc
                continue
            except RayActorError:  # restarting: ask again
                pings[actors[i].describe.remote()] = i
                continue
            if i not in where:  # first answer: check it computes what this machine would
                check_worker(desc, engine_kwargs)
                if ledger.model is None:
                    ledger.model = ModelInfo(**desc["model"])
                    ledger.start_seconds = time.perf_counter() - started
            where[i] = desc
            idle.append(i)
            last_progress = time.perf_counter()
            hand_out()
            continue
        job, i, sent = inflight.pop(ref)
        record = ledger.call(job.path)
        stats = ledger.node(record.node)
        stats.running -= 1
        try:
            result: RemoteResult = ray.get(ref)
        except RayActorError as exc:  # the actor (or its node) went away mid-call: only this call runs again
            stats.lost += 1
            pings[actors[i].describe.remote()] = i
            if job.attempts >= options.max_attempts:
                yield job.path, InputError(job.path, f"在集群上转写时工作进程中断 {job.attempts} 次（最后在 {record.node}）",
                                           f"worker lost {job.attempts} times: {_last_line(exc)}")
            else:
                queue.appendleft(job)
                events.message(f"工作进程中断（{record.node}）：{job.path.name} 重新排队，第 {job.attempts + 1} 次")
                hand_out()
            continue
        except Exception as exc:  # a bug in the worker: raised on the driver as in a local run
            idle.append(i)
            yield job.path, exc
            continue
        last_progress = time.perf_counter()
        idle.append(i)
        record.worker_seconds = result.seconds
        record.round_trip_seconds = time.perf_counter() - sent
        record.checked = result.checked
        stats.worker_seconds += result.seconds
        job.data = None
        if isinstance(result.result, InputError):
            stats.failed += 1
        else:
            stats.calls += 1
            stats.audio_seconds += job.info.duration
            store.add_custody(None, "transcribed_on_node", f"call:{job.row.id}", job.sha256, {
                "node": record.node, "host": result.where.get("host"), "ip": result.where.get("ip"),
                "node_id": result.where.get("node_id"), "pid": result.where.get("pid"), "attempts": job.attempts,
                "sha256_checked_on": result.checked, "cluster": options.address,
            })
        hand_out()
        yield job.path, result.result
