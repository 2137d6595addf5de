"""OFF_HOURS, EXCESS_FREQ and rotating numbers over the whole call log of a case: every call,
recorded or not (``merge.merge_call_log``).

Findings that involve recordings are also stored on those recordings as call-level flags (what
the review app, the case index and the evidence pack show for a call); every finding is stored
in ``calllog_flags`` with the log entries it counts. A digest of the log (per number, per day,
findings, files) is kept in the case info (``call_log``) for the complaint drafts.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

from pipeline.calllog.merge import LoggedCall, MergeOptions, merge_call_log
from pipeline.calllog.model import TIME_SOURCES, TYPE_LABELS
from pipeline.calllog.rotation import rotating_number_flags
from pipeline.callrules import CallFlag, CallRuleOptions, _in_window, call_log_flags
from pipeline.contacts_reached import BORROWER, UNKNOWN_PERSON, relation_of

DIGEST_KEY = "call_log"
DIGEST_NUMBERS = 60  # numbers listed in the digest (most calls first)


def case_call_log(store: Any, merge_options: MergeOptions | None = None) -> tuple[list[LoggedCall], dict]:
    """Every call of the case (recordings that are done, log entries) and the entry links."""
    recordings = [c for c in store.iter_calls() if c.status == "done"]
    entries = store.calllog_entries() if hasattr(store, "calllog_entries") else []
    return merge_call_log(recordings, entries, merge_options)


def all_log_flags(calls: list[LoggedCall], options: CallRuleOptions) -> list[CallFlag]:
    return call_log_flags(calls, options) + rotating_number_flags(calls, options)


def apply_call_log_rules(store: Any, options: CallRuleOptions | None = None,
                         merge_options: MergeOptions | None = None) -> int:
    """Merge, run the call-level rules, store the flags and the digest; returns the number of findings."""
    options = options or CallRuleOptions()
    calls, links = case_call_log(store, merge_options)
    if hasattr(store, "set_calllog_links"):
        store.set_calllog_links(links)
    flags = all_log_flags(calls, options)
    by_id = {c.id: c for c in calls}
    recordings = {c.id: c for c in store.iter_calls() if c.status == "done"}
    per_recording: dict[str, list[dict[str, Any]]] = {cid: [] for cid in recordings}
    for flag in flags:
        data = flag.to_dict()
        for call_id in flag.call_ids:
            if call_id in recordings:
                per_recording[call_id].append({**data, "start_s": 0.0, "end_s": recordings[call_id].duration or 0.0,
                                               "text": flag.description_zh})
    with store.transaction():
        for call_id, call_flags in per_recording.items():
            store.replace_flags(call_id, call_flags, level="call")
    if hasattr(store, "replace_calllog_flags"):
        store.replace_calllog_flags([{
            "category": f.category, "rule": f.rule, "number": f.number, "day": f.day.isoformat() if f.day else None,
            "severity": f.severity, "score": f.score, "count": f.count, "legal_basis": f.legal_basis,
            "entry_ids": [e for cid in f.call_ids for e in by_id[cid].entry_ids] if f.call_ids else [],
            "call_ids": [cid for cid in f.call_ids if cid in recordings], "description": f.description_zh,
            "explanation": f.explanation} for f in flags])
        store.set_case_info(DIGEST_KEY, json.dumps(log_digest(store, calls, flags, options), ensure_ascii=False,
                                                   sort_keys=True))
    return len(flags)


def _is_off_hours(call: LoggedCall, options: CallRuleOptions) -> bool:
    return (call.start is not None and call.time_precision != "day" and call.direction != "outgoing"
            and _in_window(call.start.time(), options.off_hours_start, options.off_hours_end))


def log_digest(store: Any, calls: list[LoggedCall], flags: list[CallFlag], options: CallRuleOptions) -> dict[str, Any]:
    """What the drafts and the summary say about the log: totals, per number, per day, findings, files."""
    incoming = [c for c in calls if c.direction != "outgoing"]
    numbers: dict[str, Counter] = defaultdict(Counter)
    times: dict[str, list[str]] = defaultdict(list)
    days: dict[str, Counter] = defaultdict(Counter)
    for call in incoming:
        party = call.party or "号码未知"
        n = call.count
        numbers[party]["calls"] += n
        numbers[party]["unanswered" if call.connected is False else "answered"] += n
        numbers[party]["recorded"] += 1 if call.call_id else 0
        if call.start is not None:
            times[party].append(call.start.isoformat(sep=" ")[:16 if call.time_precision != "day" else 10])
            day = days[call.start.date().isoformat()]
            day["calls"] += n
            day["unanswered" if call.connected is False else "answered"] += n
            day["off_hours"] += n if _is_off_hours(call, options) else 0
    per_number = [{"number": party, **{k: counts[k] for k in ("calls", "answered", "unanswered", "recorded")},
                   "first": min(times[party]) if times[party] else "时间未知",
                   "last": max(times[party]) if times[party] else "时间未知"}
                  for party, counts in sorted(numbers.items(), key=lambda kv: (-kv[1]["calls"], kv[0]))]
    people: dict[str, Counter] = defaultdict(Counter)
    last_seen: dict[str, str] = {}
    for call in incoming:
        person = call.received_by or UNKNOWN_PERSON
        people[person]["calls"] += call.count
        people[person]["unanswered"] += call.count if call.connected is False else 0
        if call.start is not None:
            last_seen[person] = max(last_seen.get(person, ""), call.start.isoformat(sep=" ")[:16])
    sources = store.calllog_sources() if hasattr(store, "calllog_sources") else []
    known = sorted(c.start for c in incoming if c.start is not None)
    return {
        "calls": sum(c.count for c in incoming),
        "recorded": sum(1 for c in incoming if c.call_id),
        "unrecorded": sum(c.count for c in incoming if not c.call_id),
        "unanswered": sum(c.count for c in incoming if c.connected is False),
        "off_hours": sum(c.count for c in incoming if _is_off_hours(c, options)),
        "outgoing": sum(c.count for c in calls if c.direction == "outgoing"),
        "numbers_count": len(numbers),
        "first": known[0].isoformat(sep=" ")[:16] if known else "时间未知",
        "last": known[-1].isoformat(sep=" ")[:16] if known else "时间未知",
        "numbers": per_number[:DIGEST_NUMBERS],
        "people": [{"person": person, "relation": relation_of(person) or "—", "is_borrower": relation_of(person) == BORROWER,
                    "calls": c["calls"], "unanswered": c["unanswered"], "last": last_seen.get(person, "时间未知")}
                   for person, c in sorted(people.items(), key=lambda kv: (-kv[1]["calls"], kv[0]))],
        "days": [{"day": d, **{k: c[k] for k in ("calls", "answered", "unanswered", "off_hours")}}
                 for d, c in sorted(days.items())],
        "findings": [{"category": f.category, "rule": f.rule, "number": f.number,
                      "day": f.day.isoformat() if f.day else None, "count": f.count, "severity": f.severity,
                      "legal_basis": f.legal_basis, "description": f.description_zh} for f in flags],
        "files": [{"file": s.source_path, "format": s.format, "format_label": FORMAT_LABELS.get(s.format or "", s.format),
                   "sha256": s.sha256, "received_by": s.received_by, "status": s.status,
                   "entries": len(store.calllog_entries(s.id)) if s.status == "done" else 0,
                   "problems": len(s.problems)} for s in sources if s.status != "other"],
        "types": dict(Counter(TYPE_LABELS.get(c.type, c.type) for c in incoming)),
        "time_sources": dict(Counter(TIME_SOURCES.get(c.start_source or "", c.start_source or "未知") for c in incoming)),
    }


FORMAT_LABELS = {"calls_xml": "手机通话记录备份（SMS Backup & Restore）", "carrier": "运营商通话详单",
                 "user_csv": "calls.csv（用户整理）", "screenshot": "通话记录截图"}
