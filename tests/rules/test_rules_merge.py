"""Flag merging: overlapping hits of one category become one flag; categories stay apart."""

from __future__ import annotations

from pipeline.rules.flag import Flag, merge_flags


def make(category: str, rule: str, start: int, end: int, text: str, score: float = 0.8, severity: int = 2) -> Flag:
    explanation = {"patterns": [{"rule": rule, "kind": "regex", "pattern": rule}], "matched": text[start:end],
                   "context": [], "gates": [], "fuzzy": False, "fuzzy_terms": [], "escalated_by": []}
    return Flag(category, [rule], start, end, text[start:end], severity, score, ["X"], explanation)


def test_overlapping_hits_of_one_category_merge() -> None:
    text = "明天上门催收人员已经出发"
    merged = merge_flags([make("HOME_WORK_VISIT", "a", 2, 6, text, 0.8), make("HOME_WORK_VISIT", "b", 4, 12, text, 0.9, 3)], text)
    (flag,) = merged
    assert flag.rules == ["b", "a"] and flag.rule == "b"  # best score first
    assert (flag.start, flag.end, flag.match) == (2, 12, text[2:12])
    assert flag.severity == 3 and flag.score == 0.9
    assert [p["rule"] for p in flag.explanation["patterns"]] == ["b", "a"]


def test_different_categories_and_separate_spans_stay_apart() -> None:
    text = "我是法院的，你再不还就坐牢，还要上门"
    flags = merge_flags(
        [make("IMPERSONATION", "i", 0, 4, text), make("FALSE_LEGAL", "f", 11, 13, text),
         make("FALSE_LEGAL", "g", 0, 3, text), make("HOME_WORK_VISIT", "h", 16, 18, text)],
        text,
    )
    assert [(f.category, f.rule) for f in flags] == [("FALSE_LEGAL", "g"), ("IMPERSONATION", "i"),
                                                      ("FALSE_LEGAL", "f"), ("HOME_WORK_VISIT", "h")]


def test_engine_merges_rules_that_hit_the_same_words(engine) -> None:
    text = "逾期这么久，我们的外访人员已经出发了"
    flags = [f for f in engine.flag_text(text) if f.category == "HOME_WORK_VISIT"]
    (flag,) = flags
    assert {"visit.shangmen", "visit.dispatched"} <= set(flag.rules)
    assert flag.match == text[flag.start : flag.end] and "外访人员已经出发" in flag.match


def test_to_dict_carries_every_field(engine) -> None:
    (flag,) = engine.flag_text("不还钱就爆你通讯录")
    data = flag.to_dict()
    for key in ("category", "rules", "rule", "start", "end", "match", "severity", "score", "legal_basis",
                "explanation", "segment_index", "start_s", "end_s", "speaker", "role", "speaker_unconfirmed"):
        assert key in data
    assert data["rule"] == "contacts.blast" and data["legal_basis"][0] == "PIPL-23"
    assert set(flag.compact()) == {"category", "rule", "start", "end", "match", "severity", "score"}
