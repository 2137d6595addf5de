"""Finds rule hits: a cheap trigger prefilter, then spaCy (SpanRuler + regexes) on candidate sentences.

spaCy's ``blank("zh")`` with the char segmenter makes every character a token, so character
offsets, token offsets and Whisper's per-character word times line up one to one. Phrase and
token patterns run in a ``SpanRuler`` writing overlapping spans to ``doc.spans``; regexes run on
the sentence text and are mapped back with ``doc.char_span`` into the same span group.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from pipeline.rules.pack import Rule

SPANS_KEY = "callproof"
_WHITESPACE = re.compile(r"\s")
SENTENCE_END = re.compile(r"[。！？!?；;…\n]+")
_ZH_CONFIG = {"nlp": {"tokenizer": {"segmenter": "char"}}}


@lru_cache(maxsize=1)
def blank_zh() -> Language:
    """A shared blank Chinese pipeline (char segmenter: no jieba/pkuseg, no download)."""
    return spacy.blank("zh", config=_ZH_CONFIG)


@dataclass(frozen=True)
class Hit:
    rule_index: int
    kind: str  # phrase | tokens | regex
    pattern: str
    start: int  # offsets in the whole text unit
    end: int
    sentence_start: int
    sentence_end: int


def trie_regex(words: set[str]) -> re.Pattern[str] | None:
    """One regex that finds any of ``words``; a word that is a prefix of another ends the branch."""
    trie: dict[str, Any] = {}
    for word in sorted(words, key=len):
        node = trie
        for ch in word:
            if "" in node:
                break
            node = node.setdefault(ch, {})
        else:
            node.clear()
            node[""] = {}

    def build(node: dict[str, Any]) -> str:
        if "" in node:
            return ""
        alts = [re.escape(ch) + build(child) for ch, child in sorted(node.items())]
        return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"

    return re.compile(build(trie)) if trie else None


def _extensions(ordered: list[str], word: str) -> list[str]:
    """The words of sorted ``ordered`` that start with ``word`` (itself included)."""
    start = end = bisect.bisect_left(ordered, word)
    while end < len(ordered) and ordered[end].startswith(word):
        end += 1
    return ordered[start:end]


def _case_variants(word: str) -> set[str]:
    return {word, word.lower(), word.upper()} if any(c.isascii() for c in word) else {word}


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence; the end includes its closing punctuation."""
    spans, start = [], 0
    for m in SENTENCE_END.finditer(text):
        if m.end() > start:
            spans.append((start, m.end()))
        start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


