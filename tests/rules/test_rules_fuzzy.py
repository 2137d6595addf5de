"""Homophone tolerance for Whisper's errors (通讯录→通讯路/通讯陆, 老赖→老来)."""

from __future__ import annotations

import pytest

from pipeline.rules.fuzzy import FuzzyNormalizer, homophones, toneless_pinyin
from pipeline.rules.pack import FuzzyTerm


def test_homophones_share_toneless_pinyin() -> None:
    assert {"路", "陆", "录", "鹿"} <= homophones("录")
    assert "来" in homophones("赖") and "讯" in homophones("迅")
    assert "猫" not in homophones("录")
    assert toneless_pinyin("通讯录") == toneless_pinyin("通讯路") == "tong xun lu"


@pytest.mark.parametrize(
    ("text", "heard", "term"),
    [
        ("我们要爆你通讯路", "通讯路", "通讯录"),
        ("发给你通讯陆里的人", "通讯陆", "通讯录"),
        ("同讯录里的人都会知道", "同讯录", "通讯录"),
        ("你这个老来", "老来", "老赖"),
        ("报到派出锁", "派出锁", "派出所"),
        ("成为失心被执行人", "失心被执行人", "失信被执行人"),
    ],
)
def test_normalizer_rewrites_near_homophones(text: str, heard: str, term: str) -> None:
    terms = [FuzzyTerm("通讯录"), FuzzyTerm("派出所"), FuzzyTerm("失信被执行人"),
             FuzzyTerm("老赖", before="你|个|种|是", exclude=("老来得子",))]
    shadow, marks = FuzzyNormalizer(terms).normalize(text)
    assert len(shadow) == len(text)
    (mark,) = marks
    assert (mark.heard, mark.term) == (heard, term)
    assert shadow[mark.start : mark.end] == term and text[mark.start : mark.end] == heard


@pytest.mark.parametrize("text", ["他老来得子，很高兴", "老来伴很重要", "通讯录", "通讯路由器坏了", "我们要通过审核"])
def test_normalizer_leaves_exact_words_and_excluded_look_alikes(text: str) -> None:
    terms = [FuzzyTerm("通讯录", exclude=("通讯路由",)), FuzzyTerm("老赖", before="你|个|种|是", exclude=("老来得子",))]
    assert FuzzyNormalizer(terms).normalize(text) == (text, [])


def test_two_substitutions_in_a_short_term_are_not_a_match() -> None:
    assert FuzzyNormalizer([FuzzyTerm("通讯录")]).normalize("同迅路") == ("同迅路", [])


def test_fuzzy_flag_is_tagged_and_scored_lower(engine) -> None:
    (exact,) = engine.flag_text("我们会把你的事发给你通讯录里的每个人")
    (fuzzy,) = engine.flag_text("我们会把你的事发给你通讯陆里的每个人")
    assert exact.category == fuzzy.category == "CONTACTS_BLAST"
    assert fuzzy.match == "发给你通讯陆" and fuzzy.start == exact.start and fuzzy.end == exact.end
    assert fuzzy.fuzzy and not exact.fuzzy
    assert fuzzy.score < exact.score
    assert fuzzy.explanation["fuzzy_terms"][0]["heard"] == "通讯陆"
    assert fuzzy.explanation["fuzzy_terms"][0]["term"] == "通讯录"


@pytest.mark.parametrize(("text", "category"), [("你这个老来，赶紧还钱", "INSULT"), ("不还钱就让你去做牢", "FALSE_LEGAL")])
def test_asr_homophones_still_flag(engine, text: str, category: str) -> None:
    flags = [f for f in engine.flag_text(text) if f.category == category]
    assert flags and flags[0].fuzzy


def test_everyday_homophones_do_not_flag(engine) -> None:
    assert engine.flag_text("他老来得子，全家都很高兴") == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("今天不还,我们就把你欠钱的事发给你通信路里的每一个人。", ["CONTACTS_BLAST"]),  # heard on calls_dev's stereo line
        ("你们是不是要爆我通信路？", []),  # the borrower's question stays unflagged
        ("这条通信路线很稳定", []),
    ],
)
def test_synonym_term_tolerates_its_homophones_too(text: str, expected: list[str]) -> None:
    from pipeline.rules import load_engine

    flags = load_engine().flag_text(text)
    assert [f.category for f in flags] == expected
    for flag in flags:
        assert flag.explanation.get("fuzzy") and flag.score < 0.9
