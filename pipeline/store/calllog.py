"""Call logs in the case store: log files (calls XML, carrier records, calls.csv, screenshots), their
entries (calls with or without a recording) and the call-level findings over the whole log.

``CallLogMixin`` is a part of ``CaseStore``. Every write is one transaction with its custody event:
'intake' / 'relocate' / 'parse' / 'failed' / 'not_call_log' on ``calllog:<id>``, 'merge' and
'flag' on ``calllog`` (the whole log).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.store import custody
from pipeline.store.base import CaseStoreBase, NotFoundError
from pipeline.store.flags import dumps
from pipeline.store.rows import _build


@dataclass
class CallLogSourceRow:
    id: str
    sha256: str
    source_path: str
    size: int
    intake_at: str
    mtime: float | None = None
    format: str | None = None
    received_by: str | None = None
    received_by_source: str | None = None
    status: str = "pending"  # pending | done | failed | other (not a call log)
    error: str | None = None
    parser_key: str | None = None
    parsed_at: str | None = None
    problems: list[Any] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> CallLogSourceRow:
        return _build(cls, row)


@dataclass
class CallLogEntryRow:
    id: str
    source_id: str
    idx: int
    type: str
    direction: str | None = None
    number: str | None = None
    number_raw: str | None = None
    contact_name: str | None = None
    start_time: str | None = None
    time_source: str | None = None
    time_precision: str | None = None
    time_text: str | None = None
    duration: float | None = None
    count: int = 1
    location: str | None = None
    received_by: str | None = None
    line: int | None = None
    confidence: float | None = None
    ocr: list[Any] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    call_id: str | None = None  # the recording of the same call
    same_as: str | None = None  # the entry kept for the same call from another log

    @property
    def start(self) -> datetime | None:
        return datetime.fromisoformat(self.start_time) if self.start_time else None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> CallLogEntryRow:
        return _build(cls, row)


@dataclass
class CallLogFlagRow:
    id: int
    category: str
    rule: str
    created: str
    number: str | None = None
    day: str | None = None
    severity: int | None = None
    score: float | None = None
    count: int | None = None
    legal_basis: list[str] = field(default_factory=list)
    entry_ids: list[str] = field(default_factory=list)
    call_ids: list[str] = field(default_factory=list)
    description: str | None = None
    explanation: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> CallLogFlagRow:
        return _build(cls, row)

    # Review decisions live in ``extra["review"]`` (status, note, by, at) and are carried from one
    # rule run to the next by ``key``; a reviewed finding the rules no longer produce is kept, stale.
    @property
    def key(self) -> str:
        return finding_key(self.category, self.rule, self.number, self.day, self.entry_ids)

    @property
    def log_only(self) -> bool:
        """No recording among its calls: only the call log shows it (else the recordings carry it)."""
        return not self.call_ids

    @property
    def status(self) -> str:
        return str(self.extra.get("review", {}).get("status") or "pending")

    @property
    def note(self) -> str | None:
        return self.extra.get("review", {}).get("note")

    @property
    def reviewed_by(self) -> str | None:
        return self.extra.get("review", {}).get("by")

    @property
    def reviewed_at(self) -> str | None:
        return self.extra.get("review", {}).get("at")

    @property
    def stale(self) -> bool:
        return bool(self.extra.get("stale"))

    # what the pack and the review app read of any flag
    @property
    def machine_category(self) -> str:
        return self.category

    category_original = None
    match_text = None
    start_char = None
    end_char = None
    segment_idx = None
    speaker_unconfirmed = False

    @property
    def text(self) -> str | None:
        return self.description

    @property
    def rules(self) -> list[str]:
        return [self.rule]


def finding_key(category: str, rule: str, number: str | None, day: str | None,
                entry_ids: list[str] | None = None) -> str:
    """What identifies a call-log finding across rule runs (its review decision follows it): a
    per-day count by its number and day; a per-call finding (off hours) by its call too."""
    anchor = entry_ids[0] if rule.startswith("off_hours") and entry_ids else ""
    return "|".join((category, rule, number or "", day or "", anchor))


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _entry_columns(source_id: str, entry: Any) -> dict[str, Any]:
    data = entry.to_dict() if hasattr(entry, "to_dict") else dict(entry)
    index = int(data["index"])
    return {
        "id": f"{source_id}-{index:05d}", "source_id": source_id, "idx": index, "type": data.get("type") or "unknown",
        "direction": data.get("direction"), "number": data.get("number"), "number_raw": data.get("number_raw"),
        "contact_name": data.get("contact_name"), "start_time": _iso(data.get("start")),
        "time_source": data.get("time_source"), "time_precision": data.get("time_precision"),
        "time_text": data.get("time_text"), "duration": data.get("duration"), "count": int(data.get("count") or 1),
        "location": data.get("location"), "received_by": data.get("received_by"), "line": data.get("line"),
        "confidence": data.get("confidence"), "ocr_json": dumps(data.get("ocr") or []),
        "notes_json": dumps(data.get("notes") or []), "meta_json": dumps(data.get("meta") or {}),
    }


class CallLogMixin(CaseStoreBase):
    # ------------------------------------------------------------ log files

    def find_calllog_source(self, sha256: str) -> CallLogSourceRow | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM calllog_sources WHERE sha256 = ?", (sha256,)).fetchone()
        return CallLogSourceRow.from_row(row) if row else None

    def get_calllog_source(self, source_id: str) -> CallLogSourceRow:
        with self._lock:
            row = self._conn.execute("SELECT * FROM calllog_sources WHERE id = ?", (source_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no call-log file {source_id!r} in this case")
        return CallLogSourceRow.from_row(row)

    def calllog_sources(self, *, status: str | None = None) -> list[CallLogSourceRow]:
        query = "SELECT * FROM calllog_sources" + (" WHERE status = ?" if status else "") + " ORDER BY source_path"
        with self._lock:
            rows = self._conn.execute(query, (status,) if status else ()).fetchall()
        return [CallLogSourceRow.from_row(r) for r in rows]

    def upsert_calllog_source(self, source_path: str | Path, sha256: str, *, format: str | None,
                              received_by: str | None = None, received_by_source: str | None = None,
                              actor: str | None = None) -> CallLogSourceRow:
        """Record a call-log file (idempotent, keyed by content hash), like ``upsert_message_source``."""
        path = Path(source_path)
        stat = path.stat()
        columns = {"source_path": str(path), "size": stat.st_size, "format": format, "received_by": received_by,
                   "received_by_source": received_by_source}
        actor = actor or custody.default_actor()
        with self.transaction() as conn:
            row = conn.execute("SELECT * FROM calllog_sources WHERE sha256 = ?", (sha256,)).fetchone()
            if row is None:
                source_id = sha256[:16]
                names = ["id", "sha256", "intake_at", "mtime", *columns]
                conn.execute(f"INSERT INTO calllog_sources ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                             (source_id, sha256, custody.utc_now(), stat.st_mtime, *columns.values()))
                custody.append_event(conn, actor=actor, action="intake", object=f"calllog:{source_id}", sha256=sha256,
                                     detail={"source_path": str(path), "size": stat.st_size, "mtime": stat.st_mtime,
                                             "format": format, "received_by": received_by})
                return self.get_calllog_source(source_id)
            known = CallLogSourceRow.from_row(row)
            if known.source_path != str(path) and Path(known.source_path).exists():
                return known  # the same bytes twice: read once
            changed = {k: (row[k], v) for k, v in columns.items() if row[k] != v and not (v is None and k != "source_path")}
            if changed:
                conn.execute(f"UPDATE calllog_sources SET {', '.join(f'{k} = ?' for k in changed)} WHERE id = ?",
                             (*(v[1] for v in changed.values()), known.id))
                if "received_by" in changed:
                    conn.execute("UPDATE calllog_entries SET received_by = ? WHERE source_id = ? AND received_by IS ?",
                                 (received_by, known.id, changed["received_by"][0]))
                custody.append_event(
                    conn, actor=actor, action="relocate" if "source_path" in changed else "metadata",
                    object=f"calllog:{known.id}", sha256=sha256,
                    detail={"before": {k: v[0] for k, v in changed.items()}, "after": {k: v[1] for k, v in changed.items()}})
            return self.get_calllog_source(known.id)

    def save_calllog_entries(self, source_id: str, entries: Iterable[Any], *, problems: Iterable[Any] = (),
                             parser_key: str | None = None, meta: Mapping[str, Any] | None = None,
                             actor: str | None = None) -> list[CallLogEntryRow]:
        """Replace the entries of one log file (``pipeline.calllog.model.LogEntry`` or dicts); marks it done."""
        rows = [_entry_columns(source_id, e) for e in entries]
        problem_list = [p.to_dict() if hasattr(p, "to_dict") else dict(p) for p in problems]
        with self.transaction() as conn:
            sha = self._calllog_sha(conn, source_id)
            conn.execute("DELETE FROM calllog_entries WHERE source_id = ?", (source_id,))
            for row in rows:
                conn.execute(f"INSERT INTO calllog_entries ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                             tuple(row.values()))
            conn.execute("UPDATE calllog_sources SET status = 'done', error = NULL, parser_key = ?, parsed_at = ?,"
                         " problems_json = ?, meta_json = ? WHERE id = ?",
                         (parser_key, custody.utc_now(), dumps(problem_list), dumps(dict(meta or {})), source_id))
            custody.append_event(conn, actor=actor or custody.default_actor(), action="parse",
                                 object=f"calllog:{source_id}", sha256=sha,
                                 detail={"entries": len(rows), "problems": len(problem_list), "parser": parser_key})
        return self.calllog_entries(source_id)

    def mark_calllog_source(self, source_id: str, status: str, error: str | None = None, *,
                            parser_key: str | None = None, actor: str | None = None) -> CallLogSourceRow:
        """'failed' (with the reason) or 'other' (read, and not a call log: e.g. a chat screenshot)."""
        if status not in ("failed", "other"):
            raise ValueError(status)
        with self.transaction() as conn:
            sha = self._calllog_sha(conn, source_id)
            conn.execute("DELETE FROM calllog_entries WHERE source_id = ?", (source_id,))
            conn.execute("UPDATE calllog_sources SET status = ?, error = ?, parser_key = ?, parsed_at = ? WHERE id = ?",
                         (status, error, parser_key, custody.utc_now(), source_id))
            custody.append_event(conn, actor=actor or custody.default_actor(),
                                 action="failed" if status == "failed" else "not_call_log",
                                 object=f"calllog:{source_id}", sha256=sha, detail={"error": error})
        return self.get_calllog_source(source_id)

    def _calllog_sha(self, conn: sqlite3.Connection, source_id: str) -> str:
        row = conn.execute("SELECT sha256 FROM calllog_sources WHERE id = ?", (source_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no call-log file {source_id!r} in this case")
        return str(row[0])

    # ------------------------------------------------------------ entries

    def calllog_entries(self, source_id: str | None = None) -> list[CallLogEntryRow]:
        """Entries of one file (or of every file that is done), in time order (unknown times last)."""
        query = ("SELECT e.* FROM calllog_entries e JOIN calllog_sources s ON s.id = e.source_id WHERE s.status = 'done'"
                 + (" AND e.source_id = ?" if source_id else "") + " ORDER BY e.start_time IS NULL, e.start_time, e.id")
        with self._lock:
            rows = self._conn.execute(query, (source_id,) if source_id else ()).fetchall()
        return [CallLogEntryRow.from_row(r) for r in rows]

    def set_calllog_links(self, links: Mapping[str, tuple[str | None, str | None]], actor: str | None = None) -> int:
        """entry id -> (recording call id, entry kept for the same call); returns how many changed."""
        with self.transaction() as conn:
            current = {r[0]: (r[1], r[2]) for r in conn.execute("SELECT id, call_id, same_as FROM calllog_entries")}
            changed = {k: v for k, v in links.items() if k in current and current[k] != tuple(v)}
            for entry_id, (call_id, same_as) in changed.items():
                conn.execute("UPDATE calllog_entries SET call_id = ?, same_as = ? WHERE id = ?", (call_id, same_as, entry_id))
            if changed:
                custody.append_event(conn, actor=actor or custody.default_actor(), action="merge", object="calllog",
                                     detail={"links": {k: list(v) for k, v in sorted(changed.items())}})
        return len(changed)

    # ------------------------------------------------------------ findings over the whole log

    def replace_calllog_flags(self, flags: Iterable[Mapping[str, Any]], actor: str | None = None) -> int:
        """Replace the findings; review decisions follow their finding (``finding_key``), and a
        reviewed finding the rules no longer produce is kept, marked stale."""
        rows = [dict(f) for f in flags]
        with self.transaction() as conn:
            old = [CallLogFlagRow.from_row(r) for r in conn.execute("SELECT * FROM calllog_flags")]
            reviewed = {f.key: f for f in old if f.status != "pending" or f.note}
            new_keys = set()
            for flag in rows:
                key = finding_key(flag["category"], flag["rule"], flag.get("number"), flag.get("day"),
                                  list(flag.get("entry_ids") or []))
                new_keys.add(key)
                if key in reviewed:
                    flag["extra"] = {**dict(flag.get("extra") or {}), "review": reviewed[key].extra["review"]}
            for key, kept in reviewed.items():
                if key not in new_keys:
                    rows.append({**{k: getattr(kept, k) for k in ("category", "rule", "number", "day", "severity",
                                                                  "score", "count", "legal_basis", "entry_ids",
                                                                  "call_ids", "description", "explanation")},
                                 "extra": {**kept.extra, "stale": True}})
            conn.execute("DELETE FROM calllog_flags")
            now = custody.utc_now()
            for flag in rows:
                conn.execute(
                    "INSERT INTO calllog_flags (category, rule, number, day, severity, score, count, legal_basis_json,"
                    " entry_ids_json, call_ids_json, description, explanation, extra_json, created)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (flag["category"], flag["rule"], flag.get("number"), flag.get("day"), flag.get("severity"),
                     flag.get("score"), flag.get("count"), dumps(list(flag.get("legal_basis") or [])),
                     dumps(list(flag.get("entry_ids") or [])), dumps(list(flag.get("call_ids") or [])),
                     flag.get("description"), flag.get("explanation"), dumps(dict(flag.get("extra") or {})), now))
            custody.append_event(conn, actor=actor or custody.default_actor(), action="flag", object="calllog",
                                 detail={"flags": len(rows), "categories": sorted({f["category"] for f in rows})})
        return len(rows)

    def calllog_flags(self) -> list[CallLogFlagRow]:
        with self._lock:
            rows = self._conn.execute("SELECT * FROM calllog_flags ORDER BY day IS NULL, day, id").fetchall()
        return [CallLogFlagRow.from_row(r) for r in rows]

    def get_calllog_flag(self, flag_id: int) -> CallLogFlagRow:
        with self._lock:
            row = self._conn.execute("SELECT * FROM calllog_flags WHERE id = ?", (flag_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no call-log finding {flag_id} in this case")
        return CallLogFlagRow.from_row(row)

    def set_calllog_flag_status(self, flag_id: int, status: str, note: str | None = None,
                                actor: str | None = None) -> CallLogFlagRow:
        """Accept / reject / reset a finding over the call log (``note`` None keeps its note), with a
        custody event on ``calllog_flag:<key>`` (the key outlives the row id across rule runs)."""
        if status not in ("pending", "accepted", "rejected"):
            raise ValueError(f"status must be pending, accepted or rejected, not {status!r}")
        actor = actor or custody.default_actor()
        with self.transaction() as conn:
            row = conn.execute("SELECT * FROM calllog_flags WHERE id = ?", (flag_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"no call-log finding {flag_id} in this case")
            before = CallLogFlagRow.from_row(row)
            new_note = before.note if note is None else (note or None)
            review = {"status": status, "note": new_note, "by": actor, "at": custody.utc_now()}
            conn.execute("UPDATE calllog_flags SET extra_json = ? WHERE id = ?",
                         (dumps({**before.extra, "review": review}), flag_id))
            custody.append_event(conn, actor=actor, action="review", object=f"calllog_flag:{before.key}", detail={
                "flag_id": flag_id, "entries": before.entry_ids,
                "before": {"status": before.status, "note": before.note},
                "after": {"status": status, "note": new_note}})
        return self.get_calllog_flag(flag_id)

    def set_case_info(self, key: str, value: str, actor: str | None = None) -> None:
        """A case-level key/value (e.g. the call-log digest the complaint drafts read); not the case id."""
        if key in ("case_id", "created", "created_by_version", "schema_version"):
            raise ValueError(f"{key} is fixed")
        with self.transaction() as conn:
            old = conn.execute("SELECT value FROM case_info WHERE key = ?", (key,)).fetchone()
            if old is not None and old[0] == value:
                return
            conn.execute("INSERT INTO case_info (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = ?",
                         (key, value, value))
