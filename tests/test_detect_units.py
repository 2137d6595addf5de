"""What the model tier scores (sentences, packed clauses, windows) and its clause gates: no model needed."""

from __future__ import annotations

import pytest

from pipeline.detect.gates import clause_gate, retelling
from pipeline.detect.units import MAX_UNIT, WINDOW, clauses, split_units


def test_sentences_become_units_with_offsets():
    text = "你好，是李明吗？我是某某金融的，你的借款已经逾期了。"
    units = split_units(text)
    assert [u.text for u in units] == ["你好，是李明吗", "我是某某金融的，你的借款已经逾期了"]
    assert all(text[u.start : u.end] == u.text for u in units)


def test_long_unpunctuated_run_becomes_overlapping_windows():
    text = "我跟你说你这个钱今天要是再不还的话我们明天就安排人到你老家去找你爸妈聊聊顺便把你的事情跟村里的人都讲一讲"
    units = split_units(text)
    assert len(units) > 1 and all(len(u.text) <= WINDOW for u in units)
    assert units[0].start == 0 and units[-1].end == len(text)
    assert all(b.start < a.end for a, b in zip(units, units[1:], strict=False))  # they overlap


def test_long_punctuated_sentence_is_packed_by_clause():
    text = "今天下午六点前不还，我们就把你欠钱的事发给你通讯录里的每一个人，还有你的同事你的领导你的老婆孩子全部都要知道"
    units = split_units(text)
    assert all(len(u.text) <= MAX_UNIT for u in units) and len(units) >= 2


def test_short_units_are_left_to_the_rules():
    assert split_units("你好") == [] and split_units("喂？嗯。") == []


def test_clauses():
    assert clauses("我们不是吓唬你，明天就去你家") == [(0, 7), (8, 14)]


@pytest.mark.parametrize(("clause", "gate"), [
    ("我们不会联系你家人", "negation"),
    ("不做外访", "negation"),
    ("你们是不是要爆我通讯录", "question"),
    ("他们说要去我单位", "quotation"),
    ("你们爆了我的通讯录", "perspective"),
    ("不还钱就爆你通讯录", None),
    ("不要以为我们不敢去你家", None),  # the negation is part of the threat
    ("你信不信我们去你家", None),  # a threatening question
    ("你说你是不是老赖", None),  # "你说" as the collector's lead-in, not reported speech
    ("你不接电话我们就打给你爸妈", None),  # a condition, not a negation of the deed
])
def test_clause_gates(clause, gate):
    assert clause_gate(clause, clause) == gate


def test_retelling():
    assert retelling("新闻说有个催收公司因为爆通讯录被判了")
    assert not retelling("你再不还，我们就爆你通讯录")
    assert not retelling("新闻你看了吧，我们明天就去找你家人")  # a deed aimed at "you"
