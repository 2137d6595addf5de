"""One call, one row: the case's call log from its recordings and every imported log.

The same call can be in several places: a recording, the phone's call history (calls XML), the
carrier's bill and a screenshot of the call-log screen. Entries of different files are the same
call when they have the same number (or contact name), compatible types, and start within
``tolerance_s`` of each other (a screenshot that shows only the day: the same day). Entries of
one file are never merged with each other: a log lists each call once. A badge row ``(3)`` of a
screenshot stands for up to three calls of that number that day already known from other logs.

The strongest entry of a call is kept (phone's own history > carrier > the user's list >
screenshot); a recording joins the call whose start is within the tolerance (wider when the
recording's time is its container tag or file date). The log's time replaces the recording's
when it is the phone's own (ms) or the recording's time is only a tag/file date.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pipeline.calllog.model import UNANSWERED
from pipeline.callmeta import DEFAULT_ZONE, local_zone

STRENGTH = {"phone": 0, "carrier": 1, "user": 2, "screenshot": 3}
CLOCKED = ("ms", "s", "minute")
WEAK_RECORDING_TIMES = (None, "tag", "mtime")


@dataclass(frozen=True)
class MergeOptions:
    tolerance_s: float = 120.0  # start times of the same call in two logs (or a log and a recording)
    weak_tolerance_s: float = 300.0  # a recording whose time is its container tag or file date
    zone: str = DEFAULT_ZONE


@dataclass
class LoggedCall:
    """One call of the case (``pipeline.callrules.CallLike``): a recording, a log entry, or both."""

    id: str  # the recording's call id, else "log:<entry id>"
    number: str | None
    start: datetime | None  # naive local wall time
    start_source: str | None  # phone | carrier | user | screenshot | filename | tag | mtime | sidecar
    direction: str | None
    duration: float | None
    connected: bool | None
    type: str = "unknown"
    contact_name: str | None = None
    time_precision: str | None = None
    count: int = 1
    call_id: str | None = None  # the recording
    entry_ids: list[str] = field(default_factory=list)
    received_by: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def party(self) -> str | None:
        return self.number or self.contact_name


@dataclass
class _Cluster:
    primary: Any
    when: datetime | None
    members: list[Any] = field(default_factory=list)
    extra_count: int = 0
    call: Any = None  # the recording

    @property
    def sources(self) -> set[str]:
        return {m.source_id for m in self.members}


def to_local(when: datetime | None, zone: str = DEFAULT_ZONE) -> datetime | None:
    if when is None or when.tzinfo is None:
        return when
    return when.astimezone(local_zone(zone)).replace(tzinfo=None)


def _answer_class(kind: str | None) -> str:
    if kind in UNANSWERED:
        return "unanswered"
    return {"incoming": "in", "outgoing": "out"}.get(kind or "", "any")


def _compatible(a: str | None, b: str | None) -> bool:
    ca, cb = _answer_class(a), _answer_class(b)
    return ca == cb or "any" in (ca, cb)


def _same_party(a: Any, b: Any) -> bool:
    if a.number and b.number:
        return bool(a.number == b.number)
    return bool(a.contact_name and a.contact_name == b.contact_name)


def _close(a: datetime | None, pa: str | None, b: datetime | None, pb: str | None, tolerance: float) -> bool:
    if a is None or b is None:
        return False
    if pa in CLOCKED and pb in CLOCKED:
        return abs((a - b).total_seconds()) <= tolerance
    return a.date() == b.date()


def _cluster_entries(entries: list[Any], options: MergeOptions) -> list[_Cluster]:
    ordered = sorted(entries, key=lambda e: (STRENGTH.get(e.time_source or "", 9), e.start_time or "", e.id))
    clusters: list[_Cluster] = []
    for entry in ordered:
        when = to_local(entry.start, options.zone)
        candidates = [c for c in clusters if entry.source_id not in c.sources and _same_party(c.primary, entry)
                      and _compatible(c.primary.type, entry.type)
                      and _close(c.when, c.primary.time_precision, when, entry.time_precision, options.tolerance_s)]
        if entry.count > 1:  # a badge row: the latest calls of that day up to its time, from other logs
            same_day = sorted((c for c in clusters if entry.source_id not in c.sources and _same_party(c.primary, entry)
                               and _compatible(c.primary.type, entry.type) and c.when is not None and when is not None
                               and c.when.date() == when.date() and (entry.time_precision not in CLOCKED
                               or (c.when - when).total_seconds() <= options.tolerance_s)),
                              key=lambda c: c.when or datetime.min)
            if same_day:
                absorbed = same_day[-entry.count:]
                absorbed[-1].members.append(entry)
                absorbed[-1].extra_count += max(0, entry.count - len(absorbed))
                continue
        if candidates:
            best = min(candidates, key=lambda c: abs((c.when - when).total_seconds()) if c.when and when else 0)
            best.members.append(entry)
            continue
        clusters.append(_Cluster(entry, when, [entry]))
    return clusters


def _match_recordings(clusters: list[_Cluster], recordings: list[Any], options: MergeOptions) -> list[Any]:
    """Attach each recording to its closest call of the log; returns the recordings left alone."""
    alone = []
    for call in recordings:
        when = to_local(call.start, options.zone)
        tolerance = options.weak_tolerance_s if call.start_source in WEAK_RECORDING_TIMES else options.tolerance_s
        candidates = [c for c in clusters if c.call is None and _same_party(c.primary, call)
                      and c.primary.type not in UNANSWERED
                      and (call.direction is None or c.primary.direction in (None, call.direction))
                      and _close(c.when, c.primary.time_precision, when, "s", tolerance)]
        if not candidates:
            alone.append(call)
            continue
        min(candidates, key=lambda c: abs((c.when - when).total_seconds()) if c.when and when else 0).call = call
    return alone


def entry_connected(entry: Any) -> bool | None:
    """Answered? Unanswered types never; else a duration decides; an answered type without one yes."""
    if entry.type in UNANSWERED:
        return False
    if entry.duration is not None:
        return bool(entry.duration > 0)
    return None if entry.type == "unknown" else True


def _from_recording(call: Any, options: MergeOptions) -> LoggedCall:
    return LoggedCall(id=call.id, number=call.number, start=to_local(call.start, options.zone),
                      start_source=call.start_source, direction=call.direction, duration=call.duration,
                      connected=True, type=call.direction or "unknown", contact_name=call.contact_name,
                      time_precision="s", call_id=call.id, received_by=call.received_by)


def _from_cluster(cluster: _Cluster, options: MergeOptions) -> LoggedCall:
    entry = cluster.primary
    received = next((m.received_by for m in cluster.members if m.received_by), None)
    count = entry.count + cluster.extra_count
    notes = [f"同一通话另见于其他记录（{len(cluster.members)} 处）"] if len(cluster.members) > 1 else []
    if cluster.call is None:
        return LoggedCall(id=f"log:{entry.id}", number=entry.number, start=cluster.when, start_source=entry.time_source,
                          direction=entry.direction, duration=entry.duration, connected=entry_connected(entry), type=entry.type,
                          contact_name=entry.contact_name, time_precision=entry.time_precision, count=count,
                          entry_ids=[m.id for m in cluster.members], received_by=received, notes=notes)
    logged = _from_recording(cluster.call, options)
    log_wins = entry.time_precision in ("ms", "s") and (
        entry.time_source == "phone" or cluster.call.start_source in WEAK_RECORDING_TIMES)
    if log_wins:
        logged.start, logged.start_source = cluster.when, entry.time_source
        notes.append(f"开始时间取自{'手机通话记录' if entry.time_source == 'phone' else '通话记录'}（录音文件的时间为"
                     f" {to_local(cluster.call.start, options.zone) or '未知'}）")
    logged.direction = logged.direction or entry.direction
    logged.type = entry.type if entry.type != "unknown" else logged.type
    logged.contact_name = logged.contact_name or entry.contact_name
    logged.received_by = logged.received_by or received
    logged.entry_ids, logged.count, logged.notes = [m.id for m in cluster.members], max(1, count), notes
    return logged


def merge_call_log(recordings: list[Any], entries: list[Any], options: MergeOptions | None = None
                   ) -> tuple[list[LoggedCall], dict[str, tuple[str | None, str | None]]]:
    """(every call of the case in time order, entry id -> (recording id, entry kept for the same call)).

    ``recordings``: ``CallRow``-like (id, number, contact_name, start, start_source, direction,
    duration, received_by); ``entries``: ``CallLogEntryRow``-like.
    """
    options = options or MergeOptions()
    clusters = _cluster_entries(entries, options)
    alone = _match_recordings(clusters, recordings, options)
    calls = [_from_recording(c, options) for c in alone] + [_from_cluster(c, options) for c in clusters]
    calls.sort(key=lambda c: (c.start is None, c.start or datetime.min, c.id))
    links: dict[str, tuple[str | None, str | None]] = {}
    for cluster in clusters:
        for member in cluster.members:
            links[member.id] = (cluster.call.id if cluster.call is not None else None,
                                None if member is cluster.primary else cluster.primary.id)
    return calls, links
