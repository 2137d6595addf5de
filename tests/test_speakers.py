"""Speakers: stereo split, mono diarization, word-level assignment, roles, DER — on real audio."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from bench.eval_speakers import build_call, clip_pieces, telephone
from pipeline.audio import decode
from pipeline.speakers import (
    ROLE_LABELS_ZH,
    Turn,
    apply_roles,
    assign_roles,
    assign_speakers,
    channel_turns,
    channels_are_distinct,
    diarize,
    merge_channel_segments,
    parse_num_speakers,
    recording_turns,
    role_evidence,
    role_label,
)
from pipeline.speakers.der import diarization_error_rate
from pipeline.speakers.encoder import load_encoder, load_legacy_state_dict, mel_frames
from pipeline.transcript import Segment, Word

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SPEECH = DATA / "speech_zh"
CALLS_DEV = DATA / "calls_dev"


def _mono(path: Path) -> np.ndarray:
    return decode(path).mono()


def _truth(name: str) -> list[tuple[float, float, str]]:
    turns = json.loads((CALLS_DEV / f"{name}.truth.json").read_text("utf-8"))["turns"]
    return [(t["start"], t["end"], t["speaker"]) for t in turns]


def _as_tuples(turns: list[Turn]) -> list[tuple[float, float, str]]:
    return [(t.start, t.end, t.speaker) for t in turns]


@pytest.fixture(scope="module")
def stereo_call() -> np.ndarray:
    return decode(CALLS_DEV / "call1_tel_stereo.wav").samples


# --- encoder ---------------------------------------------------------------------------


def test_numpy_encoder_matches_resemblyzer_torch_model() -> None:
    torch = pytest.importorskip("torch")
    resemblyzer = pytest.importorskip("resemblyzer")
    from resemblyzer import audio as rz_audio

    wav = _mono(SPEECH / "funasr_asr_example_zh.wav")[: 16000 * 3]
    ours_mel = mel_frames(wav)
    theirs_mel = rz_audio.wav_to_mel_spectrogram(wav)
    assert ours_mel.shape == theirs_mel.shape
    assert np.allclose(ours_mel, theirs_mel, rtol=1e-4, atol=1e-4 * float(theirs_mel.max()))
    windows = np.stack([theirs_mel[s : s + 160] for s in (0, 60, 120)])
    ours = load_encoder().embed_windows(windows)
    model = resemblyzer.VoiceEncoder("cpu", verbose=False)
    with torch.no_grad():
        theirs = model(torch.from_numpy(windows)).numpy()
    assert np.abs(ours - theirs).max() < 1e-4


def test_weights_loader_refuses_code_in_the_pickle(tmp_path: Path) -> None:
    import os

    evil = tmp_path / "evil.pt"
    with open(evil, "wb") as f:
        for header in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001}):
            pickle.dump(header, f)
        pickle.dump({"model_state": os.system}, f)
    with pytest.raises(pickle.UnpicklingError, match="unexpected global"):
        load_legacy_state_dict(evil)


# --- stereo ----------------------------------------------------------------------------


def test_stereo_call_with_one_party_per_channel_is_split_by_channel(stereo_call: np.ndarray) -> None:
    assert channels_are_distinct(stereo_call)
    turns, method = recording_turns(stereo_call)
    assert method == "channels"
    result = diarization_error_rate(_truth("call1_tel_stereo"), _as_tuples(turns))
    assert result.mapping == {"S0": "A", "S1": "B"}
    assert result.confusion == 0.0
    assert result.der < 0.08


def test_same_voice_on_both_channels_is_still_two_speakers_by_channel() -> None:
    """Channel decides, not voice: one speaker's pieces alternating left/right stay two 'speakers'."""
    pieces = np.array_split(clip_pieces(_mono(SPEECH / "masr_test.wav"))[0], 3)
    n = sum(len(p) for p in pieces) + 16000 * len(pieces)
    stereo = np.zeros((2, n), dtype=np.float32)
    t, expected = 8000, []
    for i, piece in enumerate(pieces):
        stereo[i % 2, t : t + len(piece)] = piece
        expected.append(f"S{i % 2}")
        t += len(piece) + 16000
    turns, method = recording_turns(stereo)
    assert method == "channels"
    spoken = [turn.speaker for turn in turns]
    assert [s for i, s in enumerate(spoken) if i == 0 or s != spoken[i - 1]] == expected


