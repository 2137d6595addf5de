"""`add-calllog CASE_DIR FILE...`: add call logs to an existing case (a relative's phone backup, a
carrier bill that came later, call-log screenshots, a calls.csv of calls without a file), then run
the call-log rules over the whole log again and refresh the case's call log and pages."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from pipeline.calllog.importer import import_call_logs
from pipeline.calllog.rules import apply_call_log_rules
from pipeline.calllog.summary import print_call_log_summary, write_case_call_log
from pipeline.callrules import CallRuleOptions
from pipeline.commands.common import exclusive_case, parse_window
from pipeline.errors import ConfigError, InputError
from pipeline.evidence.pack import open_case
from pipeline.render.html_case import INDEX_NAME, write_case_html


@click.command("add-calllog")
@click.argument("case_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--received-by", help="Whose phone or number these calls reached (e.g. 本人, 母亲, 同事王某).")
@click.option("--off-hours", default="22:00-08:00", show_default=True, help="Local time window for the OFF_HOURS rule.")
@click.option("--max-calls-per-day", type=int, default=3, show_default=True,
              help="EXCESS_FREQ: connected calls a day from one number (GB/T 45251).")
def add_calllog_command(case_dir: Path, files: tuple[Path, ...], received_by: str | None, off_hours: str,
                        max_calls_per_day: int) -> None:
    """Add call logs (calls XML, carrier records, calls.csv, call-log screenshots) to a case (导入通话记录)."""
    console = Console(stderr=True)
    try:
        start, end = parse_window(off_hours)
    except (ConfigError, ValueError) as exc:
        console.print(f"[red]错误[/red] {exc}")
        sys.exit(2)
    options = CallRuleOptions(off_hours_start=start, off_hours_end=end, max_connected_per_day=max_calls_per_day)
    try:
        with open_case(case_dir) as store, exclusive_case(case_dir), console.status("正在读取通话记录…"):
            report = import_call_logs(store, list(files), None, received_by=received_by)
            report.findings = apply_call_log_rules(store, options)
            write_case_call_log(store, case_dir)
            refreshed = (case_dir / INDEX_NAME).is_file()
            if refreshed:  # the charts, the call-level flags and the contacts table follow the new log
                write_case_html(case_dir, store)
    except (ConfigError, InputError) as exc:
        console.print(f"[red]错误[/red] {exc}")
        sys.exit(2)
    print_call_log_summary(console, report)
    for outcome in report.outcomes:
        if outcome.status == "not_call_log":
            console.print(f"  {outcome.path.name}: 不是通话记录（可能是聊天截图），请用 python cli.py add-messages 导入",
                          markup=False, highlight=False)
    console.print(f"案件目录: {case_dir}（通话记录表：{case_dir / 'calllog' / 'calllog.csv'}）", markup=False, highlight=False)
    if refreshed:
        console.print(f"案件网页已更新: {case_dir / INDEX_NAME}", markup=False, highlight=False)
    console.print(f"下一步：运行 python cli.py review {case_dir} 确认或排除新的发现，然后重新导出证据包。",
                  markup=False, highlight=False)
    sys.exit(1 if report.failed else 0)
