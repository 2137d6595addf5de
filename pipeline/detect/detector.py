"""``Detector``: the rule tier and the model tier behind one interface, with one merge path.

Like presidio's AnalyzerEngine over pattern and model recognizers: both tiers return ``Flag``s for a
text, the retelling gate (``pipeline.rules.gates.retelling``) applies to both — ``--detect rules`` is
the rule engine's flags less those in a retold sentence — and overlapping flags of one category are merged
(``merge_flags``), so a sentence both tiers catch is one flag that lists the rule and the model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipeline.detect.gates import retelling
from pipeline.detect.units import SENTENCE_END
from pipeline.rules.flag import Flag, flag_segments_with, merge_flags

if TYPE_CHECKING:
    from pipeline.detect.model_tier import ModelTier
    from pipeline.rules.engine import RuleEngine
    from pipeline.transcript import Segment

MODES = ("rules", "model", "both")


class Detector:
    """Runs the enabled tiers; the rule engine always supplies categories (labels, severity, legal basis)."""

    def __init__(self, rules: RuleEngine, model: ModelTier | None, mode: str = "both") -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if mode != "rules" and model is None:
            raise ValueError("the model tier is needed for mode " + mode)
        self.rule_engine = rules
        self.model = model if mode != "rules" else None
        self.mode = mode
        self.categories = rules.categories
        self.rules = rules.rules
        self.settings = rules.settings

    @property
    def pack_info(self) -> list[dict[str, Any]]:
        """Rule packs, then (with the model tier) the model artefact, its encoders and example files."""
        info: list[dict[str, Any]] = list(self.rule_engine.pack_info) if self.mode != "model" else []
        if self.model is not None:
            info.append({**self.model.artifact.info(), "kind": "model"})
            for encoder in self.model.encoders:
                spec = encoder.spec
                info.append({"name": f"encoder:{spec.name}", "version": spec.version, "sha256": spec.sha256,
                             "kind": "encoder", "package": f"{spec.distribution}=={spec.version}"})
            info += [{**s.info(), "kind": "examples"} for s in self.model.examples]
        return info

    def info(self) -> dict[str, Any]:
        """What flags.json / summary.json record under ``detector``."""
        out: dict[str, Any] = {"mode": self.mode}
        if self.model is not None:
            out["model"] = {**self.model.artifact.info(), "encoders": [e.spec.info() for e in self.model.encoders],
                            "examples": [s.info() for s in self.model.examples]}
        return out

    @property
    def rule_veto(self) -> float:
        """In mode both: a rule's conduct flag is dropped where the model's highest probability is below this."""
        if self.model is None or self.mode != "both":
            return 0.0
        return float(self.model.artifact.meta.get("combine", {}).get("rule_veto", 0.0))

    def flag_text(self, text: str, role: str | None = "collector") -> list[Flag]:
        flags: list[Flag] = []
        if self.mode != "model":
            flags += [_passed_retelling(f) for f in self.rule_engine.flag_text(text, role=role)
                      if not retelling(_sentence_at(text, f.start))]
            veto = self.rule_veto
            if veto > 0 and self.model is not None and flags:
                flags = [f for f in flags if f.severity < 2 or not self.model.sees_nothing(text, f.start, f.end, veto)]
        if self.model is not None:
            flags += self.model.flag_text(text, role=role)
        if self.mode == "rules":
            return flags
        return merge_flags(flags, text) if len(flags) > 1 else flags

    def prepare(self, texts: list[str]) -> None:
        """Embed all texts' units in one batch before flagging them one by one."""
        if self.model is not None:
            self.model.prepare(texts)

    def flag_segments(self, segments: list[Segment]) -> list[Flag]:
        """Flags of transcript segments, each with segment index, start/end seconds, speaker and role."""
        self.prepare([s.text for s in segments])
        return flag_segments_with(self.flag_text, segments)


def _passed_retelling(flag: Flag) -> Flag:
    flag.explanation["gates"] = [*flag.explanation.get("gates", []), "retelling"]
    return flag


def _sentence_at(text: str, pos: int) -> str:
    left = 0
    for m in SENTENCE_END.finditer(text, 0, pos):
        left = m.end()
    m = SENTENCE_END.search(text, pos)
    return text[left : m.start() if m else len(text)]
