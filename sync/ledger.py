"""The run's ledger: every change it planned and every write outcome, on disk as they happen.

A run over a million contacts plans and writes millions of field changes; kept in memory for the
report they would grow the worker with N (about 1 GB at 100,000 contacts). They go to a scratch
SQLite file per run instead: private to the worker, in the temp directory (`TMPDIR`), removed
with the run's result, the same for either state store, and untouched by a dry run's rollback.
The report reads its rows back from here in their sorted order (SQLite sorts on disk), joined
with who each record is; the run itself keeps counts only.

Values are kept pickled: the file is this process's own, and a change reads back exactly as
planned (a datetime stays a datetime).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pickle
import sqlite3
import tempfile
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from connectors.spill import write_all
from sync.ledger_view import LedgerView
from sync.outbox import PlannedChange

__all__ = ["LedgerUnwritable", "LedgerView", "RunLedger"]

PAGE = 1000  # rows per read: no cursor stays open while the writer thread records
IN_LIST = 500  # keys per IN (...) list against the state store

_SCHEMA = """
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
_CONTENT = "key, connection, object_type, record_id, kind, field, value, previous, reason"
_PLAN = (
    f"INSERT INTO changes ({_CONTENT}, p_seq, p_status, p_error) VALUES "
    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
    "p_seq = excluded.p_seq, p_status = excluded.p_status, p_error = excluded.p_error"
)
_MADE = "text_at, text_len, csv_at, csv_len, move"
_WRITE = (
    f"INSERT INTO changes ({_CONTENT}, w_seq, w_status, w_error, {_MADE}) VALUES "
    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
    "connection = excluded.connection, object_type = excluded.object_type, "
    "record_id = excluded.record_id, kind = excluded.kind, field = excluded.field, "
    "value = excluded.value, previous = excluded.previous, reason = excluded.reason, "
    "w_seq = excluded.w_seq, w_status = excluded.w_status, w_error = excluded.w_error, "
    "text_at = excluded.text_at, text_len = excluded.text_len, csv_at = excluded.csv_at, "
    "csv_len = excluded.csv_len, move = excluded.move"
)
_UNMADE = (None, None, None, None, None)
# one report row: the writer's word on an outcome wins, else the store's, else the plan's (a
# row made as its write landed: where it is; its values are not read)
_ROW = (
    "SELECT c.connection, c.record_id, c.field, c.key, c.object_type, c.kind, "
    "CASE WHEN c.text_at IS NULL THEN c.value END, "
    "CASE WHEN c.text_at IS NULL THEN c.previous END, c.reason, "
    "CASE WHEN c.w_seq IS NOT NULL THEN c.w_status "
    "WHEN c.s_status IS NOT NULL THEN c.s_status ELSE c.p_status END, "
    "CASE WHEN c.w_seq IS NOT NULL THEN c.w_error "
    "WHEN c.s_status IS NOT NULL THEN c.s_error ELSE c.p_error END, "
    "c.text_at, c.text_len, c.csv_at, c.csv_len FROM changes c "
)
_NOBODY = (None, None, None, None)
_ORDER = "(c.connection, c.record_id, c.field, c.key)"


def _remove(db: sqlite3.Connection, path: str) -> None:
    db.close()
    with contextlib.suppress(OSError):
        os.unlink(path)


def _blob(value: Any) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _row_head(c: PlannedChange) -> tuple[Any, ...]:
    """A change's report columns before who its record is (as `_ROW` reads them)."""
    head = (c.connection, c.record_id, c.field, c.key, c.object_type, c.kind, c.value)
    return (*head, c.previous, c.reason, c.status, c.error)


def _content(change: PlannedChange) -> tuple[Any, ...]:
    return (
        change.key,
        change.connection,
        change.object_type,
        change.record_id,
        change.kind,
        change.field,
        _blob(change.value),
        _blob(change.previous),
        change.reason,
    )


class LedgerUnwritable(Exception):
    """The run's scratch file cannot be written (a full temp directory): one clear message."""

    def __init__(self, directory: str, error: sqlite3.Error | OSError) -> None:
        super().__init__(
            f"the run's scratch file in {directory} cannot be written ({error}): its disk is "
            "full, or the process may not grow files there. Free space there (or point TMPDIR "
            "at a directory with room) and run again: the next run resumes where this one "
            "stopped."
        )


