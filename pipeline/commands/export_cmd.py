"""`export CASE_DIR -o PACK.zip` and `verify PACK.zip|DIR`: the evidence pack."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import click
from filelock import FileLock, Timeout
from rich.console import Console

from pipeline.errors import ConfigError, InputError
from pipeline.evidence import PackOptions, export_pack, verify_pack


def _day(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"日期应为 YYYY-MM-DD (expected YYYY-MM-DD, got {value!r})") from None


@click.command("export")
@click.argument("case_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("-o", "--output", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The evidence pack to write (a .zip; replaced if it exists).")
@click.option("--include-pending", is_flag=True, help="Also pack flags nobody reviewed yet (marked 待复核).")
@click.option("--redact", is_flag=True,
              help="Mask third parties' phone, ID and bank card numbers in text files (never in recordings).")
@click.option("--calls", "call_ids", multiple=True, metavar="ID",
              help="Only these calls (id or unique prefix; repeat or separate with commas).")
@click.option("--from", "date_from", callback=_day, metavar="DATE", help="Only calls and messages on or after this day (YYYY-MM-DD).")
@click.option("--to", "date_to", callback=_day, metavar="DATE", help="Only calls and messages on or before this day (YYYY-MM-DD).")
@click.option("--templates", "templates_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Folder with adapted complaint templates (copy of configs/templates).")
@click.option("--no-messages", is_flag=True,
              help="Leave the case's SMS backups, chat exports and screenshots out (calls only).")
def export_command(case_dir: Path, out: Path, include_pending: bool, redact: bool, call_ids: tuple[str, ...],
                   date_from: date | None, date_to: date | None, templates_dir: Path | None, no_messages: bool) -> None:
    """Write the evidence pack of a reviewed case (导出证据包): originals, excerpts, transcripts, 证据目录, complaint drafts."""
    console = Console(stderr=True, soft_wrap=True)
    if date_from and date_to and date_from > date_to:
        console.print("[red]错误[/red] --from 晚于 --to (--from is after --to)")
        sys.exit(2)
    ids = tuple(part.strip() for value in call_ids for part in value.split(",") if part.strip())
    options = PackOptions(include_pending=include_pending, redact=redact, calls=ids, date_from=date_from,
                          date_to=date_to, templates_dir=templates_dir, messages=not no_messages)
    lock = FileLock(str(case_dir / ".callproof.lock")) if case_dir.is_dir() else None
    try:
        if lock:
            lock.acquire(timeout=0)
    except Timeout:
        console.print(f"[red]错误[/red] {case_dir}: 另一个 callproof 正在处理这个案件，请等它结束 (the case is busy)")
        sys.exit(2)
    try:
        result = export_pack(case_dir, out, options)
    except (InputError, ConfigError) as exc:
        console.print(f"[red]错误[/red] {exc}", markup=False, highlight=False)
        sys.exit(2)
    finally:
        if lock:
            lock.release()
    for warning in result.warnings:
        console.print(f"[yellow]注意[/yellow] {warning}")
    pending = f"（其中待复核 {result.pending}）" if result.pending else ""
    console.print(f"证据包已写好：{result.path}", markup=False, highlight=False)
    console.print(f"通话 {result.calls} 个，收录标记 {result.flags} 个{pending}，录音摘录 {result.excerpts} 段；"
                  f"未收录：已排除 {result.left_out.get('rejected', 0)}，待复核 "
                  f"{0 if include_pending else result.left_out.get('pending', 0)}。")
    if result.message_files:
        pending_messages = f"（其中待复核 {result.message_pending}）" if result.message_pending else ""
        console.print(f"短信/聊天记录/截图文件 {result.message_files} 个，收录消息标记 {result.message_flags} 个"
                      f"{pending_messages}，截图标注副本 {result.annotated} 张。")
    if result.redacted:
        console.print(f"已打码：文字材料中第三方号码等共遮盖 {result.masked} 处（录音原件未改动）。")
    if not result.flags and not result.message_flags:
        console.print("[yellow]注意[/yellow] 没有已确认的标记；请先复核：python cli.py review " + str(case_dir))
    console.print(f"大小 {result.size / 1e6:.1f} MB，SHA-256 {result.sha256}")
    console.print(f"核对：python cli.py verify {result.path}，或解压后运行 sha256sum -c SHA256SUMS",
                  markup=False, highlight=False)


@click.command("verify")
@click.argument("pack", type=click.Path(path_type=Path))
def verify_command(pack: Path) -> None:
    """Check an evidence pack (zip or folder) is intact (核对证据包): hashes, custody chain, excerpts vs originals."""
    console = Console(stderr=True, soft_wrap=True)
    try:
        report = verify_pack(pack)
    except InputError as exc:
        console.print(f"[red]错误[/red] {exc}", markup=False, highlight=False)
        sys.exit(2)
    for problem in report.problems:
        click.echo(problem)
    if report.ok:
        click.echo(f"证据包完好：{report.files_checked} 个文件哈希一致，保管链 {report.custody_events} 条完整，"
                   f"{report.excerpts_checked} 段摘录与原件逐样本一致。")
        sys.exit(0)
    click.echo(f"发现 {len(report.problems)} 个问题，证据包不完整或被改动。")
    sys.exit(1)
