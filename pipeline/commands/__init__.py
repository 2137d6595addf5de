"""Click commands, one module per command family; cli.py registers COMMANDS."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