def test_identical_or_copied_channels_are_not_distinct(stereo_call: np.ndarray) -> None:
    mono = stereo_call.mean(axis=0)
    rng = np.random.default_rng(0)
    assert not channels_are_distinct(np.stack([mono, mono]))
    assert not channels_are_distinct(np.stack([mono, 0.5 * mono + 0.001 * rng.standard_normal(len(mono))]))
    assert not channels_are_distinct(np.stack([mono, np.zeros_like(mono)]))  # one silent side
    turns, method = recording_turns(np.stack([mono, mono]))
    assert method == "diarize"
    assert {t.speaker for t in turns} == {"S0", "S1"}


def test_merge_channel_segments_orders_by_time_and_sets_speaker() -> None:
    left = [Segment(0, 0.5, 2.0, "你好", "你好"), Segment(1, 5.0, 6.0, "再见", "再见")]
    right = [Segment(0, 2.5, 4.0, "喂", "喂")]
    merged = merge_channel_segments([left, right])
    assert [(s.index, s.text, s.channel, s.speaker) for s in merged] == [
        (0, "你好", 0, "S0"),
        (1, "喂", 1, "S1"),
        (2, "再见", 0, "S0"),
    ]
    assert left[0].speaker is None  # inputs are not modified


# --- mono diarization ------------------------------------------------------------------


@pytest.mark.parametrize(
    "clip", ["masr_test.wav", "fireredasr_TEST_MEETING_T0000000001_S00000.wav", "f5tts_basic_ref_zh.wav"]
)
def test_one_speaker_file_is_not_split_in_two(clip: str) -> None:
    turns = diarize(_mono(SPEECH / clip), num_speakers=None)
    assert turns
    assert {t.speaker for t in turns} == {"S0"}


def test_one_party_of_a_call_is_one_speaker(stereo_call: np.ndarray) -> None:
    collector_only = stereo_call[0]
    assert {t.speaker for t in diarize(collector_only, num_speakers=None)} == {"S0"}


@pytest.fixture(scope="module")
def two_speaker_call():
    rng = np.random.default_rng(3)
    a = clip_pieces(_mono(SPEECH / "paddlespeech_zh.wav"))
    b = clip_pieces(_mono(SPEECH / "masr_test.wav"))
    return build_call("paddle+masr", b, a, rng)


def test_two_speaker_mixture_of_real_clips_has_low_der(two_speaker_call) -> None:
    turns = diarize(two_speaker_call.audio)
    assert {t.speaker for t in turns} == {"S0", "S1"}
    assert turns[0].speaker == "S0"
    assert diarization_error_rate(two_speaker_call.turns, _as_tuples(turns)).der < 0.10
    auto = diarize(two_speaker_call.audio, num_speakers=None)
    assert diarization_error_rate(two_speaker_call.turns, _as_tuples(auto)).der < 0.10


def test_two_speaker_mixture_over_a_phone_line(two_speaker_call) -> None:
    turns = diarize(telephone(two_speaker_call.audio))
    assert diarization_error_rate(two_speaker_call.turns, _as_tuples(turns)).der < 0.20


def test_silence_has_no_turns() -> None:
    assert diarize(np.zeros(16000 * 3, dtype=np.float32)) == []


# --- assigning words to speakers -------------------------------------------------------


def _segment(text: str, start: float, char_s: float, index: int = 0, raw: str | None = None) -> Segment:
    """A segment whose CJK characters are the words (punctuation has no word)."""
    words, t = [], start
    for offset, ch in enumerate(text):
        if ch in "，。？！":
            continue
        words.append(Word(ch, round(t, 3), round(t + char_s, 3), 0.9, offset))
        t += char_s
    return Segment(index, start, round(t, 3), text, raw if raw is not None else text, words)


def test_assign_speakers_splits_a_segment_where_the_speaker_changes() -> None:
    seg = _segment("你欠的钱今天必须还，我知道了", 10.0, 0.2, index=4)  # 9 chars, then 4 chars
    turns = [Turn(9.8, 11.8, "S0"), Turn(11.8, 13.0, "S1")]
    first, second = assign_speakers([seg], turns)
    assert (first.index, first.speaker, first.text) == (0, "S0", "你欠的钱今天必须还，")
    assert (second.index, second.speaker, second.text) == (1, "S1", "我知道了")
    assert [w.offset for w in second.words] == [0, 1, 2, 3]
    assert "".join(second.text[w.offset] for w in second.words) == "我知道了"
    assert first.start == seg.start and first.end == first.words[-1].end
    assert second.start == second.words[0].start
    assert second.end == seg.end
    assert first.raw_text + second.raw_text == seg.raw_text
    # the span API still maps text to times on each piece
    assert second.time_of_span(0, 2) == (second.words[0].start, second.words[1].end)


