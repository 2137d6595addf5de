"""A short rolling prompt (issue 18): the previous windows' last N tokens after the initial prompt.

    python bench/asr_rolling_prompt.py default 24 64     # rows: the default, then N = 24, 64 tokens

On the mono long-call set (bench/long_calls.py), with condition_on_previous_text on and
faster-whisper's prompt cut to the initial prompt + the last N decoded tokens (its own loop guard,
prompt_reset_on_temperature, stays). Prints CER, content/short-sentence CER and loops dropped.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace

from common import full_sentence_refs  # noqa: F401  (puts the repository on sys.path, pins the CPU paths)
from long_calls import build_long_calls, default_dir, split_cer

import pipeline.asr.faster_engine as F
from pipeline.asr.base import DecodeOptions
from pipeline.asr.faster_engine import FasterWhisperEngine
from pipeline.metrics import corpus_cer
from pipeline.transcribe import TranscribeConfig, transcribe_file

files = [(p, ref) for p, ref in build_long_calls(default_dir()) if p.stem.endswith("_tel8k")]
truths = [json.loads(p.with_suffix(".truth.json").read_text())["turns"] for p, _ in files]
cls = F._trimming_model_class()
orig = cls.get_prompt
N = {"n": None}
def get_prompt(self, tokenizer, previous_tokens, *a, **k):  # noqa: ANN001, ANN002, ANN003, ANN201
    if N["n"] is not None:
        head = tokenizer.encode(" " + DecodeOptions().initial_prompt.strip())
        pre, rest = (head, previous_tokens[len(head):]) if previous_tokens[:len(head)] == head else ([], previous_tokens)
        previous_tokens = pre + (rest[-N["n"]:] if N["n"] else [])
    return orig(self, tokenizer, previous_tokens, *a, **k)
cls.get_prompt = get_prompt
engine = FasterWhisperEngine(threads=2)
for label in sys.argv[1:]:
    n = None if label == "default" else int(label)
    N["n"] = n
    opts = DecodeOptions() if n is None else replace(DecodeOptions(), condition_on_previous_text=True)
    t0, texts, loops = time.perf_counter(), [], 0
    for p, _ in files:
        tr = transcribe_file(p, engine, TranscribeConfig(options=opts))
        texts.append(tr.text)
        loops += sum(d["reason"] == "repetition_loop" for d in tr.dropped)
    parts = split_cer(list(zip(truths, texts, strict=True)))
    total = corpus_cer([(ref, h) for (_, ref), h in zip(files, texts, strict=True)])
    print(f"rolling={label:8s} CER={total:.3f} content={parts['content']:.3f} sentences={parts['sentences']:.3f} "
          f"loops_dropped={loops} s={time.perf_counter() - t0:.0f}", flush=True)
