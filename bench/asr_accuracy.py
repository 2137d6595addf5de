"""Accuracy of the default pipeline on real and synthetic Mandarin speech.

    python bench/asr_accuracy.py            # refs.tsv sentences, cuishou 8 kHz keywords, calls_dev
    python bench/asr_accuracy.py --encoder-min 30            # the same with Whisper's full 30 s window
    python bench/asr_accuracy.py --encoder-pad 10 --encoder-min 0
    python bench/asr_accuracy.py --vocabulary full           # all 51,865 output tokens

Prints CER on the 11 full sentences of refs.tsv, exact-match accuracy (and CER) on the 80
one- or two-word 8 kHz replies of cuishou_8k_keywords, and CER on each calls_dev call (refs and calls
also with the digits of both sides read out, pipeline.metrics.read_numbers).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict

from common import CALLS_DEV, full_sentence_refs, keyword_refs

from pipeline.asr.base import VOCABULARIES, VOCABULARY
from pipeline.asr.faster_engine import FasterWhisperEngine
from pipeline.metrics import cer, cer_text, corpus_cer
from pipeline.transcribe import TranscribeConfig, transcribe_file, with_options


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--encoder-pad", type=float, help="decode.encoder_pad_seconds (default: configs)")
    parser.add_argument("--encoder-min", type=float, help="decode.encoder_min_seconds; 30 = full window")
    parser.add_argument("--vocabulary", choices=VOCABULARIES, default=VOCABULARY,
                        help="output vocabulary (full: all 51,865 Whisper tokens)")
    args = parser.parse_args()
    changes = {"encoder_pad_seconds": args.encoder_pad, "encoder_min_seconds": args.encoder_min}
    config = with_options(TranscribeConfig(), **{k: v for k, v in changes.items() if v is not None})
    print(f"encoder window: speech + {config.options.encoder_pad_seconds:g} s, at least {config.options.encoder_min_seconds:g} s")
    engine = FasterWhisperEngine(threads=2, vocabulary=args.vocabulary)

    t0 = time.perf_counter()
    pairs = [(ref, transcribe_file(path, engine, config).text) for path, ref in full_sentence_refs()]
    print(f"refs.tsv full sentences: n={len(pairs)} CER={corpus_cer(pairs):.3f} "
          f"(numbers read: {corpus_cer(pairs, numbers=True):.3f}) ({time.perf_counter() - t0:.0f}s)")
    for (path, _), (ref, hyp) in zip(full_sentence_refs(), pairs, strict=True):
        print(f"  {cer(ref, hyp):.2f} {path.name}: {hyp}")

    by_word: dict[str, list[bool]] = defaultdict(list)
    kw_pairs = []
    t0 = time.perf_counter()
    for path, ref in keyword_refs():
        hyp = transcribe_file(path, engine, config).text
        kw_pairs.append((ref, hyp))
        by_word[ref].append(cer_text(hyp) == cer_text(ref))
    exact = sum(ok for oks in by_word.values() for ok in oks)
    total = sum(len(oks) for oks in by_word.values())
    print(f"cuishou_8k_keywords: n={total} exact={exact / total:.3f} CER={corpus_cer(kw_pairs):.3f} ({time.perf_counter() - t0:.0f}s)")
    print("  " + " ".join(f"{w}:{sum(v)}/{len(v)}" for w, v in sorted(by_word.items())))

    for wav in sorted(CALLS_DEV.glob("*.wav")):
        truth = json.loads(wav.with_suffix(".truth.json").read_text(encoding="utf-8"))
        ref = "".join(t["text"] for t in truth["turns"])
        transcript = transcribe_file(wav, engine, config)
        print(f"calls_dev {wav.name}: CER={cer(ref, transcript.text):.3f} "
              f"(numbers read: {cer(ref, transcript.text, numbers=True):.3f}) channel_mode={transcript.options['channel_mode']}")


if __name__ == "__main__":
    main()
