"""Speed, memory and accuracy: plain openai-whisper vs callproof's default pipeline, same files.

    python bench/asr_speed.py [--threads 2] [--files long|mixed|calls] [--repeat 3]
    python bench/asr_speed.py --profile [--encoder-min 30]   # where callproof's time goes, alone
    python bench/asr_speed.py --side callproof --decode-batch 1   # one side only: JSON (texts, seconds, RSS)

Both use the same Whisper base weights (openai-whisper gets them converted from the bundled
CTranslate2 model). Each side runs in its own subprocess so its peak RSS is its own:
- openai-whisper: its own `whisper.transcribe()`, fp32 on CPU, beam 5, language zh.
- callproof: `transcribe_file()` with configs/default.yaml (faster-whisper int8, VAD, filters).
Files: `long` (default) = the long-call set of bench/long_calls.py (two 5-minute 8 kHz calls whose
text does not repeat, with the real refs.tsv sentences between turns: long1 mono, long2 stereo); `mixed` = the 11 full sentences of refs.tsv plus the two 16 kHz calls of calls_dev;
`calls` = every phone call with a truth file: calls_dev (16 kHz, 8 kHz line, stereo line) and samples/.
openai-whisper runs on its libraries' native CPU paths (as its users run it; stereo as a mono mix),
callproof on its pinned reproducible path with ``--threads`` single-thread workers. The sides
alternate ``--repeat`` times, each run in a fresh process, so both see the same machine load;
times are medians. Each run's line gives the CPU steal share during it (time a virtual machine's
hypervisor gave to other guests: on a shared host both sides' times move with it). Prints RTF
(processing s / audio s), peak RSS and CER for each (on `long` also CER of the call content and of
the real short sentences), CER with the digits of both sides read out as
characters (`pipeline.metrics.read_numbers`: 082647 and 零八二六四七 are the same number heard), then, last,
`speedup_vs_openai_whisper=X.XX cer_callproof=Y cer_openai_whisper=Z`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import CALLS_DEV, ROOT, cpu_ticks, full_sentence_refs, peak_rss_mb, steal_share

from pipeline.asr.base import DECODE_BATCH, VOCABULARIES, VOCABULARY


def bench_files(which: str = "long") -> list[tuple[Path, str]]:
    """long: the long-call set; mixed: the 11 refs sentences + the two 16 kHz dev calls; calls: every
    phone call with a truth file (calls_dev 16 kHz / 8 kHz / stereo and the samples/ recordings)."""
    if which == "long":
        from long_calls import build_long_calls, default_dir

        # long2 as its stereo recording (openai-whisper hears the mono mix of it)
        return [(p, ref) for p, ref in build_long_calls(default_dir()) if p.stem != "long2_tel8k"]
    files = list(full_sentence_refs()) if which == "mixed" else []
    pattern = "call*_16k.wav" if which == "mixed" else "*.wav"
    wavs = sorted(CALLS_DEV.glob(pattern))
    if which == "calls":
        wavs += sorted(p for p in (ROOT / "samples").iterdir() if p.suffix in (".mp3", ".m4a", ".amr", ".oga"))
    for wav in wavs:
        truth_path = wav.parent / (wav.stem + ".truth.json")
        truth = json.loads(truth_path.read_text(encoding="utf-8"))
        files.append((wav, "".join(t["text"] for t in truth["turns"])))
    return files


def run_ours(files: list[tuple[Path, str]], threads: int, batch: int = DECODE_BATCH, vocabulary: str = VOCABULARY) -> dict:
    from pipeline.asr.faster_engine import FasterWhisperEngine
    from pipeline.transcribe import transcribe_file

    engine = FasterWhisperEngine(threads=threads, batch=batch, vocabulary=vocabulary)
    texts, seconds = [], 0.0
    for path, _ in files:
        t0 = time.perf_counter()
        transcript = transcribe_file(path, engine)
        seconds += time.perf_counter() - t0
        texts.append(transcript.text)
    return {"texts": texts, "seconds": seconds}


def run_openai(files: list[tuple[Path, str]], threads: int) -> dict:
    import torch
    import whisper

    from pipeline.asr.models import bundled_model_dir
    from pipeline.asr.openai_engine import converted_checkpoint
    from pipeline.audio import decode

    torch.set_num_threads(threads)
    checkpoint = converted_checkpoint(bundled_model_dir(), "base")
    model = whisper.load_model(str(checkpoint.path), device="cpu")
    texts, seconds = [], 0.0
    for path, _ in files:
        audio = decode(path).mono()
        t0 = time.perf_counter()
        result = whisper.transcribe(model, audio, language="zh", beam_size=5, best_of=5, fp16=False)
        seconds += time.perf_counter() - t0
        texts.append(result["text"])
    return {"texts": texts, "seconds": seconds}


def profile(files: list[tuple[Path, str]], threads: int, encoder_min: float | None) -> None:
    """Time callproof's stages (encoder, beam decoding, word alignment, Silero VAD) in-process."""
    from collections import Counter

    import faster_whisper.vad

    from pipeline.asr.faster_engine import FasterWhisperEngine
    from pipeline.transcribe import TranscribeConfig, transcribe_file, with_options

    spent: Counter[str] = Counter()

    def timed(name: str, fn):  # noqa: ANN001, ANN202
        def run(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - t0

        return run

    class Timed:  # ctranslate2.models.Whisper is a C++ object: wrap it instead of patching it
        def __init__(self, inner: object) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> object:
            value = getattr(self._inner, name)
            return timed(name, value) if name in ("encode", "generate", "align") else value

    engine = FasterWhisperEngine(threads=threads)
    engine._model.model = Timed(engine._model.model)
    faster_whisper.vad.get_speech_timestamps = timed("vad", faster_whisper.vad.get_speech_timestamps)
    import faster_whisper.transcribe

    faster_whisper.transcribe.get_speech_timestamps = timed("vad", faster_whisper.transcribe.get_speech_timestamps)
    config = TranscribeConfig() if encoder_min is None else with_options(TranscribeConfig(), encoder_min_seconds=encoder_min)
    t0 = time.perf_counter()
    for path, _ in files:
        transcribe_file(path, engine, config)
    total = time.perf_counter() - t0
    for name in ("encode", "generate", "align", "vad"):
        print(f"{name:9s} {spent[name]:6.1f} s")
    print(f"{'other':9s} {total - sum(spent.values()):6.1f} s")
    print(f"{'total':9s} {total:6.1f} s")


def child(side: str, threads: int, which: str, batch: int, vocabulary: str) -> None:
    files = bench_files(which)
    result = run_ours(files, threads, batch, vocabulary) if side == "callproof" else run_openai(files, threads)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result, ensure_ascii=False))


