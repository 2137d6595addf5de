"""Gates: negation, the other party's question or quotation, the speaker's perspective and role."""

from __future__ import annotations

import pytest

from pipeline.rules import gates


def span_of(sentence: str, trigger: str) -> tuple[int, int]:
    start = sentence.index(trigger)
    return start, start + len(trigger)


@pytest.mark.parametrize(
    ("sentence", "trigger", "expected"),
    [
        ("我们不会爆你通讯录", "爆你通讯录", True),
        ("我们没有联系你的家人", "联系你的家人", True),
        ("我们绝不上门", "上门", True),
        ("我们不是要曝光你", "曝光你", True),
        ("我们暂时不上门", "上门", True),
        ("上门是不可能的", "上门", True),
        ("别怪我们上门", "上门", False),  # pseudo-negation: a threat
        ("不要逼我们上门", "上门", False),
        ("不要以为我们不敢上门", "上门", True),  # "不敢" right before the trigger still negates
        ("你没有按时还款我们就上门", "上门", False),  # the negation sits in the condition
        ("你再不还钱，我们就上门", "上门", False),
        ("不然我们就上门", "上门", False),
        ("你不会去借吗？", "去借", False),  # rhetorical question
        ("我们不会，明天就上门", "上门", False),  # a comma ends the negation's scope
    ],
)
def test_negation(sentence: str, trigger: str, expected: bool) -> None:
    assert gates.negated(sentence, *span_of(sentence, trigger)) is expected


@pytest.mark.parametrize(
    ("sentence", "trigger", "expected"),
    [
        ("你们是不是要爆我通讯录？", "爆我通讯录", True),
        ("你们会上门吗？", "上门", True),
        ("欠钱不还会坐牢吗？", "坐牢", True),
        ("我会坐牢吗？", "坐牢", True),
        ("你是想坐牢吗？", "坐牢", False),  # rhetorical, aimed at "you"
        ("要不要我们上门找你？", "上门", False),
        ("你还要不要脸？", "要不要脸", False),
        ("我们明天上门", "上门", False),  # not a question
        ("信不信我们上门", "上门", False),
        ("我是法院的，你知道吗？", "法院", False),  # the question is another clause
    ],
)
def test_borrower_question(sentence: str, trigger: str, expected: bool) -> None:
    assert gates.borrower_question(sentence, *span_of(sentence, trigger)) is expected


def test_question_looks_for_the_speaker_in_the_whole_turn() -> None:
    sentence = "你是骗子吗？"
    assert not gates.borrower_question(sentence, *span_of(sentence, "骗子"))
    assert gates.borrower_question(sentence, *span_of(sentence, "骗子"), utterance=sentence + "我怎么知道你是谁")


@pytest.mark.parametrize(
    ("sentence", "trigger", "expected"),
    [
        ("他们说要爆我通讯录", "爆我通讯录", True),
        ("催收昨天扬言要上门", "上门", True),
        ("他说，要去单位闹", "去单位", True),
        ("对方说“明天就上门”", "上门", True),
        ("我跟你说，明天就上门", "上门", False),  # 跟你说 is the collector speaking
        ("你刚才说你没钱，那就去找亲戚借", "找亲戚借", False),  # the report ended a clause earlier
        ("我们经理说了明天上门", "上门", False),
    ],
)
def test_reported_speech(sentence: str, trigger: str, expected: bool) -> None:
    assert gates.reported_speech(sentence, *span_of(sentence, trigger)) is expected


@pytest.mark.parametrize(
    ("sentence", "trigger", "expected"),
    [
        ("你们爆了我的通讯录", "通讯录", True),
        ("你们打电话到我单位", "打电话到", True),
        ("你们爆通讯录我就去投诉", "爆通讯录", True),
        ("你们催收上门是违法的", "上门", True),
        ("我们已经联系了你们公司的人事", "联系了", False),
        ("我的同事明天去你家", "去你家", False),
        ("我找你家人谈谈", "找你家人", False),
    ],
)
def test_borrower_perspective(sentence: str, trigger: str, expected: bool) -> None:
    assert gates.borrower_perspective(sentence, *span_of(sentence, trigger)) is expected


def test_engine_records_the_gates_passed(engine) -> None:
    (flag,) = engine.flag_text("不还钱就爆你通讯录")
    assert flag.explanation["gates"] == ["negation", "question", "quotation", "perspective", "speaker"]


@pytest.mark.parametrize(
    "text",
    ["我们不会爆你通讯录", "你们是不是要爆我通讯录？", "他们说要爆我通讯录", "你们爆了我的通讯录，我要报警"],
)
def test_engine_drops_gated_hits(engine, text: str) -> None:
    assert engine.flag_text(text) == []


def test_speaker_gate_by_role(engine) -> None:
    text = "不还钱我们就上门"
    (as_collector,) = engine.flag_text(text, role="collector")
    assert not as_collector.speaker_unconfirmed and as_collector.role == "collector"
    assert engine.flag_text(text, role="borrower") == []
    (unknown,) = engine.flag_text(text, role=None)
    assert unknown.speaker_unconfirmed and unknown.role is None
    assert "说话人未确认" in unknown.notes and "speaker" not in unknown.explanation["gates"]
