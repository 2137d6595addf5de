"""`review CASE_DIR`: the local review web app (127.0.0.1, random session token)."""

from __future__ import annotations

import sys
import webbrowser
from pathlib import Path

import click
from rich.console import Console

from pipeline.commands.recordings_opt import recordings_option, report_relocations
from pipeline.errors import InputError
from pipeline.review import ReviewServer
from pipeline.store import DB_NAME, CaseStore


def open_case(case_dir: Path) -> CaseStore:
    """The case's store; a folder without one is a user error, not a new case."""
    if not (case_dir / DB_NAME).is_file():
        raise InputError(case_dir, f"不是案件文件夹（没有 {DB_NAME}）；请先运行 `python cli.py run 录音文件夹 -o {case_dir}`",
                         f"not a case folder (no {DB_NAME}); run `cli.py run` first")
    return CaseStore.open(case_dir)


@click.command("review")
@click.argument("case_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port on 127.0.0.1 (0 = any free port).")
@click.option("--no-browser", is_flag=True, help="Do not open the page in a web browser.")
@recordings_option
def review_command(case_dir: Path, port: int, no_browser: bool, recordings: tuple[Path, ...]) -> None:
    """Review flags in a local web page: listen, accept/reject, correct text (复核标记)."""
    console = Console(stderr=True)
    try:
        store = open_case(case_dir)
    except InputError as exc:
        console.print(f"[red]错误[/red] {exc}")
        sys.exit(2)
    report_relocations(console, store, recordings)
    try:
        server = ReviewServer(store, port=port)
    except OSError as exc:
        store.close()
        console.print(f"[red]错误[/red] 无法在 127.0.0.1:{port} 启动复核服务：{exc.strerror}（换一个 --port，或用 0 自动选择）")
        sys.exit(2)
    console.print("复核页面已启动（仅本机可访问）：")
    console.print(server.url, soft_wrap=True, markup=False, highlight=False)  # one unbroken line to copy
    console.print("每个操作都会立即保存到案件。按 Ctrl+C 结束。")
    if not no_browser:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        console.print("复核服务已结束，所有操作均已保存。")
    finally:
        server.server_close()
        store.close()