def test_assign_speakers_keeps_one_speaker_segments_whole_and_ignores_a_stray_character() -> None:
    seg = _segment("明天就去你单位找你", 0.0, 0.2)
    turns = [Turn(0.0, 0.75, "S0"), Turn(0.75, 0.9, "S1"), Turn(0.9, 2.0, "S0")]
    (only,) = assign_speakers([seg], turns)
    assert only.speaker == "S0" and only.text == seg.text


def test_assign_speakers_without_words_uses_time_overlap_and_reindexes() -> None:
    segs = [Segment(7, 0.0, 2.0, "喂", "喂"), Segment(9, 2.5, 5.0, "你好", "你好")]
    out = assign_speakers(segs, [Turn(0.0, 2.2, "S1"), Turn(2.4, 5.0, "S0")])
    assert [(s.index, s.speaker) for s in out] == [(0, "S1"), (1, "S0")]


def test_split_raw_text_when_normalisation_changed_its_length() -> None:
    seg = _segment("你好我是", 0.0, 0.5, raw="你好，我是")
    a, b = assign_speakers([seg], [Turn(0.0, 1.0, "S0"), Turn(1.0, 2.0, "S1")])
    assert (a.text, b.text) == ("你好", "我是")
    assert a.raw_text == "你好，我是" and b.raw_text == ""


# --- roles -----------------------------------------------------------------------------


def _call1_segments() -> list[Segment]:
    turns = json.loads((CALLS_DEV / "call1_16k.truth.json").read_text("utf-8"))["turns"]
    spk = {"A": "S0", "B": "S1"}
    return [
        Segment(i, t["start"], t["end"], t["text"], t["text"], speaker=spk[t["speaker"]])
        for i, t in enumerate(turns)
    ]


def test_roles_from_collection_vocabulary() -> None:
    roles = assign_roles(_call1_segments())
    assert roles == {"S0": "collector", "S1": "borrower"}
    evidence = role_evidence(_call1_segments())
    assert evidence["S0"].score > evidence["S1"].score
    assert any("自报机构身份" in r for r in evidence["S0"].reasons)


def test_roles_collector_introduces_himself_even_when_second() -> None:
    segs = [
        Segment(0, 0.0, 1.0, "喂？", "喂？", speaker="S0"),
        Segment(1, 1.5, 4.0, "你好，我是某某小贷公司的，找一下张三。", "", speaker="S1"),
        Segment(2, 4.5, 5.0, "我就是。", "", speaker="S0"),
    ]
    assert assign_roles(segs) == {"S1": "collector", "S0": "borrower"}


def test_roles_from_rule_hits_when_the_words_are_neutral() -> None:
    segs = [
        Segment(0, 0.0, 2.0, "你给我等着。", "", speaker="S0"),
        Segment(1, 2.5, 3.0, "什么？", "", speaker="S1"),
    ]
    assert assign_roles(segs) == {"S0": "unknown", "S1": "unknown"}
    assert assign_roles(segs, collector_hits={"S0": 2}) == {"S0": "collector", "S1": "borrower"}


@pytest.mark.parametrize(
    ("direction", "says_bill", "expected"),
    [
        # incoming: the borrower picks up and speaks first ("喂")
        ("incoming", "S1", {"S0": "borrower", "S1": "collector"}),
        # outgoing: the borrower calls back and the collector answers first
        ("outgoing", "S0", {"S0": "collector", "S1": "borrower"}),
        # one collection word alone is too weak
        (None, "S1", {"S0": "unknown", "S1": "unknown"}),
        (None, "S0", {"S0": "unknown", "S1": "unknown"}),
    ],
)
def test_roles_first_speaker_by_call_direction(
    direction: str | None, says_bill: str, expected: dict[str, str]
) -> None:
    segs = [
        Segment(0, 0.0, 1.0, "喂，你好。", "", speaker="S0"),
        Segment(1, 1.2, 3.0, "你好，你那边怎么说？", "", speaker="S1"),
        Segment(2, 3.5, 4.0, "上次说的事情。", "", speaker="S0"),
        Segment(3, 4.5, 6.0, "账单你看了吗？", "", speaker=says_bill),
    ]
    assert assign_roles(segs, direction=direction) == expected


