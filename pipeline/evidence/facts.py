"""Facts for paste-ready text, hints for the user: the two never mix.

Rule descriptions carry hints meant for the person preparing the complaint ("通话方向未知（可能是
本人拨出），请核对"); a clerk reading a complaint must see only facts. ``split_hints`` separates
the two, ``facts_only`` keeps the facts, and a call whose direction is unknown is described as a
call (通话), never as an incoming one (来电). The hints go to complaints/核对清单.txt.
"""

from __future__ import annotations

import re

# Phrases that only ever appear in hints to the user, never in a fact.
HINT_MARKERS = ("请核对", "请核听", "请以通话记录为准", "可能是本人", "仅供推测", "请对照录音")
# Clauses of a rule description that state a norm: the drafts cite law only through the legal
# bases in force on the date of the conduct, so these never reach paste-ready text.
NORM_MARKERS = ("GB/T", "催收指引", "规定每天", "禁止在此时段")
_CLAUSE = re.compile(r"[^。；;！!？?\n]*(?:[。；;！!？?\n]|$)")


def is_hint(text: str) -> bool:
    return any(marker in text for marker in HINT_MARKERS)


def split_hints(text: str) -> tuple[str, list[str]]:
    """(the text without its hint clauses, the hint clauses) — clause by clause."""
    facts, hints = [], []
    for clause in _CLAUSE.findall(text or ""):
        if not clause.strip():
            continue
        (hints if is_hint(clause) else facts).append(clause)
    return "".join(facts).strip(), [h.strip().rstrip("。；;") for h in hints]


def facts_only(text: str, *, direction_known: bool = True) -> str:
    """``text`` without hints; with an unknown direction, 来电 becomes 通话 (who dialled is unknown)."""
    facts, _ = split_hints(text)
    facts = "".join(c for c in _CLAUSE.findall(facts) if not any(m in c for m in NORM_MARKERS)).strip()
    facts = re.sub(r"[；;，,]$", "。", facts)
    if not direction_known:
        facts = facts.replace("接通来电", "接通的通话").replace("未接来电", "未接通的通话").replace("来电", "通话")
    return facts
