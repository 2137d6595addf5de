"""Rotating numbers (换号轮番呼叫): many different numbers calling on the same day that share a
number prefix (the first 7 digits: same segment and area) or the same caller name / tag, summed
up as one EXCESS_FREQ finding listing the numbers. The per-number limits miss this pattern: each
number stays under its own limit while the person is called dozens of times a day."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from pipeline.callrules import CallFlag, CallRuleOptions, _is_collector_call, _local_start

ROTATION_BASIS = ["CBA-2026", "GBT-45251"]
MIN_NUMBERS = 3  # distinct numbers of one prefix / name in one day
PREFIX_DIGITS = 7


def _prefix(number: str | None) -> str | None:
    digits = (number or "").lstrip("+")
    return digits[:PREFIX_DIGITS] if digits.isdigit() and len(digits) >= 10 else None


def rotating_number_flags(calls: list[Any], options: CallRuleOptions | None = None,
                          min_numbers: int = MIN_NUMBERS) -> list[CallFlag]:
    """One finding per (day, shared prefix or caller name) with ``min_numbers`` or more numbers."""
    options = options or CallRuleOptions()
    groups: dict[tuple[date, str, str], list[tuple[datetime, Any]]] = defaultdict(list)
    for call in calls:
        local = _local_start(call, options)
        if local is None or not call.number or not _is_collector_call(call, options):
            continue
        if prefix := _prefix(call.number):
            groups[(local.date(), "prefix", prefix)].append((local, call))
        name = getattr(call, "contact_name", None)
        if name:
            groups[(local.date(), "name", name)].append((local, call))
    flags, seen = [], set()
    for (day, kind, key), group in sorted(groups.items()):
        numbers = sorted({c.number for _, c in group})
        if len(numbers) < min_numbers or (day, tuple(numbers)) in seen:
            continue
        seen.add((day, tuple(numbers)))
        total = sum(max(1, int(getattr(c, "count", 1) or 1)) for _, c in group)
        unanswered = sum(max(1, int(getattr(c, "count", 1) or 1)) for _, c in group
                         if getattr(c, "connected", None) is False)
        shared = f"号段 {key}****" if kind == "prefix" else f"同一来电名称“{key}”"
        group.sort(key=lambda item: item[0])
        flags.append(CallFlag(
            category="EXCESS_FREQ", rule=f"excess_freq.rotating_{kind}", call_ids=[c.id for _, c in group],
            legal_basis=list(ROTATION_BASIS), severity=3 if total > 2 * options.max_unanswered_per_day else 2,
            explanation=f"{len(numbers)} numbers sharing {kind} {key} called {total} times on {day.isoformat()}",
            description_zh=(f"{day:%Y-%m-%d} 共有 {len(numbers)} 个不同号码（{shared}）轮番来电 {total} 次"
                            f"（其中未接通 {unanswered} 次），{group[0][0]:%H:%M} 至 {group[-1][0]:%H:%M}："
                            f"{'、'.join(numbers)}。换号呼叫使每个号码都低于单号码的次数上限，合计远超"
                            f"每天接通 {options.max_connected_per_day} 次、未接通 {options.max_unanswered_per_day} 次的限度。"),
            number="、".join(numbers), day=day, local_times=[t for t, _ in group], count=total))
    return flags
