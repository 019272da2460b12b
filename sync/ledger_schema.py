"""The run's ledger file (sync/ledger.py): its tables, the statements that record changes and
outcomes in them and read the report's rows back, and how a change becomes a row."""

from __future__ import annotations

import pickle
from typing import Any

from sync.planned_change import PlannedChange

SCHEMA = """
CREATE TABLE changes (
    key TEXT PRIMARY KEY, connection TEXT, object_type TEXT, record_id TEXT, kind TEXT,
    field TEXT, value BLOB, previous BLOB, reason TEXT,
    p_seq INTEGER, p_status TEXT, p_error TEXT,  -- planned by this run
    w_seq INTEGER, w_status TEXT, w_error TEXT,  -- written (or would be) by this run
    s_status TEXT, s_error TEXT,                 -- planned, not written: the store's word
    -- its report row, made as its write landed (sync/report/early_rows.py): where, and the
    -- lifecycle move the report counts
    text_at INTEGER, text_len INTEGER, csv_at INTEGER, csv_len INTEGER, move TEXT
);
CREATE INDEX changes_planned ON changes (p_seq) WHERE p_seq IS NOT NULL;
CREATE INDEX changes_written ON changes (w_seq) WHERE w_seq IS NOT NULL;
CREATE TABLE notes (kind TEXT, seq INTEGER, k1 TEXT, k2 TEXT, data BLOB);
CREATE INDEX notes_order ON notes (kind, k1, k2, seq);
CREATE INDEX notes_people ON notes (k1);
CREATE TABLE people (key TEXT PRIMARY KEY, name TEXT, email TEXT, company TEXT);
CREATE TABLE records (
    connection TEXT, record_id TEXT, person_key TEXT, name TEXT, email TEXT, company TEXT,
    PRIMARY KEY (connection, record_id)
);
"""
CONTENT = "key, connection, object_type, record_id, kind, field, value, previous, reason"
PLAN = (
    f"INSERT INTO changes ({CONTENT}, p_seq, p_status, p_error) VALUES "
    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
    "p_seq = excluded.p_seq, p_status = excluded.p_status, p_error = excluded.p_error"
)
MADE = "text_at, text_len, csv_at, csv_len, move"
WRITE = (
    f"INSERT INTO changes ({CONTENT}, w_seq, w_status, w_error, {MADE}) VALUES "
    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
    "connection = excluded.connection, object_type = excluded.object_type, "
    "record_id = excluded.record_id, kind = excluded.kind, field = excluded.field, "
    "value = excluded.value, previous = excluded.previous, reason = excluded.reason, "
    "w_seq = excluded.w_seq, w_status = excluded.w_status, w_error = excluded.w_error, "
    "text_at = excluded.text_at, text_len = excluded.text_len, csv_at = excluded.csv_at, "
    "csv_len = excluded.csv_len, move = excluded.move"
)
UNMADE = (None, None, None, None, None)
# one report row: the writer's word on an outcome wins, else the store's, else the plan's (a
# row made as its write landed: where it is; its values are not read)
ROW = (
    "SELECT c.connection, c.record_id, c.field, c.key, c.object_type, c.kind, "
    "CASE WHEN c.text_at IS NULL THEN c.value END, "
    "CASE WHEN c.text_at IS NULL THEN c.previous END, c.reason, "
    "CASE WHEN c.w_seq IS NOT NULL THEN c.w_status "
    "WHEN c.s_status IS NOT NULL THEN c.s_status ELSE c.p_status END, "
    "CASE WHEN c.w_seq IS NOT NULL THEN c.w_error "
    "WHEN c.s_status IS NOT NULL THEN c.s_error ELSE c.p_error END, "
    "c.text_at, c.text_len, c.csv_at, c.csv_len FROM changes c "
)
NOBODY = (None, None, None, None)
ORDER = "(c.connection, c.record_id, c.field, c.key)"


def blob(value: Any) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def row_head(c: PlannedChange) -> tuple[Any, ...]:
    """A change's report columns before who its record is (as `ROW` reads them)."""
    head = (c.connection, c.record_id, c.field, c.key, c.object_type, c.kind, c.value)
    return (*head, c.previous, c.reason, c.status, c.error)


def content(change: PlannedChange) -> tuple[Any, ...]:
    return (
        change.key,
        change.connection,
        change.object_type,
        change.record_id,
        change.kind,
        change.field,
        blob(change.value),
        blob(change.previous),
        change.reason,
    )
