"""`rules list|check`, `flag-text [FILE|-]`, `flag TRANSCRIPT.json`: thin wrappers over pipeline.rules."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import click
from rich.console import Console
from rich.table import Table

from pipeline import __version__
from pipeline.commands.detect_opts import build_detector, detect_options
from pipeline.detect import Detector
from pipeline.errors import ConfigError, InputError
from pipeline.rules import DEFAULT_PACK, PackError, RuleEngine, load_engine, load_pack
from pipeline.transcript import Transcript

FLAGS_SCHEMA = "callproof.flags/1"
ROLE_CHOICES = ("collector", "borrower", "unknown")

rules_option = click.option(
    "--rules", "extra_packs", multiple=True, type=click.Path(path_type=Path),
    help="Extra rule pack (YAML) loaded after the default one; may be repeated.",
)


def _fail(console: Console, exc: Exception, code: int) -> None:
    lines = exc.lines() if hasattr(exc, "lines") else [str(exc)]
    for line in lines:
        click.echo(f"错误 {line}", err=True)
    sys.exit(code)


def _engine(console: Console, extra_packs: tuple[Path, ...]) -> RuleEngine:
    try:
        return load_engine(extra_packs)
    except ConfigError as exc:
        _fail(console, exc, 2)
        raise  # unreachable


def _detector(console: Console, detect: str, extra_packs: tuple[Path, ...], examples: tuple[Path, ...]) -> Detector:
    try:
        return build_detector(detect, extra_packs, examples)
    except ConfigError as exc:
        _fail(console, exc, 2)
        raise  # unreachable


@click.group("rules")
def rules_group() -> None:
    """Show and validate rule packs (规则包)."""


@rules_group.command("list")
@rules_option
def rules_list(extra_packs: tuple[Path, ...]) -> None:
    """List categories with their rule counts (类别与规则数)."""
    console = Console()
    engine = _engine(Console(stderr=True), extra_packs)
    counts = Counter(rule.category for rule in engine.rules)
    table = Table(title="规则类别 (categories)")
    for column in ("代码", "名称", "严重度", "法律依据", "规则数"):
        table.add_column(column)
    for code, category in engine.categories.items():
        table.add_row(code, category.label, str(category.severity), ", ".join(category.legal_basis), str(counts[code]))
    console.print(table)
    for info in engine.pack_info:
        click.echo(f"规则包 {info['name']} {info['version']}  sha256 {info['sha256'][:16]}…  {info['path']}")
    click.echo(f"共 {len(engine.categories)} 个类别，{len(engine.rules)} 条规则。")


def _is_examples_file(file: Path) -> bool:
    """An examples YAML maps category codes (or NEG) to sentence lists; a rule pack has name/rules/…."""
    import yaml

    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and bool(data) and all(isinstance(k, str) and k.isupper() for k in data)


@rules_group.command("check")
@click.argument("file", type=click.Path(path_type=Path))
def rules_check(file: Path) -> None:
    """Validate a rule pack or an --examples file; errors are reported with line numbers (校验规则包/例句文件)."""
    console = Console(stderr=True)
    if _is_examples_file(file):
        from pipeline.detect.examples import ExamplesError, load_examples

        try:
            examples = load_examples(file, frozenset(load_pack(DEFAULT_PACK).categories))
        except ExamplesError as exc:
            _fail(console, exc, 2)
            return
        counts = Counter(examples.labels)
        click.echo(f"例句文件有效：{len(examples.texts)} 句（" + "，".join(f"{k} {v}" for k, v in counts.items())
                   + f"）（sha256 {examples.sha256[:16]}…）")
        return
    try:
        base = [] if file.resolve() == DEFAULT_PACK.resolve() else [load_pack(DEFAULT_PACK)]
        pack = load_pack(file, base=base)
    except PackError as exc:
        _fail(console, exc, 2)
        return
    click.echo(
        f"规则包有效：{pack.name} {pack.version}，{len(pack.categories)} 个类别，{len(pack.rules)} 条规则"
        f"（sha256 {pack.sha256[:16]}…）"
    )


BATCH_LINES = 256


def _batches(source: TextIO, size: int) -> Iterator[tuple[int, list[str]]]:
    """(number of the first line, lines) in batches of ``size``, read lazily (stdin streams)."""
    batch: list[str] = []
    first = 1
    for number, line in enumerate(source, start=1):
        batch.append(line.rstrip("\r\n"))
        if len(batch) == size:
            yield first, batch
            batch, first = [], number + 1
    if batch:
        yield first, batch


def _open_input(file: str) -> TextIO:
    if file == "-":
        return sys.stdin
    path = Path(file)
    if not path.is_file():
        raise InputError(path, "文件不存在", "file not found")
    return path.open(encoding="utf-8", newline="")


@click.command("flag-text")
@click.argument("file", default="-")
@rules_option
@detect_options
@click.option("--role", type=click.Choice(ROLE_CHOICES), default="collector", show_default=True,
              help="Who speaks every line (default: the collector).")
@click.option("--explain", is_flag=True, help="Print full flags (legal basis, explanation) instead of the short form.")
@click.option("--min-severity", type=click.IntRange(1, 3), default=2, show_default=True,
              help="Flags below this severity (severity-1 notes on true statements such as 上报征信) go under "
                   "\"notes\" instead of \"flags\"; 1 lists them as flags.")
def flag_text_command(file: str, extra_packs: tuple[Path, ...], role: str, explain: bool, min_severity: int,
                      detect: str, examples: tuple[Path, ...]) -> None:
    """Flag each line of FILE (or stdin): one JSON object per line (逐行标记文本)."""
    console = Console(stderr=True)
    engine = _detector(console, detect, extra_packs, examples)
    who = None if role == "unknown" else role
    out = sys.stdout
    try:
        source = _open_input(file)
        for first, batch in _batches(source, BATCH_LINES):
            engine.prepare(batch)  # the model tier embeds a batch at once
            for number, text in enumerate(batch, start=first):
                found = [f.to_dict() if explain else f.compact() for f in engine.flag_text(text, role=who)]
                record: dict[str, object] = {"line": number, "text": text,
                                             "flags": [f for f in found if f["severity"] >= min_severity]}
                notes = [f for f in found if f["severity"] < min_severity]
                if notes:
                    record["notes"] = notes
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
    except UnicodeDecodeError:
        _fail(console, InputError(file, "不是 UTF-8 文本", "input is not UTF-8 text"), 1)
    except InputError as exc:
        _fail(console, exc, 1)


@click.command("flag")
@click.argument("transcript", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the flags JSON here (default: stdout).")
@rules_option
@detect_options
def flag_command(transcript: Path, output: Path | None, extra_packs: tuple[Path, ...], detect: str,
                 examples: tuple[Path, ...]) -> None:
    """Flag a transcript JSON; flags carry segment, seconds, speaker (标记转写稿)."""
    console = Console(stderr=True)
    engine = _detector(console, detect, extra_packs, examples)
    try:
        doc = _load_transcript(transcript)
    except InputError as exc:
        _fail(console, exc, 1)
        return
    flags = engine.flag_segments(doc.segments)
    result = {
        "schema": FLAGS_SCHEMA,
        "tool_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "transcript": str(transcript),
        "source": {"path": doc.source.path, "sha256": doc.source.sha256},
        "rule_packs": engine.pack_info,
        "detector": engine.info(),
        "flags": [f.to_dict() for f in flags],
    }
    payload = json.dumps(result, ensure_ascii=False, indent=1)
    if output is None:
        sys.stdout.write(payload + "\n")
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(payload + "\n", encoding="utf-8")
    _summary(console, flags, output)


def _load_transcript(path: Path) -> Transcript:
    if not path.is_file():
        raise InputError(path, "文件不存在", "file not found")
    try:
        return Transcript.load(path)
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(path, "不是有效的转写稿 JSON", f"not a transcript JSON: {exc}") from exc


def _summary(console: Console, flags: list, output: Path | None) -> None:
    if flags:
        table = Table(title="标记结果 (flags)")
        for column in ("时间(秒)", "类别", "严重度", "说话人", "内容"):
            table.add_column(column)
        for f in flags:
            who = "说话人未确认" if f.speaker_unconfirmed else (f.speaker or "")
            table.add_row(f"{f.start_s:.1f}–{f.end_s:.1f}", f.label or f.category, str(f.severity), who, f.match)
        console.print(table)
    where = f"，已写入 {output}" if output else ""
    click.echo(f"共 {len(flags)} 条标记{where}。", err=True)
