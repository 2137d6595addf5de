"""Measure what each decoding lever does to CER (and speed), so the choice of default is visible.

    python bench/asr_levers.py [LABEL...]             # the 11 refs.tsv sentences, one clip at a time
    python bench/asr_levers.py --set long [LABEL...]  # the long calls (bench/long_calls.py), mono 8 kHz
    python bench/asr_levers.py --set stereo [LABEL...]  # long2 as a stereo line vs its mono mix, calls_dev stereo

LABEL picks rows whose label contains it. On `long` each row transcribes the two 5-minute mono
calls with `transcribe_file` (blocks, both workers, batched decodes) and prints corpus CER, CER of the call content
and of the real short sentences between turns, and RTF; the batched row runs faster-whisper's
BatchedInferencePipeline on the same model.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from common import full_sentence_refs

from pipeline.asr.base import DECODE_BATCH, VOCABULARY, DecodeOptions
from pipeline.asr.faster_engine import FasterWhisperEngine
from pipeline.asr.postprocess import clean_segments
from pipeline.audio import decode
from pipeline.metrics import cer, corpus_cer
from pipeline.transcribe import TranscribeConfig, transcribe_file

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
    "default, Mandarin output vocabulary (vocabulary: zh)": DecodeOptions(),
}

BEFORE = replace(DecodeOptions(), condition_on_previous_text=False, fill_gaps=False)  # the default until issue 18
PREVIOUS = replace(DecodeOptions(), condition_on_previous_text=True)
BLOCK = TranscribeConfig().block_seconds
LONG_LEVERS: dict[str, tuple[DecodeOptions, float] | str] = {
    "before: no previous text, no gap retry, 300 s blocks": (BEFORE, 300.0),
    "before, 60 s blocks": (BEFORE, 60.0),
    "previous text as prompt, no gap retry, 60 s blocks": (replace(PREVIOUS, fill_gaps=False), 60.0),
    "previous text + gap retry, 60 s blocks": (PREVIOUS, 60.0),
    "previous text + gap retry, 120 s blocks": (PREVIOUS, 120.0),
    "previous text + gap retry, 300 s blocks": (PREVIOUS, 300.0),
    "default (configs/default.yaml)": (DecodeOptions(), BLOCK),
    "default, decodes not batched (batch 1 per worker)": (DecodeOptions(), BLOCK),
    "default, batch 5 per worker": (DecodeOptions(), BLOCK),
    "default, 50 s blocks": (DecodeOptions(), 50.0),
    "default, 55 s blocks": (DecodeOptions(), 55.0),
    "default, 120 s blocks": (DecodeOptions(), 120.0),
    "default, 300 s blocks": (DecodeOptions(), 300.0),
    "default, beam 1": (replace(DecodeOptions(), beam_size=1), BLOCK),
    "default, beam 3": (replace(DecodeOptions(), beam_size=3), BLOCK),
    "default, full 30 s encoder window": (replace(DecodeOptions(), encoder_min_seconds=30.0), BLOCK),
    "default, Mandarin output vocabulary (vocabulary: zh)": (DecodeOptions(), BLOCK),
    "faster-whisper batched pipeline (batch 8, beam 5, VAD, no fallback)": "batched",
}
# rows decoded by an engine set up otherwise than the default (decode batch, output vocabulary)
ENGINE_DEFAULT = {"batch": DECODE_BATCH, "vocabulary": VOCABULARY}
LEVER_ENGINE = {"default, decodes not batched (batch 1 per worker)": {"batch": 1},
                "default, batch 5 per worker": {"batch": 5},
                "default, Mandarin output vocabulary (vocabulary: zh)": {"vocabulary": "zh"}}


def engine_for(label: str, engines: dict[tuple, FasterWhisperEngine]) -> FasterWhisperEngine:
    """The engine a row decodes with, loaded once per setting."""
    setting = {**ENGINE_DEFAULT, **LEVER_ENGINE.get(label, {})}
    key = tuple(sorted(setting.items()))
    if key not in engines:
        engines[key] = FasterWhisperEngine(threads=2, **setting)
    return engines[key]


def refs_set(only: list[str]) -> None:
    engines: dict[tuple, FasterWhisperEngine] = {}
    clips = [(decode(path).mono(), ref, path.name) for path, ref in full_sentence_refs()]
    audio_s = sum(len(a) / 16000 for a, _, _ in clips)
    for label, options in LEVERS.items():
        if only and not any(o in label for o in only):
            continue
        engine = engine_for(label, engines)
        t0 = time.perf_counter()
        pairs, worst = [], []
        for audio, ref, name in clips:
            hyp = "".join(s.text for s in clean_segments(engine.transcribe(audio, options), options).segments)
            pairs.append((ref, hyp))
            worst.append((round(cer(ref, hyp), 2), name))
        dt = time.perf_counter() - t0
        print(f"{label:40s} CER={corpus_cer(pairs):.3f} RTF={dt / audio_s:.3f} per-clip={[w for w, _ in worst]}", flush=True)


def batched_items(engine: FasterWhisperEngine, path: object) -> list[tuple[float, float, str]]:
    from faster_whisper import BatchedInferencePipeline

    from pipeline.text import normalize

    options = DecodeOptions()
    segments, _ = BatchedInferencePipeline(model=engine._model).transcribe(
        decode(path).mono(), language="zh", beam_size=options.beam_size, batch_size=8, vad_filter=True,
        initial_prompt=options.initial_prompt, word_timestamps=True,
    )
    return [(s.start, s.end, normalize(s.text).text) for s in segments]


STEREO_LEVERS: dict[str, tuple[str, str, int]] = {  # (stereo_decode, mix, LOOP_REPEATS)
    "before: each channel decoded alone, loop words cover speech": ("channels", "sum", 0),
    "each channel decoded alone, loop words cover nothing": ("channels", "sum", 2),
    "mix (mean of channels) split by channel + channel retry": ("mix", "mean", 2),
    "default: mix (sum) split by channel + channel retry": ("mix", "sum", 2),
}


def stereo_set(only: list[str]) -> None:
    """CER per stereo call and per channel (speaker A = left, B = right) for each way of decoding a
    stereo line; first the mono recording of long2 (the same call mixed) as the reference row."""
    from common import CALLS_DEV
    from long_calls import build_long_calls, default_dir, split_cer

    import pipeline.asr.channels as channels_module
    import pipeline.asr.faster_engine as engine_module

    long_files = dict((p.stem, p) for p, _ in build_long_calls(default_dir()))
    files = [long_files["long2_tel_stereo"], CALLS_DEV / "call1_tel_stereo.wav", CALLS_DEV / "call2_tel_stereo.wav"]
    engine = FasterWhisperEngine(threads=2)

    def row(label: str, paths: list[Path], config: TranscribeConfig) -> None:
        t0, cells, pairs, per_channel = time.perf_counter(), [], [], []
        for path in paths:
            turns = json.loads(path.with_suffix(".truth.json").read_text(encoding="utf-8"))["turns"]
            transcript = transcribe_file(path, engine, config)
            ref = "".join(t["text"] for t in turns)
            pairs.append((ref, transcript.text))
            cell = f"{path.stem}={cer(ref, transcript.text):.3f}"
            if "source" in turns[0]:
                cell += f"(sentences={split_cer([(turns, transcript.text)])['sentences']:.3f})"
            if transcript.options["channel_mode"] == "split":
                for ch, speaker in ((0, "A"), (1, "B")):
                    said = "".join(t["text"] for t in turns if t["speaker"] == speaker)
                    per_channel.append((said, "".join(s.text for s in transcript.segments if s.channel == ch)))
                cell += f"[A={cer(*per_channel[-2]):.3f} B={cer(*per_channel[-1]):.3f}]"
            cells.append(cell)
        channel_cer = f" per-channel={corpus_cer(per_channel):.3f}" if per_channel else ""
        print(f"{label:62s} CER={corpus_cer(pairs):.3f}{channel_cer} {' '.join(cells)} s={time.perf_counter() - t0:.0f}",
              flush=True)

    print(f"stereo calls: {len(files)} files, engine threads={engine.threads} workers={engine.workers}")
    if not only or any(o in "long2 mono recording (reference)" for o in only):
        row("long2 mono recording (reference)", [long_files["long2_tel8k"]], TranscribeConfig())
    for label, (stereo_decode, mix, loops) in STEREO_LEVERS.items():
        if only and not any(o in label for o in only):
            continue
        channels_module.MIX, engine_module.LOOP_REPEATS = mix, loops
        try:
            row(label, files, replace(TranscribeConfig(), stereo_decode=stereo_decode))
        finally:
            channels_module.MIX, engine_module.LOOP_REPEATS = "sum", 2


def long_set(only: list[str], save: Path | None = None) -> None:
    from long_calls import build_long_calls, default_dir, split_cer

    files = [(p, ref) for p, ref in build_long_calls(default_dir()) if p.stem.endswith("_tel8k")]
    truths = [json.loads(p.with_suffix(".truth.json").read_text(encoding="utf-8"))["turns"] for p, _ in files]
    audio_s = sum(t["duration"] for t in
                  (json.loads(p.with_suffix(".truth.json").read_text(encoding="utf-8")) for p, _ in files))
    engines: dict[tuple, FasterWhisperEngine] = {}
    engine = engine_for("default (configs/default.yaml)", engines)
    print(f"long calls: {len(files)} files, {audio_s:.0f} s, engine threads={engine.threads} workers={engine.workers} "
          f"batch={engine.batch}")
    for label, lever in LONG_LEVERS.items():
        if only and not any(o in label for o in only):
            continue
        t0 = time.perf_counter()
        items_per_file, texts = [], []
        for path, _ in files:
            if lever == "batched":
                items = batched_items(engine, path)
            else:
                options, block = lever
                transcript = transcribe_file(path, engine_for(label, engines),
                                             TranscribeConfig(options=options, block_seconds=block))
                items = [(s.start, s.end, s.text) for s in transcript.segments]
            items_per_file.append(items)
            texts.append("".join(t for _, _, t in items))
        dt = time.perf_counter() - t0
        parts = split_cer(list(zip(truths, texts, strict=True)))
        pairs = [(ref, hyp) for (_, ref), hyp in zip(files, texts, strict=True)]
        total, read = corpus_cer(pairs), corpus_cer(pairs, numbers=True)
        print(f"{label:70s} CER={total:.3f} content={parts['content']:.3f} sentences={parts['sentences']:.3f} "
              f"numbers_read={read:.3f} RTF={dt / audio_s:.3f}", flush=True)
        if save:
            save.mkdir(parents=True, exist_ok=True)
            (save / f"{label[:40].replace('/', '_')}.json").write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description="CER (and speed) of each decoding lever.")
    parser.add_argument("--set", choices=("refs", "long", "stereo"), default="refs")
    parser.add_argument("--save", type=Path, help="with --set long: write each row's texts (JSON) here")
    parser.add_argument("labels", nargs="*", help="only rows whose label contains one of these")
    args = parser.parse_args()
    if args.set == "long":
        long_set(args.labels, args.save)
    elif args.set == "stereo":
        stereo_set(args.labels)
    else:
        refs_set(args.labels)


if __name__ == "__main__":
    main()
