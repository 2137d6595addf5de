"""What one Whisper window costs on this CPU: encoder, beam-search steps, batched decodes.

    python bench/decoder_cost.py [--windows 6]
    python bench/decoder_cost.py --primitives [--windows 3]   # where the time goes, by oneDNN primitive

Takes full 30 s windows of the long-call set's long1 (bench/long_calls.py), encodes each on one
thread (the engine's single-thread workers, int8, pinned CPU path) as the engine does (convolutions in
numpy, pipeline/asr/exact_conv.py; the numpy part and CTranslate2's original convolutions are timed
beside it), then decodes them with
CTranslate2 directly: beam 1 and beam 5 alone (ms per generated token), the same windows in
batches of 1, 2, 3 and 5 on one worker, and on two workers at once (two threads, one batch each),
so the cost of a batched step and what a second core adds are visible. Also checks that a
window's tokens and score are the same alone and inside each batch (pipeline/asr/batching.py
relies on it).

``--primitives`` runs CTranslate2 under ``ONEDNN_VERBOSE=1`` (it logs every oneDNN call with its
shapes and time) and sums the calls by the part of Whisper they belong to: for an encoder window
(CTranslate2's part; the numpy convolutions come before it) and per generated token of a beam-5
decode, one window alone and three batched. What no oneDNN call accounts for (softmax, layer norms,
the beam search's own bookkeeping) is the rest of the wall time.
"""

from __future__ import annotations

import common  # noqa: F401  (first: project on sys.path, CPU code paths pinned before numpy loads)

# isort: split

import argparse
import threading
import time

import numpy as np

MARK = "@@callproof "  # section markers between oneDNN's verbose lines (--primitives)
_marking = False


def mark(label: str) -> None:
    if _marking:
        print(MARK + label, flush=True)


def load_windows(count: int, frontend_timing: bool = True) -> tuple[object, list[int], list[np.ndarray], dict]:
    """The engine's CTranslate2 model (two single-thread replicas), the decode prompt, and the first
    ``count`` full 30 s windows of long1 encoded as the engine encodes them; with encoder timings."""
    import ctranslate2
    from faster_whisper import WhisperModel
    from faster_whisper.tokenizer import Tokenizer
    from long_calls import build_long_calls, default_dir

    from pipeline.asr.base import DecodeOptions
    from pipeline.asr.ct2_convert import read_ct2_model
    from pipeline.asr.derived_model import derived_model_dir
    from pipeline.asr.exact_conv import ConvFrontEnd
    from pipeline.asr.models import cache_root, resolve_ct2_model
    from pipeline.audio import decode

    path = next(p for p, _ in build_long_calls(default_dir()) if p.stem == "long1_tel8k")
    audio = decode(path).mono()
    entry = resolve_ct2_model(None)
    frontend = ConvFrontEnd(read_ct2_model(entry.path / "model.bin"))
    original = (WhisperModel(str(entry.path), device="cpu", compute_type="int8", cpu_threads=1, local_files_only=True)
                if frontend_timing else None)
    model = WhisperModel(str(derived_model_dir(entry.path, entry.sha256, cache_root())), device="cpu",
                         compute_type="int8", cpu_threads=1, num_workers=2, local_files_only=True)
    tokenizer = Tokenizer(model.hf_tokenizer, True, task="transcribe", language="zh")
    prompt = [tokenizer.sot_prev, *tokenizer.encode(" " + DecodeOptions().initial_prompt), *tokenizer.sot_sequence]
    window = 30 * 16000
    encoded: list[np.ndarray] = []
    timings: dict[str, list[float]] = {"encode": [], "frontend": [], "original": []}

    def storage(features: np.ndarray) -> object:
        return ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None]))

    for i in range(count):
        features = model.feature_extractor(audio[i * window : (i + 1) * window])[:, :3000]
        t0 = time.perf_counter()
        convolved = frontend(features)
        t1 = time.perf_counter()
        mark("encode 1")
        out = model.model.encode(storage(convolved), to_cpu=True)
        t2 = time.perf_counter()
        mark(f"end {t2 - t1:.6f} 1")
        if original is not None:
            original.model.encode(storage(features), to_cpu=True)
            timings["original"].append(time.perf_counter() - t2)
        timings["frontend"].append(t1 - t0)
        timings["encode"].append(t2 - t0)
        encoded.append(np.asarray(out))
    return model, prompt, encoded, timings


