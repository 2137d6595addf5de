"""The model tier: a trained classifier over sentence embeddings, scoring every unit of a text.

A unit (sentence, clause run or window, ``pipeline.detect.units``) is flagged for a category when
its calibrated probability reaches that category's threshold (chosen on held-out folds of the
training corpus), or when it is very close to a user example (``--examples``). Gates
(``pipeline.detect.gates``) and roles apply as in the rule tier. Each flag explains itself: model
name, version and hash, score and threshold, and the nearest labelled corpus sentences.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from pipeline.detect.artifact import Artifact
from pipeline.detect.encoder import Encoder, features
from pipeline.detect.examples import NEG, ExampleSet
from pipeline.detect.gates import clause_gate, retelling
from pipeline.detect.lru import TextLRU
from pipeline.detect.units import SENTENCE_END, Unit, clauses, split_units
from pipeline.rules.flag import SPEAKER_UNCONFIRMED_ZH, Flag
from pipeline.rules.pack import Category

NEIGHBOURS = 3
_SCORED_MAX = 20_000  # unit texts whose features and probabilities are kept (an LRU)
_CLAUSE_GATES = ["negation", "question", "quotation", "perspective"]


def _unit_norm(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)


class ModelTier:
    """Scores units with the artefact's head; flags with explanations."""

    def __init__(self, artifact: Artifact, encoders: list[Encoder], categories: dict[str, Category],
                 examples: Sequence[ExampleSet] = ()) -> None:
        self.artifact = artifact
        self.encoders = encoders
        self.categories = categories
        self.codes = artifact.categories
        self.thresholds = artifact.thresholds()
        self.rule_id = artifact.rule_id
        self.bank = _unit_norm(artifact.arrays["bank_emb"])
        self.bank_labels = artifact.arrays["bank_labels"].astype(bool)
        self.bank_texts = [str(t) for t in artifact.arrays["bank_texts"]]
        self.example_similarity = float(artifact.meta.get("example_similarity", 0.9))
        self.examples = list(examples)
        texts = [t for s in self.examples for t in s.texts]
        self.example_texts = texts
        self.example_labels = [label for s in self.examples for label in s.labels]
        self.example_files = [s.path.name for s in self.examples for _ in s.texts]
        self.example_emb = _unit_norm(features(encoders, texts)) if texts else None
        self._scored: TextLRU[tuple[np.ndarray, np.ndarray]] = TextLRU(_SCORED_MAX)
        self._model_info = {"name": self.rule_id, "version": str(artifact.meta["version"]), "sha256": artifact.sha256,
                            "encoders": [e.spec.info() for e in encoders]}

    # ------------------------------------------------------------ scoring

    def prepare(self, texts: Sequence[str]) -> None:
        """Score every unit of ``texts`` in one batch (later ``flag_text`` calls find them scored)."""
        units = list(dict.fromkeys(u.text for t in texts for u in split_units(t)))
        if units:
            self.score(units)

    def score(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(features, calibrated probabilities) for unit texts; texts scored before come from the LRU."""
        scored = self._scored.get_many(texts, self._score_new)
        if not scored:
            return (np.zeros((0, sum(e.spec.dim for e in self.encoders)), np.float32),
                    np.zeros((0, len(self.codes)), np.float32))
        return np.vstack([x for x, _ in scored]), np.vstack([p for _, p in scored])

    def _score_new(self, texts: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        x = features(self.encoders, texts)
        return list(zip(x, self.artifact.probabilities(x, texts), strict=True))

    def clear_caches(self) -> None:
        """Forget every score and embedding (benchmarks time fresh sentences)."""
        self._scored.clear()
        for encoder in self.encoders:
            encoder.clear_cache()

    def sees_nothing(self, text: str, start: int, end: int, below: float) -> bool:
        """True when every unit overlapping ``text[start:end]`` scores below ``below`` in every category.

        A span no unit covers (too short for the model) is never judged: False.
        """
        units = [u.text for u in split_units(text) if u.start < end and start < u.end]
        if not units:
            return False
        _, probs = self.score(units)
        return float(probs.max()) < below

    def _neighbours(self, row: np.ndarray) -> list[dict[str, Any]]:
        sims = self.bank @ (row / max(float(np.linalg.norm(row)), 1e-9))
        top = np.argsort(-sims)[:NEIGHBOURS]
        return [{"text": self.bank_texts[i], "labels": [c for c, on in zip(self.codes, self.bank_labels[i], strict=True) if on] or [NEG],
                 "similarity": round(float(sims[i]), 3)} for i in top]

    def _example_votes(self, row: np.ndarray) -> tuple[dict[str, dict[str, Any]], bool]:
        """Categories whose user example is within the similarity threshold; and a NEG veto."""
        if self.example_emb is None:
            return {}, False
        sims = self.example_emb @ (row / max(float(np.linalg.norm(row)), 1e-9))
        best: dict[str, tuple[float, int]] = {}
        for i, s in enumerate(sims):
            label = self.example_labels[i]
            if s >= self.example_similarity and s > best.get(label, (-1.0, -1))[0]:
                best[label] = (float(s), i)
        veto = NEG in best and all(best[NEG][0] >= s for label, (s, _) in best.items() if label != NEG)
        votes = {label: {"text": self.example_texts[i], "label": label, "similarity": round(s, 3), "file": self.example_files[i]}
                 for label, (s, i) in best.items() if label != NEG}
        return votes, veto

    def _candidates(self, row: np.ndarray, probs: np.ndarray) -> dict[str, tuple[float, dict[str, Any] | None]]:
        votes, veto = self._example_votes(row)
        if veto:
            return {}
        out: dict[str, tuple[float, dict[str, Any] | None]] = {}
        for j, code in enumerate(self.codes):
            p = float(probs[j])
            if p >= self.thresholds[j] or code in votes:
                out[code] = (p, votes.get(code))
        return out

    # ------------------------------------------------------------ flags

    def flag_text(self, text: str, role: str | None = "collector") -> list[Flag]:
        """Model flags of one text (offsets in ``text``); ``role`` as in ``RuleEngine.flag_text``."""
        if role == "borrower" or not text.strip():
            return []
        units = split_units(text)
        if not units:
            return []
        x, probs = self.score([u.text for u in units])
        flags: list[Flag] = []
        for unit, row, p in zip(units, x, probs, strict=True):
            candidates = self._candidates(row, p)
            if not candidates or retelling(_sentence_of(text, unit)):
                continue
            flags.extend(self._judge(text, unit, row, candidates, role))
        return flags

    def _judge(self, text: str, unit: Unit, row: np.ndarray, candidates: dict[str, tuple[float, dict[str, Any] | None]],
               role: str | None) -> list[Flag]:
        spans = clauses(unit.text)
        blocked = [clause_gate(unit.text[s:e], text) for s, e in spans]
        start, end = unit.start, unit.end
        if any(blocked):
            kept = [span for span, gate in zip(spans, blocked, strict=True) if gate is None]
            if not kept:
                return []
            rest = "，".join(unit.text[s:e] for s, e in kept)
            rest_x, rest_p = self.score([rest])
            candidates = self._candidates(rest_x[0], rest_p[0])
            row = rest_x[0]
            start, end = unit.start + kept[0][0], unit.start + kept[-1][1]
        neighbours = self._neighbours(row) if candidates else []
        out = []
        for code, (p, example) in candidates.items():
            category = self.categories.get(code)
            if category is None:
                continue
            out.append(self._flag(text, start, end, category, p, example, neighbours, role))
        return out

    def _flag(self, text: str, start: int, end: int, category: Category, p: float, example: dict[str, Any] | None,
              neighbours: list[dict[str, Any]], role: str | None) -> Flag:
        threshold = float(self.thresholds[self.codes.index(category.code)])
        passed = list(_CLAUSE_GATES) + ["retelling"]
        unconfirmed, notes = False, []
        if role == "collector":
            passed.append("speaker")
        else:
            unconfirmed, notes = True, [SPEAKER_UNCONFIRMED_ZH]
        score = max(p, example["similarity"]) if example else p
        explanation: dict[str, Any] = {
            "patterns": [], "matched": text[start:end], "context": [], "gates": passed, "fuzzy": False,
            "fuzzy_terms": [], "escalated_by": [],
            "model": self._model_info, "score": round(p, 3), "threshold": round(threshold, 3),
            "neighbours": neighbours,
        }
        if example:
            explanation["examples"] = [example]
        return Flag(
            category=category.code, rules=[self.rule_id], start=start, end=end, match=text[start:end],
            severity=category.severity, score=round(min(score, 1.0), 2), legal_basis=list(category.legal_basis),
            explanation=explanation, label=category.label, role=role if role in ("collector", "borrower") else None,
            speaker_unconfirmed=unconfirmed, notes=notes,
        )


def _sentence_of(text: str, unit: Unit) -> str:
    left = 0
    for m in SENTENCE_END.finditer(text, 0, unit.start):
        left = m.end()
    m = SENTENCE_END.search(text, unit.end)
    return text[left : m.start() if m else len(text)]
