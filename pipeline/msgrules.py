"""Rules over messages: the rule packs on each message's text, and the call-log rules
(OFF_HOURS, EXCESS_FREQ) over the message log, reusing ``pipeline.callrules``' helpers.

The sender of a received message is the counterpart, so a received message is flagged as the
collector's words; a sent one as the borrower's (conduct flags dropped by the engine's speaker
gate); one of unknown direction is flagged with the speaker unconfirmed.

Log rules count received messages (unknown direction too, with a note) with a known time. By
default only numbers already suspected count — a number that called in the case's recordings, or
whose messages raised a text flag — so bank notices at 23:00 or a morning of verification codes
are not flagged. GB/T 45251's numeric limit is for connected calls; for messages it is used as a
reference (``max_messages_per_day``), and the flag says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time
from typing import Protocol

from pipeline.callrules import (
    CONNECTED_FREQ_BASIS,
    OFF_HOURS_BASIS,
    CallFlag,
    CallRuleOptions,
    _group_by_number_day,
    _in_window,
    _local_start,
)
from pipeline.calls import DEFAULT_ZONE
from pipeline.rules import Flag, RuleEngine

ROLE_BY_DIRECTION = {"received": "collector", "sent": "borrower"}
UNKNOWN_DIRECTION_ZH = "收发方向未知（可能是本人发出），请核对"


class MessageLike(Protocol):
    id: str
    direction: str | None
    number: str | None
    contact_name: str | None
    text: str


@dataclass(frozen=True)
class MessageRuleOptions:
    off_hours_start: time = time(22, 0)
    off_hours_end: time = time(8, 0)
    max_messages_per_day: int = 3
    zone: str = DEFAULT_ZONE
    only_suspect_numbers: bool = True

    def call_options(self) -> CallRuleOptions:
        return CallRuleOptions(off_hours_start=self.off_hours_start, off_hours_end=self.off_hours_end,
                               max_connected_per_day=self.max_messages_per_day, zone=self.zone)


def flag_message_text(message: MessageLike, rules: RuleEngine) -> list[Flag]:
    """The rule packs on one message's text, with the role its direction implies."""
    return rules.flag_text(message.text, role=ROLE_BY_DIRECTION.get(message.direction or ""))


@dataclass
class _LogRecord:
    """A message seen as a call-log entry, for ``pipeline.callrules``' helpers."""

    id: str
    number: str | None
    start: datetime | None
    start_source: str | None
    direction: str | None
    duration: float | None = None
    connected: bool = True


def _records(messages: Iterable[tuple[MessageLike, datetime | None, str | None]],
             suspects: set[str] | None) -> list[_LogRecord]:
    out = []
    for message, when, source in messages:
        if message.direction == "sent":
            continue
        party = message.number or message.contact_name
        if suspects is not None and party not in suspects:
            continue
        out.append(_LogRecord(message.id, party, when, source if when else None,
                              "incoming" if message.direction == "received" else None))
    return out


def message_log_flags(messages: Iterable[tuple[MessageLike, datetime | None, str | None]],
                      options: MessageRuleOptions | None = None,
                      suspects: set[str] | None = None) -> list[CallFlag]:
    """OFF_HOURS and EXCESS_FREQ over (message, time, time source) triples.

    ``suspects``: the numbers (or names, for chats without numbers) that may be flagged; None =
    every counterpart (``only_suspect_numbers`` off).
    """
    options = options or MessageRuleOptions()
    call_options = options.call_options()
    records = _records(messages, suspects if options.only_suspect_numbers else None)
    window = f"{options.off_hours_start:%H:%M}–{options.off_hours_end:%H:%M}"
    flags: list[CallFlag] = []
    for record in records:
        local = _local_start(record, call_options)
        if local is None or not _in_window(local.time(), options.off_hours_start, options.off_hours_end):
            continue
        notes = [] if record.direction else [UNKNOWN_DIRECTION_ZH]
        flags.append(CallFlag(
            category="OFF_HOURS", rule="off_hours.message", call_ids=[record.id], legal_basis=list(OFF_HOURS_BASIS),
            severity=1, explanation=f"message received at {local:%H:%M} local time, inside [{window})",
            description_zh=(f"{record.number or '对方'} 于当地时间 {local:%Y-%m-%d %H:%M} 发来消息，在 {window} 之间。"
                            "GB/T 45251 与银行业协会催收指引禁止在此时段催收（债务人同意的除外）。" + "".join(notes)),
            number=record.number, day=local.date(), local_times=[local]))
    limit = options.max_messages_per_day
    for (party, day), group in sorted(_group_by_number_day(records, call_options, connected=True).items()):
        if len(group) <= limit:
            continue
        group.sort(key=lambda item: item[0])
        times = "、".join(f"{t:%H:%M}" for t, _ in group)
        notes = [] if all(r.direction for _, r in group) else [UNKNOWN_DIRECTION_ZH]
        flags.append(CallFlag(
            category="EXCESS_FREQ", rule="excess_freq.messages", call_ids=[r.id for _, r in group],
            legal_basis=list(CONNECTED_FREQ_BASIS), severity=2 if len(group) >= 2 * limit else 1,
            explanation=f"{len(group)} messages from {party} on {day.isoformat()} (reference limit {limit})",
            description_zh=(f"{day:%Y-%m-%d} {party} 共发来 {len(group)} 条消息（{times}），超过每天 {limit} 条。"
                            f"GB/T 45251 规定每天接通催收电话不超过 3 通，短信频次没有明确条文，此处参照该上限，请人工判断。"
                            + "".join(notes)),
            number=party, day=day, local_times=[t for t, _ in group], count=len(group)))
    return flags
