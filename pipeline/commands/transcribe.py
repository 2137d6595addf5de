"""`transcribe FILE... -o OUT_DIR`: transcription only, one set of outputs per recording."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from pipeline.asr.base import Engine
from pipeline.asr.factory import ENGINES, load_engine
from pipeline.audio import probe
from pipeline.config import decode_batch, decode_options, load_settings, output_vocabulary, transcribe_config
from pipeline.errors import ConfigError, InputError
from pipeline.render import FORMATS, write_all
from pipeline.transcribe import TranscribeConfig, transcribe_file


@dataclass
class FileResult:
    path: Path
    ok: bool
    audio_seconds: float = 0.0
    seconds: float = 0.0
    segments: int = 0
    error: str = ""


def engine_options(func):  # type: ignore[no-untyped-def]
    """Options shared by every command that runs speech recognition."""
    for decorator in reversed(
        [
            click.option("--engine", type=click.Choice(ENGINES), default=None, help="ASR engine (default from config: faster-whisper)."),
            click.option("--model", default=None, help="Model name from `models list` (default: bundled whisper-base)."),
            click.option("--model-dir", type=click.Path(exists=True, path_type=Path), default=None, help="A local faster-whisper model dir or openai-whisper .pt checkpoint."),
            click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default=None, help="Where to run the model."),
            click.option("--threads", type=int, default=None, help="CPU threads (0 = auto)."),
            click.option("--beam-size", type=int, default=None, help="Beam size (default 5)."),
            click.option("--vad/--no-vad", default=None, help="Skip non-speech with Silero VAD (default on)."),
            click.option("--prompt", default=None, help="Initial prompt (Simplified Chinese)."),
            click.option("--hotwords", default=None, help="Words to bias recognition toward (faster-whisper)."),
            click.option("--channels", type=click.Choice(["auto", "mix", "split"]), default=None, help="Stereo handling: split = one speaker per channel."),
            click.option("--config", "config_file", type=click.Path(exists=True, path_type=Path), default=None, help="Extra YAML settings merged over configs/default.yaml."),
        ]
    ):
        func = decorator(func)
    return func


def build_config(opts: dict) -> tuple[dict, TranscribeConfig]:  # type: ignore[type-arg]
    """Settings (configs/default.yaml + --config) and the transcription config from CLI options."""
    settings = load_settings(opts.get("config_file"))
    options = decode_options(
        settings,
        beam_size=opts.get("beam_size"),
        vad=opts.get("vad"),
        initial_prompt=opts.get("prompt"),
        hotwords=opts.get("hotwords"),
    )
    return settings, transcribe_config(settings, options, opts.get("channels"))


def engine_kwargs(opts: dict, settings: dict) -> dict:  # type: ignore[type-arg]
    threads = opts.get("threads")
    return {
        "engine": opts.get("engine") or settings.get("engine", "faster-whisper"),
        "model": opts.get("model") or settings.get("model"),
        "model_dir": opts.get("model_dir"),
        "device": opts.get("device") or settings.get("device", "auto"),
        "threads": threads if threads is not None else int(settings.get("threads", 0)),
        "batch": decode_batch(settings),
        "vocabulary": output_vocabulary(settings),
    }


def build_engine_and_config(opts: dict) -> tuple[Engine, TranscribeConfig]:  # type: ignore[type-arg]
    settings, config = build_config(opts)
    return load_engine(**engine_kwargs(opts, settings)), config


def parse_formats(value: str) -> tuple[str, ...]:
    formats = tuple(f.strip().lower() for f in value.split(",") if f.strip())
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise click.BadParameter(f"未知格式 {', '.join(bad) or value!r}；可选 {','.join(FORMATS)}")
    return formats


@click.command("transcribe")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--out-dir", type=click.Path(file_okay=False, path_type=Path), required=True, help="Output folder.")
@click.option("--format", "formats", default=",".join(FORMATS), show_default=True, help="Comma-separated: json,txt,srt,vtt.")
@engine_options
def transcribe_command(files: tuple[Path, ...], out_dir: Path, formats: str, **opts: object) -> None:
    """Transcribe recordings to timed Simplified-Chinese text (转写录音)."""
    console = Console(stderr=True)
    fmt = parse_formats(formats)
    try:
        engine, config = build_engine_and_config(opts)
    except ConfigError as exc:
        console.print(f"[red]错误[/red] {exc}")
        sys.exit(2)
    out_dir.mkdir(parents=True, exist_ok=True)

    infos = {}
    results: list[FileResult] = []
    for path in files:
        try:
            infos[path] = probe(path)
        except InputError as exc:
            console.print(f"[red]失败[/red] {exc}")
            results.append(FileResult(path, ok=False, error=str(exc)))
    total_audio = sum(info.duration for info in infos.values())

    started = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:.0f}/{task.total:.0f} 秒音频"), TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        overall = progress.add_task("全部文件", total=max(total_audio, 0.001))
        done_audio = 0.0
        for path, info in infos.items():
            task = progress.add_task(f"  {path.name}", total=max(info.duration, 0.001))
            t0 = time.perf_counter()

            def report(seconds: float, task=task, base=done_audio) -> None:  # type: ignore[no-untyped-def]
                progress.update(task, completed=seconds)
                progress.update(overall, completed=base + seconds)

            try:
                transcript = transcribe_file(path, engine, config, progress=report, info=info)
                write_all(transcript, out_dir, path.stem, fmt)
                results.append(FileResult(path, True, info.duration, time.perf_counter() - t0, len(transcript.segments)))
            except InputError as exc:
                progress.console.print(f"[red]失败[/red] {exc}")
                results.append(FileResult(path, ok=False, error=str(exc)))
            done_audio += info.duration
            progress.update(task, completed=info.duration)
            progress.update(overall, completed=done_audio)

    print_summary(console, results, time.perf_counter() - started, out_dir)
    sys.exit(0 if all(r.ok for r in results) else 1)


def print_summary(console: Console, results: list[FileResult], elapsed: float, out_dir: Path) -> None:
    table = Table(title="转写结果 (summary)")
    for col in ("文件", "状态", "音频时长(秒)", "用时(秒)", "段数"):
        table.add_column(col)
    for r in results:
        status = "[green]完成[/green]" if r.ok else f"[red]失败[/red] {r.error.split(': ', 1)[-1]}"
        table.add_row(r.path.name, status, f"{r.audio_seconds:.1f}", f"{r.seconds:.1f}", str(r.segments))
    console.print(table)
    ok = sum(r.ok for r in results)
    console.print(f"成功 {ok} 个，失败 {len(results) - ok} 个，用时 {elapsed:.1f} 秒；输出目录 {out_dir}")
    for r in results:
        if not r.ok:
            console.print(f"  失败: {r.error}")
