"""Flags and human review in the case store: machine flags in, reviewer decisions, corrections, roles.

Each reviewer action writes its change, a ``reviews`` row (flag decisions) and a custody event
with before/after in one transaction, so a closed browser or killed server loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pipeline.store import custody
from pipeline.store import flags as flag_rows
from pipeline.store.base import NotFoundError
from pipeline.store.rows import FLAG_STATUSES, ROLES, FlagRow, ReviewRow, SegmentRow, SpeakerRow
from pipeline.store.transcripts import TranscriptsMixin


def _where(**filters: Any) -> tuple[str, list[Any]]:
    clauses, params = [], []
    for column, value in filters.items():
        if value is not None:
            clauses.append(f"f.{column} = ?")
            params.append(int(value) if isinstance(value, bool) else value)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


class ReviewMixin(TranscriptsMixin):
    # ------------------------------------------------------------ machine flags

    def replace_flags(self, call_id: str, flags: Iterable[Any], level: str = "segment", *,
                      rule_pack: Mapping[str, Any] | None = None, actor: str | None = None) -> dict[str, list[int]]:
        """Replace the machine flags of one call and level, keeping review decisions (one transaction).

        ``flags`` are dicts or dataclasses with the flag columns (``category``, ``rule``,
        ``segment_idx``, ``start_char``/``end_char``, ``start_s``/``end_s``, ``score``, ...); other
        keys are kept in ``extra``; segment text, speaker, role, match text and span times left out
        are filled in from the stored segment and its word times. A flag with the same (segment_idx, category, start_char,
        end_char) as a stored one updates it in place (same id, status and note kept); stored flags
        that no longer fire are deleted if untouched, else kept and marked stale. Returns the ids
        added / updated / removed / stale.
        """
        with self.transaction() as conn:
            sha = self._call_sha(conn, call_id)
            changes = flag_rows.replace_flags(conn, call_id, flags, level, custody.utc_now(), rule_pack)
            custody.append_event(conn, actor=actor or custody.default_actor(), action="flag",
                                 object=f"call:{call_id}", sha256=sha,
                                 detail={"level": level, "rule_pack": dict(rule_pack or {}), **changes})
        return changes

    def get_flag(self, flag_id: int) -> FlagRow:
        with self._lock:
            row = self._conn.execute("SELECT * FROM flags WHERE id = ?", (flag_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"no flag {flag_id}")
        return FlagRow.from_row(row)

    def call_flags(self, call_id: str) -> list[FlagRow]:
        """One call's flags, call-level first, then in transcript order."""
        return self.all_flags(call_id=call_id)

    def all_flags(self, status: str | None = None, category: str | None = None, call_id: str | None = None,
                  speaker: str | None = None, *, level: str | None = None,
                  stale: bool | None = None) -> list[FlagRow]:
        """Flags matching every filter given, in call time order then transcript order."""
        where, params = _where(status=status, category=category, call_id=call_id, speaker=speaker,
                               level=level, stale=stale)
        with self._lock:
            rows = self._conn.execute(
                "SELECT f.* FROM flags f JOIN calls c ON c.id = f.call_id" + where +
                " ORDER BY c.start_time IS NULL, c.start_time, c.source_path, f.level = 'segment',"
                " f.segment_idx, f.start_char, f.id", params).fetchall()
        return [FlagRow.from_row(r) for r in rows]

    def flag_counts(self, call_id: str | None = None, speaker: str | None = None) -> dict[str, dict[str, int]]:
        """Counts for filter menus: {"status": {...}, "category": {...}, "pending_by_category": {...}}."""
        where, params = _where(call_id=call_id, speaker=speaker)
        counts: dict[str, dict[str, int]] = {"status": {s: 0 for s in FLAG_STATUSES}, "category": {},
                                             "pending_by_category": {}}
        with self._lock:
            for status, category, n in self._conn.execute(
                    "SELECT f.status, f.category, COUNT(*) FROM flags f" + where +
                    " GROUP BY f.status, f.category ORDER BY f.category", params):
                counts["status"][status] += n
                counts["category"][category] = counts["category"].get(category, 0) + n
                if status == "pending":
                    counts["pending_by_category"][category] = n
        return counts

    # ------------------------------------------------------------ reviewer actions

    def set_flag_status(self, flag_id: int, status: str, note: str | None = None, actor: str | None = None,
                        category: str | None = None) -> FlagRow:
        """Accept / reject / reset a flag; ``note`` None keeps the note, ``category`` None keeps it."""
        if status not in FLAG_STATUSES:
            raise ValueError(f"status must be one of {FLAG_STATUSES}, not {status!r}")
        if category is not None and not category.strip():
            raise ValueError("category must not be empty")
        actor = actor or custody.default_actor()
        with self.transaction() as conn:
            before = self.get_flag(flag_id)
            new_note = before.note if note is None else (note or None)
            new_category = before.category if category is None else category
            original = None if new_category == before.machine_category else before.machine_category
            at = custody.utc_now()
            conn.execute("UPDATE flags SET status = ?, note = ?, category = ?, category_original = ?,"
                         " reviewed_by = ?, reviewed_at = ? WHERE id = ?",
                         (status, new_note, new_category, original, actor, at, flag_id))
            conn.execute("INSERT INTO reviews (flag_id, decision, note, category, actor, at)"
                         " VALUES (?, ?, ?, ?, ?, ?)", (flag_id, status, new_note, new_category, actor, at))
            custody.append_event(conn, actor=actor, action="review", object=f"flag:{flag_id}",
                                 sha256=self._call_sha(conn, before.call_id), detail={
                "call_id": before.call_id,
                "before": {"status": before.status, "note": before.note, "category": before.category},
                "after": {"status": status, "note": new_note, "category": new_category}})
            return self.get_flag(flag_id)

    def flag_reviews(self, flag_id: int | None = None) -> list[ReviewRow]:
        """The review history, oldest first (one flag's, or all)."""
        sql, params = "SELECT * FROM reviews", ()
        if flag_id is not None:
            sql, params = sql + " WHERE flag_id = ?", (flag_id,)
        with self._lock:
            return [ReviewRow.from_row(r) for r in self._conn.execute(sql + " ORDER BY id", params)]

    def correct_segment(self, call_id: str, idx: int, text: str | None, actor: str | None = None) -> SegmentRow:
        """Store a human correction beside the machine text (None or the machine text clears it)."""
        actor = actor or custody.default_actor()
        with self.transaction() as conn:
            before = next((s for s in self.segments(call_id) if s.idx == idx), None)
            if before is None:
                raise NotFoundError(f"no segment {idx} in call {call_id}")
            corrected = None if text is None or text == before.text else text
            at = custody.utc_now()
            conn.execute("UPDATE segments SET corrected_text = ?, corrected_by = ?, corrected_at = ?"
                         " WHERE call_id = ? AND idx = ?",
                         (corrected, actor if corrected is not None else None,
                          at if corrected is not None else None, call_id, idx))
            custody.append_event(conn, actor=actor, action="correct", object=f"segment:{call_id}/{idx}",
                                 sha256=self._call_sha(conn, call_id), detail={
                "machine_text": before.text, "before": before.corrected_text, "after": corrected})
            return next(s for s in self.segments(call_id) if s.idx == idx)

    def set_role(self, call_id: str, speaker: str, role: str, actor: str | None = None) -> SpeakerRow:
        """The reviewer says who a speaker is; applied to the speaker's segments and flags.

        Role-gated rules see the new role only after a re-flag (the batch's ``--reflag``).
        """
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {role!r}")
        actor = actor or custody.default_actor()
        with self.transaction() as conn:
            sha = self._call_sha(conn, call_id)
            before = next((s for s in self.speakers(call_id) if s.speaker == speaker), None)
            if before is None and not conn.execute("SELECT 1 FROM segments WHERE call_id = ? AND speaker = ?",
                                                   (call_id, speaker)).fetchone():
                raise NotFoundError(f"no speaker {speaker!r} in call {call_id}")
            conn.execute(
                "INSERT INTO speakers (call_id, speaker, role, role_source) VALUES (?, ?, ?, 'override')"
                " ON CONFLICT (call_id, speaker) DO UPDATE SET role = excluded.role, role_source = 'override'",
                (call_id, speaker, role))
            conn.execute("UPDATE segments SET role = ? WHERE call_id = ? AND speaker = ?", (role, call_id, speaker))
            conn.execute("UPDATE flags SET role = ? WHERE call_id = ? AND speaker = ?", (role, call_id, speaker))
            custody.append_event(conn, actor=actor, action="role", object=f"speaker:{call_id}/{speaker}",
                                 sha256=sha, detail={
                "before": {"role": before.role, "role_source": before.role_source} if before else None,
                "after": {"role": role, "role_source": "override"}})
            return next(s for s in self.speakers(call_id) if s.speaker == speaker)