class RuleMatcher:
    """Compiled rules of all loaded packs."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = rules
        self.nlp = spacy.blank("zh", config=_ZH_CONFIG)
        # Two rulers writing to one span group: token patterns cost a Python-level pass over
        # every token, so they run only where one of their triggers is.
        self._phrase_ruler = self.nlp.add_pipe(
            "span_ruler", name="phrase_ruler",
            config={"spans_key": SPANS_KEY, "phrase_matcher_attr": "LOWER", "validate": True, "overwrite": False},
        )
        self._token_ruler = self.nlp.add_pipe(
            "span_ruler", name="token_ruler", config={"spans_key": SPANS_KEY, "validate": True, "overwrite": False}
        )
        phrase_patterns: list[dict[str, Any]] = []
        token_patterns: list[dict[str, Any]] = []
        self._pattern_text: dict[str, tuple[int, str, str]] = {}
        triggers: set[str] = set()
        phrase_words: set[str] = set()
        token_words: set[str] = set()
        regex_triggers: dict[str, set[int]] = {}  # trigger word -> indices of regex rules
        self._regexes: dict[int, list[re.Pattern[str]]] = {}
        for index, rule in enumerate(rules):
            for j, phrase in enumerate(rule.phrases):
                key = f"{index}:p{j}"
                phrase_patterns.append({"label": rule.category, "pattern": phrase, "id": key})
                self._pattern_text[key] = (index, "phrase", phrase)
                phrase_words |= _case_variants(phrase)
            for j, tokens in enumerate(rule.tokens):
                key = f"{index}:t{j}"
                token_patterns.append({"label": rule.category, "pattern": list(tokens), "id": key})
                self._pattern_text[key] = (index, "tokens", repr(list(tokens)))
            for j, pattern in enumerate(rule.regex):
                self._pattern_text[f"{index}:r{j}"] = (index, "regex", pattern)
            rule_triggers = {v for t in rule.triggers for v in _case_variants(t)}
            triggers |= rule_triggers
            if rule.tokens:
                token_words |= rule_triggers
            if rule.regex:
                self._regexes[index] = [re.compile(p) for p in rule.regex]
                for word in rule_triggers:
                    regex_triggers.setdefault(word, set()).add(index)
        self._phrase_ruler.add_patterns(phrase_patterns)  # type: ignore[attr-defined]
        self._token_ruler.add_patterns(token_patterns)  # type: ignore[attr-defined]
        triggers |= phrase_words
        self._prefilter = trie_regex(triggers)
        # In a candidate sentence the prefilter is run again from every hit + 1 (overlapping
        # hits); each hit is the shortest trigger starting there and stands for every longer
        # word it is a prefix of, so it selects the rulers and regex rules of all those words.
        ordered = sorted(triggers)
        self._needs: dict[str, tuple[bool, bool, frozenset[int]]] = {}
        for word in triggers:
            longer = _extensions(ordered, word)
            self._needs[word] = (
                any(w in phrase_words for w in longer),
                any(w in token_words for w in longer),
                frozenset(i for w in longer for i in regex_triggers.get(w, ())),
            )

    def _make_doc(self, text: str) -> Doc:
        """What the char segmenter makes (one token per character), built directly when the text
        has no whitespace: the tokenizer's alignment step costs more than the matching."""
        if _WHITESPACE.search(text):
            return self.nlp.make_doc(text)
        return Doc(self.nlp.vocab, words=list(text), spaces=[False] * len(text))

    def candidate_sentences(self, text: str) -> list[tuple[int, int]]:
        """Sentences holding at least one trigger; the others never reach a rule."""
        if self._prefilter is None:
            return []
        first = self._prefilter.search(text)
        if first is None:
            return []
        spans = sentence_spans(text)
        starts = [s for s, _ in spans]
        chosen = {bisect.bisect_right(starts, m.start()) - 1 for m in self._prefilter.finditer(text, first.start())}
        return [spans[i] for i in sorted(chosen) if i >= 0]

    def _what_to_run(self, sentence: str) -> tuple[bool, bool, set[int]]:
        """Whether the phrase / token rulers can match in ``sentence``, and which regex rules."""
        use_phrases = use_tokens = False
        regex_rules: set[int] = set()
        search = self._prefilter.search  # type: ignore[union-attr]
        m = search(sentence)
        while m is not None:
            phrase, token, rules = self._needs[m.group()]
            use_phrases, use_tokens = use_phrases or phrase, use_tokens or token
            regex_rules |= rules
            m = search(sentence, m.start() + 1)
        return use_phrases, use_tokens, regex_rules

    def find(self, text: str) -> list[Hit]:
        """Every raw hit (before gates) in ``text``, in text offsets."""
        hits: list[Hit] = []
        for s_start, s_end in self.candidate_sentences(text):
            sentence = text[s_start:s_end]
            use_phrases, use_tokens, regex_rules = self._what_to_run(sentence)
            found = [
                (index, j, m.start(), m.end())
                for index in sorted(regex_rules)
                for j, regex in enumerate(self._regexes[index])
                for m in regex.finditer(sentence)
            ]
            if not (found or use_phrases or use_tokens):
                continue  # only regex triggers here, and no regex matched: spaCy has nothing to do
            doc = self._make_doc(sentence)
            if use_phrases:
                doc = self._phrase_ruler(doc)
            if use_tokens:
                doc = self._token_ruler(doc)
            if SPANS_KEY not in doc.spans:
                doc.spans[SPANS_KEY] = []
            group = doc.spans[SPANS_KEY]
            for index, j, start, end in found:
                span = doc.char_span(start, end, label=self.rules[index].category, span_id=f"{index}:r{j}",
                                     alignment_mode="expand")
                if span is not None:
                    group.append(span)
            for span in group:
                index, kind, pattern = self._pattern_text[span.id_]
                hits.append(Hit(index, kind, pattern, s_start + span.start_char, s_start + span.end_char, s_start, s_end))
        return hits
