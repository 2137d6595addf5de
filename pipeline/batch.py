"""The main job: a folder of recordings → a resumable case (store + per-call outputs).

Each call is processed in order: hash → intake (metadata) → transcribe → speakers → roles →
flags → one store transaction → outputs. A call already done with the same engine, model and
options is skipped; `reflag` re-runs the rules on stored transcripts without re-transcribing.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipeline.asr.base import Engine
from pipeline.asr.factory import compute_fingerprint, model_fingerprint
from pipeline.audio import AudioInfo, probe, sha256_file
from pipeline.call_asr import speaker_turns, transcribe_one  # noqa: F401  (speaker_turns: re-exported)
from pipeline.callrules import CallRuleOptions
from pipeline.calls import apply_overrides, call_metadata, load_overrides
from pipeline.cluster.options import ClusterOptions
from pipeline.contacts_reached import person_from_path
from pipeline.detect import Detector
from pipeline.discover import Discovery
from pipeline.errors import InputError
from pipeline.model_process import in_job_order, process_transcripts, transcribe_calls
from pipeline.rules import RuleEngine
from pipeline.store import CaseStore
from pipeline.transcribe import TranscribeConfig
from pipeline.transcript import ModelInfo, Transcript
from pipeline.worker_guard import die_with_parent, worker_context


@dataclass(frozen=True)
class RunSettings:
    formats: tuple[str, ...] = ("json", "txt", "srt", "vtt")
    reflag: bool = False
    diarize: bool = True
    num_speakers: int | None = 2  # None = choose automatically
    workers: int = 1
    call_rules: CallRuleOptions = CallRuleOptions()
    cluster: ClusterOptions | None = None  # transcribe on a Ray cluster (pipeline.cluster)
    share_engine: bool = False  # calls share one in-process engine (faster on long calls, no crash isolation)


@dataclass
class CallOutcome:
    path: Path
    status: str  # done | skipped | reflagged | failed
    call_id: str | None = None
    audio_seconds: float = 0.0
    seconds: float = 0.0
    flags: int = 0
    error: str = ""
    damage: dict[str, Any] | None = None  # cut short / damaged recording (pipeline.audio_complete.Damage)


@dataclass
class RunReport:
    outcomes: list[CallOutcome] = field(default_factory=list)
    skipped_files: list[tuple[str, str]] = field(default_factory=list)
    links_outside: list[tuple[str, str]] = field(default_factory=list)  # (path in the input folder, real target)
    started: float = field(default_factory=time.perf_counter)
    model: ModelInfo | None = None  # the model the transcripts of this run name (loaded in another process, perhaps)


def auto_workers() -> int:
    """Calls in flight at once: two keep both cores busy between one call's end and the next's start
    (their blocks share the model's workers: pipeline/model_process.py)."""
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def options_hash(model_fingerprint: str, config: TranscribeConfig, settings: RunSettings,
                 compute: dict[str, Any] | None = None) -> str:
    """What decides whether a stored transcript can be reused: engine, weights, every option, compute path."""
    key = {
        "model": model_fingerprint,
        "compute": compute or {},
        "decode": asdict(config.options),
        "block_seconds": config.block_seconds,
        "channel_mode": config.channel_mode,
        "stereo_decode": config.stereo_decode,
        "diarize": settings.diarize,
        "num_speakers": settings.num_speakers,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


COLLECTOR_CATEGORIES = {
    "CONTACTS_BLAST", "THIRD_PARTY_CONTACT", "THIRD_PARTY_DISCLOSURE", "VIOLENCE_THREAT", "HOME_WORK_VISIT",
    "FALSE_LEGAL", "IMPERSONATION", "INSULT", "OBSCENE", "EXPOSURE", "FORCED_BORROW",
}  # fmt: skip


def label_speakers(segments: list, rules: RuleEngine | Detector, *, direction: str | None,
                   override: dict[str, str]) -> tuple[dict[str, str], dict[str, Any]]:
    """Speaker → role, from who triggers collection flags (both tiers), call direction and reviewer overrides."""
    from pipeline.speakers import assign_roles

    speakers = {s.speaker for s in segments if s.speaker}
    if not speakers:
        return {}, {}
    if isinstance(rules, Detector):
        rules.prepare([s.text for s in segments])
    hits: dict[str, int] = {spk: 0 for spk in speakers}
    for seg in segments:
        if seg.speaker:
            hits[seg.speaker] += sum(1 for f in rules.flag_text(seg.text, role=None) if f.category in COLLECTOR_CATEGORIES)
    roles = assign_roles(segments, direction=direction, collector_hits=hits, override=override or None)
    return roles, {"collector_hits": hits, "direction": direction, "override": override}


def flag_and_store(store: CaseStore, call_id: str, transcript: Transcript, rules: RuleEngine | Detector,
                   direction: str | None, opts_hash: str | None) -> int:
    """Roles, flags, and one transaction that stores transcript + flags together."""
    overrides = {s.speaker: s.role for s in store.speakers(call_id) if s.role_source == "override"}
    roles, evidence = label_speakers(transcript.segments, rules, direction=direction, override=overrides)
    for seg in transcript.segments:
        seg.role = roles.get(seg.speaker or "", None) if seg.speaker else None
    flags = rules.flag_segments(transcript.segments)
    with store.transaction():
        if opts_hash is not None:
            store.save_transcript(call_id, transcript, roles, opts_hash, speaker_evidence=evidence)
        store.replace_flags(call_id, [f.to_dict() for f in flags], level="segment", rule_pack={"packs": rules.pack_info})
    return len(flags)


def reflag_stored(store: CaseStore, call_id: str, rules: RuleEngine | Detector, direction: str | None) -> int:
    transcript = store.load_transcript(call_id)
    return flag_and_store(store, call_id, transcript, rules, direction, None)


def intake(store: CaseStore, path: Path, overrides: dict[str, dict[str, Any]], root: Path) -> tuple[str, AudioInfo, Any]:
    sha = sha256_file(path)
    info = probe(path)
    meta = call_metadata(path, tags=info.tags, duration=info.duration)
    if overrides:
        apply_overrides(meta, path, overrides, root=root)
    if meta.received_by is None:
        meta.received_by = person_from_path(path, root)
    try:
        rel = path.relative_to(root).as_posix()
    except ValueError:
        rel = None
    row = store.upsert_call_intake(path, sha, info=info, meta=meta, source_rel=rel)
    return sha, info, row


def record_outside_link(store: CaseStore, row: Any, path: Path, target: Path, known: set[tuple[str, str, str]]) -> None:
    """A custody event (once per call, link and target) saying the recording was read through a
    symbolic link leading outside the input folder."""
    key = (f"call:{row.id}", str(path), str(target))
    if key in known:
        return
    store.add_custody(None, "link_outside_input", key[0], row.sha256, {"path": str(path), "target": str(target)})
    known.add(key)


def load_call_overrides(discovery: Discovery) -> dict[str, dict[str, Any]]:
    overrides: dict[str, dict[str, Any]] = {}
    for csv_path in discovery.companions:
        if csv_path.name.lower() == "calls.csv":
            overrides.update(load_overrides(csv_path))
    return overrides


def apply_call_rules(store: CaseStore, options: CallRuleOptions) -> int:
    """OFF_HOURS / EXCESS_FREQ / rotating numbers over every call, recorded or only logged (pipeline.calllog)."""
    from pipeline.calllog.rules import apply_call_log_rules

    return apply_call_log_rules(store, options)


# ------------------------------------------------------------------ parallel transcription

_worker_engine: Engine | None = None


def _init_worker(engine_kwargs: dict[str, Any], parent_pid: int) -> None:
    global _worker_engine
    die_with_parent(parent_pid)  # a killed run must not leave 0.5 GB workers behind
    from pipeline.asr.factory import load_engine

    _worker_engine = load_engine(**engine_kwargs)


def _worker_transcribe(path: Path, config: TranscribeConfig, settings: RunSettings, info: AudioInfo,
                       sha256: str) -> Transcript:
    assert _worker_engine is not None
    return transcribe_one(path, _worker_engine, config, settings, info, sha256)


def parallel_transcripts(jobs: list[tuple[Path, AudioInfo, str]], engine_kwargs: dict[str, Any],
                         config: TranscribeConfig, settings: RunSettings) -> Iterator[tuple[Path, Transcript | Exception]]:
    """Transcribe in worker processes, each with its own model and share of the CPU threads (engines
    whose model serves one call at a time: openai-whisper)."""
    threads = max(1, (os.cpu_count() or 2) // settings.workers)
    kwargs = {**engine_kwargs, "threads": threads}
    with ProcessPoolExecutor(settings.workers, mp_context=worker_context(), initializer=_init_worker,
                             initargs=(kwargs, os.getpid())) as pool:
        futures = [(path, pool.submit(_worker_transcribe, path, config, settings, info, sha)) for path, info, sha in jobs]
        for path, future in futures:
            try:
                yield path, future.result()
            except Exception as exc:  # an InputError raised in the worker comes back here
                yield path, exc


def shared_transcripts(jobs: list[tuple[Path, AudioInfo, str]], engine: Engine, config: TranscribeConfig,
                       settings: RunSettings) -> Iterator[tuple[Path, Transcript | Exception]]:
    """Transcribe ``settings.workers`` calls at a time in this process on one engine whose workers
    decode the blocks of every call in flight (pipeline/model_process.py); results in job order."""
    return in_job_order(jobs, transcribe_calls(jobs, engine, config, settings, settings.workers))


def shares_workers(engine: Engine | None) -> bool:
    """An engine whose replicas decode several blocks at once (faster-whisper): calls share it in-process."""
    return engine is not None and int(getattr(engine, "workers", 1)) > 1


def uses_model_process(engine_kwargs: dict[str, Any], settings: RunSettings, pending: int) -> bool:
    """Several calls on faster-whisper, no cluster, no --share-engine: one model process serves them all
    (openai-whisper, whose model serves one call at a time, keeps a process per call in flight)."""
    return (settings.cluster is None and not settings.share_engine and settings.workers > 1 and pending > 1
            and engine_kwargs.get("engine", "faster-whisper") == "faster-whisper")


# ------------------------------------------------------------------ the run


class RunEvents:
    """What the batch tells its caller (the CLI draws progress from these)."""

    def planned(self, files: int, audio_seconds: float) -> None: ...
    def call_started(self, path: Path, audio_seconds: float) -> None: ...
    def call_progress(self, path: Path, seconds: float) -> None: ...
    def call_finished(self, outcome: CallOutcome) -> None: ...
    def message(self, text: str) -> None: ...
    def cluster_status(self, ledger: Any) -> None: ...  # pipeline.cluster.ClusterLedger: who did what


def run_batch(
    discovery: Discovery,
    input_dir: Path,
    store: CaseStore,
    engine_factory: Callable[[], Engine],
    engine_kwargs: dict[str, Any],
    config: TranscribeConfig,
    settings: RunSettings,
    rules: RuleEngine | Detector,
    events: RunEvents,
) -> RunReport:
    report = RunReport(skipped_files=[(str(p), why) for p, why in discovery.skipped])
    for path, why in discovery.skipped:
        events.message(f"跳过 {path}: {why}")
    overrides = load_call_overrides(discovery)

    todo: list[tuple[Path, AudioInfo, str, Any]] = []
    known_links = {(e.object, e.detail.get("path"), e.detail.get("target")) for e in store.custody_events()
                   if e.action == "link_outside_input"} if discovery.links_outside else set()
    for path in discovery.recordings:
        try:
            sha, info, row = intake(store, path, overrides, input_dir)
        except InputError as exc:
            if store.find_call_by_path(path):  # a file known from an earlier run that broke since
                store.mark_failed(path, str(exc))
            report.outcomes.append(CallOutcome(path, "failed", error=str(exc)))
            events.message(f"失败 {exc}")
            continue
        todo.append((path, info, sha, row))
        if path in discovery.links_outside:
            target = discovery.links_outside[path]
            record_outside_link(store, row, path, target, known_links)
            report.links_outside.append((str(path), str(target)))

    events.planned(len(todo), sum(info.duration for _, info, _, _ in todo))
    opts_hash = options_hash(model_fingerprint(**engine_kwargs), config, settings, compute_fingerprint(**engine_kwargs))
    pending: list[tuple[Path, AudioInfo, str, Any]] = []
    for path, info, sha, row in todo:
        if row.status == "done" and row.options_hash == opts_hash:
            t0 = time.perf_counter()
            events.call_started(path, info.duration)
            if settings.reflag:
                count = reflag_stored(store, row.id, rules, row.direction)
                outcome = CallOutcome(path, "reflagged", row.id, info.duration, time.perf_counter() - t0, count)
            else:
                outcome = CallOutcome(path, "skipped", row.id, info.duration, 0.0, len(store.call_flags(row.id)))
            outcome.damage = store.source_damage(row.id)
            report.outcomes.append(outcome)
            events.call_finished(outcome)
        else:
            pending.append((path, info, sha, row))
    in_model_process = uses_model_process(engine_kwargs, settings, len(pending))
    engine = engine_factory() if pending and settings.cluster is None and not in_model_process else None

    def finish(path: Path, info: AudioInfo, row: Any, result: Transcript | Exception, t0: float) -> None:
        if isinstance(result, InputError):
            store.mark_failed(row.id, str(result))
            outcome = CallOutcome(path, "failed", row.id, info.duration, time.perf_counter() - t0, error=str(result))
            events.message(f"失败 {result}")
        elif isinstance(result, Exception):
            raise result
        else:
            count = flag_and_store(store, row.id, result, rules, row.direction, opts_hash)
            report.model = report.model or result.model
            outcome = CallOutcome(path, "done", row.id, info.duration, time.perf_counter() - t0, count,
                                  damage=result.source.damage)
        report.outcomes.append(outcome)
        events.call_finished(outcome)

    if settings.cluster is not None and pending:
        from pipeline.cluster.dispatch import cluster_transcripts  # imports Ray, an optional extra

        t0 = time.perf_counter()
        rows = {path: (info, row) for path, info, _, row in pending}
        for path, result in cluster_transcripts(pending, store, engine_kwargs, config, settings, events):
            finish(path, *rows[path], result, t0)
    elif settings.workers > 1 and len(pending) > 1:
        t0 = time.perf_counter()
        jobs = [(path, info, sha) for path, info, sha, _ in pending]
        rows = {path: (info, row) for path, info, _, row in pending}
        for path, info, _, _ in pending:
            events.call_started(path, info.duration)
        if in_model_process:
            results = process_transcripts(jobs, engine_kwargs, config, settings, settings.workers)
        elif settings.share_engine and shares_workers(engine):
            results = shared_transcripts(jobs, engine, config, settings)
        else:
            results = parallel_transcripts(jobs, engine_kwargs, config, settings)
        for path, result in results:
            info, row = rows[path]
            finish(path, info, row, result, t0)
    else:
        assert engine is not None or not pending
        for path, info, sha, row in pending:
            t0 = time.perf_counter()
            events.call_started(path, info.duration)
            try:
                result: Transcript | Exception = transcribe_one(
                    path, engine, config, settings, info, sha, progress=lambda s, p=path: events.call_progress(p, s)
                )
            except InputError as exc:
                result = exc
            finish(path, info, row, result, t0)
    return report
