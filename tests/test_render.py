import json

from pipeline.render import write_all
from pipeline.render.writers import format_timestamp
from pipeline.transcript import ModelInfo, Segment, SourceInfo, Transcript, Word


def sample_transcript() -> Transcript:
    words = [Word("你", 1.0, 1.2, 0.9, 0), Word("好", 1.2, 1.5, 0.8, 1)]
    return Transcript(
        source=SourceInfo("a.wav", "ab" * 32, 10, 3723.5, 1, 8000, "pcm_s16le", "wav"),
        model=ModelInfo("whisper-base", "cd" * 32, "faster-whisper"),
        segments=[
            Segment(0, 1.0, 1.5, "你好", "你好", words, speaker="S0", role="collector"),
            Segment(1, 3661.25, 3662.0, "<script>", "<script>", []),
        ],
        tool_version="0.1.0",
        created="2026-11-29T00:00:00+00:00",
    )


def test_timestamps() -> None:
    assert format_timestamp(3661.25) == "01:01:01.250"
    assert format_timestamp(3661.25, ",") == "01:01:01,250"


def test_all_writers(tmp_path) -> None:
    paths = write_all(sample_transcript(), tmp_path, "call")
    assert sorted(p.name for p in paths) == ["call.json", "call.srt", "call.txt", "call.vtt"]
    srt = (tmp_path / "call.srt").read_text(encoding="utf-8")
    assert srt.startswith("1\n00:00:01,000 --> 00:00:01,500\n[催收方] 你好\n")
    vtt = (tmp_path / "call.vtt").read_text(encoding="utf-8")
    assert vtt.startswith("WEBVTT\n") and "01:01:01.250 --> 01:01:02.000" in vtt
    txt = (tmp_path / "call.txt").read_text(encoding="utf-8")
    assert "[00:00:01.000 --> 00:00:01.500] [催收方] 你好" in txt
    assert "机器转写，仅供参考，以录音原件为准" in txt
    assert not list(tmp_path.glob(".*.tmp"))


def test_json_round_trip(tmp_path) -> None:
    write_all(sample_transcript(), tmp_path, "call", ("json",))
    data = json.loads((tmp_path / "call.json").read_text(encoding="utf-8"))
    assert data["schema"] == "callproof.transcript/1"
    back = Transcript.from_dict(data)
    assert back == sample_transcript()
    assert back.segments[0].time_of_span(0, 2) == (1.0, 1.5)
