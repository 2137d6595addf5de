"""Real model, real speech: accuracy, formats, stereo, 8 kHz, block cutting, offline."""

from __future__ import annotations

import csv
import json
import socket
from pathlib import Path

import pytest

from pipeline.asr.faster_engine import FasterWhisperEngine
from pipeline.metrics import cer, corpus_cer
from pipeline.text import is_cjk, to_simplified
from pipeline.transcribe import TranscribeConfig, transcribe_file

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SPEECH = SHARED / "speech_zh"
CALLS_DEV = SHARED / "calls_dev"


@pytest.fixture(scope="module")
def engine() -> FasterWhisperEngine:
    return FasterWhisperEngine(threads=2)


def full_sentences() -> list[tuple[Path, str]]:
    with open(SPEECH / "refs.tsv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return [(SPEECH / r["file"], r["reference"]) for r in rows if "/" not in r["file"]]


def traditional_only(text: str) -> list[str]:
    return [ch for ch in text if is_cjk(ch) and to_simplified(ch) != ch]


def test_reference_sentences_cer_and_simplified_output(engine: FasterWhisperEngine) -> None:
    refs = full_sentences()
    assert len(refs) == 11
    pairs = []
    for path, ref in refs:
        transcript = transcribe_file(path, engine)
        pairs.append((ref, transcript.text))
        assert not traditional_only(transcript.text), (path.name, transcript.text)
        for seg in transcript.segments:
            assert all(seg.start - 0.01 <= w.start <= w.end <= seg.end + 0.01 for w in seg.words)
            assert all(seg.text[w.offset : w.offset + len(w.text)] == w.text for w in seg.words)
    assert corpus_cer(pairs) <= 0.15, pairs


FORMAT_NAMES = [
    "wav_pcm16", "wav_mulaw_8k", "wav_alaw_8k", "mp3_16k", "m4a_aac", "amr_nb", "amr_wb",
    "3gp_amr_nb", "3gp_aac", "flac", "ogg_opus", "ogg_vorbis",
]  # fmt: skip


def test_every_phone_format_gives_the_same_text(engine: FasterWhisperEngine, encoded_audio: dict[str, Path]) -> None:
    truth = "欢迎大家来体验达摩院推出的语音识别模型"
    reference = transcribe_file(encoded_audio["wav_pcm16"], engine).text
    assert cer(truth, reference) <= 0.15
    for name in FORMAT_NAMES:
        text = transcribe_file(encoded_audio[name], engine).text
        # Lossy phone codecs may flip a homophone pair or two (达摩院/大魔院, 语音/银银), nothing more.
        assert cer(reference, text) <= 0.3, (name, reference, text)
        assert cer(truth, text) <= 0.25, (name, text)


def test_stereo_with_two_speakers_is_split_by_channel(engine: FasterWhisperEngine) -> None:
    transcript = transcribe_file(CALLS_DEV / "call1_tel_stereo.wav", engine)
    assert transcript.options["channel_mode"] == "split"
    assert {s.speaker for s in transcript.segments} == {"S0", "S1"}
    starts = [s.start for s in transcript.segments]
    assert starts == sorted(starts)
    turns = json.loads((CALLS_DEV / "call1_tel_stereo.truth.json").read_text(encoding="utf-8"))["turns"]
    for channel, speaker in ((0, "A"), (1, "B")):
        heard = "".join(s.text for s in transcript.segments if s.channel == channel)
        said = "".join(t["text"] for t in turns if t["speaker"] == speaker)
        assert cer(said, heard) <= 0.35, (channel, heard)


def test_identical_stereo_channels_are_mixed(engine: FasterWhisperEngine, encoded_audio: dict[str, Path]) -> None:
    transcript = transcribe_file(encoded_audio["wav_pcm16"], engine, TranscribeConfig(channel_mode="auto"))
    assert transcript.options["channel_mode"] == "mix"
    assert all(s.speaker is None for s in transcript.segments)


def truth_text(truth_json: Path) -> str:
    return "".join(t["text"] for t in json.loads(truth_json.read_text(encoding="utf-8"))["turns"])


def test_8khz_phone_line_call(engine: FasterWhisperEngine) -> None:
    transcript = transcribe_file(CALLS_DEV / "call1_tel8k.wav", engine)
    assert transcript.source.sample_rate == 8000
    assert cer(truth_text(CALLS_DEV / "call1_tel8k.truth.json"), transcript.text) <= 0.25


def test_block_cutting_keeps_the_text_and_the_times(engine: FasterWhisperEngine) -> None:
    path = CALLS_DEV / "call1_16k.wav"
    whole = transcribe_file(path, engine)
    blocked = transcribe_file(path, engine, TranscribeConfig(block_seconds=15.0, cut_search_seconds=5.0))
    assert cer(whole.text, blocked.text) <= 0.1
    assert max(s.end for s in blocked.segments) <= whole.source.duration + 0.05
    words = [w for s in blocked.segments for w in s.words]
    assert all(a.start <= b.start + 0.05 for a, b in zip(words, words[1:], strict=False))
    # the words of 通讯录 stay in the turn that said them (13.2-21.7 s in the truth file)
    text = blocked.text
    at = text.find("通讯录")
    if at >= 0:
        seg = next(s for s in blocked.segments if "通讯录" in s.text)
        start, end = seg.time_of_span(seg.text.find("通讯录"), seg.text.find("通讯录") + 3)
        assert 13.0 <= start <= end <= 22.0


def test_no_socket_is_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("network disabled by test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    engine = FasterWhisperEngine(threads=2)
    transcript = transcribe_file(SPEECH / "baidu_speech_demo_16k.wav", engine)
    assert "科技馆" in transcript.text
    assert attempts == []


def test_trimmed_window_keeps_speech_plus_padding_never_below_the_minimum() -> None:
    import numpy as np

    from pipeline.asr.faster_engine import trimmed_window

    window = np.zeros((80, 3000), dtype=np.float32)
    window[:, :420] = 0.5  # 4.2 s of features, then faster-whisper's zero padding
    assert trimmed_window(window, 5.0, 0.0).shape == (80, 1000)  # 4.2 + 5 s, rounded up to whole seconds
    assert trimmed_window(window, 5.0, 15.0).shape == (80, 1500)
    assert trimmed_window(window[None], 5.0, 15.0).shape == (1, 80, 1500)
    assert trimmed_window(window, 5.0, 30.0) is window  # 30 s minimum: the full window
    window[:, :2800] = 0.5
    assert trimmed_window(window, 5.0, 15.0).shape == (80, 3000)  # never longer than Whisper's window
    trimmed = trimmed_window(window, 1.0, 15.0)
    assert trimmed.flags["C_CONTIGUOUS"] and np.array_equal(trimmed, window[:, :2900])


def test_short_clip_is_encoded_in_a_shorter_window_with_the_same_accuracy(
    engine: FasterWhisperEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from faster_whisper import WhisperModel

    from pipeline.transcribe import with_options

    frames: list[int] = []
    encode = WhisperModel.encode

    def spy(self: WhisperModel, features):  # noqa: ANN001, ANN202
        frames.append(features.shape[-1])
        return encode(self, features)

    monkeypatch.setattr(WhisperModel, "encode", spy)
    full = with_options(TranscribeConfig(), encoder_min_seconds=30.0)
    trimmed_pairs, full_pairs = [], []
    for path, ref in full_sentences()[:4]:
        frames.clear()
        trimmed_pairs.append((ref, transcribe_file(path, engine).text))
        assert frames and max(frames) < 3000, (path.name, frames)
        frames.clear()
        full_pairs.append((ref, transcribe_file(path, engine, full).text))
        assert frames and min(frames) == 3000
    assert corpus_cer(trimmed_pairs) <= corpus_cer(full_pairs) + 0.02, (trimmed_pairs, full_pairs)
