"""One recording → its transcript with speakers: what a local worker and a cluster actor both run.

Kept apart from ``pipeline.batch`` (which loads the rules, spaCy and the case store) so a worker
that only transcribes imports only the speech side.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pipeline.asr.base import Engine
from pipeline.audio import AudioInfo, decode
from pipeline.transcribe import TranscribeConfig, transcribe_file
from pipeline.transcript import Transcript


class SpeakerSettings(Protocol):
    diarize: bool
    num_speakers: int | None  # None = choose automatically


@dataclass(frozen=True)
class Diarization:
    """The speaker part of the run settings, on its own (what a cluster worker is sent)."""

    diarize: bool = True
    num_speakers: int | None = 2


def speaker_turns(path: Path, transcript: Transcript, settings: SpeakerSettings) -> Transcript:
    """Give mono calls speakers by diarization (stereo calls already have one per channel)."""
    if not settings.diarize or transcript.options.get("channel_mode") == "split" or not transcript.segments:
        return transcript
    from pipeline.speakers import assign_speakers, diarize

    turns = diarize(decode(path).mono(), settings.num_speakers)
    transcript.segments = assign_speakers(transcript.segments, turns)
    transcript.options["diarization"] = {"num_speakers": settings.num_speakers, "turns": len(turns)}
    return transcript


def transcribe_one(path: Path, engine: Engine, config: TranscribeConfig, settings: SpeakerSettings,
                   info: AudioInfo, sha256: str, progress: Callable[[float], None] | None = None,
                   pool: Executor | None = None) -> Transcript:
    """``pool``: the block executor shared by the calls transcribed at once (see transcribe_file)."""
    transcript = transcribe_file(path, engine, config, progress=progress, info=info, sha256=sha256, pool=pool)
    return speaker_turns(path, transcript, settings)
