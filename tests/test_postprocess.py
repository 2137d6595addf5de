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
