"""callproof command line: each command is a thin wrapper over pipeline/."""

from __future__ import annotations

import click

from pipeline import __version__
from pipeline.commands import COMMANDS


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="callproof")
def main() -> None:
    """callproof — 把通话录音变成可用的证据 (turn call recordings into evidence), offline."""


for command in COMMANDS:
    main.add_command(command)


if __name__ == "__main__":
    main()
