"""`add-messages CASE_DIR FILE...`: one-off import of SMS backups, chat exports and screenshots."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console

from pipeline.commands.common import exclusive_case, parse_window
from pipeline.commands.detect_opts import build_detector, detect_options
from pipeline.errors import ConfigError, InputError
from pipeline.messages.importer import import_messages
from pipeline.messages.summary import print_message_summary
from pipeline.msgrules import MessageRuleOptions
from pipeline.render.html_case import INDEX_NAME, write_case_html
from pipeline.store.messages import open_store


@click.command("add-messages")
@click.argument("case_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--received-by", help="Who received these messages (e.g. 本人, 母亲, 同事王某).")
@click.option("--me", "me", multiple=True, help="The phone owner's name as it appears in a chat export (repeatable).")
@click.option("--rules", "rule_packs", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Extra rule pack YAML (repeatable).")
@click.option("--off-hours", default="22:00-08:00", show_default=True, help="Local time window for OFF_HOURS.")
@click.option("--max-messages-per-day", type=int, default=3, show_default=True,
              help="EXCESS_FREQ: messages a day from one number.")
@click.option("--all-numbers", is_flag=True,
              help="Apply OFF_HOURS/EXCESS_FREQ to every number, not only numbers already suspected.")
@detect_options
def add_messages_command(case_dir: Path, files: tuple[Path, ...], received_by: str | None, me: tuple[str, ...],
                         rule_packs: tuple[Path, ...], off_hours: str, max_messages_per_day: int,
                         all_numbers: bool, detect: str, examples: tuple[Path, ...]) -> None:
    """Add SMS backups, chat text exports or screenshots to a case (导入短信/聊天记录/截图)."""
    console = Console(stderr=True)
    try:
        start, end = parse_window(off_hours)
        options = MessageRuleOptions(off_hours_start=start, off_hours_end=end,
                                     max_messages_per_day=max_messages_per_day, only_suspect_numbers=not all_numbers)
        rules = build_detector(detect, rule_packs, examples)
    except (ConfigError, ValueError) as exc:
        for line in exc.lines() if hasattr(exc, "lines") else [str(exc)]:
            console.print(f"[red]错误[/red] {line}")
        sys.exit(2)
    try:
        with exclusive_case(case_dir), open_store(case_dir) as store, console.status("正在读取消息…"):
            report = import_messages(store, list(files), rules, None, received_by=received_by, me=me, options=options)
            refreshed = (case_dir / INDEX_NAME).is_file()
            if refreshed:  # the case's pages were written by run: show the new messages beside the calls
                write_case_html(case_dir, store)
    except (ConfigError, InputError) as exc:
        console.print(f"[red]错误[/red] {exc}")
        sys.exit(2)
    print_message_summary(console, report)
    console.print(f"案件目录: {case_dir}")
    if refreshed:
        console.print(f"案件网页已更新: {case_dir / INDEX_NAME}")
    sys.exit(1 if report.failed else 0)
