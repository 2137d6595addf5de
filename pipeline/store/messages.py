"""Messages in the case store: message files (SMS backups, chat exports, screenshots), their
messages, and message flags that keep review decisions across re-flags.

``MessagesMixin`` is a part of ``CaseStore`` (``class CaseStore(MessagesMixin, ReviewMixin)``).
Every write is one transaction with its custody event: 'intake' / 'relocate' / 'metadata' /
'parse' / 'failed' on ``msgfile:<id>``, 'flag' on ``msgfile:<id>`` (or ``msglog`` for the log
rules), 'review' on ``msgflag:<id>``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.store import custody
from pipeline.store.base import CaseStoreBase, NotFoundError
from pipeline.store.flags import dumps, normalise_flag
from pipeline.store.rows import FLAG_STATUSES, _build

_FLAG_SCALARS = ("category", "rule", "severity", "score", "start_char", "end_char", "match_text", "text", "role",
                 "speaker_unconfirmed")
_FLAG_JSON = ("rules", "legal_basis", "explanation", "rule_pack", "boxes", "extra")


@dataclass
class MessageSourceRow:
    id: str
    sha256: str
    source_path: str
    size: int
    intake_at: str
    mtime: float | None = None
    format: str | None = None
    kind: str | None = None
    received_by: str | None = None
    received_by_source: str | None = None
    status: str = "pending"
    error: str | None = None
    parser_key: str | None = None
    parsed_at: str | None = None
    problems: list[Any] = field(default_factory=list)
    duplicate_paths: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> MessageSourceRow:
        return _build(cls, row)


@dataclass
class MessageRow:
    id: str
    source_id: str
    idx: int
    kind: str
    text: str
    direction: str | None = None
    number: str | None = None
    number_raw: str | None = None
    contact_name: str | None = None
    sender: str | None = None
    time: str | None = None
    time_source: str | None = None
    time_text: str | None = None
    line: int | None = None
    received_by: str | None = None
    confidence: float | None = None
    ocr: list[Any] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def start(self) -> datetime | None:
        return datetime.fromisoformat(self.time) if self.time else None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> MessageRow:
        return _build(cls, row)


@dataclass
class MessageFlagRow:
    id: int
    message_id: str
    source_id: str
    level: str  # text | log
    category: str
    rule: str
    created: str
    category_original: str | None = None
    rules: list[Any] = field(default_factory=list)
    severity: int | None = None
    score: float | None = None
    start_char: int | None = None
    end_char: int | None = None
    match_text: str | None = None
    text: str | None = None
    role: str | None = None
    speaker_unconfirmed: bool = False
    legal_basis: list[str] = field(default_factory=list)
    explanation: Any = field(default_factory=dict)
    rule_pack: dict[str, Any] = field(default_factory=dict)
    boxes: list[Any] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    status: str = "pending"
    note: str | None = None
    reviewed_by: str | None = None
    reviewed_at: str | None = None
    stale: bool = False

    @property
    def machine_category(self) -> str:
        return self.category_original or self.category

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> MessageFlagRow:
        flag = _build(cls, row)
        flag.speaker_unconfirmed, flag.stale = bool(flag.speaker_unconfirmed), bool(flag.stale)
        return flag


def _iso(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _message_columns(source_id: str, message: Any) -> dict[str, Any]:
    data = message.to_dict() if hasattr(message, "to_dict") else dict(message)
    index = data["index"]
    return {
        "id": f"{source_id}-{index:05d}", "source_id": source_id, "idx": index, "kind": data["kind"],
        "direction": data.get("direction"), "number": data.get("number"), "number_raw": data.get("number_raw"),
        "contact_name": data.get("contact_name"), "sender": data.get("sender"), "time": _iso(data.get("time")),
        "time_source": data.get("time_source"), "time_text": data.get("time_text"), "line": data.get("line"),
        "text": data.get("text") or "", "received_by": data.get("received_by"), "confidence": data.get("confidence"),
        "ocr_json": dumps(data.get("ocr_lines") or []), "notes_json": dumps(data.get("notes") or []),
        "meta_json": dumps(data.get("meta") or {}),
    }


class MessagesMixin(CaseStoreBase):
    # ------------------------------------------------------------ message files

    def find_message_source(self, sha256: str) -> MessageSourceRow | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM message_sources WHERE sha256 = ?", (sha256,)).fetchone()
        return MessageSourceRow.from_row(row) if row else None

    def get_message_source(self, source_id: str) -> MessageSourceRow:
        with self._lock:
            row = self._conn.execute("SELECT * FROM message_sources WHERE id = ?", (source_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no message file {source_id!r} in this case")
        return MessageSourceRow.from_row(row)

    def message_sources(self) -> list[MessageSourceRow]:
        with self._lock:
            rows = self._conn.execute("SELECT * FROM message_sources ORDER BY source_path").fetchall()
        return [MessageSourceRow.from_row(r) for r in rows]

    def upsert_message_source(self, source_path: str | Path, sha256: str, *, format: str | None = None,
                              kind: str | None = None, received_by: str | None = None,
                              received_by_source: str | None = None, actor: str | None = None) -> MessageSourceRow:
        """Record a message file (idempotent, keyed by content hash), like ``upsert_call_intake``."""
        path = Path(source_path)
        stat = path.stat()
        columns = {"source_path": str(path), "size": stat.st_size, "format": format, "kind": kind,
                   "received_by": received_by, "received_by_source": received_by_source}
        actor = actor or custody.default_actor()
        with self.transaction() as conn:
            row = conn.execute("SELECT * FROM message_sources WHERE sha256 = ?", (sha256,)).fetchone()
            if row is None:
                source_id = sha256[:16]
                names = ["id", "sha256", "intake_at", "mtime", *columns]
                conn.execute(f"INSERT INTO message_sources ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                             (source_id, sha256, custody.utc_now(), stat.st_mtime, *columns.values()))
                custody.append_event(conn, actor=actor, action="intake", object=f"msgfile:{source_id}", sha256=sha256,
                                     detail={"source_path": str(path), "size": stat.st_size, "mtime": stat.st_mtime,
                                             "format": format, "received_by": received_by})
                return self.get_message_source(source_id)
            known = MessageSourceRow.from_row(row)
            if known.source_path != str(path) and Path(known.source_path).exists():
                if str(path) not in known.duplicate_paths:
                    conn.execute("UPDATE message_sources SET duplicate_paths_json = ? WHERE id = ?",
                                 (dumps([*known.duplicate_paths, str(path)]), known.id))
                    custody.append_event(conn, actor=actor, action="duplicate", object=f"msgfile:{known.id}",
                                         sha256=sha256, detail={"path": str(path), "kept": known.source_path})
                return self.get_message_source(known.id)
            changed = {k: (row[k], v) for k, v in columns.items() if row[k] != v and not (v is None and k != "source_path")}
            if changed:
                conn.execute(f"UPDATE message_sources SET {', '.join(f'{k} = ?' for k in changed)} WHERE id = ?",
                             (*(v[1] for v in changed.values()), known.id))
                if "received_by" in changed:  # messages that inherited the file's person follow it
                    conn.execute("UPDATE messages SET received_by = ? WHERE source_id = ? AND received_by IS ?",
                                 (received_by, known.id, changed["received_by"][0]))
                custody.append_event(
                    conn, actor=actor, action="relocate" if "source_path" in changed else "metadata",
                    object=f"msgfile:{known.id}", sha256=sha256,
                    detail={"before": {k: v[0] for k, v in changed.items()}, "after": {k: v[1] for k, v in changed.items()}})
            return self.get_message_source(known.id)

    def save_messages(self, source_id: str, messages: Iterable[Any], *, problems: Iterable[Any] = (),
                      parser_key: str | None = None, meta: Mapping[str, Any] | None = None,
                      actor: str | None = None) -> list[MessageRow]:
        """Replace the messages of one file (``pipeline.messages.model.Message`` or dicts); marks it done."""
        rows = [_message_columns(source_id, m) for m in messages]
        problem_list = [vars(p) if hasattr(p, "__dict__") else dict(p) for p in problems]
        with self.transaction() as conn:
            sha = self._message_sha(conn, source_id)
            conn.execute("DELETE FROM messages WHERE source_id = ?", (source_id,))
            for row in rows:
                conn.execute(f"INSERT INTO messages ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                             tuple(row.values()))
            conn.execute("UPDATE message_sources SET status = 'done', error = NULL, parser_key = ?, parsed_at = ?,"
                         " problems_json = ?, meta_json = ? WHERE id = ?",
                         (parser_key, custody.utc_now(), dumps(problem_list), dumps(dict(meta or {})), source_id))
            custody.append_event(conn, actor=actor or custody.default_actor(), action="parse",
                                 object=f"msgfile:{source_id}", sha256=sha,
                                 detail={"messages": len(rows), "problems": len(problem_list), "parser": parser_key})
        return self.messages(source_id)

    def mark_message_source_failed(self, source_id: str, error: str, actor: str | None = None) -> MessageSourceRow:
        with self.transaction() as conn:
            sha = self._message_sha(conn, source_id)
            conn.execute("UPDATE message_sources SET status = 'failed', error = ? WHERE id = ?", (error, source_id))
            custody.append_event(conn, actor=actor or custody.default_actor(), action="failed",
                                 object=f"msgfile:{source_id}", sha256=sha, detail={"error": error})
        return self.get_message_source(source_id)

    def _message_sha(self, conn: sqlite3.Connection, source_id: str) -> str:
        row = conn.execute("SELECT sha256 FROM message_sources WHERE id = ?", (source_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no message file {source_id!r} in this case")
        return str(row[0])

    def messages(self, source_id: str | None = None) -> list[MessageRow]:
        """Messages of one file, or of the case: known times first in time order."""
        where, params = (" WHERE source_id = ?", (source_id,)) if source_id else ("", ())
        with self._lock:
            rows = self._conn.execute(f"SELECT * FROM messages{where} ORDER BY time IS NULL, time, source_id, idx",
                                      params).fetchall()
        return [MessageRow.from_row(r) for r in rows]

    # ------------------------------------------------------------ message flags

    def replace_message_flags(self, source_id: str | None, flags: Iterable[Mapping[str, Any]], level: str = "text", *,
                              rule_pack: Mapping[str, Any] | None = None,
                              actor: str | None = None) -> dict[str, list[int]]:
        """Replace one file's 'text' flags (or, with ``source_id`` None and level 'log', all log
        flags), keeping review decisions like ``replace_flags``. Each flag needs ``message_id``.

        Identity across re-flags: (message_id, machine category, start_char, end_char).
        """
        if level not in ("text", "log"):
            raise ValueError(f"level must be 'text' or 'log', not {level!r}")
        created = custody.utc_now()
        with self.transaction() as conn:
            scope, params = ("level = ?", [level]) if source_id is None else ("source_id = ? AND level = ?", [source_id, level])
            existing = [MessageFlagRow.from_row(r) for r in conn.execute(
                f"SELECT * FROM message_flags WHERE {scope} ORDER BY id", params)]
            unmatched: dict[tuple, list[MessageFlagRow]] = {}
            for row in existing:
                unmatched.setdefault((row.message_id, row.machine_category, row.start_char, row.end_char), []).append(row)
            changes: dict[str, list[int]] = {"added": [], "updated": [], "removed": [], "stale": []}
            for flag in flags:
                message_id = flag["message_id"]
                owner = conn.execute("SELECT source_id FROM messages WHERE id = ?", (message_id,)).fetchone()
                if owner is None:
                    raise NotFoundError(f"no message {message_id!r} in this case")
                data = normalise_flag({k: v for k, v in flag.items() if k not in ("message_id", "boxes")}, rule_pack)
                values = [data[k] for k in _FLAG_SCALARS] + [
                    dumps(flag.get("boxes") or []) if k == "boxes" else dumps(data[k]) for k in _FLAG_JSON]
                columns = [*_FLAG_SCALARS, *(f"{k}_json" for k in _FLAG_JSON)]
                candidates = unmatched.get((message_id, data["category"], data["start_char"], data["end_char"]))
                if candidates:
                    row = candidates.pop(0)
                    conn.execute(f"UPDATE message_flags SET {', '.join(f'{c} = ?' for c in columns)}, stale = 0 WHERE id = ?",
                                 (*values, row.id))
                    changes["updated"].append(row.id)
                else:
                    cursor = conn.execute(
                        f"INSERT INTO message_flags (message_id, source_id, level, created, {', '.join(columns)})"
                        f" VALUES (?, ?, ?, ?, {', '.join('?' * len(columns))})",
                        (message_id, owner[0], level, created, *values))
                    changes["added"].append(int(cursor.lastrowid))
            for rows in unmatched.values():
                for row in rows:
                    if row.status != "pending" or row.note:
                        conn.execute("UPDATE message_flags SET stale = 1 WHERE id = ?", (row.id,))
                        changes["stale"].append(row.id)
                    else:
                        conn.execute("DELETE FROM message_flags WHERE id = ?", (row.id,))
                        changes["removed"].append(row.id)
            sha = self._message_sha(conn, source_id) if source_id else None
            custody.append_event(conn, actor=actor or custody.default_actor(), action="flag",
                                 object=f"msgfile:{source_id}" if source_id else "msglog", sha256=sha,
                                 detail={"level": level, "rule_pack": dict(rule_pack or {}), **changes})
        return changes

    def message_flags(self, *, source_id: str | None = None, message_id: str | None = None, level: str | None = None,
                      include_stale: bool = True) -> list[MessageFlagRow]:
        clauses, params = [], []
        for column, value in (("source_id", source_id), ("message_id", message_id), ("level", level)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if not include_stale:
            clauses.append("stale = 0")
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        with self._lock:
            rows = self._conn.execute(f"SELECT * FROM message_flags{where} ORDER BY message_id, start_char, id",
                                      params).fetchall()
        return [MessageFlagRow.from_row(r) for r in rows]

    def get_message_flag(self, flag_id: int) -> MessageFlagRow:
        with self._lock:
            row = self._conn.execute("SELECT * FROM message_flags WHERE id = ?", (flag_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no message flag {flag_id}")
        return MessageFlagRow.from_row(row)

    def set_message_flag_status(self, flag_id: int, status: str, note: str | None = None, actor: str | None = None,
                                category: str | None = None) -> MessageFlagRow:
        """Accept / reject / reset a message flag (``note``/``category`` None keep theirs)."""
        if status not in FLAG_STATUSES:
            raise ValueError(f"status must be one of {FLAG_STATUSES}, not {status!r}")
        actor = actor or custody.default_actor()
        with self.transaction() as conn:
            before = self.get_message_flag(flag_id)
            new_note = before.note if note is None else (note or None)
            new_category = before.category if category is None else category
            original = None if new_category == before.machine_category else before.machine_category
            conn.execute("UPDATE message_flags SET status = ?, note = ?, category = ?, category_original = ?,"
                         " reviewed_by = ?, reviewed_at = ? WHERE id = ?",
                         (status, new_note, new_category, original, actor, custody.utc_now(), flag_id))
            custody.append_event(conn, actor=actor, action="review", object=f"msgflag:{flag_id}",
                                 sha256=self._message_sha(conn, before.source_id), detail={
                "message_id": before.message_id,
                "before": {"status": before.status, "note": before.note, "category": before.category},
                "after": {"status": status, "note": new_note, "category": new_category}})
        return self.get_message_flag(flag_id)

    def verify_message_custody(self) -> list[str]:
        """Every message file must have an intake event with its sha256 (as calls do)."""
        with self._snapshot() as conn:
            intakes = {(e.object, e.sha256) for e in custody.read_events(conn) if e.action == "intake"}
            return [f"消息文件 {source_id} 没有对应哈希的接收记录 (message file {source_id}: no intake event with its sha256)"
                    for source_id, sha in conn.execute("SELECT id, sha256 FROM message_sources ORDER BY id")
                    if (f"msgfile:{source_id}", sha) not in intakes]


def open_store(case_dir: str | Path) -> Any:
    """``CaseStore.open`` with the message methods, whether or not ``CaseStore`` includes ``MessagesMixin`` yet."""
    from pipeline.store import CaseStore

    cls = CaseStore if issubclass(CaseStore, MessagesMixin) else _with_messages(CaseStore)
    return cls.open(case_dir)


def _with_messages(base: type) -> type:
    return type("CaseStoreWithMessages", (MessagesMixin, base), {"__doc__": base.__doc__})
