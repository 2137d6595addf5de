"""`run` through the local process pool vs through Ray on this machine, side by side, same calls.

    python bench/cluster_speed.py [--repeat 2] [--workers 2] [--detect both] [--out bench/_out/cluster_speed.json]

The same folder of calls (the demo recordings + two calls_dev calls, about 4 minutes of audio) is run
into a fresh case, alternately (local, Ray, local, Ray, …, so a change in the machine's load hits
both) with:
- local: ``run_batch`` with ``--workers N`` (process pool, one model per process, cores/N threads);
- Ray: the same ``run_batch`` with ``--cluster``: a local Ray (``ray.init(num_cpus=cores)``, started
  once and timed on its own), N actors with cores/N threads each, recordings sent as bytes.
Per run: wall time, the driver's own CPU per call (this process: intake hashing and probing, rules,
SQLite; for Ray also its client threads; the local mode also loads one model in the driver, as `run`
does), the time in the single writer (rules + one SQLite transaction per call), the CPU to write each
call's outputs afterwards (as `run` does), and for Ray each call's round trip minus the worker's
own time (dispatch, object store, result transfer). The load average is printed next to each run:
the machine is shared, so compare runs made side by side only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from common import CALLS_DEV, ROOT

import pipeline.batch as batch
from pipeline.asr.factory import load_engine
from pipeline.batch import RunEvents, RunSettings, run_batch
from pipeline.case_outputs import write_call_outputs
from pipeline.cluster.ledger import ClusterLedger
from pipeline.cluster.options import ClusterOptions
from pipeline.commands.detect_opts import build_detector
from pipeline.commands.transcribe import build_config
from pipeline.discover import discover
from pipeline.store import CaseStore

CALLS = [*sorted(p for p in (ROOT / "samples").iterdir() if p.suffix in (".amr", ".m4a", ".oga", ".mp3")),
         CALLS_DEV / "call1_tel8k.wav", CALLS_DEV / "call2_tel8k.wav"]


class Timed:
    """Wall time spent inside one function (the driver's single writer: rules + SQLite)."""

    def __init__(self, module: Any, name: str) -> None:
        self.module, self.name, self.seconds, self.calls = module, name, 0.0, 0
        self.original = getattr(module, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return self.original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0
                self.calls += 1

        setattr(module, name, wrapper)

    def restore(self) -> None:
        setattr(self.module, self.name, self.original)


class Events(RunEvents):
    def __init__(self) -> None:
        self.ledger: ClusterLedger | None = None

    def cluster_status(self, ledger: ClusterLedger) -> None:
        self.ledger = ledger


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def one_run(inputs: Path, case: Path, workers: int, cluster: bool, detect: str) -> dict[str, Any]:
    cores = os.cpu_count() or 2
    _, config = build_config({})
    kwargs = {"engine": "faster-whisper", "model": None, "model_dir": None, "device": "cpu",
              "threads": max(1, cores // workers) if cluster else 0}
    settings = RunSettings(workers=workers, cluster=ClusterOptions("local", workers=workers) if cluster else None)
    rules = build_detector(detect, (), (), threads=1 if workers > 1 else None)
    events = Events()
    writer = Timed(batch, "flag_and_store")
    load = os.getloadavg()[0]
    cpu0, t0 = cpu_seconds(), time.perf_counter()
    try:
        with CaseStore.open(case) as store:
            report = run_batch(discover(inputs), inputs, store, lambda: load_engine(**kwargs), kwargs, config,
                               settings, rules, events)
            wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
            done = [o for o in report.outcomes if o.status == "done"]
            out0 = cpu_seconds()  # what `run` then writes per call on the driver (JSON/TXT/SRT/VTT/HTML)
            for outcome in done:
                write_call_outputs(store, case, outcome.call_id, settings.formats, rules.pack_info, rules.info())
            outputs_cpu = cpu_seconds() - out0
    finally:
        writer.restore()
    assert len(done) == len(CALLS), [o.error for o in report.outcomes]
    row = {"mode": "ray" if cluster else "local", "wall_s": round(wall, 1), "calls": len(done),
           "audio_s": round(sum(o.audio_seconds for o in done), 1), "driver_cpu_s": round(cpu, 2),
           "driver_cpu_per_call_s": round(cpu / len(done), 3), "writer_s_per_call": round(writer.seconds / writer.calls, 3),
           "outputs_cpu_per_call_s": round(outputs_cpu / len(done), 3),
           "load_before": round(load, 2), "load_after": round(os.getloadavg()[0], 2)}
    if events.ledger is not None:
        calls = list(events.ledger.calls.values())
        gaps = [c.round_trip_seconds - c.worker_seconds for c in calls]
        row.update(actors_ready_s=round(events.ledger.start_seconds, 1),
                   dispatch_overhead_per_call_s=round(statistics.mean(gaps), 3),
                   dispatch_overhead_max_s=round(max(gaps), 3),
                   worker_s_per_call=round(statistics.mean(c.worker_seconds for c in calls), 2))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--detect", default="both", choices=("rules", "model", "both"))
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "_out" / "cluster_speed.json")
    args = parser.parse_args()

    import ray

    work = Path(tempfile.mkdtemp(prefix="cluster_speed_"))
    inputs = work / "in"
    inputs.mkdir()
    for src in CALLS:
        shutil.copy2(src, inputs / src.name)
    # load the model tier's encoders once, outside the timing (cached per thread count: the runs' count)
    warm = build_detector(args.detect, (), (), threads=1 if args.workers > 1 else None)
    if hasattr(warm, "prepare"):
        warm.prepare(["你好，请问是王强吗？"])
    warm.flag_text("你好，请问是王强吗？", role=None)
    t0 = time.perf_counter()
    ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False,
             logging_level="WARNING")
    ray_start = time.perf_counter() - t0
    print(f"Ray start (ray.init, local): {ray_start:.1f} s; {len(CALLS)} calls; cores {os.cpu_count()}")
    rows = []
    try:
        for i in range(args.repeat):
            for cluster in (False, True):
                row = one_run(inputs, work / f"case_{i}_{int(cluster)}", args.workers, cluster, args.detect)
                rows.append(row)
                print(json.dumps(row, ensure_ascii=False), flush=True)
    finally:
        ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)

    def mean(mode: str, key: str) -> float:
        return statistics.mean(r[key] for r in rows if r["mode"] == mode)

    local, ray_wall = mean("local", "wall_s"), mean("ray", "wall_s")
    pairs = [(a["wall_s"], b["wall_s"]) for a, b in zip(rows[::2], rows[1::2], strict=True)]
    summary = {
        "calls": len(CALLS), "audio_s": rows[0]["audio_s"], "workers": args.workers, "detect": args.detect,
        "cores": os.cpu_count(), "ray_start_s": round(ray_start, 1),
        "local_wall_s": round(local, 1), "ray_wall_s": round(ray_wall, 1),
        "ray_overhead_total_pct": round(100 * (ray_wall - local) / local, 1),
        "ray_overhead_pct_per_pair": [round(100 * (r - lo) / lo, 1) for lo, r in pairs],
        "ray_overhead_per_call_s": round((ray_wall - local) / len(CALLS), 2),
        "dispatch_overhead_per_call_s": round(mean("ray", "dispatch_overhead_per_call_s"), 3),
        "driver_cpu_per_call_s": {"local": round(mean("local", "driver_cpu_per_call_s"), 3),
                                  "ray": round(mean("ray", "driver_cpu_per_call_s"), 3)},
        "writer_s_per_call": {"local": round(mean("local", "writer_s_per_call"), 3),
                              "ray": round(mean("ray", "writer_s_per_call"), 3)},
        "outputs_cpu_per_call_s": round(mean("ray", "outputs_cpu_per_call_s"), 3),
        "runs": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in summary.items() if k != "runs"}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