def run_side(side: str, threads: int, which: str, batch: int, vocabulary: str) -> dict:
    """One side in a fresh process; openai-whisper on its native CPU paths."""
    env = dict(os.environ)
    if side == "openai-whisper":
        env["CALLPROOF_NATIVE_CPU"] = "1"
    before = cpu_ticks()
    out = subprocess.run(
        [sys.executable, __file__, "--side", side, "--threads", str(threads), "--files", which, "--decode-batch", str(batch),
         "--vocabulary", vocabulary],
        capture_output=True, text=True, cwd=ROOT, check=True, env=env,
    )
    return {**json.loads(out.stdout.strip().splitlines()[-1]), "steal": steal_share(before, cpu_ticks())}


def main() -> None:
    parser = argparse.ArgumentParser(description="openai-whisper vs callproof: speed, memory, CER.")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--files", choices=("long", "mixed", "calls"), default="long")
    parser.add_argument("--repeat", type=int, default=1, help="runs per side, alternating; medians reported")
    parser.add_argument("--side", choices=("callproof", "openai-whisper"))
    parser.add_argument("--profile", action="store_true", help="time callproof's stages only")
    parser.add_argument("--encoder-min", type=float, help="with --profile: decode.encoder_min_seconds")
    parser.add_argument("--decode-batch", type=int, default=DECODE_BATCH,
                        help="callproof's decode_batch (1: the default before batched decodes)")
    parser.add_argument("--vocabulary", choices=VOCABULARIES, default=VOCABULARY,
                        help="callproof's output vocabulary (full: all 51,865 Whisper tokens)")
    args = parser.parse_args()
    if args.profile:
        profile(bench_files(args.files), args.threads, args.encoder_min)
        return
    if args.side:
        child(args.side, args.threads, args.files, args.decode_batch, args.vocabulary)
        return

    from pipeline.audio import probe
    from pipeline.metrics import corpus_cer

    files = bench_files(args.files)
    audio_s = sum(probe(path).duration for path, _ in files)
    print(f"files={len(files)} audio={audio_s:.1f}s threads={args.threads} repeat={args.repeat}", flush=True)
    runs: dict[str, list[dict]] = {"openai-whisper": [], "callproof": []}
    for i in range(args.repeat):
        for side in runs:
            data = run_side(side, args.threads, args.files, args.decode_batch, args.vocabulary)
            runs[side].append(data)
            steal = "" if data["steal"] is None else f" (CPU steal {100 * data['steal']:.1f}%)"
            print(f"  run {i + 1} {side:15s} {data['seconds']:.1f}s{steal}", flush=True)
    results = {}
    for side, data in runs.items():
        first = data[0]
        texts_differ = sum(d["texts"] != first["texts"] for d in data[1:])
        seconds = statistics.median(d["seconds"] for d in data)
        pairs = [(ref, hyp) for (_, ref), hyp in zip(files, first["texts"], strict=True)]
        cer, cer_read = corpus_cer(pairs), corpus_cer(pairs, numbers=True)
        results[side] = {"seconds": seconds, "cer": cer, "cer_read": cer_read}
        extra = f" CER_numbers_read={cer_read:.3f}"
        if args.files == "long":
            from long_calls import split_cer

            truths = [json.loads(p.with_suffix(".truth.json").read_text(encoding="utf-8"))["turns"] for p, _ in files]
            parts = split_cer(list(zip(truths, first["texts"], strict=True)))
            read = split_cer(list(zip(truths, first["texts"], strict=True)), numbers=True)
            extra += (f" CER_content={parts['content']:.3f} CER_sentences={parts['sentences']:.3f}"
                      f" (numbers read: {read['content']:.3f} / {read['sentences']:.3f})")
        each = " ".join(f"{d['seconds']:.1f}" for d in data)
        print(f"{side:15s} RTF={seconds / audio_s:.3f} (median of {len(data)}: {each} s)"
              f" peak_RSS={max(d['peak_rss_mb'] for d in data):.0f}MB "
              f"CER={cer:.3f}{extra} runs_with_other_text={texts_differ}")
    speedup = results["openai-whisper"]["seconds"] / results["callproof"]["seconds"]
    print(f"numbers read out on both sides (pipeline.metrics.read_numbers): "
          f"cer_callproof={results['callproof']['cer_read']:.3f} cer_openai_whisper={results['openai-whisper']['cer_read']:.3f}")
    print(f"speedup_vs_openai_whisper={speedup:.2f} cer_callproof={results['callproof']['cer']:.3f} "
          f"cer_openai_whisper={results['openai-whisper']['cer']:.3f}")


if __name__ == "__main__":
    main()
