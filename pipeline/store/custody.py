"""The hash-chained custody log: every action on the evidence, in order, tamper-evident.

An event's ``hash`` is the SHA-256 of its canonical JSON (all fields but ``hash``, keys
sorted, UTF-8, no spaces), and each event's ``prev_hash`` is the previous event's hash
(``GENESIS`` for the first). Written one canonical JSON per line (``custody.jsonl`` in an
evidence pack), each line therefore carries the SHA-256 of the previous line, and
``verify_chain`` checks such a file without the case database.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def default_actor() -> str:
    """The local OS user: who sat at the machine when the action happened."""
    try:
        return getpass.getuser()
    except Exception:  # no login name in a bare container: still record something honest
        return "unknown"


@dataclass
class CustodyEvent:
    seq: int
    at: str
    actor: str
    action: str
    object: str
    sha256: str | None
    detail: dict[str, Any] = field(default_factory=dict)
    prev_hash: str = GENESIS
    hash: str = ""

    def canonical_json(self) -> str:
        """The exact text that is hashed: one line of ``custody.jsonl``."""
        body = asdict(self)
        body.pop("hash")
        return canonical_json(body)

    def compute_hash(self) -> str:
        return hashlib.sha256(self.canonical_json().encode("utf-8")).hexdigest()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CustodyEvent:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


def verify_chain(events: Iterable[CustodyEvent | Mapping[str, Any]], last_seq: int | None = None) -> list[str]:
    """Problems in a custody chain, one line each (Chinese, then English); empty when intact.

    ``last_seq`` is the highest sequence number ever issued (the database's sqlite_sequence),
    which exposes a deleted last event; a pack's custody.jsonl has none to give.
    """
    problems: list[str] = []
    prev_hash, expected_seq = GENESIS, 1
    for item in events:
        event = item if isinstance(item, CustodyEvent) else CustodyEvent.from_dict(item)
        if event.seq != expected_seq:
            problems.append(
                f"监管记录缺失：第 {expected_seq}–{event.seq - 1} 条不见了 "
                f"(custody events {expected_seq}..{event.seq - 1} missing)"
                if event.seq > expected_seq
                else f"监管记录顺序错乱：第 {event.seq} 条出现在第 {expected_seq} 条的位置 "
                f"(custody event {event.seq} out of order)"
            )
        if event.prev_hash != prev_hash:
            problems.append(
                f"监管记录第 {event.seq} 条与前一条的链接断开 (custody event {event.seq}: prev_hash does "
                f"not match the previous event)"
            )
        if event.compute_hash() != event.hash:
            problems.append(
                f"监管记录第 {event.seq} 条内容被改动（哈希不符） (custody event {event.seq}: content "
                f"does not match its hash)"
            )
        prev_hash, expected_seq = event.hash, event.seq + 1
    if last_seq is not None and last_seq >= expected_seq:
        problems.append(
            f"监管记录末尾缺失：第 {expected_seq}–{last_seq} 条不见了 "
            f"(custody events {expected_seq}..{last_seq} missing at the end)"
        )
    return problems


def to_jsonl(events: Iterable[CustodyEvent]) -> str:
    """``custody.jsonl`` text: one canonical event per line, so each line's ``prev_hash`` is the
    SHA-256 of the line before it (the last line is covered by the pack's SHA256SUMS)."""
    return "".join(event.canonical_json() + "\n" for event in events)


def verify_jsonl(text: str) -> list[str]:
    """Problems in a ``custody.jsonl`` written by ``to_jsonl`` (one line each); empty when intact."""
    events: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), 1):
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError("not an object")
        except ValueError:
            return [f"custody.jsonl 第 {number} 行不是有效的 JSON (custody.jsonl line {number}: not JSON)"]
        data["hash"] = hashlib.sha256(line.encode("utf-8")).hexdigest()
        events.append(data)
    try:
        return verify_chain(events)
    except TypeError as exc:
        return [f"custody.jsonl 缺少字段 (custody.jsonl: missing fields: {exc})"]


def append_event(
    conn: sqlite3.Connection,
    *,
    actor: str,
    action: str,
    object: str,
    sha256: str | None = None,
    detail: Mapping[str, Any] | None = None,
) -> CustodyEvent:
    """Append one event. Must run inside the caller's write transaction (BEGIN IMMEDIATE), so
    that two writers can never both chain onto the same previous event."""
    if not conn.in_transaction:
        raise RuntimeError("append_event needs an open write transaction")
    last = conn.execute("SELECT hash FROM custody ORDER BY seq DESC LIMIT 1").fetchone()
    issued = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'custody'").fetchone()
    event = CustodyEvent(
        seq=(issued[0] if issued else 0) + 1,
        at=utc_now(),
        actor=actor,
        action=action,
        object=object,
        sha256=sha256,
        detail=json.loads(canonical_json(dict(detail or {}))),  # what is stored is what is hashed
        prev_hash=last[0] if last else GENESIS,
    )
    event.hash = event.compute_hash()
    conn.execute(
        "INSERT INTO custody (seq, at, actor, action, object, sha256, detail_json, prev_hash, hash)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (event.seq, event.at, event.actor, event.action, event.object, event.sha256,
         canonical_json(event.detail), event.prev_hash, event.hash),
    )
    return event


def read_events(conn: sqlite3.Connection) -> list[CustodyEvent]:
    rows = conn.execute(
        "SELECT seq, at, actor, action, object, sha256, detail_json, prev_hash, hash FROM custody ORDER BY seq"
    ).fetchall()
    return [CustodyEvent(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]), r[7], r[8]) for r in rows]


def last_issued_seq(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'custody'").fetchone()
    return int(row[0]) if row else 0
