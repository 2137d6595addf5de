"""callproof command line: each command is a thin wrapper over pipeline/."""

from __future__ import annotations

import importlib
from typing import Any

import click

from pipeline import __version__
from pipeline.commands import COMMANDS
from pipeline.commands.usage_errors import bilingual_usage

SHORT_HELP = {
    "run": "Process a folder of recordings into a case (main job).",
    "transcribe": "Transcribe recordings to timed Simplified-Chinese text.",
    "review": "Review flags in a local web app.",
    "export": "Write the evidence pack (zip).",
    "verify": "Check an evidence pack's hashes, custody chain and excerpts.",
    "add-messages": "Import SMS backups, chat exports or screenshots into a case.",
    "add-calllog": "Add call logs (phone backup, carrier record, calls.csv, screenshots) to a case.",
    "flag-text": "Flag lines of plain text (one JSON object per line).",
    "flag": "Flag a transcript JSON file.",
    "rules": "List and check rule packs.",
    "models": "Models available offline.",
}


class LazyGroup(click.Group):
    """Imports a command's module only when that command runs or shows its help."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        with bilingual_usage():  # usage errors in Chinese and English, like every other error
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with bilingual_usage():
            return super().invoke(ctx)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, SHORT_HELP.get(name, "")) for name in COMMANDS])


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="callproof")
def main() -> None:
    """callproof — 把通话录音变成可用的证据 (turn call recordings into evidence), offline."""


if __name__ == "__main__":
    main()
