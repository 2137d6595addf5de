"""The rule engine: packs in, ``Flag``s out (with offsets, and times for transcript segments)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pipeline.rules import gates
from pipeline.rules.flag import SPEAKER_UNCONFIRMED_ZH, Flag, flag_segments_with, merge_flags
from pipeline.rules.fuzzy import NEAR, FuzzyMark, FuzzyNormalizer
from pipeline.rules.matcher import Hit, RuleMatcher
from pipeline.rules.pack import Category, Rule, RulePack
from pipeline.transcript import Segment

ROLES = ("collector", "borrower")
_MAX_CONTEXT_BOOSTS = 3


def _alternation(words: Iterable[str]) -> re.Pattern[str] | None:
    words = sorted(set(words), key=len, reverse=True)
    return re.compile("|".join(re.escape(w) for w in words)) if words else None


def _union(patterns: Iterable[str]) -> re.Pattern[str] | None:
    patterns = list(patterns)
    return re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None


def _fuzzy_term(mark: FuzzyMark) -> dict[str, Any]:
    """A rewritten span as the explanation records it; near matches list their near syllables."""
    entry: dict[str, Any] = {"heard": mark.heard, "term": mark.term, "start": mark.start, "end": mark.end, "kind": mark.kind}
    if mark.kind == NEAR:
        entry["distance"] = mark.distance
        entry["syllables"] = [n.as_dict() for n in mark.near]
    return entry


@dataclass(frozen=True)
class _CompiledRule:
    rule: Rule
    category: Category
    gates: tuple[str, ...]
    context: re.Pattern[str] | None
    requires: re.Pattern[str] | None
    exclude: re.Pattern[str] | None
    exclude_sentence: re.Pattern[str] | None
    escalate: re.Pattern[str] | None


class RuleEngine:
    """Runs the rules of one or more packs; the first pack's settings apply."""

    def __init__(self, packs: list[RulePack]) -> None:
        if not packs:
            raise ValueError("at least one rule pack is needed")
        self.packs = packs
        self.settings = packs[0].settings
        self.categories: dict[str, Category] = {code: c for p in packs for code, c in p.categories.items()}
        self.rules: list[Rule] = [rule for p in packs for rule in p.rules]
        self._compiled = [self._compile(rule) for rule in self.rules]
        self._fuzzy = FuzzyNormalizer([term for p in packs for term in p.fuzzy], self.settings.near_max_distance)
        self._matcher = RuleMatcher(self.rules)

    @property
    def pack_info(self) -> list[dict[str, str]]:
        """Name, version, sha256 (and path) of every loaded pack: recorded in every output."""
        return [p.info() for p in self.packs]

    def _compile(self, rule: Rule) -> _CompiledRule:
        category = self.categories[rule.category]
        return _CompiledRule(
            rule=rule,
            category=category,
            gates=rule.gates if rule.gates is not None else category.gates,
            context=_alternation(rule.context),
            requires=_alternation(rule.requires),
            exclude=_union(rule.exclude),
            exclude_sentence=_union(rule.exclude_sentence),
            escalate=_alternation(rule.escalate_words),
        )

    def flag_text(self, text: str, role: str | None = "collector") -> list[Flag]:
        """Flags of one text (one utterance or line), in character offsets of ``text``.

        ``role``: "collector" (conduct flags kept), "borrower" (conduct flags dropped), None
        (speaker unknown: kept, marked ``speaker_unconfirmed``).
        """
        shadow, marks = self._fuzzy.normalize(text)
        flags = [f for hit in self._matcher.find(shadow) if (f := self._judge(hit, text, shadow, marks, role))]
        return merge_flags(flags, text) if len(flags) > 1 else flags

    def flag_segments(self, segments: list[Segment]) -> list[Flag]:
        """Flags of transcript segments, each with segment index, start/end seconds, speaker and role."""
        return flag_segments_with(self.flag_text, segments)

    def _judge(self, hit: Hit, text: str, shadow: str, marks: list[FuzzyMark], role: str | None) -> Flag | None:
        compiled = self._compiled[hit.rule_index]
        rule, category = compiled.rule, compiled.category
        window_start = max(0, hit.start - self.settings.context_window)
        window_end = min(len(shadow), hit.end + self.settings.context_window)
        window = shadow[window_start:window_end]
        sentence = shadow[hit.sentence_start : hit.sentence_end]
        s, e = hit.start - hit.sentence_start, hit.end - hit.sentence_start

        if compiled.requires is not None and not compiled.requires.search(window):
            return None
        if compiled.exclude is not None:
            for m in compiled.exclude.finditer(window):
                if window_start + m.start() < hit.end and window_start + m.end() > hit.start:
                    return None
        if compiled.exclude_sentence is not None and compiled.exclude_sentence.search(sentence):
            return None

        passed: list[str] = []
        checks = {
            "negation": lambda: gates.negated(sentence, s, e, self.settings.negation_window),
            "question": lambda: gates.borrower_question(sentence, s, e, shadow),
            "quotation": lambda: gates.reported_speech(sentence, s, e),
            "perspective": lambda: gates.borrower_perspective(sentence, s, e),
        }
        for name, blocked in checks.items():
            if name in compiled.gates:
                if blocked():
                    return None
                passed.append(name)

        unconfirmed = False
        notes: list[str] = []
        if "speaker" in compiled.gates and category.conduct:
            if role == "borrower":
                return None
            if role == "collector":
                passed.append("speaker")
            else:
                unconfirmed = True
                notes.append(SPEAKER_UNCONFIRMED_ZH)

        context = list(dict.fromkeys(m.group() for m in compiled.context.finditer(window))) if compiled.context else []
        score = rule.score + self.settings.context_boost * min(len(context), _MAX_CONTEXT_BOOSTS)
        fuzzy_terms = []
        if text[hit.start : hit.end] != shadow[hit.start : hit.end]:
            fuzzy_terms = [_fuzzy_term(m) for m in marks if m.start < hit.end and m.end > hit.start]
        if any(t["kind"] == NEAR for t in fuzzy_terms):
            score -= self.settings.near_fuzzy_penalty
        elif fuzzy_terms:
            score -= self.settings.fuzzy_penalty
        score = round(min(score, 1.0), 2)
        if score < self.settings.min_score:
            return None

        severity = rule.severity or category.severity
        escalated_by = list(dict.fromkeys(m.group() for m in compiled.escalate.finditer(window))) if compiled.escalate else []
        if escalated_by:
            severity = max(severity, rule.escalate_severity)

        explanation: dict[str, Any] = {
            "patterns": [{"rule": rule.id, "kind": hit.kind, "pattern": hit.pattern, "pack": rule.pack}],
            "matched": text[hit.start : hit.end],
            "context": context,
            "gates": passed,
            "fuzzy": bool(fuzzy_terms),
            "fuzzy_terms": fuzzy_terms,
            "escalated_by": escalated_by,
            "base_score": rule.score,
        }
        return Flag(
            category=category.code,
            rules=[rule.id],
            start=hit.start,
            end=hit.end,
            match=text[hit.start : hit.end],
            severity=severity,
            score=score,
            legal_basis=list(category.legal_basis),
            explanation=explanation,
            label=category.label,
            role=role if role in ROLES else None,
            speaker_unconfirmed=unconfirmed,
            notes=notes,
        )
