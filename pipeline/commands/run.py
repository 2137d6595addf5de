"""`run INPUT_DIR -o CASE_DIR`: the main job, resumable."""

from __future__ import annotations

import os
import sqlite3
import sys
import time
from collections import Counter
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from pipeline.asr.base import Engine
from pipeline.asr.factory import load_engine
from pipeline.audio_complete import Damage
from pipeline.batch import CallOutcome, RunEvents, RunSettings, apply_call_rules, auto_workers, run_batch
from pipeline.calllog.importer import CachingReader, discover_call_logs, import_call_logs
from pipeline.calllog.summary import print_call_log_summary, write_case_call_log
from pipeline.callrules import CallRuleOptions
from pipeline.case_outputs import build_summary, write_call_outputs, write_summary
from pipeline.cluster import ClusterLedger, ClusterOptions, print_cluster_summary, require_ray
from pipeline.commands.common import exclusive_case, parse_window
from pipeline.commands.detect_opts import build_detector, detect_options
from pipeline.commands.transcribe import build_config, engine_kwargs, engine_options, parse_formats
from pipeline.contacts_reached import contacts_reached, to_markdown
from pipeline.discover import discover
from pipeline.diskfull import disk_full_line, is_disk_full
from pipeline.display import console_text, printable
from pipeline.errors import ConfigError, InputError
from pipeline.messages.importer import discover_messages, import_messages
from pipeline.messages.summary import print_message_summary
from pipeline.render import FORMATS
from pipeline.render.categories import category_label
from pipeline.render.html_case import write_case_html
from pipeline.store import CaseStore

STATUS_ZH = {"done": "完成", "skipped": "已完成(跳过)", "reflagged": "重新标记", "failed": "失败"}


class ProgressEvents(RunEvents):
    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.files = progress.add_task("文件", total=1)
        self.audio = progress.add_task("音频(分钟)", total=1)
        self.done_audio = 0.0
        self.current = 0.0
        self.cluster: ClusterLedger | None = None  # set by `run --cluster`: who did what
        self.nodes_task: int | None = None

    def planned(self, files: int, audio_seconds: float) -> None:
        self.progress.update(self.files, total=max(files, 1))
        self.progress.update(self.audio, total=max(audio_seconds / 60, 0.01))

    def call_started(self, path: Path, audio_seconds: float) -> None:
        self.current = 0.0
        self.progress.update(self.files, description=f"文件 {console_text(path.name[:40])}")

    def call_progress(self, path: Path, seconds: float) -> None:
        self.current = seconds
        self.progress.update(self.audio, completed=(self.done_audio + seconds) / 60)

    def call_finished(self, outcome: CallOutcome) -> None:
        self.done_audio += outcome.audio_seconds
        self.progress.update(self.audio, completed=self.done_audio / 60)
        self.progress.advance(self.files)

    def message(self, text: str) -> None:  # file names inside: one line, no markup read from them
        self.progress.console.print(printable(text), markup=False, highlight=False)

    def cluster_status(self, ledger: ClusterLedger) -> None:
        self.cluster = ledger
        if self.nodes_task is None:  # its bar: the cluster's model workers busy right now
            self.nodes_task = self.progress.add_task("", total=max(ledger.workers, 1))
        self.progress.update(self.nodes_task, description=ledger.status_line(), completed=ledger.busy())


