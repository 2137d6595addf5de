"""`export CASE_DIR -o PACK.zip` and `verify PACK.zip|DIR [--expect CODE] [--case CASE_DIR]`: the evidence pack."""

from __future__ import annotations

import errno
import shutil
import sys
from datetime import date
from pathlib import Path

import click
from filelock import FileLock, Timeout
from rich.console import Console
from rich.text import Text

from pipeline.commands.recordings_opt import recordings_option, relocate_originals
from pipeline.errors import ConfigError, InputError
from pipeline.evidence import ExportResult, PackOptions, export_pack, verify_pack
from pipeline.evidence.signing import local_fingerprint, spaced


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
@recordings_option
def export_command(case_dir: Path, out: Path, include_pending: bool, redact: bool, call_ids: tuple[str, ...],
                   date_from: date | None, date_to: date | None, templates_dir: Path | None, no_messages: bool,
                   recordings: tuple[Path, ...]) -> None:
    """Write the evidence pack of a reviewed case (导出证据包): originals, excerpts, transcripts, 证据目录, complaint drafts.

    The pack is signed with your Ed25519 key (created on first export in your config folder,
    $CALLPROOF_CONFIG to move it); send the printed 存证码 to someone you trust right away.
    """
    console = Console(stderr=True, soft_wrap=True)
    if date_from and date_to and date_from > date_to:
        _error(console, "--from 晚于 --to (--from is after --to)")
        sys.exit(2)
    ids = tuple(part.strip() for value in call_ids for part in value.split(",") if part.strip())
    options = PackOptions(include_pending=include_pending, redact=redact, calls=ids, date_from=date_from,
                          date_to=date_to, templates_dir=templates_dir, messages=not no_messages)
    lock = FileLock(str(case_dir / ".callproof.lock")) if case_dir.is_dir() else None
    try:
        if lock:
            lock.acquire(timeout=0)
    except Timeout:
        _error(console, f"{case_dir}: 另一个 callproof 正在处理这个案件，请等它结束 (the case is busy)")
        sys.exit(2)
    try:
        relocate_originals(console, case_dir, recordings)
        result = export_pack(case_dir, out, options)
    except (InputError, ConfigError) as exc:
        _error(console, str(exc))
        if "不见了" in str(exc) and not recordings:
            _note(console, "录音移动过的话，用 --recordings 文件夹 指定它们现在所在的位置，会按 SHA-256 找回")
        sys.exit(2)
    except OSError as exc:  # disk full, read-only folder...: nothing half-written stays behind
        _error(console, write_failure(out, exc))
        sys.exit(1)
    finally:
        if lock:
            lock.release()
    _report_export(console, result, case_dir, include_pending)


def _error(console: Console, message: str) -> None:
    console.print(Text.assemble(("错误", "red"), " ", message), highlight=False)


def _note(console: Console, message: str) -> None:
    console.print(Text.assemble(("注意", "yellow"), " ", message), highlight=False)


def write_failure(target: Path, exc: OSError) -> str:
    """One line for a failed write: what, why, and how much room the folder has left."""
    folder = Path(target).absolute().parent
    try:
        free = f"，该处剩余 {shutil.disk_usage(folder).free / 1e6:.1f} MB"
    except OSError:
        free = ""
    reason = "磁盘空间不足" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
    return (f"{target}: 无法写入证据包（{reason}{free}）；未留下不完整的文件，请腾出空间或换一个位置后重试 "
            f"(cannot write the pack: {exc.strerror or exc})")


