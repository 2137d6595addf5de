"""How long the case store takes for one call's worth of work (SQLite, WAL, custody chain).

    python bench/store_speed.py [--words 3000] [--flags 50] [--repeat 5]

Builds a transcript of WORDS per-character words (20 per segment), takes a call in, then times
(median of REPEAT runs): save_transcript, load_transcript, replace_flags with FLAGS flags (a
re-flag that keeps review decisions), set_flag_status. Each timed call is one transaction with
its custody event, on a case folder in a temporary directory.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from common import ROOT  # noqa: F401  (puts the project on sys.path)

from pipeline.store import CaseStore
from pipeline.transcript import ModelInfo, Segment, SourceInfo, Transcript, Word

TEXT = "你欠的钱今天必须还清不然我们就打你通讯录里所有人的电话"


def build_transcript(sha: str, words: int) -> Transcript:
    segments = []
    for i in range(words // 20):
        text = "".join(TEXT[(i + k) % len(TEXT)] for k in range(20))
        start = i * 4.0
        segments.append(Segment(
            index=i, start=start, end=start + 3.8, text=text, raw_text=text + "。",
            words=[Word(ch, start + 0.19 * k, start + 0.19 * k + 0.15, 0.9, k) for k, ch in enumerate(text)],
            avg_logprob=-0.2, no_speech_prob=0.01, speaker=f"S{i % 2}",
        ))  # fmt: skip
    return Transcript(
        source=SourceInfo("rec/call.m4a", sha, 1_000_000, segments[-1].end, 1, 8000, "aac", "mov,mp4,m4a,3gp,3g2,mj2"),
        model=ModelInfo("whisper-base", "f" * 64, "faster-whisper", "/models/base"),
        segments=segments, options={"beam_size": 5}, tool_version="bench", created="2026-11-29T00:00:00Z",
        processing_seconds=1.0,
    )  # fmt: skip


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--words", type=int, default=3000)
    parser.add_argument("--flags", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    sha = hashlib.sha256(b"bench call").hexdigest()
    transcript = build_transcript(sha, args.words)
    n_segments = len(transcript.segments)
    flags = [
        {"category": "INSULT", "rule": "bench", "segment_idx": (i * 7) % n_segments, "start_char": 2, "end_char": 4, "score": 0.9}
        for i in range(args.flags)
    ]
    with tempfile.TemporaryDirectory() as tmp, CaseStore.open(Path(tmp) / "case") as store:
        call_id = store.upsert_call_intake(Path(tmp) / "call.m4a", sha, size=1_000_000, mtime=1.7e9).id
        roles = {"S0": "collector", "S1": "borrower"}
        save = median_ms(lambda: store.save_transcript(call_id, transcript, roles, "bench"), args.repeat)
        load = median_ms(lambda: store.load_transcript(call_id), args.repeat)
        reflag = median_ms(lambda: store.replace_flags(call_id, flags), args.repeat)
        flag_id = store.call_flags(call_id)[0].id
        review = median_ms(lambda: store.set_flag_status(flag_id, "accepted", note="bench"), args.repeat)
    words = sum(len(s.words) for s in transcript.segments)
    print(f"words={words} segments={n_segments} flags={len(flags)} (median of {args.repeat})")
    print(f"save_transcript {save:.0f} ms; load_transcript {load:.0f} ms; replace_flags {reflag:.0f} ms; set_flag_status {review:.0f} ms")


if __name__ == "__main__":
    main()
