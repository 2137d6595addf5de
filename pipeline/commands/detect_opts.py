"""The ``--detect`` and ``--examples`` options shared by run, flag-text, flag and add-messages."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from pipeline.detect import DEFAULT_ARTIFACT, MODES, Detector, load_detector


def detect_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--examples", "examples", multiple=True, type=click.Path(path_type=Path),
        help="YAML of labelled example sentences (category: [sentences], NEG for innocent ones) the model tier "
             "uses as extra exemplars; repeatable. Validate with `rules check`.",
    )(func)
    return click.option(
        "--detect", "detect", type=click.Choice(MODES), default="both", show_default=True,
        help="Detection tiers: rules (rule packs only), model (trained model only) or both.",
    )(func)


def build_detector(detect: str, extra_packs: Sequence[Path], examples: Sequence[Path], *,
                   threads: int | None = None) -> Detector:
    """``load_detector``; raises ``ConfigError`` (``PackError``/``ExamplesError`` carry ``lines()``)."""
    if examples and detect == "rules":
        raise click.UsageError("--examples 需要模型层 (--detect model 或 both) (--examples needs the model tier)")
    if detect == "both" and not examples and not DEFAULT_ARTIFACT.is_file():
        click.echo(f"警告 未找到检测模型 {DEFAULT_ARTIFACT}，本次只用规则层 (detector artefact missing: rules only)", err=True)
        detect = "rules"
    return load_detector(detect, list(extra_packs), list(examples), threads=threads)