def _report_export(console: Console, result: ExportResult, case_dir: Path, include_pending: bool) -> None:
    for warning in result.warnings:
        _note(console, warning)
    pending = f"（其中待复核 {result.pending}）" if result.pending else ""
    console.print(f"证据包已写好：{result.path}", markup=False, highlight=False)
    console.print(f"通话 {result.calls} 个，收录标记 {result.flags} 个{pending}，录音摘录 {result.excerpts} 段；"
                  f"未收录：已排除 {result.left_out.get('rejected', 0)}，待复核 "
                  f"{0 if include_pending else result.left_out.get('pending', 0)}。")
    left_pending = 0 if include_pending else result.left_out.get("pending", 0)
    if left_pending:
        _note(console, f"还有 {left_pending} 处标记没有复核，没有收录。先复核：python cli.py review {case_dir}，"
                       f"再重新导出；或加 --include-pending 一并收录（标为【待复核】）。")
    console.print("打开证据包里的 index.html 看总览；投诉草稿在 complaints/，提交前先看 complaints/核对清单.txt。",
                  markup=False, highlight=False)
    if result.message_files:
        pending_messages = f"（其中待复核 {result.message_pending}）" if result.message_pending else ""
        console.print(f"短信/聊天记录/截图文件 {result.message_files} 个，收录消息标记 {result.message_flags} 个"
                      f"{pending_messages}，截图标注副本 {result.annotated} 张。")
    if result.redacted:
        console.print(f"已打码：文字材料中第三方号码等共遮盖 {result.masked} 处（录音原件未改动）。")
    if not result.flags and not result.message_flags:
        _note(console, "没有已确认的标记；请先复核：python cli.py review " + str(case_dir))
    console.print(f"大小 {result.size / 1e6:.1f} MB，SHA-256 {result.sha256}")
    if result.key_created:
        console.print(f"已为你生成签名密钥（只在本机，权限 0600）：{result.key_path}；请备份，不要放进案件或发给别人。",
                      markup=False, highlight=False)
    console.print(f"签名密钥指纹 {spaced(result.signer)}")
    console.print(Text.assemble("存证码 ", (result.code, "bold")))
    console.print("请现在就把存证码（或上面的 SHA-256）发给一位可信的人、律师或存证平台并保留记录：这样证据包的内容和时间"
                  "就在你的电脑之外固定下来，日后任何人都可以用 verify --expect 存证码 核对这份证据包没有被重做。")
    console.print(f"核对：python cli.py verify {result.path} --expect {result.code}，或解压后运行 sha256sum -c SHA256SUMS",
                  markup=False, highlight=False)


@click.command("verify")
@click.argument("pack", type=click.Path(path_type=Path))
@click.option("--expect", metavar="CODE",
              help="The pack's 存证码 (or the SHA-256 of the zip or of manifest.json) sent out at export; any mismatch fails.")
@click.option("--case", "case_dir", type=click.Path(file_okay=False, path_type=Path),
              help="A case folder: the pack must be one whose export its custody log records.")
@click.option("--retranscribe", is_flag=True,
              help="Also re-run the recorded engine and options on the pack's originals and compare the transcripts.")
def verify_command(pack: Path, expect: str | None, case_dir: Path | None, retranscribe: bool) -> None:
    """Check an evidence pack (zip or folder) is intact (核对证据包): signature, hashes, custody chain, excerpts vs originals."""
    console = Console(stderr=True, soft_wrap=True)
    try:
        report = verify_pack(pack, expect=expect, case_dir=case_dir)
    except (InputError, ConfigError) as exc:
        _error(console, str(exc))
        sys.exit(2)
    for problem in report.problems:
        click.echo(problem)
    if report.signer:
        click.echo(f"签名有效，签名密钥指纹 {spaced(report.signer)}（{_whose(report.signer)}）；存证码 {report.code}")
    for note in report.notes:
        click.echo(note)
    same = _retranscribe(console, pack) if retranscribe else True
    if report.ok and not same:
        click.echo("证据包本身完好，但重新转写的结果与包内转写不完全一致（见上）。")
        sys.exit(1)
    if report.ok:
        click.echo(f"证据包完好：{report.files_checked} 个文件哈希一致，保管链 {report.custody_events} 条完整，"
                   f"{report.excerpts_checked} 段摘录与原件逐样本一致。")
        if expect is None and case_dir is None:
            click.echo("签名只证明包在签名后没有被改动；请把上面的存证码与导出者当时发出的核对（--expect），"
                       "或用 --case 与案件记录核对。")
        sys.exit(0)
    click.echo(f"发现 {len(report.problems)} 个问题，证据包不完整或被改动。")
    sys.exit(1)


def _retranscribe(console: Console, pack: Path) -> bool:
    """Print, per call, whether re-transcribing the original gives the pack's transcript; True if all do."""
    from pipeline.evidence.retranscribe import retranscribe_pack

    try:
        report = retranscribe_pack(pack, progress=lambda name: console.print(f"重新转写 {name} …", markup=False))
    except (InputError, ConfigError) as exc:
        _error(console, str(exc))
        return False
    for call in report.calls:
        if call.status == "identical":
            click.echo(f"✓ {call.name}：重新转写与包内转写逐字、逐时间一致")
        elif call.status == "skipped":
            click.echo(f"－ {call.name}：未重新转写（{call.reason}）")
        else:
            extra = f"，{call.speaker_changes} 段说话人不同" if call.speaker_changes else ""
            click.echo(f"✗ {call.name}：{len(call.diffs)} 段不同{extra}")
            for diff in call.diffs[:5]:
                click.echo(f"    {diff.describe()}")
        for note in call.notes:
            click.echo(f"    注意：{note}")
    if not report.calls:
        click.echo("包内没有可重新转写的通话转写。")
    return report.ok


def _whose(signer: str) -> str:
    local = local_fingerprint()
    if local is None:
        return "本机没有导出密钥，无法判断签名者"
    return "本机用户的导出密钥" if local == signer else "不是本机用户的导出密钥"
