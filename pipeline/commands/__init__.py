"""Click commands, one module per command family; cli.py registers COMMANDS."""

from __future__ import annotations

import click

from pipeline.commands.models import models_group
from pipeline.commands.rules_cmd import flag_command, flag_text_command, rules_group
from pipeline.commands.transcribe import transcribe_command

COMMANDS: list[click.Command] = [transcribe_command, models_group]
COMMANDS += [rules_group, flag_text_command, flag_command]

from pipeline.commands.run import run_command  # noqa: E402

COMMANDS.append(run_command)

from pipeline.commands.review_cmd import review_command  # noqa: E402

COMMANDS.append(review_command)

from pipeline.commands.messages_cmd import add_messages_command  # noqa: E402

COMMANDS.append(add_messages_command)

from pipeline.commands.export_cmd import export_command, verify_command  # noqa: E402

COMMANDS += [export_command, verify_command]
