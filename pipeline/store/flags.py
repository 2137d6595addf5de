"""Writing machine flags while keeping every human decision (status, note, category change).

A flag's identity across re-flags is (segment_idx, machine category, start_char, end_char) within
one call and level. A re-flag updates a matching row in place (same id, review kept), inserts
new ones, deletes unmatched flags nobody has touched, and marks unmatched reviewed ones stale.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from pipeline.store.rows import FlagRow
from pipeline.transcript import Segment, Word

# input key -> column; the list/dict columns are stored as <name>_json
_SCALARS = ("segment_idx", "category", "rule", "severity", "score", "start_char", "end_char",
            "start_s", "end_s", "match_text", "text", "context", "speaker", "role", "speaker_unconfirmed")
_JSON = {"rules": [], "legal_basis": [], "explanation": {}, "rule_pack": {}}
_ALIASES = {"segment": "segment_idx", "segment_index": "segment_idx", "match": "match_text",
            "rule_id": "rule", "basis": "legal_basis"}
# owned by the store or the reviewer: never taken from the rules engine's output
_IGNORED = {"id", "call_id", "level", "status", "note", "category_original", "stale", "created",
            "reviewed_by", "reviewed_at", "extra"}
_MACHINE_COLUMNS = (*_SCALARS[:1], *_SCALARS[2:], *(f"{k}_json" for k in _JSON), "extra_json")


def json_default(value: Any) -> Any:
    if isinstance(value, date):  # datetime too
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=json_default, allow_nan=False)


def _as_mapping(flag: Any) -> dict[str, Any]:
    if isinstance(flag, Mapping):
        return dict(flag)
    if hasattr(flag, "to_dict"):
        return dict(flag.to_dict())
    if dataclasses.is_dataclass(flag) and not isinstance(flag, type):
        return {f.name: getattr(flag, f.name) for f in dataclasses.fields(flag)}
    raise TypeError(f"a flag must be a dict or a dataclass, not {type(flag).__name__}")


def normalise_flag(flag: Any, rule_pack: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Column name -> value for one machine flag; unknown keys are kept in ``extra``."""
    source = _as_mapping(flag)
    out: dict[str, Any] = {name: None for name in _SCALARS}
    out.update({name: default for name, default in _JSON.items()})
    out["extra"] = {}
    for key, value in source.items():
        key = _ALIASES.get(key, key)
        if key in ("start", "end"):  # rules-engine char offsets (flag-text), or seconds
            is_char = isinstance(value, int) and not isinstance(value, bool)
            key = f"{key}_char" if is_char else f"{key}_s"
            if out.get(key) is not None:
                continue
        if key in _IGNORED:
            continue
        if key in out and key != "extra":
            out[key] = value
        else:
            out["extra"][key] = value
    if not out["category"] or not out["rule"]:
        raise ValueError(f"a flag needs a category and a rule: {source!r}")
    if rule_pack and not out["rule_pack"]:
        out["rule_pack"] = dict(rule_pack)
    out["speaker_unconfirmed"] = int(bool(out["speaker_unconfirmed"]))
    return out


def _key(segment_idx: int | None, category: str, start_char: int | None, end_char: int | None) -> tuple:
    return (segment_idx, category, start_char, end_char)


def _machine_values(flag: dict[str, Any]) -> list[Any]:
    values = [flag["segment_idx"], *(flag[k] for k in _SCALARS[2:])]
    values += [dumps(flag[k]) for k in _JSON]
    values.append(dumps(flag["extra"]))
    return values


def _stored_segment(conn: sqlite3.Connection, call_id: str, idx: int) -> Segment | None:
    row = conn.execute("SELECT start_s, end_s, text, speaker, role FROM segments WHERE call_id = ? AND idx = ?",
                       (call_id, idx)).fetchone()
    if row is None:
        return None
    words = [Word(*w) for w in conn.execute(
        "SELECT text, start_s, end_s, probability, offset FROM words WHERE call_id = ? AND seg_idx = ?"
        " ORDER BY idx", (call_id, idx))]
    return Segment(index=idx, start=row[0], end=row[1], text=row[2], raw_text=row[2], words=words,
                   speaker=row[3], role=row[4])