@click.command("run")
@click.argument("input_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("-o", "--case-dir", type=click.Path(file_okay=False, path_type=Path), required=True, help="Case folder (created; re-use it to resume).")
@click.option("--format", "formats", default=",".join(FORMATS), show_default=True, help="Transcript formats per call.")
@click.option("--reflag", is_flag=True, help="Re-run the rules on stored transcripts (after a rule-pack change).")
@click.option("--rules", "rule_packs", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Extra rule pack YAML (repeatable).")
@click.option("--speakers", default="2", show_default=True, help="Speakers per mono call for diarization: a number, 'auto', or 'off'.")
@click.option("--workers", type=int, default=0, show_default=True,
              help="Calls transcribed at once. faster-whisper: they share one model process whose workers "
                   "(--threads) decode every call's blocks; openai-whisper: a worker process each. 0 = auto (2 on 2+ cores).")
@click.option("--share-engine", is_flag=True,
              help="faster-whisper: the model runs in this process instead of a model process of its own "
                   "(no process start; a crash of the engine stops the whole run instead of the calls in flight).")
@click.option("--off-hours", default="22:00-08:00", show_default=True, help="Local time window for the OFF_HOURS rule.")
@click.option("--max-calls-per-day", type=int, default=3, show_default=True, help="EXCESS_FREQ: connected calls a day from one number (GB/T 45251).")
@click.option("--cluster", default=None, metavar="ADDRESS",
              help="Transcribe on a Ray cluster: ray://HOST:PORT, 'auto' (RAY_ADDRESS) or 'local' (start Ray here). "
                   "Needs requirements-cluster.txt; --workers = model actors (0 = one per --threads CPUs of the cluster).")
@click.option("--shared-fs", is_flag=True, help="With --cluster: every node sees INPUT_DIR at the same path (send paths, not bytes).")
@detect_options
@engine_options
def run_command(input_dir: Path, case_dir: Path, formats: str, reflag: bool, rule_packs: tuple[Path, ...],
                speakers: str, workers: int, share_engine: bool, off_hours: str, max_calls_per_day: int, cluster: str | None, shared_fs: bool,
                detect: str, examples: tuple[Path, ...], **opts: object) -> None:
    """Process a folder of recordings into a case (处理录音文件夹，生成案件). Resumable."""
    console = Console(stderr=True)
    started = time.perf_counter()
    try:
        settings = RunSettings(
            formats=parse_formats(formats), reflag=reflag, diarize=speakers != "off",
            num_speakers=None if speakers in ("auto", "off") else int(speakers), workers=workers if workers > 0 else auto_workers(),
            call_rules=_call_rule_options(off_hours, max_calls_per_day),
            cluster=_cluster_options(cluster, shared_fs, workers), share_engine=share_engine,
        )
        # the model tier's encoder runs between calls while ASR workers transcribe: one thread then
        rules = build_detector(detect, rule_packs, examples, threads=1 if settings.workers > 1 else None)
    except (ConfigError, ValueError) as exc:
        for line in exc.lines() if hasattr(exc, "lines") else [str(exc)]:
            console.print(f"[red]错误[/red] {line}")
        sys.exit(2)

    try:
        with exclusive_case(case_dir), CaseStore.open(case_dir) as store:
            exit_code = _run(input_dir, case_dir, store, settings, rules, opts, console, started)
    except (ConfigError, InputError) as exc:
        console.print(f"[red]错误[/red] {exc}")
        exit_code = 2
    except (OSError, sqlite3.OperationalError) as exc:
        if not is_disk_full(exc):
            raise
        console.print(Text.assemble(("错误", "red"), " ", disk_full_line(exc, case_dir)), highlight=False)
        exit_code = 1
    sys.exit(exit_code)


def _cluster_options(address: str | None, shared_fs: bool, workers: int) -> ClusterOptions | None:
    if address is None:
        if shared_fs:
            raise ConfigError("--shared-fs 只能和 --cluster 一起使用 (--shared-fs needs --cluster)")
        return None
    require_ray()  # a one-line error now, not after hashing every recording
    return ClusterOptions(address=address, shared_fs=shared_fs, workers=max(workers, 0))


def _call_rule_options(window: str, max_calls: int) -> CallRuleOptions:
    start, end = parse_window(window)
    return CallRuleOptions(off_hours_start=start, off_hours_end=end, max_connected_per_day=max_calls)


def _run(input_dir: Path, case_dir: Path, store: CaseStore, settings: RunSettings, rules, opts, console: Console,  # type: ignore[no-untyped-def]
         started: float) -> int:
    input_dir = Path(os.path.abspath(input_dir))  # stored paths work from any folder (review, export)
    discovery = discover(input_dir)
    message_files = discover_messages(input_dir)
    log_files = discover_call_logs(input_dir)
    discovery.skipped = [(p, why) for p, why in discovery.skipped if p not in set(message_files) | set(log_files)]
    try:
        loaded, config = build_config(opts)
    except ConfigError as exc:
        console.print(f"[red]错误[/red] {exc}")
        return 2
    kwargs = engine_kwargs(opts, loaded)
    engine_holder: list[Engine] = []

    def engine_factory() -> Engine:
        if not engine_holder:
            engine_holder.append(load_engine(**kwargs))
        return engine_holder[0]

    run_id = store.start_run(
        engine=kwargs["engine"], model=str(kwargs["model"]), model_sha256=None,
        options={"decode": dict(vars(config.options)), "workers": settings.workers, "reflag": settings.reflag},
        rule_packs=rules.pack_info,
    )
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:.1f}/{task.total:.1f}"),
               TimeElapsedColumn(), TimeRemainingColumn())
    try:
        with Progress(*columns, console=console) as progress:
            events = ProgressEvents(progress)
            report = run_batch(discovery, input_dir, store, engine_factory, kwargs, config, settings, rules, events)
    except ConfigError as exc:
        console.print(f"[red]错误[/red] {exc}")
        return 2
    reader = CachingReader()  # a screenshot looked at as a call log is not read again as a chat
    log_report = import_call_logs(store, log_files, input_dir, reader=reader, events=events)
    message_files = [p for p in message_files if p not in log_report.consumed]
    log_report.findings = apply_call_rules(store, settings.call_rules)
    msg_report = import_messages(store, message_files, rules, input_dir, events=events, reader=reader)
    for call in store.iter_calls():
        if call.status == "done":
            write_call_outputs(store, case_dir, call.id, settings.formats, rules.pack_info, rules.info())
    write_case_html(case_dir, store)
    elapsed = time.perf_counter() - started
    model = engine_holder[0].model if engine_holder else (events.cluster.model if events.cluster else report.model)
    summary = build_summary(
        store, report.outcomes, report.skipped_files, elapsed,
        {"model": {"engine": model.engine, "name": model.name, "sha256": model.sha256} if model else None,
         "rule_packs": rules.pack_info, "detector": rules.info()},
    )
    summary["messages"] = msg_report.to_dict()
    if events.cluster is not None:
        summary["cluster"] = events.cluster.to_dict()
    summary["call_log"] = {**log_report.to_dict(), **write_case_call_log(store, case_dir)}
    reached = contacts_reached(store, input_dir)
    summary["contacts_reached"] = [row.to_dict() for row in reached]
    summary["this_run"]["links_outside_input"] = [{"file": f, "target": t} for f, t in report.links_outside]
    summary["this_run"]["incomplete"] = [{"file": str(o.path), **o.damage} for o in report.outcomes if o.damage]
    write_summary(case_dir, summary)
    store.finish_run(run_id, {k: summary[k] for k in ("calls", "audio_minutes", "flags_per_category", "this_run")})
    _print_summary(console, report.outcomes, summary, elapsed, case_dir)
    if events.cluster is not None:
        print_cluster_summary(console, events.cluster)
    print_call_log_summary(console, log_report)
    print_message_summary(console, msg_report)
    if message_files or log_report.consumed:
        console.print(to_markdown(reached))
    print_next_steps(console, case_dir)
    failed = any(o.status == "failed" for o in report.outcomes) or bool(msg_report.failed) or bool(log_report.failed)
    return 1 if failed else 0


