"""Calls and transcripts in the case store: intake of discovered files, saving and loading."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pipeline.store import custody
from pipeline.store.base import CaseStoreBase, NotFoundError
from pipeline.store.flags import dumps
from pipeline.store.rows import CallRow, SegmentRow, SpeakerRow
from pipeline.transcript import SCHEMA, ModelInfo, Segment, SourceInfo, Transcript, Word

_PROBE_FIELDS = ("duration", "channels", "sample_rate", "codec", "container")
_META_FIELDS = ("number", "number_raw", "contact_name", "start_time", "start_source", "end_time",
                "direction", "direction_source", "recorder", "received_by", "notes_json", "meta_json")


def _meta_columns(meta: Any) -> dict[str, Any]:
    """CallMeta (or its to_dict()) -> call columns."""
    data = dict(meta.to_dict() if hasattr(meta, "to_dict") else meta or {})
    sources = data.get("sources") or {}

    def iso(value: Any) -> Any:
        return value.isoformat() if hasattr(value, "isoformat") else value

    return {
        "number": data.get("number"), "number_raw": data.get("number_raw"),
        "contact_name": data.get("contact_name"), "start_time": iso(data.get("start")),
        "start_source": sources.get("start"), "end_time": iso(data.get("end")),
        "direction": data.get("direction"), "direction_source": sources.get("direction"),
        "recorder": data.get("recorder"), "received_by": data.get("received_by"),
        "notes_json": dumps(list(data.get("notes") or [])), "meta_json": dumps(data),
    }


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _same_file(a: str | Path, b: str | Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


class TranscriptsMixin(CaseStoreBase):
    # ------------------------------------------------------------ calls

    def find_call(self, sha256: str) -> CallRow | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM calls WHERE sha256 = ?", (sha256,)).fetchone()
        return CallRow.from_row(row) if row else None

    def find_call_by_path(self, path: str | Path) -> CallRow | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM calls WHERE source_path = ? ORDER BY intake_at DESC",
                                     (str(path),)).fetchone()
        return CallRow.from_row(row) if row else None

    def iter_calls(self) -> Iterator[CallRow]:
        """All calls, known start times first in time order, then by path."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM calls ORDER BY start_time IS NULL, start_time, source_path").fetchall()
        yield from (CallRow.from_row(r) for r in rows)

    def upsert_call_intake(self, source_path: str | Path, sha256: str, *, info: Any = None, meta: Any = None,
                           size: int | None = None, mtime: float | None = None,
                           actor: str | None = None, source_rel: str | None = None) -> CallRow:
        """Record a discovered recording (idempotent): content hash, probe info, call metadata.

        ``info`` is a ``pipeline.audio.AudioInfo``, ``meta`` a ``pipeline.calls.CallMeta`` or its
        ``to_dict()``; None for either (probing failed, no metadata) keeps what is already known.
        A new file gets an 'intake' custody event; a known one is updated ('relocate' when it
        moved, 'metadata' when the metadata changed, e.g. after the user edited calls.csv) and
        otherwise left untouched. The same bytes under a second path that still exists are listed
        in ``duplicate_paths``; the same file reached by another spelling of its path (relative before,
        absolute now) is not a duplicate but the same place ('relocate' records the new spelling).
        ``source_rel``: the path relative to the input folder (None keeps what is known).
        """
        path = Path(source_path)
        if size is None:
            size = info.size if info is not None else path.stat().st_size
        if mtime is None and path.exists():
            mtime = path.stat().st_mtime
        columns = {"source_path": str(path), "size": size, "mtime": mtime,
                   **{k: getattr(info, k, None) for k in _PROBE_FIELDS}, **_meta_columns(meta)}
        if source_rel is not None:
            columns["source_rel"] = source_rel
        actor = actor or custody.default_actor()
        with self.transaction() as conn:
            row = conn.execute("SELECT * FROM calls WHERE sha256 = ?", (sha256,)).fetchone()
            if row is None:
                return self._insert_call(conn, sha256, columns, actor)
            call = CallRow.from_row(row)
            if (call.source_path != str(path) and Path(call.source_path).exists()
                    and not _same_file(call.source_path, path)):
                if str(path) not in call.duplicate_paths:
                    conn.execute("UPDATE calls SET duplicate_paths_json = ? WHERE id = ?",
                                 (dumps([*call.duplicate_paths, str(path)]), call.id))
                    custody.append_event(conn, actor=actor, action="duplicate", object=f"call:{call.id}",
                                         sha256=sha256, detail={"path": str(path), "kept": call.source_path})
                return self.get_call(call.id)
            columns.pop("mtime")  # the mtime seen at intake stays: it may be the call's only time
            for unknown, names in ((info, _PROBE_FIELDS), (meta, _META_FIELDS)):
                if unknown is None:  # not probed / no metadata this time: keep what is known
                    for name in names:
                        columns.pop(name)
            changed = {k: (row[k], v) for k, v in columns.items() if row[k] != v}
            if not changed:
                return call
            conn.execute(f"UPDATE calls SET {', '.join(f'{k} = ?' for k in changed)} WHERE id = ?",
                         (*(v[1] for v in changed.values()), call.id))
            moved = "source_path" in changed
            custody.append_event(
                conn, actor=actor, action="relocate" if moved else "metadata", object=f"call:{call.id}",
                sha256=sha256, detail={"before": {k: v[0] for k, v in changed.items()},
                                       "after": {k: v[1] for k, v in changed.items()}})
            return self.get_call(call.id)

    def _insert_call(self, conn: Any, sha256: str, columns: dict[str, Any], actor: str) -> CallRow:
        call_id = sha256[:16]
        at = custody.utc_now()
        names = ["id", "sha256", "intake_at", *columns]
        conn.execute(f"INSERT INTO calls ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                     (call_id, sha256, at, *columns.values()))
        detail = {k: columns[k] for k in ("source_path", "size", "mtime", *_PROBE_FIELDS)}
        if columns.get("source_rel") is not None:
            detail["source_rel"] = columns["source_rel"]
        custody.append_event(conn, actor=actor, action="intake", object=f"call:{call_id}", sha256=sha256,
                             detail=detail)
        return self.get_call(call_id)

    def mark_failed(self, call: str | Path, error: str, actor: str | None = None) -> CallRow:
        """Record that processing a call (by id or path) failed; earlier segments stay as they were.

        A path never taken in (e.g. probing failed before intake) is hashed and taken in first.
        """
        with self.transaction():
            row = self._lookup_call(call)
            if row is None:
                path = Path(call)
                if not path.is_file():
                    raise NotFoundError(f"no call or file {str(call)!r}")
                row = self.upsert_call_intake(path, _file_sha256(path), actor=actor)
            self._conn.execute("UPDATE calls SET status = 'failed', error = ? WHERE id = ?", (error, row.id))
            custody.append_event(self._conn, actor=actor or custody.default_actor(), action="process_failed",
                                 object=f"call:{row.id}", sha256=row.sha256, detail={"error": error})
            return self.get_call(row.id)

    def _lookup_call(self, call: str | Path) -> CallRow | None:
        if isinstance(call, str):
            row = self._conn.execute("SELECT * FROM calls WHERE id = ?", (call,)).fetchone()
            if row:
                return CallRow.from_row(row)
        return self.find_call_by_path(call)

    # ------------------------------------------------------------ transcripts

    def save_transcript(self, call_id: str, transcript: Transcript, speakers: Mapping[str, str],
                        options_hash: str, *, speaker_evidence: Mapping[str, Any] | None = None,
                        actor: str | None = None) -> None:
        """Replace the call's segments, words and automatic speaker roles; mark it done. One transaction.

        Human decisions survive: role overrides (set_role) still apply to their speaker label,
        and a correction is carried over to a new segment with the same index, times and machine
        text; corrections that no longer fit are listed in the custody event.
        """
        actor = actor or custody.default_actor()
        speaker_evidence = speaker_evidence or {}
        with self.transaction() as conn:
            sha = self._call_sha(conn, call_id)
            if transcript.source.sha256 and transcript.source.sha256 != sha:
                raise ValueError(f"transcript of {transcript.source.sha256[:16]} saved to call {call_id}")
            old = {s.idx: s for s in self.segments(call_id) if s.corrected_text is not None}
            overrides = {s.speaker: s.role for s in self.speakers(call_id) if s.role_source == "override"}
            conn.execute("DELETE FROM words WHERE call_id = ?", (call_id,))
            conn.execute("DELETE FROM segments WHERE call_id = ?", (call_id,))
            conn.execute("DELETE FROM speakers WHERE call_id = ? AND role_source = 'auto'", (call_id,))
            carried, dropped = [], []
            for seg in transcript.segments:
                prior = old.pop(seg.index, None)
                keep = prior is not None and (prior.text, prior.start, prior.end) == (seg.text, seg.start, seg.end)
                if keep:
                    carried.append(seg.index)
                elif prior is not None:
                    dropped.append(prior)
                conn.execute(
                    "INSERT INTO segments (call_id, idx, start_s, end_s, channel, speaker, role, text, raw_text,"
                    " avg_logprob, no_speech_prob, corrected_text, corrected_by, corrected_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (call_id, seg.index, seg.start, seg.end, seg.channel, seg.speaker,
                     overrides.get(seg.speaker, seg.role), seg.text, seg.raw_text, seg.avg_logprob,
                     seg.no_speech_prob, *((prior.corrected_text, prior.corrected_by, prior.corrected_at)
                                           if keep else (None, None, None))))
                conn.executemany(
                    "INSERT INTO words (call_id, seg_idx, idx, text, start_s, end_s, probability, offset)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [(call_id, seg.index, i, w.text, w.start, w.end, w.probability, w.offset)
                     for i, w in enumerate(seg.words)])
            dropped += old.values()
            labels = dict.fromkeys([*speakers, *(s.speaker for s in transcript.segments if s.speaker)])
            for label in labels:
                if label in overrides:
                    continue
                role = speakers.get(label) or next(
                    (s.role for s in transcript.segments if s.speaker == label and s.role), "unknown")
                conn.execute("INSERT INTO speakers (call_id, speaker, role, role_source, evidence_json)"
                             " VALUES (?, ?, ?, 'auto', ?)", (call_id, label, role,
                                                              dumps(speaker_evidence.get(label, {}))))
            extra = {"schema": transcript.schema, "language": transcript.language,
                     "tool_version": transcript.tool_version, "created": transcript.created,
                     "dropped": transcript.dropped, "source": asdict(transcript.source),
                     "model": asdict(transcript.model)}
            conn.execute(
                "UPDATE calls SET status = 'done', error = NULL, engine = ?, model_name = ?, model_sha256 = ?,"
                " options_hash = ?, options_json = ?, transcribed_at = ?, processing_seconds = ?,"
                " transcript_json = ? WHERE id = ?",
                (transcript.model.engine, transcript.model.name, transcript.model.sha256, options_hash,
                 dumps(transcript.options), custody.utc_now(), transcript.processing_seconds, dumps(extra),
                 call_id))
            custody.append_event(conn, actor=actor, action="transcribe", object=f"call:{call_id}", sha256=sha,
                                 detail={
                "engine": transcript.model.engine, "model": transcript.model.name,
                "model_sha256": transcript.model.sha256, "options_hash": options_hash,
                "segments": len(transcript.segments), "words": sum(len(s.words) for s in transcript.segments),
                "text_sha256": hashlib.sha256(transcript.text.encode("utf-8")).hexdigest(),
                "role_overrides_kept": overrides, "corrections_carried": carried,
                "corrections_dropped": [{"idx": p.idx, "start": p.start, "end": p.end, "machine_text": p.text,
                                         "corrected_text": p.corrected_text, "corrected_by": p.corrected_by,
                                         "corrected_at": p.corrected_at} for p in dropped]})

    def load_transcript(self, call_id: str) -> Transcript:
        """The machine transcript as saved (corrections: ``segments()``'s ``corrected_text``)."""
        with self._snapshot() as conn:
            call = self.get_call(call_id)
            row = conn.execute("SELECT transcript_json FROM calls WHERE id = ?", (call_id,)).fetchone()
            if row[0] is None:
                raise NotFoundError(f"call {call_id} has no transcript yet")
            extra = json.loads(row[0])
            words: dict[int, list[Word]] = {}
            for w in conn.execute("SELECT seg_idx, text, start_s, end_s, probability, offset FROM words"
                                  " WHERE call_id = ? ORDER BY seg_idx, idx", (call_id,)):
                words.setdefault(w[0], []).append(Word(w[1], w[2], w[3], w[4], w[5]))
            segments = [Segment(index=s.idx, start=s.start, end=s.end, text=s.text, raw_text=s.raw_text,
                                words=words.get(s.idx, []), avg_logprob=s.avg_logprob,
                                no_speech_prob=s.no_speech_prob, channel=s.channel, speaker=s.speaker,
                                role=s.role) for s in self.segments(call_id)]
        return Transcript(source=SourceInfo(**extra["source"]), model=ModelInfo(**extra["model"]),
                          segments=segments, language=extra["language"], options=call.options or {},
                          tool_version=extra["tool_version"], created=extra["created"],
                          processing_seconds=call.processing_seconds or 0.0, dropped=extra["dropped"],
                          schema=extra.get("schema", SCHEMA))

    def source_damage(self, call_id: str) -> dict[str, Any] | None:
        """How the stored transcript's recording was cut short or damaged (``Damage.to_dict()``), or None."""
        with self._lock:
            row = self._conn.execute("SELECT transcript_json FROM calls WHERE id = ?", (call_id,)).fetchone()
        if row is None or row[0] is None:
            return None
        return (json.loads(row[0]).get("source") or {}).get("damage")

    def segments(self, call_id: str) -> list[SegmentRow]:
        with self._lock:
            return [SegmentRow.from_row(r) for r in self._conn.execute(
                "SELECT * FROM segments WHERE call_id = ? ORDER BY idx", (call_id,))]

    def speakers(self, call_id: str) -> list[SpeakerRow]:
        with self._lock:
            return [SpeakerRow.from_row(r) for r in self._conn.execute(
                "SELECT * FROM speakers WHERE call_id = ? ORDER BY speaker", (call_id,))]
