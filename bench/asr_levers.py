"""Measure what each decoding lever does to CER on the 11 reference sentences.

    python bench/asr_levers.py
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace

from common import full_sentence_refs

from pipeline.asr.base import DecodeOptions
from pipeline.asr.faster_engine import FasterWhisperEngine
from pipeline.asr.postprocess import clean_segments
from pipeline.audio import decode
from pipeline.metrics import cer, corpus_cer

DOMAIN_PROMPT = "以下是普通话的电话录音，使用简体中文。催收，逾期，还款，欠款，通讯录，上门，起诉，律师函。"
PLAIN = DecodeOptions(initial_prompt="以下是普通话的句子。", vad=False)  # the ASR.md baseline
LEVERS = {
    "plain: beam 5, generic prompt, no VAD": PLAIN,
    "+ phone-call prompt": replace(PLAIN, initial_prompt=DecodeOptions().initial_prompt),
    "+ prompt with collection vocabulary": replace(PLAIN, initial_prompt=DOMAIN_PROMPT),
    "default (configs/default.yaml)": DecodeOptions(),
    "default without VAD": replace(DecodeOptions(), vad=False),
    "default, VAD min silence 0.7 s": replace(DecodeOptions(), vad_min_silence_ms=700),
    "default, VAD min silence 2 s": replace(DecodeOptions(), vad_min_silence_ms=2000),
    "default, VAD speech pad 0.4 s": replace(DecodeOptions(), vad_speech_pad_ms=400),
    "default, beam 1": replace(DecodeOptions(), beam_size=1),
    "default, beam 8": replace(DecodeOptions(), beam_size=8),
    "default + hotwords": replace(DecodeOptions(), hotwords="催收 逾期 还款 通讯录 老赖 上门 起诉"),
    "default without prompt": replace(DecodeOptions(), initial_prompt=None),
    "default, full 30 s encoder window": replace(DecodeOptions(), encoder_min_seconds=30.0),
    "default, encoder window speech + 1 s": replace(DecodeOptions(), encoder_pad_seconds=1.0, encoder_min_seconds=0.0),
}


def main() -> None:
    engine = FasterWhisperEngine(threads=2)
    clips = [(decode(path).mono(), ref, path.name) for path, ref in full_sentence_refs()]
    audio_s = sum(len(a) / 16000 for a, _, _ in clips)
    only = sys.argv[1:]
    for label, options in LEVERS.items():
        if only and not any(o in label for o in only):
            continue
        t0 = time.perf_counter()
        pairs, worst = [], []
        for audio, ref, name in clips:
            hyp = "".join(s.text for s in clean_segments(engine.transcribe(audio, options), options).segments)
            pairs.append((ref, hyp))
            worst.append((round(cer(ref, hyp), 2), name))
        dt = time.perf_counter() - t0
        print(f"{label:40s} CER={corpus_cer(pairs):.3f} RTF={dt / audio_s:.3f} per-clip={[w for w, _ in worst]}", flush=True)


if __name__ == "__main__":
    main()
