"""What a pack holds of the case's call logs: the log files (phone backups, carrier records,
calls.csv, call-log screenshots) as originals, and the findings over calls known only from a log.

A finding over the call log (OFF_HOURS, EXCESS_FREQ unanswered/connected, rotating numbers) that
counts a recording is already packed as that recording's call-level flag; the others — "log-only",
calls nobody recorded — are packed here as evidence items of their own, numbered after the message
items, when a reviewer accepted them (pending ones with ``include_pending``), never when rejected.
Every call-log file that was read (status done) goes in as an original, byte-identical, its SHA-256
checked against the intake hash when copied; the date filter keeps a file when one of its entries
falls in the range. ``--calls`` chooses recordings only; the call log stays whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from pipeline.contacts_reached import contacts_reached
from pipeline.evidence.items import EvidenceItem
from pipeline.evidence.select import PackCase, ReviewedFlag, _digits, _original_names, _utc
from pipeline.render.call_log_charts import log_chart_data
from pipeline.render.message_view import local_time

LOG_KIND = "通话记录"


@dataclass
class PackCallLogFile:
    source: Any  # CallLogSourceRow
    original_name: str  # "originals/<file name>"
    entries: list[Any]  # CallLogEntryRow, all of the file's
    withheld: bool = False  # a redacted pack leaves the original out (every call of the phone): only its name is cited


@dataclass
class PackLogFlag(ReviewedFlag):
    """A finding over calls known only from the call log, in the shape the pack's files read."""

    number: int
    row: Any  # CallLogFlagRow
    entries: list[Any]  # the CallLogEntryRow it counts
    files: list[PackCallLogFile]  # the log files holding those entries
    is_log: bool = True
    excerpt_name: None = None
    message: None = None  # what message flags have; a log finding has none

    @property
    def speaker_text(self) -> str:
        return "通话记录（无录音）"

    @property
    def kind_label(self) -> str:
        return LOG_KIND

    @property
    def received_by(self) -> str | None:
        people = list(dict.fromkeys(e.received_by for e in self.entries if e.received_by))
        return "、".join(people) if people else None

    def _times(self) -> list[str]:
        """The counted calls' local wall times ('YYYY-MM-DD HH:MM:SS'; a phone's epoch time moved to Beijing)."""
        return sorted(when.isoformat(sep=" ", timespec="seconds") for e in self.entries
                      if (when := local_time(e.start_time)) is not None)

    def wall_time(self) -> str | None:
        """The first counted call's local time (its day when only the day is known)."""
        times = self._times()
        if times:
            return times[0]
        return f"{self.row.day} 00:00:00" if self.row.day else None

    def when(self) -> str:
        times = [t[:16] for t in self._times()]
        if len(times) > 1 and times[0] != times[-1]:
            return f"{times[0]} 至 {times[-1]}"
        return times[0] if times else (self.row.day or "时间未知")

    def excerpt_text(self) -> str:
        return str(self.row.description or "")

    def time_range(self) -> str:
        return ""


def _entry_days(entries: list[Any]) -> set[date]:
    return {when.date() for e in entries if (when := local_time(e.start_time)) is not None}


def _in_range(days: set[date], start: date | None, end: date | None) -> bool:
    if start is None and end is None:
        return True
    return any((start is None or d >= start) and (end is None or d <= end) for d in days)


