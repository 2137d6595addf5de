"""What "the same transcript" means, and where two transcripts of one recording differ.

Two transcripts are the same when every segment has the same text, times, channel and words
(each word's text and times). Speaker labels and roles are not part of it: they come from the
diarization and the rules, which are checked on their own.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from pipeline.transcript import Segment, Transcript


def segment_content(segment: Segment) -> dict[str, Any]:
    return {
        "start": segment.start,
        "end": segment.end,
        "text": segment.text,
        "raw_text": segment.raw_text,
        "channel": segment.channel,
        "words": [[w.text, w.start, w.end] for w in segment.words],
    }


def transcript_content(transcript: Transcript) -> list[dict[str, Any]]:
    """The canonical content of a transcript: what must be identical on a re-run."""
    return [segment_content(s) for s in sorted(transcript.segments, key=lambda s: (s.start, s.channel or 0))]


def content_digest(transcript: Transcript) -> str:
    blob = json.dumps(transcript_content(transcript), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass
class SegmentDiff:
    """One place where two transcripts disagree (``None`` on a side that has no segment there)."""

    position: int
    expected: dict[str, Any] | None
    actual: dict[str, Any] | None

    def describe(self) -> str:
        def side(seg: dict[str, Any] | None) -> str:
            return "（无）" if seg is None else f"[{seg['start']:.2f}–{seg['end']:.2f}] {seg['text']}"

        what = "文字" if self.expected and self.actual and self.expected["text"] != self.actual["text"] else "时间"
        if self.expected is None or self.actual is None:
            what = "分段"
        return f"第 {self.position + 1} 段{what}不同：原 {side(self.expected)} ／ 重转 {side(self.actual)}"


def diff_transcripts(expected: Transcript, actual: Transcript) -> list[SegmentDiff]:
    """Segment-by-segment differences in order; empty when the transcripts are the same."""
    a, b = transcript_content(expected), transcript_content(actual)
    diffs = [SegmentDiff(i, x, y) for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y]
    longer = a if len(a) > len(b) else b
    for i in range(min(len(a), len(b)), len(longer)):
        diffs.append(SegmentDiff(i, a[i] if i < len(a) else None, b[i] if i < len(b) else None))
    return diffs
