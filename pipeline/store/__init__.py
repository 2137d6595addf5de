"""The case store: one case folder's SQLite database (``CASE_DIR/case.sqlite``).

    with CaseStore.open(case_dir) as store:
        call = store.upsert_call_intake(path, sha256, info=audio_info, meta=call_meta)
        with store.transaction():  # a call is done together with its flags, or not at all
            store.save_transcript(call.id, transcript, {"S0": "collector"}, options_hash)
            store.replace_flags(call.id, flags)

Modules: ``schema`` (tables, migrations), ``custody`` (hash chain), ``rows`` (row dataclasses),
``flags`` (re-flagging that keeps review decisions), ``base`` / ``transcripts`` / ``review``
(the parts of ``CaseStore``).
"""

from __future__ import annotations

from pipeline.store.base import DB_NAME, NotFoundError
from pipeline.store.calllog import CallLogEntryRow, CallLogFlagRow, CallLogMixin, CallLogSourceRow
from pipeline.store.custody import GENESIS, CustodyEvent, default_actor, to_jsonl, verify_chain, verify_jsonl
from pipeline.store.messages import MessagesMixin
from pipeline.store.review import ReviewMixin
from pipeline.store.rows import (
    FLAG_STATUSES,
    ROLES,
    CallRow,
    FlagRow,
    ReviewRow,
    RunRow,
    SegmentRow,
    SpeakerRow,
)
from pipeline.store.schema import SCHEMA_VERSION


class CaseStore(CallLogMixin, MessagesMixin, ReviewMixin):
    """Calls, transcripts, flags, reviews, custody log and runs of one case.

    Safe to share between threads (one connection behind a lock) and between processes (WAL:
    readers never wait for the writer; writers wait for each other).
    """


__all__ = [
    "DB_NAME", "CallLogEntryRow", "CallLogFlagRow", "CallLogSourceRow", "FLAG_STATUSES", "GENESIS", "ROLES", "SCHEMA_VERSION", "CallRow", "CaseStore", "CustodyEvent",
    "FlagRow", "NotFoundError", "ReviewRow", "RunRow", "SegmentRow", "SpeakerRow", "default_actor",
    "to_jsonl", "verify_chain", "verify_jsonl",
]
