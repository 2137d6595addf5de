"""Gates of the model tier, and the retelling gate both tiers share.

The model scores a whole unit (sentence, clause run or window), so the rule tier's gates
(``pipeline.rules.gates``) are asked about each clause of it as a whole: a clause is *gated* when it
is negated (我们不会联系你家人), a borrower's question (你们是不是要爆我通讯录？), reported speech
(他们说要去我单位), or said from the victim's side (你们爆了我的通讯录). A unit all of whose clauses
are gated is not flagged; a unit with some gated clauses is re-scored without them.

Retelling (新闻说有个催收公司因为爆通讯录被判了) is a sentence-level gate applied to flags of both tiers.
"""

from __future__ import annotations

import re

from pipeline.rules import gates as rule_gates
from pipeline.rules.gates import retelling

__all__ = ["MODEL_GATES", "clause_gate", "retelling"]

MODEL_GATES = ("negation", "question", "quotation", "perspective", "retelling", "speaker")

# "不做外访" / "不上门" / "不联系": a bare negated verb at the start of a clause
_BARE_NEG_START = re.compile(r"^(?:我们|我|本公司|公司|我司)?(?:也|都|绝对|是)?(?:不|没|绝不|从不|不再)(?:做|上门|去|会|联系|打|找|通知|爆|骚扰|发|曝光)")
# "不要以为我们不敢去" / "你说你是不是…": the negation or the "said" belongs to the threat itself
_PSEUDO_NEG = re.compile(r"^(?:你)?(?:不要|别|甭)以为|^你以为|不敢不")
_SECOND_PERSON_SAY = re.compile(r"^(?:我跟)?(?:你|您)(?:自己)?说")


def clause_gate(clause: str, utterance: str) -> str | None:
    """The name of the first gate that blocks ``clause`` (a clause of ``utterance``), or None."""
    end = len(clause)
    if not _PSEUDO_NEG.search(clause) and (
        rule_gates.negated(clause, end, end, window=end) or _BARE_NEG_START.search(clause)
    ):
        return "negation"
    if rule_gates.borrower_question(clause, 0, end, utterance):
        return "question"
    if rule_gates.reported_speech(clause, end, end) and not _SECOND_PERSON_SAY.search(clause):
        return "quotation"
    if rule_gates.borrower_perspective(clause, 0, 0):
        return "perspective"
    return None
