"""Collector / borrower roles for the speakers of a call, from what they say and who speaks first.

Evidence per speaker, in points toward "collector" (negative: toward "borrower"):
- collection vocabulary (还款, 逾期, 欠款, 催收, 平台, 通讯录 ...): +1 per mention, capped;
- a self-introduction as a lender/collector (我是…金融/平台/法务/催收…): +3;
- borrower phrases (宽限, 手头紧, 我会想办法还 ...): -1 per mention, capped;
- collection-rule hits from the rule engine (``collector_hits``): +2 each, up to 3 hits;
- who speaks first: on an incoming call the borrower picks up ("喂"), on an outgoing call
  (the borrower calls back) the collector answers: +/-1.
With two speakers, the one with more points is the collector if the margin is at least
MIN_MARGIN; the other is the borrower. A reviewer's per-call override always wins.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field, replace

from pipeline.transcript import Segment

COLLECTOR, BORROWER, UNKNOWN = "collector", "borrower", "unknown"
ROLES = (COLLECTOR, BORROWER, UNKNOWN)
OVERRIDE_ROLES = (*ROLES, "third_party")  # a reviewer may also name a third party (the store's roles)
ROLE_LABELS_ZH = {COLLECTOR: "催收方", BORROWER: "借款人", UNKNOWN: "未确认"}

COLLECTOR_TERMS = (
    "还款",
    "逾期",
    "欠款",
    "催收",
    "平台",
    "通讯录",
    "借款",
    "贷款",
    "欠钱",
    "还钱",
    "到账",
    "账单",
    "本金",
    "利息",
    "罚息",
    "滞纳金",
    "结清",
    "征信",
    "老赖",
    "起诉",
    "法务",
    "律师函",
    "上门",
    "立案",
    "最低还款",
    "协商还款",
    "回款",
    "逾期费",
)
BORROWER_TERMS = (
    "宽限",
    "手头紧",
    "没钱",
    "想办法还",
    "会还的",
    "过几天还",
    "发工资",
    "不要骚扰",
    "别骚扰",
    "我的家人",
    "分期还",
    "还不上",
    "我已经还",
)
SELF_INTRO = re.compile(r"我(?:们)?是.{0,12}?(?:金融|平台|贷|法务|催收|客服|公司|律师|资产|信贷|银行|小贷)")

KEYWORD_CAP = 6
HITS_CAP = 3  # hits counted, 2 points each
MIN_MARGIN = 2.0


@dataclass
class RoleEvidence:
    speaker: str
    score: float = 0.0
    reasons: list[str] = field(default_factory=list)

    def add(self, points: float, reason: str) -> None:
        if points:
            self.score += points
            self.reasons.append(f"{points:+g} {reason}")


def _count(text: str, terms: tuple[str, ...]) -> int:
    return sum(text.count(t) for t in terms)


def role_evidence(
    segments: list[Segment],
    *,
    direction: str | None = None,
    collector_hits: dict[str, int] | None = None,
) -> dict[str, RoleEvidence]:
    """Points toward "collector" per speaker, with the reasons (for the review UI)."""
    text_by_speaker: dict[str, str] = defaultdict(str)
    for seg in segments:
        if seg.speaker:
            text_by_speaker[seg.speaker] += seg.text
    evidence = {spk: RoleEvidence(spk) for spk in text_by_speaker}
    for spk, text in text_by_speaker.items():
        ev = evidence[spk]
        ev.add(min(_count(text, COLLECTOR_TERMS), KEYWORD_CAP), "催收用语 (collection vocabulary)")
        if SELF_INTRO.search(text):
            ev.add(3, "自报机构身份 (introduces self as lender/collector)")
        ev.add(-min(_count(text, BORROWER_TERMS), KEYWORD_CAP), "借款人用语 (borrower phrases)")
        hits = (collector_hits or {}).get(spk, 0)
        ev.add(2 * min(hits, HITS_CAP), f"触发催收规则 {hits} 次 (collection-rule hits)")
    first = next((s.speaker for s in sorted(segments, key=lambda s: s.start) if s.speaker), None)
    if first is not None and direction in ("incoming", "outgoing"):
        if direction == "incoming":
            evidence[first].add(-1, "来电先接听 (answers an incoming call first)")
        else:
            evidence[first].add(1, "去电被接听方 (answers the borrower's outgoing call)")
    return evidence


def assign_roles(
    segments: list[Segment],
    *,
    direction: str | None = None,
    collector_hits: dict[str, int] | None = None,
    override: dict[str, str] | None = None,
) -> dict[str, str]:
    """speaker -> "collector" | "borrower" | "unknown".

    ``direction``: "incoming" (the borrower received the call) or "outgoing"; ``collector_hits``:
    collection-rule hits per speaker; ``override``: the reviewer's roles for this call (win).
    """
    evidence = role_evidence(segments, direction=direction, collector_hits=collector_hits)
    roles = {spk: UNKNOWN for spk in evidence}
    ranked = sorted(evidence.values(), key=lambda e: e.score, reverse=True)
    if len(ranked) == 1 and ranked[0].score >= MIN_MARGIN + 1:
        roles[ranked[0].speaker] = COLLECTOR
    elif len(ranked) >= 2 and ranked[0].score - ranked[1].score >= MIN_MARGIN and ranked[0].score > 0:
        roles[ranked[0].speaker] = COLLECTOR
        if len(ranked) == 2:
            roles[ranked[1].speaker] = BORROWER
    return apply_override(roles, override)


def apply_override(roles: dict[str, str], override: dict[str, str] | None) -> dict[str, str]:
    """The reviewer's roles win; in a two-speaker call the other speaker gets the other role."""
    if not override:
        return roles
    bad = {r for r in override.values() if r not in OVERRIDE_ROLES}
    if bad:
        raise ValueError(f"unknown role(s) {sorted(bad)}; expected one of {OVERRIDE_ROLES}")
    roles = {**roles, **override}
    speakers = list(roles)
    if len(speakers) == 2:
        fixed = [s for s in speakers if s in override]
        if len(fixed) == 1 and override[fixed[0]] in (COLLECTOR, BORROWER):
            other = next(s for s in speakers if s != fixed[0])
            roles[other] = BORROWER if override[fixed[0]] == COLLECTOR else COLLECTOR
    return roles


def apply_roles(segments: list[Segment], roles: dict[str, str]) -> list[Segment]:
    """Segments with ``role`` set from their speaker (unknown when the speaker has none)."""
    return [replace(seg, role=roles.get(seg.speaker or "", UNKNOWN)) for seg in segments]


def role_label(role: str | None) -> str:
    """Display label: 催收方 / 借款人 / 未确认."""
    return ROLE_LABELS_ZH.get(role or UNKNOWN, ROLE_LABELS_ZH[UNKNOWN])
