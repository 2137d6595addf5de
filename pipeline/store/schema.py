"""Case database schema as an ordered list of migration steps, versioned by ``PRAGMA user_version``.

Version N means ``MIGRATIONS[:N]`` have been applied. Never edit a released step: append one.
Columns named ``*_json`` hold JSON text. Times are UTC ISO 8601 strings, except a call's
``start_time``/``end_time``, which keep the recorder's own form (naive = phone-local wall time).
``start_s``/``end_s`` are seconds in the original recording (``end`` is an SQL keyword).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

# PRAGMA application_id marks the file as a callproof case ("CPRF").
APPLICATION_ID = 0x43505246

_V1 = (
    """CREATE TABLE case_info (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    """CREATE TABLE calls (
        id TEXT PRIMARY KEY,                       -- first 16 hex of sha256
        sha256 TEXT NOT NULL UNIQUE,
        source_path TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime REAL,
        duration REAL,
        channels INTEGER,
        sample_rate INTEGER,
        codec TEXT,
        container TEXT,
        intake_at TEXT NOT NULL,
        number TEXT,
        number_raw TEXT,
        contact_name TEXT,
        start_time TEXT,
        start_source TEXT,
        end_time TEXT,
        direction TEXT,
        direction_source TEXT,
        recorder TEXT,
        received_by TEXT,
        notes_json TEXT NOT NULL DEFAULT '[]',
        meta_json TEXT NOT NULL DEFAULT '{}',      -- the whole CallMeta, sources included
        duplicate_paths_json TEXT NOT NULL DEFAULT '[]',  -- other files with the same bytes
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
        error TEXT,
        engine TEXT,
        model_name TEXT,
        model_sha256 TEXT,
        options_hash TEXT,
        options_json TEXT,
        transcribed_at TEXT,
        processing_seconds REAL,
        transcript_json TEXT                       -- transcript fields without segments
    )""",
    "CREATE INDEX calls_source_path ON calls (source_path)",
    """CREATE TABLE segments (
        call_id TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        start_s REAL NOT NULL,
        end_s REAL NOT NULL,
        channel INTEGER,
        speaker TEXT,
        role TEXT,
        text TEXT NOT NULL,
        raw_text TEXT NOT NULL,
        avg_logprob REAL NOT NULL,
        no_speech_prob REAL NOT NULL,
        corrected_text TEXT,
        corrected_by TEXT,
        corrected_at TEXT,
        PRIMARY KEY (call_id, idx)
    )""",
    """CREATE TABLE words (
        call_id TEXT NOT NULL,
        seg_idx INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        text TEXT NOT NULL,
        start_s REAL NOT NULL,
        end_s REAL NOT NULL,
        probability REAL NOT NULL,
        offset INTEGER NOT NULL,
        PRIMARY KEY (call_id, seg_idx, idx),
        FOREIGN KEY (call_id, seg_idx) REFERENCES segments (call_id, idx) ON DELETE CASCADE
    )""",
    """CREATE TABLE speakers (
        call_id TEXT NOT NULL REFERENCES calls (id) ON DELETE CASCADE,
        speaker TEXT NOT NULL,
        role TEXT NOT NULL,
        role_source TEXT NOT NULL CHECK (role_source IN ('auto', 'override')),
        evidence_json TEXT NOT NULL DEFAULT '{}',
        PRIMARY KEY (call_id, speaker)
    )""",
    # Flags are never cascaded away with their call: they carry review decisions.
    """CREATE TABLE flags (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        call_id TEXT NOT NULL REFERENCES calls (id),
        segment_idx INTEGER,
        level TEXT NOT NULL CHECK (level IN ('segment', 'call')),
        category TEXT NOT NULL,
        category_original TEXT,
        rule TEXT NOT NULL,
        rules_json TEXT NOT NULL DEFAULT '[]',
        severity INTEGER,
        score REAL,
        start_char INTEGER,
        end_char INTEGER,
        start_s REAL,
        end_s REAL,
        match_text TEXT,
        text TEXT,
        context TEXT,
        speaker TEXT,
        role TEXT,
        speaker_unconfirmed INTEGER NOT NULL DEFAULT 0,
        legal_basis_json TEXT NOT NULL DEFAULT '[]',
        explanation_json TEXT NOT NULL DEFAULT '{}',
        rule_pack_json TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'rejected')),
        note TEXT,
        reviewed_by TEXT,
        reviewed_at TEXT,
        created TEXT NOT NULL
    )""",
    "CREATE INDEX flags_call ON flags (call_id, level)",
    "CREATE INDEX flags_status ON flags (status, category)",
    """CREATE TABLE reviews (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        flag_id INTEGER NOT NULL REFERENCES flags (id),
        decision TEXT NOT NULL,
        note TEXT,
        category TEXT,
        actor TEXT NOT NULL,
        at TEXT NOT NULL
    )""",
    "CREATE INDEX reviews_flag ON reviews (flag_id)",
    # AUTOINCREMENT: seq values are never reused, so a deleted last event leaves a visible gap
    # against sqlite_sequence.
    """CREATE TABLE custody (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        object TEXT NOT NULL,
        sha256 TEXT,
        detail_json TEXT NOT NULL DEFAULT '{}',
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL UNIQUE
    )""",
    # Guard against accidental edits by code; deliberate tampering is caught by verify_custody().
    """CREATE TRIGGER custody_no_update BEFORE UPDATE ON custody
        BEGIN SELECT RAISE(ABORT, 'custody log is append-only'); END""",
    """CREATE TRIGGER custody_no_delete BEFORE DELETE ON custody
        BEGIN SELECT RAISE(ABORT, 'custody log is append-only'); END""",
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        started TEXT NOT NULL,
        finished TEXT,
        actor TEXT NOT NULL,
        tool_version TEXT NOT NULL,
        engine TEXT,
        model TEXT,
        model_sha256 TEXT,
        options_json TEXT NOT NULL DEFAULT '{}',
        rule_packs_json TEXT NOT NULL DEFAULT '[]',
        summary_json TEXT
    )""",
)

# v2: reviewed flags that a re-flag no longer produces are kept and marked stale, never
# deleted; machine fields without a column of their own go to extra_json.
_V2 = (
    "ALTER TABLE flags ADD COLUMN stale INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE flags ADD COLUMN extra_json TEXT NOT NULL DEFAULT '{}'",
)

# v3: text evidence (SMS backups, chat exports, screenshots; see pipeline/store/messages.py).
# A message file is keyed by its content hash like a call; its messages by (file, index).
# message_flags has no foreign key to messages: like call flags it carries review decisions
# and outlives a re-parse. level 'text' = rule packs on the text, 'log' = OFF_HOURS/EXCESS_FREQ.
_V3 = (
    """CREATE TABLE message_sources (
        id TEXT PRIMARY KEY,                       -- first 16 hex of sha256
        sha256 TEXT NOT NULL UNIQUE,
        source_path TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime REAL,
        format TEXT,                               -- sms_xml | sms_csv | chat_text | screenshot
        kind TEXT,                                 -- sms | chat | screenshot
        received_by TEXT,
        received_by_source TEXT,                   -- user | csv | folder
        intake_at TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
        error TEXT,
        parser_key TEXT,                           -- parser + OCR model fingerprint of the stored messages
        parsed_at TEXT,
        problems_json TEXT NOT NULL DEFAULT '[]',  -- entries that could not be read, with their line
        duplicate_paths_json TEXT NOT NULL DEFAULT '[]',
        meta_json TEXT NOT NULL DEFAULT '{}'
    )""",
    "CREATE INDEX message_sources_path ON message_sources (source_path)",
    """CREATE TABLE messages (
        id TEXT PRIMARY KEY,                       -- <source id>-<index>
        source_id TEXT NOT NULL REFERENCES message_sources (id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        kind TEXT NOT NULL,
        direction TEXT,                            -- received | sent | NULL (unknown)
        number TEXT,
        number_raw TEXT,
        contact_name TEXT,
        sender TEXT,
        time TEXT,                                 -- ISO; naive = phone-local wall time
        time_source TEXT,
        time_text TEXT,
        line INTEGER,
        text TEXT NOT NULL,
        received_by TEXT,
        confidence REAL,
        ocr_json TEXT NOT NULL DEFAULT '[]',       -- [{text, box, confidence}] per OCR line
        notes_json TEXT NOT NULL DEFAULT '[]',
        meta_json TEXT NOT NULL DEFAULT '{}',
        UNIQUE (source_id, idx)
    )""",
    "CREATE INDEX messages_time ON messages (time)",
    """CREATE TABLE message_flags (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        message_id TEXT NOT NULL,
        source_id TEXT NOT NULL,
        level TEXT NOT NULL CHECK (level IN ('text', 'log')),
        category TEXT NOT NULL,
        category_original TEXT,
        rule TEXT NOT NULL,
        rules_json TEXT NOT NULL DEFAULT '[]',
        severity INTEGER,
        score REAL,
        start_char INTEGER,
        end_char INTEGER,
        match_text TEXT,
        text TEXT,
        role TEXT,
        speaker_unconfirmed INTEGER NOT NULL DEFAULT 0,
        legal_basis_json TEXT NOT NULL DEFAULT '[]',
        explanation_json TEXT NOT NULL DEFAULT '{}',
        rule_pack_json TEXT NOT NULL DEFAULT '{}',
        boxes_json TEXT NOT NULL DEFAULT '[]',     -- OCR boxes of the flagged lines (screenshots)
        extra_json TEXT NOT NULL DEFAULT '{}',
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'rejected')),
        note TEXT,
        reviewed_by TEXT,
        reviewed_at TEXT,
        stale INTEGER NOT NULL DEFAULT 0,
        created TEXT NOT NULL
    )""",
    "CREATE INDEX message_flags_source ON message_flags (source_id, level)",
    "CREATE INDEX message_flags_message ON message_flags (message_id)",
)

# v4: call logs (pipeline/calllog/, pipeline/store/calllog.py): the phone's call history (SMS Backup &
# Restore calls XML), carriers' itemized records, calls.csv rows without a file, call-log screenshots.
# An entry is one call (or a row with a count badge), with or without a recording: ``call_id`` is the
# recording of the same call, ``same_as`` the entry kept when two logs hold the same call. A file
# that turned out not to be a call log (a chat screenshot) is kept with status 'other' so it is not
# read again. calllog_flags are the call-level findings over the whole log (recorded or not).
_V4 = (
    """CREATE TABLE calllog_sources (
        id TEXT PRIMARY KEY,                       -- first 16 hex of sha256
        sha256 TEXT NOT NULL UNIQUE,
        source_path TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime REAL,
        format TEXT,                               -- calls_xml | carrier | user_csv | screenshot
        received_by TEXT,
        received_by_source TEXT,                   -- user | folder
        intake_at TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed', 'other')),
        error TEXT,
        parser_key TEXT,
        parsed_at TEXT,
        problems_json TEXT NOT NULL DEFAULT '[]',  -- rows that could not be read, one line each
        meta_json TEXT NOT NULL DEFAULT '{}'
    )""",
    """CREATE TABLE calllog_entries (
        id TEXT PRIMARY KEY,                       -- <source id>-<index>
        source_id TEXT NOT NULL REFERENCES calllog_sources (id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        type TEXT NOT NULL,                        -- incoming | outgoing | missed | rejected | blocked | voicemail | unknown
        direction TEXT,                            -- incoming | outgoing | NULL
        number TEXT,
        number_raw TEXT,
        contact_name TEXT,
        start_time TEXT,                           -- ISO; naive = phone-local wall time
        time_source TEXT,                          -- phone | carrier | user | screenshot
        time_precision TEXT,                       -- ms | s | minute | day
        time_text TEXT,
        duration REAL,
        count INTEGER NOT NULL DEFAULT 1,          -- a screenshot row's badge: (3) = 3 calls
        location TEXT,
        received_by TEXT,
        line INTEGER,
        confidence REAL,
        ocr_json TEXT NOT NULL DEFAULT '[]',
        notes_json TEXT NOT NULL DEFAULT '[]',
        meta_json TEXT NOT NULL DEFAULT '{}',
        call_id TEXT,
        same_as TEXT,
        UNIQUE (source_id, idx)
    )""",
    "CREATE INDEX calllog_entries_time ON calllog_entries (start_time)",
    """CREATE TABLE calllog_flags (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        category TEXT NOT NULL,
        rule TEXT NOT NULL,
        number TEXT,
        day TEXT,
        severity INTEGER,
        score REAL,
        count INTEGER,
        legal_basis_json TEXT NOT NULL DEFAULT '[]',
        entry_ids_json TEXT NOT NULL DEFAULT '[]',
        call_ids_json TEXT NOT NULL DEFAULT '[]',
        description TEXT,
        explanation TEXT,
        extra_json TEXT NOT NULL DEFAULT '{}',
        created TEXT NOT NULL
    )""",
)

# v5: where a recording was found, so a case opened from another folder (or with the originals
# moved) still finds it: ``source_path`` is absolute from now on, ``source_rel`` the path relative
# to the input folder of the run that took it in (``pipeline.locate`` looks under --recordings).
_V5 = (
    "ALTER TABLE calls ADD COLUMN source_rel TEXT",
)

Step = tuple[str, ...] | Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Step] = [_V1, _V2, _V3, _V4, _V5]
SCHEMA_VERSION = len(MIGRATIONS)


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, target: int = SCHEMA_VERSION) -> int:
    """Apply the missing steps up to ``target`` in one transaction; returns the version reached.

    ``conn`` must be in autocommit mode (``isolation_level=None``). DDL and ``user_version``
    are transactional in SQLite, so a crash mid-migration leaves the old version intact.
    """
    if user_version(conn) >= target:
        return user_version(conn)
    conn.execute("BEGIN IMMEDIATE")
    try:
        current = user_version(conn)  # another process may have migrated while we waited
        for step in MIGRATIONS[current:target]:
            if callable(step):
                step(conn)
            else:
                for statement in step:
                    conn.execute(statement)
        if current == 0 and target > 0:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        conn.execute(f"PRAGMA user_version = {max(current, target)}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return user_version(conn)
