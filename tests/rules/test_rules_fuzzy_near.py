"""Near-homophones of key terms (金针 → 经侦, 通讯怒 → 通讯录): matched, explained, scored lower."""

from __future__ import annotations

import dataclasses

import pytest

from pipeline.rules import RuleEngine, load_engine
from pipeline.rules.fuzzy import HOMOPHONE, NEAR, FuzzyNormalizer, sound_alikes
from pipeline.rules.near_pinyin import split_syllable, syllable_distance
from pipeline.rules.pack import FuzzyTerm


@pytest.mark.parametrize(
    ("a", "b", "cost"),
    [
        ("jin", "jing", 0.4), ("zhen", "zheng", 0.4), ("shi", "si", 0.4), ("zhi", "zi", 0.4), ("chu", "cu", 0.4),
        ("lai", "nai", 0.4), ("ming", "min", 0.4), ("an", "ang", 0.5), ("fa", "ha", 0.6), ("qi", "ji", 0.6),
        ("ru", "lu", 0.6), ("tong", "teng", 0.7), ("lian", "lan", 0.7), ("ji", "ju", 0.7), ("yan", "yuan", 0.7),
        ("zheng", "zen", 0.8), ("tong", "tong", 0.0),
        ("jian", "zhen", None), ("fa", "hua", None), ("wu", "yi", None), ("ma", "ba", None), ("lu", "ru", 0.6),
    ],
)
def test_syllable_distance_weights_the_known_confusions(a: str, b: str, cost: float | None) -> None:
    assert syllable_distance(a, b) == cost
    assert syllable_distance(b, a) == cost


def test_syllables_split_into_initial_and_final() -> None:
    assert split_syllable("zhuang") == ("zh", "uang")
    assert split_syllable("jing") == ("j", "ing")
    assert split_syllable("yuan") == ("", "üan") and split_syllable("an") == ("", "an")


def test_sound_alikes_use_main_readings() -> None:
    alikes = sound_alikes("经", 0.6)
    assert alikes["金"] == (0.4, "jin", "jing") and alikes["精"][0] == 0.0
    assert "技" not in sound_alikes("起", 0.4)  # ji is 0.6 from qi; 技's rare reading qi does not count
    assert sound_alikes("经", 0.0) == {}


@pytest.mark.parametrize(
    ("text", "heard", "term", "syllables"),
    [
        ("我们是金针大队的", "金针大队", "经侦大队", [("金", "经", "jin", "jing")]),
        ("爆你通讯怒", "通讯怒", "通讯录", [("怒", "录", "nu", "lu")]),
        ("你会被列为四信人", "四信人", "失信人", [("四", "失", "si", "shi")]),
    ],
)
def test_normalizer_rewrites_near_homophones_and_names_the_syllables(text, heard, term, syllables) -> None:
    norm = FuzzyNormalizer([FuzzyTerm("经侦大队"), FuzzyTerm("通讯录"), FuzzyTerm("失信人")], 0.6)
    shadow, (mark,) = norm.normalize(text)
    assert (mark.heard, mark.term, mark.kind) == (heard, term, NEAR)
    assert shadow[mark.start : mark.end] == term and len(shadow) == len(text)
    assert [(n.heard, n.term, n.heard_pinyin, n.term_pinyin) for n in mark.near] == syllables
    assert 0 < mark.distance <= 0.6


def test_same_pinyin_stays_a_homophone_match() -> None:
    (mark,) = FuzzyNormalizer([FuzzyTerm("通讯录")], 0.6).normalize("爆你通讯炉")[1]
    assert mark.kind == HOMOPHONE and mark.near == ()


@pytest.mark.parametrize(
    ("term", "text"),
    [
        ("征信", "真性"),  # two near syllables in a two-syllable term
        ("经侦大队", "金争大队"),  # two near syllables are allowed in four, but 0.8 > 0.6
        ("经侦", "金监"),  # jian/zhen changes both initial and final: not a near-homophone
        ("失信人", "是新人"),  # two same-pinyin characters of three: over the homophone budget
        ("法院", "发言"),  # yan/yuan (i/ü, 0.7) is over the default maximum
    ],
)
def test_near_matching_stays_within_its_budget(term: str, text: str) -> None:
    assert FuzzyNormalizer([FuzzyTerm(term)], 0.6).normalize(text) == (text, [])


def test_a_term_can_switch_near_matching_off_or_widen_it() -> None:
    assert FuzzyNormalizer([FuzzyTerm("通讯录", near=0.0)], 0.6).normalize("通讯怒")[1] == []
    assert FuzzyNormalizer([FuzzyTerm("法院", near=0.7)], 0.0).normalize("发言")[1][0].kind == NEAR


