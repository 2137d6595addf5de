from pipeline.asr.base import DecodeOptions, RawPiece, RawSegment
from pipeline.asr.postprocess import clean_segments, dedupe_piece_loops

OPTS = DecodeOptions()


def seg(pieces: list[tuple[str, float, float]], **kw) -> RawSegment:
    raw = [RawPiece(t, a, b, 0.9) for t, a, b in pieces]
    return RawSegment(start=pieces[0][1], end=pieces[-1][2], text="".join(p[0] for p in pieces), pieces=raw, **kw)


def test_pieces_split_into_characters_with_interpolated_times() -> None:
    result = clean_segments([seg([(" 你", 1.0, 1.2), ("还钱,", 1.2, 1.8), ("老赖", 2.0, 2.4)])], OPTS)
    (s,) = result.segments
    assert s.text == "你还钱,老赖"
    assert [w.text for w in s.words] == ["你", "还", "钱", "老", "赖"]
    assert [w.offset for w in s.words] == [0, 1, 2, 4, 5]
    assert (s.words[1].start, s.words[1].end) == (1.2, 1.5)
    assert (s.words[2].start, s.words[2].end) == (1.5, 1.8)
    assert s.time_of_span(4, 6) == (2.0, 2.4)
    assert all(w.start <= w.end for w in s.words)


def test_offset_shifts_times_into_the_original_recording() -> None:
    result = clean_segments([seg([("喂", 0.5, 0.8)])], OPTS, offset=300.0)
    assert result.segments[0].words[0].start == 300.5


def test_traditional_output_is_simplified_and_raw_kept() -> None:
    (s,) = clean_segments([seg([("通訊", 0.0, 0.4), ("錄", 0.4, 0.6)])], OPTS).segments
    assert s.text == "通讯录"
    assert s.raw_text == "通訊錄"


def test_latin_runs_are_one_word() -> None:
    (s,) = clean_segments([seg([(" APP", 0.0, 0.4), ("里", 0.4, 0.6), (" 500", 0.6, 1.0), ("元", 1.0, 1.2)])], OPTS).segments
    assert [w.text for w in s.words] == ["APP", "里", "500", "元"]


def test_hallucination_and_silence_segments_are_dropped_and_reported() -> None:
    good = seg([("你好", 0.0, 0.5)])
    credit = seg([("字幕由Amara.org社区提供", 10.0, 12.0)])
    silent = seg([("嗯", 20.0, 21.0)], no_speech_prob=0.9, avg_logprob=-1.5)
    result = clean_segments([good, credit, silent], OPTS)
    assert [s.text for s in result.segments] == ["你好"]
    assert [d["reason"] for d in result.dropped] == ["hallucination_phrase", "no_speech_low_logprob"]


def test_repetition_loop_is_cut_to_two() -> None:
    pieces = [RawPiece("还钱", i * 0.5, i * 0.5 + 0.5, 0.5) for i in range(8)]
    kept = dedupe_piece_loops(pieces)
    assert [p.text for p in kept] == ["还钱", "还钱"]
    (s,) = clean_segments([RawSegment(0, 4, "还钱" * 8, pieces)], OPTS).segments
    assert s.text == "还钱还钱"


def test_words_squeezed_into_no_time_are_a_hallucination() -> None:
    speech = seg([("希望", 0.0, 0.52), ("你", 0.52, 0.72), ("还好用。", 0.72, 1.1)])
    tail = seg([("请", 3.1, 3.46)] + [("稍", 3.46, 3.46)] * 7 + [("\ufffd", 3.46, 3.46)], no_speech_prob=0.67, avg_logprob=-0.71)
    result = clean_segments([speech, tail], OPTS)
    assert [s.text for s in result.segments] == ["希望你还好用。"]
    assert result.dropped[0]["reason"] == "zero_duration_words"


def test_broken_byte_tokens_are_removed() -> None:
    (s,) = clean_segments([seg([("你好", 0.0, 0.5), ("\ufffd", 0.5, 0.6)])], OPTS).segments
    assert s.text == "你好"


def test_a_segment_is_split_at_a_long_pause() -> None:
    pieces = [("你好,", 0.0, 0.6), ("还钱。", 0.6, 1.2), ("我没钱", 3.0, 3.9)]
    parts = clean_segments([seg(pieces)], OPTS).segments
    assert [p.text for p in parts] == ["你好,还钱。", "我没钱"]
    assert [p.raw_text for p in parts] == ["你好,还钱。", "我没钱"]
    assert (parts[1].start, parts[1].end) == (3.0, 3.9)
    assert [w.offset for w in parts[1].words] == [0, 1, 2]
    assert parts[1].index == 1


def test_an_echo_of_the_prompt_is_dropped() -> None:
    echo = seg([("试试音,", 0.0, 0.4), ("使用简体中文。", 0.4, 1.2)])
    speech = seg([("我们有电话录音", 2.0, 3.0)])
    result = clean_segments([echo, speech], OPTS)
    assert [s.text for s in result.segments] == ["我们有电话录音"]
    assert result.dropped[0]["reason"] == "prompt_echo"
