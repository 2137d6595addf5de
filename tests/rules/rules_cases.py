"""Assertions shared by the per-category tables (presidio style: text -> expected span)."""

from __future__ import annotations

from pipeline.rules import Flag, RuleEngine


def flags_of(engine: RuleEngine, text: str, category: str, role: str | None = "collector") -> list[Flag]:
    return [f for f in engine.flag_text(text, role=role) if f.category == category]


def assert_flagged(engine: RuleEngine, text: str, category: str, fragment: str) -> None:
    """``category`` fires, its span is exact text, and one of its matches contains ``fragment``."""
    found = flags_of(engine, text, category)
    assert found, f"{category} not flagged in {text!r}; got {[(f.category, f.match) for f in engine.flag_text(text)]}"
    for flag in found:
        assert text[flag.start : flag.end] == flag.match
        assert flag.rules and flag.rule == flag.rules[0]
        assert 1 <= flag.severity <= 3 and 0 < flag.score <= 1
        assert flag.legal_basis
    assert any(fragment in f.match for f in found), f"{fragment!r} not in {[f.match for f in found]} ({text!r})"


def assert_not_flagged(engine: RuleEngine, text: str, category: str) -> None:
    found = flags_of(engine, text, category)
    assert not found, f"{category} wrongly flagged in {text!r}: {[(f.rules, f.match) for f in found]}"
