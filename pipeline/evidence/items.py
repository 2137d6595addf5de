"""Evidence items: one sentence (or one message) is one item, carrying every category flagged in it.

The rules may raise several flags on one sentence (two 上门 phrases; 抓你 and 坐牢; IMPERSONATION
and FALSE_LEGAL on the same words). Counting or quoting each flag would inflate the evidence and
repeat the same words, so the pack groups them: an item is the flags of one sentence of one call
segment (the whole segment when a reviewer corrected it, since the correction is what is quoted),
the call-level flags of one call (off-hours, frequency), or the flags of one message. Review
decisions stay per flag (per category); an item shows each category with its own status.

Every item has one number, used everywhere: the evidence list row, the transcript pages, the
excerpt file name, the drafts and the pack index. Counts read "N 处（M 句）": N flags in M items.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.contacts_reached import BORROWER_WORDS
from pipeline.render.categories import CATEGORIES, category_label, category_short
from pipeline.render.flag_view import ROLE_NAMES

_SENTENCE_ENDS = "。！？!?；;…\n"
MIN_SENTENCE_CHARS = 6


def sentence_bounds(text: str, start: int | None, end: int | None, *, extend_short: bool = True
                    ) -> tuple[int, int] | None:
    """[lo, hi) of the sentence(s) of ``text`` holding characters [start, end); with
    ``extend_short``, a short one (fewer than MIN_SENTENCE_CHARS up to the flag's end) with the one
    before (what a quote shows). None: no valid span."""
    if start is None or end is None or not 0 <= start < end <= len(text):
        return None
    lo = start
    while lo > 0 and text[lo - 1] not in _SENTENCE_ENDS:
        lo -= 1
    if extend_short and end - lo < MIN_SENTENCE_CHARS and lo > 0:  # "对！" alone says little: take the sentence before
        lo -= 1
        while lo > 0 and text[lo - 1] not in _SENTENCE_ENDS:
            lo -= 1
    hi = end
    while hi < len(text) and text[hi - 1] not in _SENTENCE_ENDS:
        hi += 1
    return lo, hi


def category_order(code: str) -> int:
    """TAXONOMY order (the order of ``CATEGORIES``); unknown categories after."""
    order = list(CATEGORIES)
    return order.index(code) if code in order else len(order)


def is_borrower_label(label: str | None) -> bool:
    return not label or label.strip().lower() in BORROWER_WORDS


@dataclass
class EvidenceItem:
    """The flags of one sentence (or message, or the call-level flags of one call)."""

    number: int
    flags: list[Any]  # PackFlag or PackMessageFlag, in text order
    source: str = "call"  # call | message | calllog
    extra_excerpts: list[str] = field(default_factory=list)

    @property
    def lead(self) -> Any:
        return self.flags[0]

    @property
    def categories(self) -> list[str]:
        """Category codes, most severe first (then TAXONOMY order), without repeats."""
        best: dict[str, int] = {}
        for flag in self.flags:
            best[flag.row.category] = max(best.get(flag.row.category, 0), flag.row.severity or 0)
        return sorted(best, key=lambda c: (-best[c], category_order(c)))

    @property
    def labels(self) -> list[str]:
        return [category_label(c) for c in self.categories]

    @property
    def label(self) -> str:
        return "、".join(self.labels)

    def category_entries(self) -> list[dict[str, Any]]:
        """Per category: code, label, how many flags, and whether any of them is still pending."""
        out = []
        for code in self.categories:
            members = [f for f in self.flags if f.row.category == code]
            out.append({"code": code, "label": category_label(code), "count": len(members),
                        "pending": any(f.pending for f in members), "matches": [f.row.match_text for f in members
                                                                                if f.row.match_text]})
        return out

    def labelled(self) -> str:
        """'暴力/人身威胁、上门/外访威胁【待复核】': each category marked when its flag is pending."""
        return "、".join(e["label"] + ("【待复核】" if e["pending"] else "") for e in self.category_entries())

    @property
    def pending(self) -> bool:
        """True when any category of the item is still pending (the item is then marked 待复核)."""
        return any(f.pending for f in self.flags)

    @property
    def severity(self) -> int:
        return max((f.row.severity or 0 for f in self.flags), default=0)

    @property
    def score(self) -> float:
        return max((f.row.score or 0.0 for f in self.flags), default=0.0)

    @property
    def is_call_level(self) -> bool:
        lead = self.lead
        return bool(getattr(lead, "is_call_level", False) or getattr(lead, "is_log", False))

    @property
    def matches(self) -> list[str]:
        return list(dict.fromkeys(f.row.match_text for f in self.flags if f.row.match_text))

    @property
    def legal_basis(self) -> list[str]:
        return list(dict.fromkeys(b for f in self.flags for b in f.row.legal_basis))

    @property
    def notes(self) -> list[str]:
        return list(dict.fromkeys(f.row.note for f in self.flags if f.row.note))

    @property
    def excerpt_names(self) -> list[str]:
        return [f.excerpt_name for f in self.flags if getattr(f, "excerpt_name", None)]

    @property
    def excerpt_name(self) -> str | None:
        names = self.excerpt_names
        return names[0] if names else None

    def excerpt_text(self) -> str:
        """The quoted sentence (the same for every flag of the item); for call-level items the
        rules' descriptions joined."""
        if self.is_call_level:
            return "；".join(dict.fromkeys(f.excerpt_text() for f in self.flags if f.excerpt_text()))
        return self.lead.excerpt_text()

    def wall_time(self) -> str | None:
        return self.lead.wall_time()

    @property
    def short_name(self) -> str:
        """The most severe category's short name, '等' when there are more."""
        codes = self.categories
        return category_short(codes[0]) + ("等" if len(codes) > 1 else "")


def speaker_label(flag: Any) -> str:
    """Who said the flagged words, as a clerk reads it: 催收方, 借款人, 第三人, 说话人未确认;
    for a message, the other side; for a call-level flag, 整通电话; a call-log finding says so."""
    if getattr(flag, "speaker_text", None):
        return str(flag.speaker_text)
    if getattr(flag, "is_call_level", False):
        return "整通电话（通话记录）"
    if hasattr(flag, "is_log"):
        if flag.is_log:
            return "消息记录"
        message = flag.message
        if message is None:
            return "对方"
        if message.direction == "sent":
            return "本人发出"
        sender = message.sender or message.number or message.contact_name
        return f"对方（{sender}）" if sender else "对方"
    row = flag.row
    if row.speaker_unconfirmed or not row.role or row.role == "unknown":
        return "说话人未确认"
    return ROLE_NAMES.get(row.role, row.role)


def group_call_flags(flags: Sequence[Any]) -> list[list[Any]]:
    """Call flags (in pack order) grouped into items, in the order of each item's first flag."""
    groups: dict[tuple, list[Any]] = {}
    for flag in flags:
        groups.setdefault(_call_key(flag), []).append(flag)
    return [sorted(g, key=lambda f: (f.row.start_char if f.row.start_char is not None else -1, f.row.id))
            for g in groups.values()]


def _call_key(flag: Any) -> tuple:
    row, seg = flag.row, flag.segment
    if flag.is_call_level:
        return (flag.call.id, "call")
    if seg is None:
        return (flag.call.id, "flag", row.id)
    if seg.corrected_text is not None:
        return (flag.call.id, seg.idx, "corrected")
    bounds = sentence_bounds(seg.text, row.start_char, row.end_char, extend_short=False)
    return (flag.call.id, seg.idx, bounds) if bounds else (flag.call.id, "flag", row.id)


def group_message_flags(flags: Iterable[Any]) -> list[list[Any]]:
    """Message flags (in pack order) grouped per message; a log flag without a message stays alone."""
    groups: dict[tuple, list[Any]] = {}
    for flag in flags:
        key = ("message", flag.row.message_id) if flag.message is not None else ("flag", flag.row.id)
        groups.setdefault(key, []).append(flag)
    return [sorted(g, key=lambda f: (f.is_log, f.row.start_char or 0, f.row.id)) for g in groups.values()]


def number_width(count: int) -> int:
    return max(2, len(str(count)))
