"""Call-level rules over a case's call log: OFF_HOURS and EXCESS_FREQ (see TAXONOMY.md).

Only calls with a known start time count. Naive times are device-local wall time; tz-aware
ones are converted to ``CallRuleOptions.zone``. Calls the user made (outgoing) are never
collector calls; calls of unknown direction count, with a lower severity and a note.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Protocol

from pipeline.calls import DEFAULT_ZONE, CallMeta, local_zone

OFF_HOURS_BASIS = ["GBT-45251", "CBA-2026"]
CONNECTED_FREQ_BASIS = ["GBT-45251"]
UNANSWERED_FREQ_BASIS = ["CBA-2026"]


class CallLike(Protocol):
    id: str
    number: str | None
    start: datetime | None
    direction: str | None
    duration: float | None


@dataclass
class CallRecord:
    id: str
    number: str | None
    start: datetime | None
    start_source: str | None  # filename|tag|mtime|user|sidecar; None = time unknown
    direction: str | None = None
    duration: float | None = None
    connected: bool | None = None  # None: duration > 0

    def __post_init__(self) -> None:
        if self.connected is None:
            self.connected = bool(self.duration and self.duration > 0)

    @classmethod
    def from_meta(cls, call_id: str, meta: CallMeta) -> CallRecord:
        return cls(call_id, meta.number, meta.start, meta.start_source, meta.direction, meta.duration)


@dataclass(frozen=True)
class CallRuleOptions:
    off_hours_start: time = time(22, 0)  # window [start, end), may wrap midnight
    off_hours_end: time = time(8, 0)
    max_connected_per_day: int = 3  # GB/T 45251: at most 3 connected calls a day
    max_unanswered_per_day: int = 6  # CBA-2026: at most 6 unanswered attempts a day
    zone: str = DEFAULT_ZONE
    count_unknown_direction: bool = True


@dataclass
class CallFlag:
    category: str  # OFF_HOURS | EXCESS_FREQ
    rule: str
    call_ids: list[str]
    legal_basis: list[str]
    severity: int  # 1..3
    explanation: str
    description_zh: str
    number: str | None = None
    day: date | None = None  # local calendar day the rule looked at
    local_times: list[datetime] = field(default_factory=list)  # local start of each call in call_ids
    count: int = 1
    score: float = 1.0
    status: str = "pending"

    def to_dict(self) -> dict[str, Any]:
        out = dict(vars(self))
        out["day"] = self.day.isoformat() if self.day else None
        out["local_times"] = [t.isoformat() for t in self.local_times]
        return out


def _local_start(call: CallLike, options: CallRuleOptions) -> datetime | None:
    """Local wall-clock start, or None when the time is unknown."""
    if call.start is None or getattr(call, "start_source", "given") is None:
        return None
    if call.start.tzinfo is None:
        return call.start
    return call.start.astimezone(local_zone(options.zone)).replace(tzinfo=None)


def _in_window(moment: time, start: time, end: time) -> bool:
    if start <= end:
        return start <= moment < end
    return moment >= start or moment < end


def _is_collector_call(call: CallLike, options: CallRuleOptions) -> bool:
    return call.direction == "incoming" or (call.direction is None and options.count_unknown_direction)


def _caveats(calls: list[CallLike]) -> tuple[int, list[str]]:
    """Severity penalty and Chinese notes for weak evidence (unknown direction, time from mtime)."""
    notes = []
    if any(c.direction is None for c in calls):
        notes.append("通话方向未知（可能是本人拨出），请核对")
    if any(getattr(c, "start_source", None) == "mtime" for c in calls):
        notes.append("时间取自文件修改时间，复制文件可能改变它，请以通话记录为准")
    if any(getattr(c, "count", 1) > 1 for c in calls):
        notes.append("含通话记录截图中合并显示的多次通话（如“(3)”），请打开详情核对")
    return (1 if notes else 0), notes


def _count(call: CallLike) -> int:
    return max(1, int(getattr(call, "count", 1) or 1))


def _party(call: CallLike) -> str | None:
    """The number, else the contact name a call log shows (a screenshot of a saved contact)."""
    return call.number or getattr(call, "contact_name", None)


def off_hours_flags(calls: list[CallLike], options: CallRuleOptions) -> list[CallFlag]:
    flags = []
    window = f"{options.off_hours_start:%H:%M}–{options.off_hours_end:%H:%M}"
    for call in calls:
        local = _local_start(call, options)
        if local is None or not _is_collector_call(call, options) or getattr(call, "time_precision", None) == "day":
            continue
        if not _in_window(local.time(), options.off_hours_start, options.off_hours_end):
            continue
        penalty, notes = _caveats([call])
        description = (f"来电开始于当地时间 {local:%Y-%m-%d %H:%M}，在 {window} 之间。"
                       f"GB/T 45251 与银行业协会催收指引禁止在此时段催收（债务人同意的除外）。")
        flags.append(CallFlag(
            category="OFF_HOURS", rule="off_hours.window", call_ids=[call.id],
            legal_basis=list(OFF_HOURS_BASIS), severity=max(1, 2 - penalty),
            explanation=f"call starts at {local:%H:%M} local time, inside [{window})",
            description_zh=description + "".join(notes), number=call.number, day=local.date(),
            local_times=[local]))
    return flags


def _group_by_number_day(calls: list[CallLike], options: CallRuleOptions, connected: bool
                         ) -> dict[tuple[str, date], list[tuple[datetime, CallLike]]]:
    groups: dict[tuple[str, date], list[tuple[datetime, CallLike]]] = defaultdict(list)
    for call in calls:
        local = _local_start(call, options)
        is_connected = getattr(call, "connected", None)
        if is_connected is None:
            is_connected = bool(call.duration and call.duration > 0)
        if local is None or not _party(call) or is_connected != connected:
            continue
        if _is_collector_call(call, options):
            groups[(str(_party(call)), local.date())].append((local, call))
    return groups


def excess_frequency_flags(calls: list[CallLike], options: CallRuleOptions) -> list[CallFlag]:
    flags = []
    kinds = [(True, options.max_connected_per_day, "excess_freq.connected", CONNECTED_FREQ_BASIS,
              "接通来电", "GB/T 45251 规定每天主动接通催收电话不超过 {limit} 通"),
             (False, options.max_unanswered_per_day, "excess_freq.unanswered", UNANSWERED_FREQ_BASIS,
              "未接来电", "银行业协会催收指引规定每天对同一号码未接通的呼叫不超过 {limit} 次")]
    for connected, limit, rule, basis, what, norm in kinds:
        for (number, day), group in sorted(_group_by_number_day(calls, options, connected).items()):
            total = sum(_count(c) for _, c in group)
            if total <= limit:
                continue
            group.sort(key=lambda item: item[0])
            penalty, notes = _caveats([c for _, c in group])
            severity = (3 if total >= 2 * limit else 2) - penalty
            times = "、".join(f"{t:%H:%M}" + (f"×{_count(c)}" if _count(c) > 1 else "")
                             if getattr(c, "time_precision", None) != "day" else "时刻不详" for t, c in group)
            unrecorded = sum(_count(c) for _, c in group if getattr(c, "call_id", c.id) is None)
            extra = f"，其中 {unrecorded} 通没有录音（来自通话记录）" if unrecorded and connected else ""
            flags.append(CallFlag(
                category="EXCESS_FREQ", rule=rule, call_ids=[c.id for _, c in group], legal_basis=list(basis),
                severity=max(1, severity),
                explanation=f"{total} {'connected' if connected else 'unanswered'} calls from "
                            f"{number} on {day.isoformat()} (limit {limit})",
                description_zh=(f"{day:%Y-%m-%d} 号码 {number} 共有 {total} 通{what}（{times}）{extra}，"
                                f"超过每天 {limit} 通的上限；{norm.format(limit=limit)}。" + "".join(notes)),
                number=number, day=day, local_times=[t for t, _ in group], count=total))
    return flags


def call_log_flags(calls: list[CallLike], options: CallRuleOptions | None = None) -> list[CallFlag]:
    """All call-level flags of a case's call log, off-hours first, then frequency."""
    options = options or CallRuleOptions()
    return off_hours_flags(calls, options) + excess_frequency_flags(calls, options)
