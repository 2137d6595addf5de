"""One ResultWriter per format, chosen by get_writer() (the shape of openai-whisper's utils)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pipeline.transcript import Segment, Transcript

ROLE_LABELS = {"collector": "催收方", "borrower": "借款人", "unknown": "未确认"}
MACHINE_NOTICE = "机器转写，仅供参考，以录音原件为准"


def format_timestamp(seconds: float, decimal: str = ".", always_hours: bool = True) -> str:
    ms = max(0, round(seconds * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    head = f"{hours:02d}:" if always_hours or hours else ""
    return f"{head}{minutes:02d}:{secs:02d}{decimal}{ms:03d}"


def speaker_label(segment: Segment) -> str:
    if segment.role in ROLE_LABELS and segment.role != "unknown":
        return ROLE_LABELS[segment.role]
    if segment.speaker:
        return f"说话人{segment.speaker}"
    return ""


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temp file + rename so a crash never leaves a half-written output."""
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:  # e.g. disk full: the old file stays, no half-written temp is left
        tmp.unlink(missing_ok=True)
        raise


class ResultWriter:
    extension = ""

    def render(self, transcript: Transcript) -> str:
        raise NotImplementedError

    def write(self, transcript: Transcript, out_dir: Path, stem: str) -> Path:
        path = out_dir / f"{stem}.{self.extension}"
        atomic_write_text(path, self.render(transcript))
        return path


class WriteJSON(ResultWriter):
    extension = "json"

    def render(self, transcript: Transcript) -> str:
        return json.dumps(transcript.to_dict(), ensure_ascii=False, indent=1) + "\n"


class WriteTXT(ResultWriter):
    extension = "txt"

    def render(self, transcript: Transcript) -> str:
        src = transcript.source
        lines = [
            f"# 文件: {Path(src.path).name}",
            f"# SHA-256: {src.sha256}",
            f"# 时长: {format_timestamp(src.duration)}  模型: {transcript.model.engine} {transcript.model.name}",
            f"# {MACHINE_NOTICE}",
            "",
        ]
        for seg in transcript.segments:
            who = speaker_label(seg)
            who = f"[{who}] " if who else ""
            lines.append(f"[{format_timestamp(seg.start)} --> {format_timestamp(seg.end)}] {who}{seg.text}")
        return "\n".join(lines) + "\n"


class WriteSRT(ResultWriter):
    extension = "srt"

    def render(self, transcript: Transcript) -> str:
        blocks = []
        for i, seg in enumerate(transcript.segments, start=1):
            who = speaker_label(seg)
            text = f"[{who}] {seg.text}" if who else seg.text
            blocks.append(
                f"{i}\n{format_timestamp(seg.start, ',')} --> {format_timestamp(seg.end, ',')}\n{text}\n"
            )
        return "\n".join(blocks)


class WriteVTT(ResultWriter):
    extension = "vtt"

    def render(self, transcript: Transcript) -> str:
        blocks = ["WEBVTT", "", f"NOTE {MACHINE_NOTICE}", ""]
        for seg in transcript.segments:
            who = speaker_label(seg)
            text = f"<v {who}>{seg.text}" if who else seg.text
            blocks.append(f"{format_timestamp(seg.start)} --> {format_timestamp(seg.end)}\n{text}\n")
        return "\n".join(blocks)


WRITERS: dict[str, type[ResultWriter]] = {"json": WriteJSON, "txt": WriteTXT, "srt": WriteSRT, "vtt": WriteVTT}
FORMATS = tuple(WRITERS)


def get_writer(fmt: str) -> ResultWriter:
    return WRITERS[fmt]()


def write_all(transcript: Transcript, out_dir: Path, stem: str, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    return [get_writer(fmt).write(transcript, out_dir, stem) for fmt in formats]