def _print_summary(console: Console, outcomes: list[CallOutcome], summary: dict, elapsed: float, case_dir: Path) -> None:
    table = Table(title="本次处理结果 (run summary)")
    for col in ("文件", "状态", "时长(秒)", "用时(秒)", "标记数"):
        table.add_column(col, overflow="fold")
    # a file's flags as the category table counts them: every flag of its call (words, off-hours,
    # frequency), not stale; a second copy of the same recording shows 同上 and is not counted again
    per_call = {c["id"]: sum(c["flags"].values()) for c in summary.get("call_list", [])}
    counted: dict[str, int] = {}
    for o in outcomes:
        if o.call_id is not None and o.call_id not in counted:
            counted[o.call_id] = per_call.get(o.call_id, o.flags)
    shown: set[str] = set()
    for o in outcomes:
        status = STATUS_ZH[o.status] if o.status != "failed" else f"[red]失败[/red] {console_text(o.error.split(': ', 1)[-1])}"
        if o.damage and o.status != "failed":
            status = f"[yellow]{Damage.from_dict(o.damage).label}[/yellow]" + ("" if o.status == "done" else f" {STATUS_ZH[o.status]}")
        flags = "同上" if o.call_id in shown else str(counted.get(o.call_id or "", o.flags))
        shown.add(o.call_id or "")
        table.add_row(console_text(o.path.name), status, f"{o.audio_seconds:.0f}", f"{o.seconds:.1f}", flags)
    listed = sum(counted.values())
    table.add_row("合计", "", "", "", str(listed))
    console.print(table)
    cats = Table(title="案件标记统计 (flags per category)")
    cats.add_column("类别")
    cats.add_column("数量")
    for cat, n in summary["flags_per_category"].items():
        cats.add_row(category_label(cat), str(n))
    total = sum(summary["flags_per_category"].values())
    cats.add_row("合计", str(total))
    console.print(cats)
    if total != listed:  # the case holds calls this run did not list (another input folder)
        console.print(f"  类别统计是整个案件的：其中 {total - listed} 处属于本次没有列出的通话（以前从别的文件夹导入）。",
                      markup=False, highlight=False)
    counts = Counter(o.status for o in outcomes)
    console.print(
        f"通话 {summary['calls']} 个，音频 {summary['audio_minutes']:.1f} 分钟；本次处理 {counts['done']}，跳过 {counts['skipped']}，"
        f"重新标记 {counts['reflagged']}，失败 {counts['failed']}；用时 {elapsed:.1f} 秒。案件目录: {case_dir}"
    )
    for o in outcomes:
        if o.status == "failed":
            console.print(f"  失败: {console_text(o.error)}")
        elif o.damage:
            console.print(f"  {console_text(o.path)}: {console_text(Damage.from_dict(o.damage).line)}；转写只覆盖已解码的部分")
    for item in summary["this_run"].get("links_outside_input", []):
        console.print(f"  [yellow]链接到输入文件夹之外[/yellow]（已读取，已记入保管记录）: {console_text(item['file'])} → "
                      f"{console_text(item['target'])}")
    skipped = summary["this_run"]["non_audio_skipped"]
    if skipped:  # each was named once while running; here only how many and where the list is
        console.print(f"  跳过非音频文件 {len(skipped)} 个（清单见 {case_dir / 'summary.json'} 的 this_run.non_audio_skipped）",
                      markup=False, highlight=False)


def print_next_steps(console: Console, case_dir: Path) -> None:
    """The last lines of a run: what to do next."""
    console.print(f"下一步：用浏览器打开 {case_dir / 'index.html'} 看时间线；运行 python cli.py review {case_dir} "
                  f"逐条确认或排除标记；然后运行 python cli.py export {case_dir} -o 证据包.zip 生成证据包。",
                  markup=False, highlight=False)