def test_roles_unknown_when_evidence_is_weak() -> None:
    segs = [Segment(0, 0.0, 1.0, "喂。", "", speaker="S0"), Segment(1, 1.0, 2.0, "你好。", "", speaker="S1")]
    assert assign_roles(segs, direction="outgoing") == {"S0": "unknown", "S1": "unknown"}
    assert assign_roles([Segment(0, 0, 1, "好的。", "", speaker="S0")]) == {"S0": "unknown"}


def test_reviewer_override_wins_and_sets_the_other_party() -> None:
    segs = _call1_segments()
    assert assign_roles(segs, override={"S1": "collector"}) == {"S0": "borrower", "S1": "collector"}
    assert assign_roles(segs, override={"S0": "unknown"}) == {"S0": "unknown", "S1": "borrower"}
    with pytest.raises(ValueError, match="unknown role"):
        assign_roles(segs, override={"S0": "boss"})


def test_role_labels_and_apply_roles() -> None:
    assert ROLE_LABELS_ZH == {"collector": "催收方", "borrower": "借款人", "unknown": "未确认"}
    assert role_label(None) == "未确认"
    segs = apply_roles(_call1_segments(), {"S0": "collector"})
    assert {(s.speaker, s.role) for s in segs} == {("S0", "collector"), ("S1", "unknown")}


# --- DER -------------------------------------------------------------------------------


def test_der_perfect_swapped_and_missed() -> None:
    ref = [(0.0, 4.0, "A"), (5.0, 9.0, "B")]
    assert diarization_error_rate(ref, [(0.0, 4.0, "x"), (5.0, 9.0, "y")]).der == 0.0
    assert diarization_error_rate(ref, [(0.0, 4.0, "y"), (5.0, 9.0, "x")]).der == 0.0
    assert diarization_error_rate(ref, []).der == pytest.approx(1.0)


def test_der_confusion_false_alarm_and_collar() -> None:
    ref = [(0.0, 4.0, "A"), (5.0, 9.0, "B")]
    one_speaker = diarization_error_rate(ref, [(0.0, 4.0, "x"), (5.0, 9.0, "x")])
    assert one_speaker.confusion == pytest.approx(3.5)  # B's 4 s less the collars
    assert one_speaker.der == pytest.approx(0.5)
    late = diarization_error_rate(ref, [(0.2, 4.0, "x"), (5.0, 9.0, "y")], collar=0.25)
    assert late.der == 0.0  # inside the collar
    assert diarization_error_rate(
        ref, [(0.2, 4.0, "x"), (5.0, 9.0, "y")], collar=0.0
    ).missed == pytest.approx(0.2)
    fa = diarization_error_rate(ref, [(0.0, 4.0, "x"), (5.0, 9.0, "y"), (10.0, 11.0, "y")])
    assert fa.false_alarm == pytest.approx(1.0)


def test_channel_turns_speaker_is_the_channel(stereo_call: np.ndarray) -> None:
    turns = channel_turns(stereo_call)
    truth = _truth("call1_tel_stereo")
    for turn in turns:
        mid = (turn.start + turn.end) / 2
        ref = [spk for s, e, spk in truth if s - 0.3 <= mid <= e + 0.3]
        assert ref == [{"S0": "A", "S1": "B"}[turn.speaker]]


@pytest.mark.parametrize(
    ("value", "expected"), [("auto", None), ("AUTO", None), (None, None), ("2", 2), (3, 3)]
)
def test_parse_num_speakers(value, expected) -> None:
    assert parse_num_speakers(value) == expected


@pytest.mark.parametrize("value", ["0", "9", "two"])
def test_parse_num_speakers_rejects_bad_values(value: str) -> None:
    with pytest.raises(ValueError):
        parse_num_speakers(value)


def test_default_weights_are_resemblyzers_verified_file() -> None:
    from pipeline.speakers.encoder import WEIGHTS_SHA256, default_weights_path, sha256_of

    path = default_weights_path()
    assert path.name == "pretrained.pt" and sha256_of(path) == WEIGHTS_SHA256
    assert load_encoder().layers[0][0].shape == (40, 1024)
