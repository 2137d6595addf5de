"""What one Whisper window costs on this CPU: encoder, beam-search steps, batched decodes.

    python bench/decoder_cost.py [--windows 6]

Takes full 30 s windows of the long-call set's long1 (bench/long_calls.py), encodes each on one
thread (the engine's single-thread workers, int8, pinned CPU path) as the engine does (convolutions in
numpy, pipeline/asr/exact_conv.py; the numpy part and CTranslate2's original convolutions are timed
beside it), then decodes them with
CTranslate2 directly: beam 1 and beam 5 alone (ms per generated token), the same windows in
batches of 1, 2, 3 and 5 on one worker, and on two workers at once (two threads, one batch each),
so the cost of a batched step and what a second core adds are visible. Also checks that a
window's tokens and score are the same alone and inside each batch (pipeline/asr/batching.py
relies on it).
"""

from __future__ import annotations

import common  # noqa: F401  (first: project on sys.path, CPU code paths pinned before numpy loads)

# isort: split

import argparse
import threading
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description="Encoder and decoder cost per Whisper window.")
    parser.add_argument("--windows", type=int, default=6)
    args = parser.parse_args()

    import ctranslate2
    from faster_whisper import WhisperModel
    from faster_whisper.tokenizer import Tokenizer
    from long_calls import build_long_calls, default_dir

    from pipeline.asr.base import DecodeOptions
    from pipeline.asr.ct2_convert import read_ct2_model
    from pipeline.asr.exact_conv import ConvFrontEnd, derived_model_dir
    from pipeline.asr.models import cache_root, resolve_ct2_model
    from pipeline.audio import decode

    path = next(p for p, _ in build_long_calls(default_dir()) if p.stem == "long1_tel8k")
    audio = decode(path).mono()
    entry = resolve_ct2_model(None)
    frontend = ConvFrontEnd(read_ct2_model(entry.path / "model.bin"))
    original = WhisperModel(str(entry.path), device="cpu", compute_type="int8", cpu_threads=1, local_files_only=True)
    model = WhisperModel(str(derived_model_dir(entry.path, entry.sha256, cache_root())), device="cpu",
                         compute_type="int8", cpu_threads=1, num_workers=2, local_files_only=True)
    tokenizer = Tokenizer(model.hf_tokenizer, True, task="transcribe", language="zh")
    prompt = [tokenizer.sot_prev, *tokenizer.encode(" " + DecodeOptions().initial_prompt), *tokenizer.sot_sequence]
    window = 30 * 16000
    encoded, encode_s, frontend_s, original_s = [], [], [], []

    def storage(features: np.ndarray) -> object:
        return ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None]))

    for i in range(args.windows):
        features = model.feature_extractor(audio[i * window : (i + 1) * window])[:, :3000]
        t0 = time.perf_counter()
        convolved = frontend(features)
        t1 = time.perf_counter()
        out = model.model.encode(storage(convolved), to_cpu=True)
        t2 = time.perf_counter()
        original.model.encode(storage(features), to_cpu=True)
        original_s.append(time.perf_counter() - t2)
        frontend_s.append(t1 - t0)
        encode_s.append(t2 - t0)
        encoded.append(np.asarray(out))
    print(f"encoder, one 30 s window, 1 thread: {np.median(encode_s):.2f} s (median of {len(encode_s)}; of which "
          f"numpy convolutions {np.median(frontend_s):.2f} s); with CTranslate2's own convolutions (not reproducible "
          f"across CPUs) {np.median(original_s):.2f} s")

    def generate(rows: list[int], beam: int = 5) -> tuple[float, list[tuple[list[int], float]]]:
        features = ctranslate2.StorageView.from_array(np.ascontiguousarray(np.concatenate([encoded[i] for i in rows])))
        t0 = time.perf_counter()
        results = model.model.generate(features, [prompt] * len(rows), beam_size=beam, max_length=448,
                                       return_scores=True, suppress_blank=True, suppress_tokens=[-1])
        return time.perf_counter() - t0, [(r.sequences_ids[0], r.scores[0]) for r in results]

    alone = {}
    for beam in (1, 5):
        seconds, tokens = 0.0, 0
        for i in range(len(encoded)):
            dt, out = generate([i], beam)
            seconds, tokens = seconds + dt, tokens + len(out[0][0])
            if beam == 5:
                alone[i] = out[0]
        print(f"beam {beam}, one window at a time: {1000 * seconds / tokens:.1f} ms per token, "
              f"{seconds / len(encoded):.2f} s per window")

    def batches_of(size: int) -> list[list[int]]:
        return [list(range(i, min(i + size, len(encoded)))) for i in range(0, len(encoded), size)]

    same = True
    for size in (1, 2, 3, 5):
        seconds = 0.0
        for group in batches_of(size):
            dt, out = generate(group)
            seconds += dt
            same &= all(out[k] == alone[i] for k, i in enumerate(group))
        print(f"beam 5, batches of {size} on one worker: {seconds / len(encoded):.2f} s per window")

    def two_workers(groups: list[list[int]]) -> None:
        lock = threading.Lock()

        def work() -> None:
            while True:
                with lock:
                    if not groups:
                        return
                    group = groups.pop(0)
                generate(group)

        threads = [threading.Thread(target=work) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    for size in (1, 2, 3):
        t0 = time.perf_counter()
        two_workers(batches_of(size))
        print(f"beam 5, batches of {size} on two workers at once: {(time.perf_counter() - t0) / len(encoded):.2f} s "
              f"per window (wall)")
    print(f"batch_invariant={same}")


if __name__ == "__main__":
    main()