def _fill_from_segment(conn: sqlite3.Connection, call_id: str, flag: dict[str, Any]) -> None:
    """Segment text, speaker, role and span times the rules engine left out, from the stored segment."""
    if flag["segment_idx"] is None:
        return
    segment = _stored_segment(conn, call_id, flag["segment_idx"])
    if segment is None:
        return
    for key, value in (("text", segment.text), ("speaker", segment.speaker), ("role", segment.role)):
        if flag[key] is None:
            flag[key] = value
    if flag["start_s"] is None and flag["start_char"] is not None and flag["end_char"] is not None:
        flag["start_s"], flag["end_s"] = segment.time_of_span(flag["start_char"], flag["end_char"])
    if flag["match_text"] is None and flag["start_char"] is not None and flag["end_char"] is not None:
        flag["match_text"] = segment.text[flag["start_char"]:flag["end_char"]]


def replace_flags(
    conn: sqlite3.Connection,
    call_id: str,
    flags: Iterable[Any],
    level: str,
    created: str,
    rule_pack: Mapping[str, Any] | None = None,
) -> dict[str, list[int]]:
    """Replace one call's machine flags of one level; returns flag ids added/updated/removed/stale.

    Runs in the caller's transaction.
    """
    if level not in ("segment", "call"):
        raise ValueError(f"level must be 'segment' or 'call', not {level!r}")
    new_flags = [normalise_flag(f, rule_pack) for f in flags]
    for flag in new_flags:
        _fill_from_segment(conn, call_id, flag)
    existing = [FlagRow.from_row(r) for r in conn.execute(
        "SELECT * FROM flags WHERE call_id = ? AND level = ? ORDER BY id", (call_id, level))]
    reviewed = {r[0] for r in conn.execute(
        "SELECT DISTINCT r.flag_id FROM reviews r JOIN flags f ON f.id = r.flag_id"
        " WHERE f.call_id = ? AND f.level = ?", (call_id, level))}
    unmatched: dict[tuple, list[FlagRow]] = {}
    for row in existing:
        key = _key(row.segment_idx, row.machine_category, row.start_char, row.end_char)
        unmatched.setdefault(key, []).append(row)

    changes: dict[str, list[int]] = {"added": [], "updated": [], "removed": [], "stale": []}
    set_clause = ", ".join(f"{c} = ?" for c in _MACHINE_COLUMNS)
    for flag in new_flags:
        candidates = unmatched.get(_key(flag["segment_idx"], flag["category"], flag["start_char"], flag["end_char"]))
        if candidates:
            row = candidates.pop(0)
            conn.execute(f"UPDATE flags SET {set_clause}, stale = 0 WHERE id = ?",
                         (*_machine_values(flag), row.id))
            changes["updated"].append(row.id)
        else:
            cursor = conn.execute(
                f"INSERT INTO flags (call_id, level, category, created, {', '.join(_MACHINE_COLUMNS)})"
                f" VALUES (?, ?, ?, ?, {', '.join('?' * len(_MACHINE_COLUMNS))})",
                (call_id, level, flag["category"], created, *_machine_values(flag)),
            )
            changes["added"].append(int(cursor.lastrowid))
    for rows in unmatched.values():
        for row in rows:
            if row.status != "pending" or row.note or row.id in reviewed:
                if not row.stale:
                    conn.execute("UPDATE flags SET stale = 1 WHERE id = ?", (row.id,))
                changes["stale"].append(row.id)
            else:
                conn.execute("DELETE FROM flags WHERE id = ?", (row.id,))
                changes["removed"].append(row.id)
    return changes