def attach_call_log(case: PackCase, store: Any, options: Any) -> None:
    """Add the call-log files and the packed log-only findings (numbered after every other item)."""
    if not hasattr(store, "calllog_sources"):
        return
    entries = store.calllog_entries()
    by_source: dict[str, list[Any]] = {}
    for entry in entries:
        by_source.setdefault(entry.source_id, []).append(entry)
    sources = [s for s in store.calllog_sources(status="done")
               if _in_range(_entry_days(by_source.get(s.id, [])), options.date_from, options.date_to)]
    taken = {pc.original_name for pc in case.calls} | {f.original_name for f in case.message_files}
    names = _original_names(sources, taken)
    files = [PackCallLogFile(s, names[s.id], by_source.get(s.id, [])) for s in sources]
    file_of = {f.source.id: f for f in files}
    entry_by_id = {e.id: e for e in entries}
    statuses = ("accepted", "pending") if options.include_pending else ("accepted",)
    chosen: list[PackLogFlag] = []
    left_out = {"rejected": 0, "pending": 0}
    # a finding rejected by a reviewer (here, or on the recording that carries it) leaves the drafts' log facts
    case.log_rejected |= {(f.rule, f.text) for f in store.all_flags() if f.level == "call" and f.status == "rejected"}
    for row in store.calllog_flags():
        if row.status == "rejected":
            case.log_rejected.add((row.rule, row.description))
        if not row.log_only:
            continue  # a recording carries it as a call-level flag
        counted = [entry_by_id[i] for i in row.entry_ids if i in entry_by_id]
        holders = [file_of[i] for i in dict.fromkeys(e.source_id for e in counted) if i in file_of]
        day = {date.fromisoformat(row.day)} if row.day else _entry_days(counted)
        if row.status not in statuses:
            left_out[row.status] = left_out.get(row.status, 0) + 1
            continue
        if not holders or not _in_range(day, options.date_from, options.date_to):
            continue
        chosen.append(PackLogFlag(0, row, counted, holders))
    chosen.sort(key=lambda f: (f.wall_time() is None, f.wall_time() or "", f.row.number or "", f.row.rule))
    first = case.evidence_count + 1
    for number, flag in enumerate(chosen, start=first):
        flag.number = number
    case.log_files, case.log_flags, case.log_left_out = files, chosen, left_out
    case.log_items = [EvidenceItem(f.number, [f], source="calllog") for f in chosen]
    times = [s.intake_at for s in sources] + [f.row.reviewed_at for f in chosen if f.row.reviewed_at]
    case.content_as_of = max([case.content_as_of, *(_utc(t) for t in times if t)])
    case.kept_numbers |= {d for f in chosen for e in f.entries if (d := _digits(e.number))}
    from pipeline.calllog.rules import case_call_log  # the rules import the contacts table: not at load time

    case.log_chart = log_chart_data(case_call_log(store)[0], options.date_from, options.date_to)
    if files:  # the contacts reached now count the packed logs' calls too
        statuses = ("accepted", "pending") if options.include_pending else ("accepted",)
        case.contacts = contacts_reached(store, call_ids={pc.call.id for pc in case.calls},
                                         source_ids={f.source.id for f in case.message_files},
                                         calllog_source_ids={f.source.id for f in files}, flag_statuses=statuses)


WITHHELD_REASON = ("call log: holds every call of the phone, third parties' numbers included, and cannot be "
                   "masked byte-safely; the untouched original is in the unredacted pack")


def manifest_call_log(case: PackCase, withheld: dict[str, str] | None = None) -> dict[str, Any]:
    """The manifest's ``call_log``: every packed log file (intake hash, format, who received it,
    entries) and the log-only findings by status. ``withheld``: id -> reason (a redacted pack)."""
    out_files = []
    for f in case.log_files:
        source = f.source
        entry: dict[str, Any] = {"id": source.id, "original": f.original_name, "sha256": source.sha256,
                                 "size": source.size, "intake_at": source.intake_at, "format": source.format,
                                 "received_by": source.received_by, "parser": source.parser_key,
                                 "entries": len(f.entries)}
        if withheld and source.id in withheld:
            entry["withheld"] = withheld[source.id]
        out_files.append(entry)
    return {"call_log_files": out_files,
            "call_log_findings": {"accepted": [f.row.id for f in case.log_flags if not f.pending],
                                  "pending_included": [f.row.id for f in case.log_flags if f.pending],
                                  "left_out": dict(case.log_left_out),
                                  "items": [{"pack_number": f.number, "finding_id": f.row.id, "key": f.row.key,
                                             "category": f.row.category, "rule": f.row.rule, "count": f.row.count,
                                             "entries": [e.id for e in f.entries]} for f in case.log_flags]}}

