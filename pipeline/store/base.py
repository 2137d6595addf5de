"""CaseStore: one case folder's SQLite database (CASE_DIR/case.sqlite).

Every write is one transaction together with its custody event: a crash (even SIGKILL) leaves
either the state before or the state after, never half. WAL lets the review server read while
the batch writes; writers take the lock up front (BEGIN IMMEDIATE) and wait up to
``BUSY_TIMEOUT_S`` for each other. ``synchronous=FULL``: commits are rare (one per call, one
per review click), so an fsync each is cheap, and a decision the reviewer saw saved must survive
a laptop losing power, not only a crashed process (NORMAL only guarantees the latter in WAL).
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from pipeline import __version__
from pipeline.errors import InputError
from pipeline.store import custody, schema
from pipeline.store.flags import dumps
from pipeline.store.rows import CallRow, RunRow

DB_NAME = "case.sqlite"
BUSY_TIMEOUT_S = 30.0


class NotFoundError(LookupError):
    """No call / flag / segment / speaker with that key in this case."""


class CaseStoreBase:
    """Connection, transactions, case info, custody and runs; see ``CaseStore`` for the rest."""

    def __init__(self, case_dir: Path, conn: sqlite3.Connection) -> None:
        self.case_dir = case_dir
        self.path = case_dir / DB_NAME
        self._conn = conn
        self._lock = threading.RLock()  # one connection, shared by a threaded review server
        self._depth = 0

    # ------------------------------------------------------------ opening

    @classmethod
    def open(cls, case_dir: str | Path) -> Self:
        """Open (creating folder and database when missing) and migrate to the current schema."""
        case_dir = Path(case_dir)
        try:
            case_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(case_dir, f"无法创建案件文件夹：{exc.strerror}",
                             f"cannot create the case folder: {exc.strerror}") from exc
        path = case_dir / DB_NAME
        conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        try:
            conn.row_factory = sqlite3.Row
            _configure(conn, path)
            store = cls(case_dir, conn)
            store._init_case_info()
        except BaseException:
            conn.close()
            raise
        return store

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _init_case_info(self) -> None:
        if self._conn.execute("SELECT 1 FROM case_info WHERE key = 'case_id'").fetchone():
            return
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM case_info WHERE key = 'case_id'").fetchone():
                return
            info = {"case_id": uuid.uuid4().hex, "created": custody.utc_now(), "created_by_version": __version__}
            conn.executemany("INSERT INTO case_info (key, value) VALUES (?, ?)", info.items())
            custody.append_event(conn, actor=custody.default_actor(), action="case_created",
                                 object=f"case:{info['case_id']}", detail=info)

    def case_info(self) -> dict[str, str]:
        """case_id, created, created_by_version, and schema_version."""
        with self._lock:
            info = {r[0]: r[1] for r in self._conn.execute("SELECT key, value FROM case_info")}
            info["schema_version"] = str(schema.user_version(self._conn))
        return info

    # ------------------------------------------------------------ transactions

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; nested calls become savepoints of the outer one.

        The batch wraps ``save_transcript`` + ``replace_flags`` of a call in one of these, so a
        call is never marked done without its flags.
        """
        with self._lock:
            depth = self._depth
            self._conn.execute("BEGIN IMMEDIATE" if depth == 0 else f"SAVEPOINT sp{depth}")
            self._depth += 1
            try:
                yield self._conn
            except BaseException:
                self._depth = depth
                if depth == 0:
                    self._conn.execute("ROLLBACK")
                else:
                    self._conn.execute(f"ROLLBACK TO sp{depth}")
                    self._conn.execute(f"RELEASE sp{depth}")
                raise
            self._depth = depth
            try:
                self._conn.execute("COMMIT" if depth == 0 else f"RELEASE sp{depth}")
            except BaseException:
                if depth == 0 and self._conn.in_transaction:  # e.g. disk full: leave nothing half-open
                    self._conn.execute("ROLLBACK")
                raise

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A consistent read across several statements (a writer may commit in between)."""
        with self._lock:
            if self._depth:
                yield self._conn
                return
            self._conn.execute("BEGIN")
            try:
                yield self._conn
            finally:
                self._conn.execute("COMMIT")

    def _call_sha(self, conn: sqlite3.Connection, call_id: str) -> str:
        row = conn.execute("SELECT sha256 FROM calls WHERE id = ?", (call_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no call {call_id!r} in this case")
        return str(row[0])

    def get_call(self, call_id: str) -> CallRow:
        with self._lock:
            row = self._conn.execute("SELECT * FROM calls WHERE id = ?", (call_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no call {call_id!r} in this case")
        return CallRow.from_row(row)

    # ------------------------------------------------------------ custody

    def add_custody(self, actor: str | None, action: str, object: str, sha256: str | None = None,
                    detail: Mapping[str, Any] | None = None) -> custody.CustodyEvent:
        with self.transaction() as conn:
            return custody.append_event(conn, actor=actor or custody.default_actor(), action=action,
                                        object=object, sha256=sha256, detail=detail)

    def custody_events(self) -> list[custody.CustodyEvent]:
        with self._snapshot() as conn:
            return custody.read_events(conn)

    def verify_custody(self) -> list[str]:
        """Problems with the custody log (one line each); empty when the chain is intact.

        Besides the chain itself: every call must have an intake event with its file hash.
        """
        with self._snapshot() as conn:
            events = custody.read_events(conn)
            problems = custody.verify_chain(events, last_seq=custody.last_issued_seq(conn))
            intakes = {(e.object, e.sha256) for e in events if e.action == "intake"}
            for call_id, sha in conn.execute("SELECT id, sha256 FROM calls ORDER BY id"):
                if (f"call:{call_id}", sha) not in intakes:
                    problems.append(f"录音 {call_id} 没有对应哈希的接收记录 "
                                    f"(call {call_id}: no intake event with its sha256)")
        return problems

    # ------------------------------------------------------------ runs

    def start_run(self, *, engine: str | None = None, model: str | None = None,
                  model_sha256: str | None = None, options: Mapping[str, Any] | None = None,
                  rule_packs: list[Any] | None = None, tool_version: str = __version__,
                  actor: str | None = None) -> int:
        actor = actor or custody.default_actor()
        with self.transaction() as conn:
            started = custody.utc_now()
            cursor = conn.execute(
                "INSERT INTO runs (started, actor, tool_version, engine, model, model_sha256, options_json,"
                " rule_packs_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (started, actor, tool_version, engine, model, model_sha256, dumps(dict(options or {})),
                 dumps(list(rule_packs or []))))
            run_id = int(cursor.lastrowid)
            custody.append_event(conn, actor=actor, action="run_start", object=f"run:{run_id}", detail={
                "tool_version": tool_version, "engine": engine, "model": model, "model_sha256": model_sha256,
                "options": dict(options or {}), "rule_packs": list(rule_packs or [])})
        return run_id

    def finish_run(self, run_id: int, summary: Mapping[str, Any], actor: str | None = None) -> None:
        with self.transaction() as conn:
            cursor = conn.execute("UPDATE runs SET finished = ?, summary_json = ? WHERE id = ?",
                                  (custody.utc_now(), dumps(dict(summary)), run_id))
            if cursor.rowcount == 0:
                raise NotFoundError(f"no run {run_id}")
            custody.append_event(conn, actor=actor or custody.default_actor(), action="run_finish",
                                 object=f"run:{run_id}", detail={"summary": dict(summary)})

    def runs(self) -> list[RunRow]:
        with self._lock:
            return [RunRow.from_row(r) for r in self._conn.execute("SELECT * FROM runs ORDER BY id")]


def _configure(conn: sqlite3.Connection, path: Path) -> None:
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA synchronous = FULL")
        version = schema.user_version(conn)
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise InputError(path, "不是 callproof 案件数据库（文件损坏或格式不对）",
                         f"not a callproof case database: {exc}") from exc
    if version and app_id != schema.APPLICATION_ID:
        raise InputError(path, "不是 callproof 案件数据库", "not a callproof case database (application_id)")
    if version > schema.SCHEMA_VERSION:
        raise InputError(path, f"案件由更新版本的 callproof 创建（数据库版本 {version}），请升级后再打开",
                         f"case written by a newer callproof (schema {version} > {schema.SCHEMA_VERSION})")
    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        # needs a moment without other connections; only happens once, when the file is new
        conn.execute("PRAGMA journal_mode = WAL")
    schema.migrate(conn)
