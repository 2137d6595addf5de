"""Click commands, one module per command family; cli.py registers COMMANDS."""

from __future__ import annotations

import click

from pipeline.commands.models import models_group
from pipeline.commands.transcribe import transcribe_command

COMMANDS: list[click.Command] = [transcribe_command, models_group]