class RunLedger:
    """One run's planned changes and write outcomes, in a scratch file (thread-safe: the
    write-behind thread records outcomes while the decide stage records plans). The file is
    made on the first change recorded."""

    def __init__(self, directory: str | None = None) -> None:
        self.directory = directory or tempfile.gettempdir()
        self.path = ""
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self._sorted = False
        self._outcomes: list[tuple[Any, ...]] = []  # recorded PAGE at a time
        self._notes: list[tuple[Any, ...]] = []
        self._written: list[PlannedChange] = []  # the outcomes' changes, for `early`
        # makes the report rows of written changes as they are recorded (the pipeline sets it):
        # their rows (the `_ROW` columns up to company) -> (key, where its row is, move) each
        self.early: Callable[[list[tuple[Any, ...]]], list[tuple[Any, ...]]] | None = None
        self._closer: weakref.finalize[Any, RunLedger] | None = None
        self.planned = LedgerView(self, "p")
        self.written = LedgerView(self, "w")

    @property
    def db(self) -> sqlite3.Connection:  # under the lock
        if self._db is None:
            try:
                fd, path = tempfile.mkstemp(
                    prefix="handoff-run-", suffix=".ledger", dir=self.directory
                )
                os.close(fd)
                try:
                    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
                    self._closer = weakref.finalize(self, _remove, db, path)
                    for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -4096"):
                        db.execute(f"PRAGMA {pragma}")
                    db.executescript(_SCHEMA)
                finally:  # open, it lives on unnamed: gone with the process, even a killed one
                    with contextlib.suppress(OSError):
                        os.unlink(path)
            except (sqlite3.Error, OSError) as exc:
                raise LedgerUnwritable(self.directory, exc) from None
            self._db, self.path = db, path
        return self._db

    @contextlib.contextmanager
    def _io(self) -> Iterator[None]:
        """Under the lock; a failing disk is one clear error, not a traceback."""
        with self._lock:
            try:
                yield
            except (sqlite3.OperationalError, OSError) as exc:
                if isinstance(exc, sqlite3.OperationalError) and not any(
                    word in str(exc) for word in ("disk", "full", "unable to open")
                ):
                    raise  # not the disk: a bug, shown as one
                raise LedgerUnwritable(self.directory, exc) from None

    def close(self) -> None:
        """Remove the file now (else it goes when the run's result is collected)."""
        if self._closer is not None:
            self._closer()
        closing = getattr(self.early, "close", None)
        if closing is not None:  # the rows made as writes landed
            closing()

    def _many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:  # under the lock
        write_all(self.db, sql, rows)  # one transaction (connectors/spill.py)

    # recording ---------------------------------------------------------------------------

    def plan(self, changes: Iterable[PlannedChange]) -> None:
        with self._io():
            self._many(_PLAN, [(*_content(c), next(self._seq), c.status, c.error) for c in changes])
            self._sorted = False

    def write(self, changes: Iterable[PlannedChange]) -> None:
        """Outcomes, one at a time from the writer: kept in pages of PAGE, then recorded."""
        with self._io():
            changes = list(changes)
            self._outcomes += [(*_content(c), next(self._seq), c.status, c.error) for c in changes]
            if self.early is not None:
                self._written += changes
            if len(self._outcomes) >= PAGE:
                self._record_outcomes()

    def _record_outcomes(self) -> None:  # under the lock
        if self._outcomes:
            made = self._make_early(self._written) if self._written else {}
            self._many(_WRITE, [(*o, *made.get(o[0], _UNMADE)) for o in self._outcomes])
            self._outcomes, self._written = [], []
            self._sorted = False
        if self._notes:
            self._many("INSERT INTO notes VALUES (?, ?, ?, ?, ?)", self._notes)
            self._notes = []

    def _names(self, records: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[Any, ...]]:
        """Who these (connection, record id) are, as named (person key, name, email, company);
        an unnamed one is missing."""  # under the lock
        names: dict[tuple[str, str], tuple[Any, ...]] = {}
        for connection, group in itertools.groupby(sorted(set(records)), key=lambda k: k[0]):
            ids = [record_id for _, record_id in group]
            for start in range(0, len(ids), IN_LIST):
                part = ids[start : start + IN_LIST]
                marks = ", ".join("?" * len(part))
                for row in self.db.execute(
                    "SELECT connection, record_id, person_key, name, email, company FROM records "
                    f"WHERE connection = ? AND record_id IN ({marks})",
                    (connection, *part),
                ):
                    names[(row[0], row[1])] = row[2:]
        return names

    def _make_early(self, changes: list[PlannedChange]) -> dict[str, tuple[Any, ...]]:
        """The report rows of these written changes whose records the run has named: key ->
        where each row is (text offset and length, CSV offset and length, lifecycle move)."""
        names = self._names((c.connection, c.record_id) for c in changes)
        rows = [
            (*_row_head(c), *who)
            for c in changes
            if (who := names.get((c.connection, c.record_id))) is not None
        ]
        if not rows or self.early is None:
            return {}
        return {made[0]: made[1:] for made in self.early(rows)}

    def name(self, records: list[tuple[str, str, str, str, str, str]]) -> None:
        """Who these records are as the run decides them (connection, record id, person key,
        name, email, company): the report's rows name them so."""
        if records:
            with self._io():
                self._many("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?, ?)", records)

    def note(self, kind: str, row: dict[str, Any], sort: tuple[str, str | None]) -> None:
        """A decision row of the report (an assignment, a flag ...), kept with its sort key."""
        first, second = sort
        with self._io():
            self._notes.append(
                (
                    kind,
                    next(self._seq),
                    str(row[first]),
                    str(row[second]) if second else "",
                    _blob(row),
                )
            )
            if len(self._notes) >= PAGE:
                self._record_outcomes()

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        """Rows of `sql` on the ledger (what was recorded so far included)."""
        return self._query(sql, args)

    def record(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        with self._io():
            self._record_outcomes()
            self._many(sql, rows)

    # reading -----------------------------------------------------------------------------

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        with self._io():
            self._record_outcomes()
            return self.db.execute(sql, args).fetchall()

    def count(self, side: str) -> int:
        return int(self._query(f"SELECT count(*) FROM changes WHERE {side}_seq IS NOT NULL")[0][0])

    def changes(self, side: str) -> Iterator[PlannedChange]:
        """Planned (side 'p') or written ('w') changes in the order they were recorded."""
        after = 0
        while True:
            page = self._query(
                f"SELECT {_CONTENT}, {side}_seq, {side}_status, {side}_error FROM changes "
                f"WHERE {side}_seq > ? ORDER BY {side}_seq LIMIT {PAGE}",
                (after,),
            )
            for row in page:
                key, connection, object_type, record_id, kind, name = row[:6]
                value, previous = pickle.loads(row[6]), pickle.loads(row[7])
                yield PlannedChange(
                    key,
                    connection,
                    object_type,
                    record_id,
                    kind,
                    name,
                    value,
                    previous,
                    row[8],
                    row[10],
                    row[11],
                )
            if len(page) < PAGE:
                return
            after = page[-1][9]

    def made_counts(self) -> list[tuple[str, str, str, str | None, int]]:
        """The rows made as their writes landed, counted: status, field, connection, lifecycle
        move (None for other fields), rows."""
        return [
            tuple(row)
            for row in self._query(
                "SELECT w_status, field, connection, move, count(*) FROM changes "
                "WHERE text_at IS NOT NULL GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
            )
        ]

    def records_written(self) -> int:
        """How many CRM records this run wrote to."""
        sql = "SELECT count(*) FROM (SELECT DISTINCT connection, object_type, record_id "
        return int(self._query(sql + "FROM changes WHERE w_seq IS NOT NULL)")[0][0])

    def sort_for_report(self) -> None:
        """The index the report reads its rows (and its records) in order by."""
        with self._io():
            self._record_outcomes()
            if not self._sorted:
                self.db.execute(
                    "CREATE INDEX IF NOT EXISTS changes_report "
                    "ON changes (connection, record_id, field, key)"
                )
                self._sorted = True

    def rows(self, read_made: bool = True) -> Iterator[tuple[Any, ...]]:
        """Every change of the report, sorted by (connection, record, field, key): connection,
        record_id, field, key, object_type, kind, value, previous, reason, status, error,
        person key, name, email, company (the four None for an unknown record), and where its
        row was made as it was written: text_at, text_len, csv_at, csv_len (else all None). With
        `read_made`, a made row's value and previous are not read (left pickled)."""
        self.sort_for_report()
        sql = _ROW if read_made else _ROW.replace("c.text_at IS NULL", "1")  # values read
        after: tuple[Any, ...] | None = None
        while True:
            where = f"WHERE {_ORDER} > (?, ?, ?, ?) " if after else ""
            page = self._query(
                f"{sql}{where}ORDER BY {_ORDER.strip('()')} LIMIT {PAGE}", after or ()
            )
            unmade = [row[:2] for row in page if row[11] is None or not read_made]
            with self._io():
                names = self._names(unmade) if unmade else {}
            for row in page:
                if read_made and row[11] is not None:
                    yield (*row[:11], *_NOBODY, *row[11:])
                else:
                    who = names.get((row[0], row[1]), _NOBODY)
                    values = pickle.loads(row[6]), pickle.loads(row[7])
                    yield (*row[:6], *values, *row[8:11], *who, *row[11:])
            if len(page) < PAGE:
                return
            after = tuple(page[-1][:4])