# The issue's targets. 发院/通讯炉/起速/师信 share the term's toneless pinyin (fa yuan, tong xun lu,
# qi su, shi xin): they were missed because 法院/起诉/失信人 were not key terms, and now flag as
# homophones. 金针 (jin/jing) is a true near-homophone of 经侦.
@pytest.mark.parametrize(
    ("exact", "heard", "category", "kind"),
    [
        ("我们是法院的，明天来找你", "我们是发院的，明天来找你", "IMPERSONATION", HOMOPHONE),
        ("我们是经侦的，你的案子已经立案了", "我们是金针的，你的案子已经立案了", "IMPERSONATION", NEAR),
        ("我们是经侦大队的", "我们是金针大队的", "IMPERSONATION", NEAR),
        ("我们要爆你通讯录", "我们要爆你通讯炉", "CONTACTS_BLAST", HOMOPHONE),
        ("我们要爆你通讯录", "我们要爆你通讯怒", "CONTACTS_BLAST", NEAR),
        ("不还钱就去起诉你", "不还钱就去起速你", "FALSE_LEGAL", HOMOPHONE),
        ("你马上会被列为失信人员", "你马上会被列为师信人员", "FALSE_LEGAL", HOMOPHONE),
        ("你马上会被列为失信人员", "你马上会被列为四信人员", "FALSE_LEGAL", NEAR),
        ("你再不还钱就要去坐牢了", "你再不还钱就要去坐脑了", "FALSE_LEGAL", NEAR),
        ("我们是市执行局的", "我们是市自行局的", "IMPERSONATION", NEAR),
        ("你已经进了黑名单", "你已经进了黑民单", "FALSE_LEGAL", NEAR),
    ],
)
def test_misheard_key_terms_flag_through_their_rules_at_a_lower_score(engine, exact, heard, category, kind) -> None:
    (sure,) = [f for f in engine.flag_text(exact) if f.category == category]
    (misheard,) = [f for f in engine.flag_text(heard) if f.category == category]
    assert not sure.fuzzy and misheard.fuzzy
    (term,) = misheard.explanation["fuzzy_terms"]
    assert term["kind"] == kind
    penalty = engine.settings.near_fuzzy_penalty if kind == NEAR else engine.settings.fuzzy_penalty
    assert misheard.score == pytest.approx(sure.score - penalty)
    if kind == NEAR:
        assert term["syllables"] and term["distance"] <= engine.settings.near_max_distance


def test_near_scores_below_homophone_below_exact(engine) -> None:
    scores = [engine.flag_text(f"我们要爆你{t}")[0].score for t in ("通讯录", "通讯炉", "通讯怒")]
    assert scores[0] > scores[1] > scores[2]
    assert engine.settings.near_fuzzy_penalty > engine.settings.fuzzy_penalty


def test_explanation_lists_the_near_syllables(engine) -> None:
    (flag,) = [f for f in engine.flag_text("我们是金针大队的") if f.category == "IMPERSONATION"]
    (term,) = flag.explanation["fuzzy_terms"]
    assert (term["heard"], term["term"], term["kind"]) == ("金针大队", "经侦大队", "near")
    assert term["syllables"] == [{"heard": "金", "term": "经", "heard_pinyin": "jin", "term_pinyin": "jing", "cost": 0.4}]


# Everyday words one near syllable (or a homophone) away from a key term, each after a word its
# `before` guard accepts: kept out by the term's exclude list, the syllable budget or the maximum.
@pytest.mark.parametrize(
    "text",
    [
        "一个老奶奶在路上走",  # 老奶 ~ 老赖 (n/l), after 个
        "你这个老奶奶真热心",
        "他们是卖金针菇的",  # 金针 ~ 经侦 (in/ing)
        "我们是经正规授权的催收机构",  # 经正 ~ 经侦 (en/eng)
        "我们是竞争对手",  # 竞争: 竞 same pinyin, 争 en/eng
        "学校里有清真餐厅",  # 清真: j/q
        "说句你的真心话",  # 真心 ~ 征信 (en/eng)
        "你私信我一下",  # 私信 ~ 失信 (s/sh)
        "我私信人家了",
        "我是新人，请多关照",  # 是新人: two same-pinyin characters of 失信人
        "贷款会极速到账",  # 极速 ~ 起诉 (j/q)
        "他们公司的技术很好",  # 技术 ~ 起诉: two near syllables
        "这是你的发言时间",  # 发言 ~ 法院: i/ü, over the maximum
        "你的重心放在工作上",  # 重心 ~ 征信: ong/eng, over the maximum
        "去购物中心逛逛",
        "忌日指的是亲人去世的日子",  # 是亲人 ~ 失信人: q/x, over the maximum
    ],
)
def test_everyday_near_words_do_not_flag(engine, text: str) -> None:
    assert engine.flag_text(text) == []


def test_near_matching_can_be_switched_off_in_settings() -> None:
    packs = load_engine().packs
    off = RuleEngine([dataclasses.replace(p, settings=dataclasses.replace(p.settings, near_max_distance=0.0)) for p in packs])
    assert off.flag_text("我们要爆你通讯怒") == []
    assert off.flag_text("我们要爆你通讯炉")[0].explanation["fuzzy_terms"][0]["kind"] == HOMOPHONE


def test_pack_reads_near_settings_and_rejects_a_bad_term_maximum(tmp_path) -> None:
    from pipeline.rules import PackError, load_pack

    header = (
        'name: near-pack\nversion: "0.1"\nlanguage: zh\n'
        "settings:\n  near_max_distance: 0.4\n  near_fuzzy_penalty: 0.25\n"
        "categories:\n  DEMO:\n    label: 演示\n    legal_basis: [PSL-42]\n    severity: 2\n"
        "fuzzy:\n  - term: 通讯录\n    near: 0.5\n{extra}"
        "rules:\n  - id: demo.a\n    category: DEMO\n    score: 0.5\n    phrases: [x]\n"
    )
    good = tmp_path / "good.yaml"
    good.write_text(header.format(extra=""), encoding="utf-8")
    pack = load_pack(good)
    assert (pack.settings.near_max_distance, pack.settings.near_fuzzy_penalty) == (0.4, 0.25)
    assert pack.fuzzy[0].near == 0.5
    bad = tmp_path / "bad.yaml"
    bad.write_text(header.format(extra="  - term: 派出所\n    near: -1\n"), encoding="utf-8")
    with pytest.raises(PackError) as info:
        load_pack(bad)
    assert [i.line for i in info.value.issues] == [15] and "near" in info.value.issues[0].zh