def main() -> None:
    parser = argparse.ArgumentParser(description="Encoder and decoder cost per Whisper window.")
    parser.add_argument("--windows", type=int, default=6)
    parser.add_argument("--primitives", action="store_true",
                        help="where an encoder window and a decoder step go, by oneDNN primitive (ONEDNN_VERBOSE)")
    parser.add_argument("--primitives-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.primitives:
        primitive_breakdown(args.windows)
        return
    if args.primitives_child:
        primitives_child(args.windows)
        return

    import ctranslate2

    model, prompt, encoded, timings = load_windows(args.windows)
    encode_s, frontend_s, original_s = timings["encode"], timings["frontend"], timings["original"]
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


def primitives_child(count: int) -> None:
    """Encode ``count`` windows, decode the first alone and the first three as one batch (beam 5),
    between section markers; run with ONEDNN_VERBOSE=1 (primitive_breakdown)."""
    global _marking
    import ctranslate2

    _marking = True
    model, prompt, encoded, _ = load_windows(count, frontend_timing=False)
    for size in (1, 3):
        features = ctranslate2.StorageView.from_array(np.ascontiguousarray(np.concatenate(encoded[:size])))
        mark(f"decode {size}")
        t0 = time.perf_counter()
        results = model.model.generate(features, [prompt] * size, beam_size=5, max_length=448,
                                       suppress_blank=True, suppress_tokens=[-1])
        tokens = sum(len(r.sequences_ids[0]) for r in results)
        mark(f"end {time.perf_counter() - t0:.6f} {tokens}")


def primitive_part(kind: str, dims: str, frames: int, vocab: int) -> str:
    """Which part of Whisper a oneDNN primitive call belongs to, from its kind and matrix shapes."""
    if kind != "gemm_api":
        return "identity convolutions + reorders (exact_conv's copy)" if kind in ("convolution", "reorder") else kind
    (m, k), (_, n) = (tuple(int(x) for x in side.split("x")) for side in dims.split(":"))
    if n == vocab:
        return "output layer (all tokens, every step)"
    if (k, n) == (512, 1024) and m % frames == 0:
        return "cross-attention keys/values (once per window)"
    if (k, n) in ((64, frames), (frames, 64)):
        return "self-attention" if m == frames else "cross-attention (every step)"
    if k == 64 or n == 64:
        return "self-attention"
    return "int8 linear layers"


def primitive_breakdown(count: int, frames: int = 1500, vocab: int = 51865) -> None:
    """Run primitives_child under ONEDNN_VERBOSE=1 and sum oneDNN's own execution times by part."""
    import os
    import subprocess
    import sys
    from collections import Counter, defaultdict

    count = max(3, count)
    out = subprocess.run([sys.executable, __file__, "--primitives-child", "--windows", str(count)],
                         env={**os.environ, "ONEDNN_VERBOSE": "1"}, capture_output=True, text=True, check=True).stdout
    spent: dict[str, Counter[str]] = defaultdict(Counter)
    walls: Counter[str] = Counter()
    units: Counter[str] = Counter()
    section = None
    for line in out.splitlines():
        if line.startswith(MARK):
            label = line[len(MARK):].split()
            if label[0] == "end" and section:
                walls[section] += 1000 * float(label[1])
                units[section] += int(label[2])
                section = None
            elif label[0] != "end":
                section = " ".join(label)
        elif section and line.startswith("onednn_verbose,") and ",exec," in line:
            fields = line.split(",")
            kind = fields[3] if fields[2] == "cpu" else fields[4]
            spent[section][primitive_part(kind, fields[-2], frames, vocab)] += float(fields[-1])
    for section, per in (("encode 1", "per 30 s window"), ("decode 1", "per token, one window, beam 5"),
                         ("decode 3", "per token, three windows batched, beam 5")):
        n = max(1, units[section])
        print(f"{section.split()[0]} ({per}): {walls[section] / n:.1f} ms")
        for part, ms in spent[section].most_common():
            print(f"  {part:52s} {ms / n:7.2f} ms")
        print(f"  {'outside oneDNN (softmax, norms, beam bookkeeping)':52s} "
              f"{(walls[section] - sum(spent[section].values())) / n:7.2f} ms")


if __name__ == "__main__":
    main()
