"""Soak test of `run`: many short generated calls, SIGKILLs at random moments, restarts until done.

    python bench/soak.py [--calls 500] [--kills 8] [--seed 17] [--work DIR] [--workers 2]

Every call is a distinct recording (a 1.5-2.5 s cut of a real Mandarin clip at its own offset and
gain, with its own silence before it), written as 8 kHz WAV or AMR-NB as phones do. `run` is started
on the folder; at a random moment only the parent process gets SIGKILL, the way a crash or the OOM
killer ends it, and it is started again, until it has been killed ``--kills`` times; the last run goes
to the end. A quarter of the kills fall in the start-up (3-30 s in: discovery, hashing, model
loading), the rest while calls are being stored (0-45 s after this run stored its first call). Reported: calls lost (a recording with no finished call in the case:
must be 0), duplicated (more than one call row for one recording, the same flag stored twice, or a
summary counting more calls than there are: must be 0), worker processes that outlived a killed run
(must be 0), peak RSS of the whole process tree per run (flat = no growth from run to run), time.
``--speakers off``: diarization is not what is soaked here and would only stretch the hours.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from common import ROOT, full_sentence_refs

CLI = str(ROOT / "cli.py")


def make_calls(folder: Path, count: int, seed: int) -> list[Path]:
    """``count`` distinct short calls from the reference clips (8 kHz WAV and AMR-NB)."""
    import av

    rng = random.Random(seed)
    clips = []
    for path, _ in full_sentence_refs():
        data, rate = sf.read(path, dtype="float32", always_2d=False)
        if data.ndim > 1:
            data = data.mean(axis=1)
        clips.append(data[:: rate // 8000] if rate % 8000 == 0 else data)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        clip = clips[i % len(clips)]
        length = int(rng.uniform(1.5, 2.5) * 8000)
        start = rng.randrange(0, max(1, len(clip) - length))
        audio = np.concatenate([np.zeros(int(rng.uniform(0.1, 0.5) * 8000), dtype=np.float32),
                                clip[start:start + length] * rng.uniform(0.5, 1.0)]).astype(np.float32)
        name = f"138{i:08d}_20240116{9 + i % 12:02d}{i % 60:02d}{(i * 7) % 60:02d}"
        if i % 2:
            path = folder / f"{name}.wav"
            sf.write(path, audio, 8000, subtype="PCM_16")
        else:
            path = folder / f"{name}.amr"
            with av.open(str(path), "w", format="amr") as out:
                stream = out.add_stream("libopencore_amrnb", rate=8000, layout="mono")
                stream.bit_rate = 12200
                frame = av.AudioFrame.from_ndarray((np.clip(audio, -1, 1) * 32767).astype(np.int16)[None, :],
                                                   format="s16", layout="mono")
                frame.sample_rate = 8000
                for packet in [*stream.encode(frame), *stream.encode(None)]:
                    out.mux(packet)
        paths.append(path)
    return paths


def _proc_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, RSS in kB) of every process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        rss = int(fields.get("VmRSS", "0 kB").split()[0])
        table[int(entry.name)] = (int(fields["PPid"]), rss)
    return table


def tree(pid: int, table: dict[int, tuple[int, int]]) -> set[int]:
    found, todo = {pid}, [pid]
    while todo:
        current = todo.pop()
        for child, (parent, _) in table.items():
            if parent == current and child not in found:
                found.add(child)
                todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _done(case: Path) -> int:
    try:
        with sqlite3.connect(f"file:{case / 'case.sqlite'}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM calls WHERE status = 'done'").fetchone()[0])
    except sqlite3.Error:
        return -1


def one_run(inputs: Path, case: Path, workers: int, kill: tuple[str, float] | None) -> dict:
    """Start `run`; SIGKILL its parent per ``kill`` (None: let it finish): ("startup", s after the
    start) or ("storing", s after this run stored its first call)."""
    baseline = _done(case) if (case / "case.sqlite").exists() else 0
    first_stored: float | None = None
    killed_at: float | None = None
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, CLI, "run", str(inputs), "-o", str(case), "--speakers", "off",
                             "--workers", str(workers)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak_kb, members, samples = 0, {proc.pid}, []
    while proc.poll() is None:
        table = _proc_table()
        members = tree(proc.pid, table) | members
        rss_kb = sum(table[p][1] for p in tree(proc.pid, table) if p in table)
        peak_kb = max(peak_kb, rss_kb)
        samples.append((time.perf_counter() - started, rss_kb))
        now = time.perf_counter()
        if kill is not None and kill[0] == "storing" and first_stored is None and _done(case) > baseline:
            first_stored = now
        since = now - started if kill and kill[0] == "startup" else (now - first_stored if first_stored else None)
        if kill is not None and since is not None and since >= kill[1]:
            proc.send_signal(signal.SIGKILL)
            killed_at = now - started
            break
        time.sleep(0.25)
    code = proc.wait()
    survivors = []
    if killed_at is not None:
        deadline = time.time() + 10
        while time.time() < deadline and any(_alive(p) for p in members - {proc.pid}):
            time.sleep(0.2)
        survivors = [p for p in members - {proc.pid} if _alive(p)]
        for pid in survivors:  # clean up what a broken guard left, after counting it
            os.kill(pid, signal.SIGKILL)
    seconds = time.perf_counter() - started
    quarters = [max((kb for t, kb in samples if q * seconds / 4 <= t < (q + 1) * seconds / 4), default=0) for q in range(4)]
    return {"killed": killed_at is not None, "kill": kill[0] if kill else None,
            "after_s": round(killed_at, 1) if killed_at is not None else None, "exit": code,
            "stored_this_run": max(0, _done(case) - baseline),
            "seconds": round(seconds, 1), "peak_rss_mb": round(peak_kb / 1024, 1),
            "peak_rss_mb_by_quarter": [round(kb / 1024, 1) for kb in quarters], "survivors": len(survivors)}


def audit(case: Path, recordings: list[Path]) -> dict:
    """Calls lost and duplicated, from the case database and summary."""
    import hashlib

    shas = {hashlib.sha256(p.read_bytes()).hexdigest() for p in recordings}
    with sqlite3.connect(case / "case.sqlite") as conn:
        rows = conn.execute("SELECT sha256, status FROM calls").fetchall()
        duplicate_flags = conn.execute(
            "SELECT count(*) FROM (SELECT call_id, segment_idx, rule, start_char, end_char, level, count(*) AS n"
            " FROM flags WHERE stale = 0 GROUP BY 1, 2, 3, 4, 5, 6 HAVING n > 1)").fetchone()[0]
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        transcribed = conn.execute("SELECT count(*) FROM custody WHERE action = 'transcribe'").fetchone()[0]
    done = {sha for sha, status in rows if status == "done"}
    per_sha: dict[str, int] = {}
    for sha, _ in rows:
        per_sha[sha] = per_sha.get(sha, 0) + 1
    summary = json.loads((case / "summary.json").read_text(encoding="utf-8"))
    return {"recordings": len(shas), "done": len(done & shas), "lost": len(shas - done),
            "duplicated": sum(n - 1 for n in per_sha.values()) + duplicate_flags + max(0, summary["calls"] - len(shas)),
            "duplicate_flags": duplicate_flags, "summary_calls": summary["calls"], "integrity": integrity,
            "transcribe_events": transcribed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--kills", type=int, default=8)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", type=Path, help="Folder for the calls and the case (default: a temp folder).")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="callproof_soak_"))
    rng = random.Random(args.seed)
    t0 = time.perf_counter()
    recordings = make_calls(work / "in", args.calls, args.seed)
    print(f"{len(recordings)} calls generated in {time.perf_counter() - t0:.0f} s under {work}", flush=True)
    runs = []
    started = time.perf_counter()
    while True:
        planned = sum(r["kill"] is not None for r in runs) < args.kills
        kill = (("startup", rng.uniform(3, 30)) if rng.random() < 0.25 else ("storing", rng.uniform(0, 45))) if planned else None
        result = one_run(work / "in", work / "case", args.workers, kill)
        runs.append(result)
        print(json.dumps(result), flush=True)
        if result["kill"] is None:
            break
    report = {"calls": args.calls, "kills": args.kills, "workers": args.workers, "seed": args.seed,
              "wall_s": round(time.perf_counter() - started, 1), "runs": runs,
              "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
              "worker_survivors": sum(r["survivors"] for r in runs), **audit(work / "case", recordings)}
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
