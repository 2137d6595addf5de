"""A small real case for the HTML and review-app tests, built from samples/ without running ASR.

Each sample recording is taken in with its real hash, probe and file-name metadata; its
transcript comes from the sample's ``*.truth.json`` script (one segment per turn, one word per
character with linear times, a few words made low-confidence); flags come from the real rules
engine and the real call-log rules. One extra call has a transcript containing ``<script>``.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from pipeline.audio import probe, sha256_file
from pipeline.callrules import call_log_flags
from pipeline.calls import call_metadata
from pipeline.rules import load_engine
from pipeline.store import CaseStore
from pipeline.transcript import ModelInfo, Segment, SourceInfo, Transcript, Word

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
ROLES = {"A": ("S0", "collector"), "B": ("S1", "borrower")}
LOW_PROBABILITY = 0.3
EVIL_TEXT = '<script>alert("x")</script>你好 & <b>老赖</b>'


def _words(text: str, start: float, end: float, low_every: int | None) -> list[Word]:
    step = (end - start) / max(1, len(text))
    return [Word(ch, round(start + i * step, 3), round(start + (i + 1) * step, 3),
                 LOW_PROBABILITY if low_every and i % low_every == low_every - 1 else 0.95, i)
            for i, ch in enumerate(text)]


def transcript_from_truth(truth: dict, audio: Path, sha: str) -> Transcript:
    segments = []
    for i, turn in enumerate(truth["turns"]):
        speaker, role = ROLES.get(turn["speaker"], (turn["speaker"], "unknown"))
        low_every = 6 if speaker == "S1" else None  # the borrower's words: some marked 请核听
        segments.append(Segment(index=i, start=turn["start"], end=turn["end"], text=turn["text"],
                                raw_text=turn["text"], words=_words(turn["text"], turn["start"], turn["end"], low_every),
                                speaker=speaker, role=role))
    info = probe(audio)
    source = SourceInfo(str(audio), sha, info.size, info.duration, info.channels, info.sample_rate, info.codec,
                        info.container)
    return Transcript(source=source, model=ModelInfo("truth-script", "0" * 64, "test"), segments=segments,
                      tool_version="test", created="2024-01-20T00:00:00Z")


def build_case(case_dir: Path, samples: Path = SAMPLES) -> CaseStore:
    """Open a new store in ``case_dir`` holding every sample call, flagged; the caller closes it."""
    store = CaseStore.open(case_dir)
    engine = load_engine()
    calls = []
    for truth_path in sorted(samples.glob("*.truth.json")):
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        audio = samples / truth["file"]
        sha = sha256_file(audio)
        info = probe(audio)
        meta = call_metadata(audio, info.tags, info.duration)
        call = store.upsert_call_intake(audio, sha, info=info, meta=meta)
        transcript = transcript_from_truth(truth, audio, sha)
        if truth_path.name.startswith("13800138000 "):  # one call must carry markup in its text
            seg = transcript.segments[1]
            seg.text = seg.raw_text = EVIL_TEXT
            seg.words = _words(EVIL_TEXT, seg.start, seg.end, None)
        with store.transaction():
            store.save_transcript(call.id, transcript, {"S0": "collector", "S1": "borrower"}, "test-options")
            flags = [f.to_dict() for f in engine.flag_segments(transcript.segments)]
            store.replace_flags(call.id, flags, rule_pack=engine.pack_info[0])
        calls.append(store.get_call(call.id))
    per_call: dict[str, list[dict]] = {}
    for flag in call_log_flags(calls):
        for call_id in flag.call_ids:
            entry = asdict(flag) | {"start_s": 0.0, "end_s": store.get_call(call_id).duration}
            per_call.setdefault(call_id, []).append(entry)
    for call_id, entries in per_call.items():
        store.replace_flags(call_id, entries, level="call")
    return store
