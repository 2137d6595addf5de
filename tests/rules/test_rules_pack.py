"""Rule packs: validation with line numbers, extra packs, finite triggers, the default pack itself."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from pipeline.errors import ConfigError
from pipeline.rules import DEFAULT_PACK, PackError, load_engine, load_pack
from pipeline.rules.matcher import trie_regex
from pipeline.rules.triggers import NotFinite, expand_trigger

HEADER = """\
name: test-pack
version: "0.1"
language: zh
categories:
  DEMO:
    label: 演示
    legal_basis: [PSL-42]
    severity: 2
rules:
"""


def write(tmp_path: Path, body: str, header: str = HEADER) -> Path:
    path = tmp_path / "pack.yaml"
    path.write_text(header + textwrap.dedent(body), encoding="utf-8")
    return path


def issues(path: Path, base: list | None = None) -> list[tuple[int, str]]:
    with pytest.raises(PackError) as info:
        load_pack(path, base=base or [])
    return [(i.line, i.zh) for i in info.value.issues]


def test_default_pack_is_valid_and_covers_the_taxonomy() -> None:
    pack = load_pack(DEFAULT_PACK)
    assert pack.name == "zh-collection" and len(pack.sha256) == 64
    expected = {"CONTACTS_BLAST", "THIRD_PARTY_CONTACT", "THIRD_PARTY_DISCLOSURE", "VIOLENCE_THREAT", "HOME_WORK_VISIT",
                "FALSE_LEGAL", "IMPERSONATION", "INSULT", "OBSCENE", "EXPOSURE", "FORCED_BORROW"}
    assert set(pack.categories) == expected
    assert {r.category for r in pack.rules} == expected
    assert all(c.legal_basis and c.label for c in pack.categories.values())
    assert any(r.tokens for r in pack.rules) and any(r.phrases for r in pack.rules) and any(r.regex for r in pack.rules)


def test_a_minimal_pack_loads(tmp_path: Path) -> None:
    pack = load_pack(write(tmp_path, """\
        - id: demo.one
          category: DEMO
          score: 0.7
          phrases: [演示词]
        """))
    assert [r.id for r in pack.rules] == ["demo.one"] and pack.rules[0].severity is None


@pytest.mark.parametrize(
    ("body", "line", "needle"),
    [
        ("- id: Bad Id\n  category: DEMO\n  score: 0.5\n  phrases: [x]\n", 10, "规则 id"),
        ("- id: demo.a\n  category: NOPE\n  score: 0.5\n  phrases: [x]\n", 11, "类别"),
        ("- id: demo.a\n  category: DEMO\n  score: 1.5\n  phrases: [x]\n", 12, "score"),
        ("- id: demo.a\n  category: DEMO\n  score: 0.5\n  severity: 4\n  phrases: [x]\n", 13, "severity"),
        ("- id: demo.a\n  category: DEMO\n  score: 0.5\n", 10, "至少需要"),
        ("- id: demo.a\n  category: DEMO\n  score: 0.5\n  regex: ['演示']\n", 10, "triggers"),
        ("- id: demo.a\n  category: DEMO\n  score: 0.5\n  triggers: [演]\n  regex:\n    - '(演示'\n", 15, "正则"),
        ("- id: demo.a\n  category: DEMO\n  score: 0.5\n  triggers: [演]\n  regex: ['演?']\n", 14, "空字符串"),
        ("- id: demo.a\n  category: DEMO\n  score: 0.5\n  triggers: [演]\n  regex: ['{{nope}}演']\n", 14, "宏"),
        ("- id: demo.a\n  category: DEMO\n  score: 0.5\n  phrases: [x]\n  context: ['@nope']\n", 14, "词表"),
        ("- id: demo.a\n  category: DEMO\n  score: 0.5\n  phrases: [x]\n  colour: red\n", 14, "未知字段"),
        ("- id: demo.a\n  category: DEMO\n  score: 0.5\n  triggers: ['演.*']\n  regex: ['演示']\n", 13, "有限"),
        ("- id: demo.a\n  category: DEMO\n  score: 0.5\n  triggers: [演]\n  tokens:\n    - [{ORTH: 演, OP: 'x'}]\n", 15, "spaCy"),
        ("- id: demo.a\n  category: DEMO\n  score: 0.5\n  phrases: [x]\n  gates: [nonsense]\n", 14, "闸门"),
    ],
)
def test_invalid_rules_are_reported_with_their_line(tmp_path: Path, body: str, line: int, needle: str) -> None:
    found = issues(write(tmp_path, body))
    assert any(n == line and needle in text for n, text in found), found


def test_every_problem_is_reported_not_only_the_first(tmp_path: Path) -> None:
    found = issues(write(tmp_path, "- id: demo.a\n  category: DEMO\n  score: 2\n  phrases: [x]\n- id: demo.a\n  category: X\n  score: 0.5\n  phrases: [y]\n"))
    assert {line for line, _ in found} >= {12, 14, 15}
    assert any("重复" in text for _, text in found)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nversion: 1\nrules:\n  - id: a\n   category: [unclosed\n", encoding="utf-8")
    ((line, text),) = issues(path)
    assert line == 5 and "YAML" in text


def test_pack_error_is_a_one_line_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_pack(write(tmp_path, "- id: Bad\n  category: DEMO\n  score: 0.5\n  phrases: [x]\n"))
    assert "\n" not in str(info.value) and "pack.yaml:10" in str(info.value)


def test_missing_file_is_a_pack_error(tmp_path: Path) -> None:
    assert issues(tmp_path / "absent.yaml")[0][1].startswith("无法读取")


def test_fuzzy_two_character_terms_need_a_guard(tmp_path: Path) -> None:
    header = HEADER.replace("rules:\n", "fuzzy:\n  - term: 老赖\n  - term: 通讯录\nrules:\n")
    found = issues(write(tmp_path, "- id: demo.a\n  category: DEMO\n  score: 0.5\n  phrases: [x]\n", header))
    assert found == [(10, found[0][1])] and "before" in found[0][1]


def test_extra_pack_adds_rules_to_existing_categories(tmp_path: Path) -> None:
    extra = tmp_path / "extra.yaml"
    extra.write_text(textwrap.dedent("""\
        name: my-extra
        version: "1"
        language: zh
        rules:
          - id: mine.shame_card
            category: EXPOSURE
            score: 0.8
            phrases: [欠债名片]
            requires: ['@debt']
        """), encoding="utf-8")
    engine = load_engine([extra])
    assert [p["name"] for p in engine.pack_info] == ["zh-collection", "my-extra"]
    assert all(len(p["sha256"]) == 64 for p in engine.pack_info)
    (flag,) = engine.flag_text("不还钱就给你印欠债名片")
    assert flag.rule == "mine.shame_card" and flag.explanation["patterns"][0]["pack"] == "my-extra"
    assert load_engine([extra]) is engine  # cached


def test_extra_pack_cannot_redefine_a_category_or_rule(tmp_path: Path) -> None:
    base = [load_pack(DEFAULT_PACK)]
    body = "- id: contacts.blast\n  category: INSULT\n  score: 0.5\n  phrases: [x]\n"
    header = HEADER.replace("DEMO:", "INSULT:")
    found = issues(write(tmp_path, body, header), base)
    assert any("已在其他规则包" in t for _, t in found) and any("重复" in t for _, t in found)


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("通讯录", {"通讯录"}),
        ("(?:打|砍)(?:断|掉)", {"打断", "打掉", "砍断", "砍掉"}),
        ("你(?:的)?家人", {"你家人", "你的家人"}),
        ("(?:你|您)(?!们)", {"你", "您"}),
        ("[一二]年", {"一年", "二年"}),
    ],
)
def test_finite_triggers_expand(pattern: str, words: set[str]) -> None:
    assert expand_trigger(pattern) == words


@pytest.mark.parametrize("pattern", ["演.*", "a+", "[^a]b"])
def test_unbounded_triggers_are_rejected(pattern: str) -> None:
    with pytest.raises(NotFinite):
        expand_trigger(pattern)


def test_trie_prefilter_finds_any_word() -> None:
    regex = trie_regex({"通讯录", "通讯", "爆", "上门催收"})
    assert regex is not None
    assert [m.group() for m in regex.finditer("要爆你通讯录，上门催收")] == ["爆", "通讯", "上门催收"]
    assert regex.search("今天天气很好") is None
