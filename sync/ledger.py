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
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from connectors.spill import write_all
from sync.ledger_schema import (
    CONTENT,
    NOBODY,
    ORDER,
    PLAN,
    ROW,
    SCHEMA,
    UNMADE,
    WRITE,
    blob,
    content,
    row_head,
)
from sync.ledger_view import LedgerView
from sync.outbox import PlannedChange

__all__ = ["LedgerUnwritable", "LedgerView", "RunLedger"]

PAGE = 1000  # rows per read: no cursor stays open while the writer thread records
IN_LIST = 500  # keys per IN (...) list against the state store


def _remove(db: sqlite3.Connection, path: str) -> None:
    db.close()
    with contextlib.suppress(OSError):
        os.unlink(path)


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
        # a page of outcomes is recorded (its report rows made) on a thread of its own, one page
        # at a time, while the writer sends the next chunk; `_making` before `_lock`, always
        self._making = threading.Lock()
        self._pages: ThreadPoolExecutor | None = None
        self._page: Future[None] | None = None
        self._seq = itertools.count(1)
        self._sorted = False
        self._outcomes: list[tuple[Any, ...]] = []  # recorded PAGE at a time
        self._notes: list[tuple[Any, ...]] = []
        self._written: list[PlannedChange] = []  # the outcomes' changes, for `early`
        # makes the report rows of written changes as they are recorded (the pipeline sets it):
        # their rows (the `ROW` columns up to company) -> (key, where its row is, move) each
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
                    db.executescript(SCHEMA)
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
        with contextlib.suppress(LedgerUnwritable):  # its error was raised to the writer
            self._wait_page()
        if self._pages is not None:
            self._pages.shutdown(wait=True)
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
            self._many(PLAN, [(*content(c), next(self._seq), c.status, c.error) for c in changes])
            self._sorted = False

    def write(self, changes: Iterable[PlannedChange]) -> None:
        """Outcomes, one at a time from the writer: kept in pages of PAGE, then recorded on
        the ledger's own thread (a page's error is raised by the next page, or a read)."""
        with self._io():
            changes = list(changes)
            self._outcomes += [(*content(c), next(self._seq), c.status, c.error) for c in changes]
            if self.early is not None:
                self._written += changes
            if len(self._outcomes) < PAGE:
                return
            page = self._outcomes, self._written
            self._outcomes, self._written = [], []
        self._wait_page()  # one page in flight: memory stays a page deep
        if self._pages is None:
            self._pages = ThreadPoolExecutor(max_workers=1, thread_name_prefix="run-ledger")
        self._page = self._pages.submit(self._record_page, *page)

    def _wait_page(self) -> None:
        page, self._page = self._page, None
        if page is not None:
            page.result()

    def _record_page(self, outcomes: list[tuple[Any, ...]], written: list[PlannedChange]) -> None:
        with self._making:  # the rows made outside the lock: deciding goes on meanwhile
            made = self._make_early(written)
            with self._io():
                self._record_outcomes(outcomes, made)

    @contextlib.contextmanager
    def _flushed(self) -> Iterator[None]:
        """Under both locks, with every outcome and note recorded (for reading them)."""
        self._wait_page()
        with self._making, self._io():
            if self._outcomes:
                page = self._outcomes, self._written
                self._outcomes, self._written = [], []
                self._record_outcomes(page[0], self._make_early(page[1], locked=True))
            self._record_notes()
            yield

    def _record_outcomes(
        self, outcomes: list[tuple[Any, ...]], made: dict[str, tuple[Any, ...]]
    ) -> None:  # under the lock
        self._many(WRITE, [(*o, *made.get(o[0], UNMADE)) for o in outcomes])
        self._sorted = False

    def _record_notes(self) -> None:  # under the lock
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

    def _make_early(
        self, changes: list[PlannedChange], locked: bool = False
    ) -> dict[str, tuple[Any, ...]]:
        """The report rows of these written changes whose records the run has named: key ->
        where each row is (text offset and length, CSV offset and length, lifecycle move).
        Under `_making` (and the lock, if `locked`)."""
        if not changes:
            return {}
        records = [(c.connection, c.record_id) for c in changes]
        if locked:
            names = self._names(records)
        else:
            with self._io():
                names = self._names(records)
        rows = [
            (*row_head(c), *who)
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
                    blob(row),
                )
            )
            if len(self._notes) >= PAGE:
                self._record_notes()

    def query(self, sql: str, args: tuple[Any, ...] = (), *, flush: bool = True) -> list[Any]:
        """Rows of `sql` on the ledger (what was recorded so far included, unless not to
        `flush`: tables of their own, read while the writer records)."""
        with self._flushed() if flush else self._io():
            return self.db.execute(sql, args).fetchall()

    def record(self, sql: str, rows: list[tuple[Any, ...]], *, flush: bool = True) -> None:
        with self._flushed() if flush else self._io():
            self._many(sql, rows)

    # reading -----------------------------------------------------------------------------

    def _query(self, sql: str, args: tuple[Any, ...] = ()) -> list[Any]:
        with self._flushed():
            return self.db.execute(sql, args).fetchall()

    def count(self, side: str) -> int:
        return int(self._query(f"SELECT count(*) FROM changes WHERE {side}_seq IS NOT NULL")[0][0])

    def changes(self, side: str) -> Iterator[PlannedChange]:
        """Planned (side 'p') or written ('w') changes in the order they were recorded."""
        after = 0
        while True:
            page = self._query(
                f"SELECT {CONTENT}, {side}_seq, {side}_status, {side}_error FROM changes "
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
        with self._flushed():
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
        sql = ROW if read_made else ROW.replace("c.text_at IS NULL", "1")  # values read
        after: tuple[Any, ...] | None = None
        while True:
            where = f"WHERE {ORDER} > (?, ?, ?, ?) " if after else ""
            page = self._query(
                f"{sql}{where}ORDER BY {ORDER.strip('()')} LIMIT {PAGE}", after or ()
            )
            unmade = [row[:2] for row in page if row[11] is None or not read_made]
            with self._io():
                names = self._names(unmade) if unmade else {}
            for row in page:
                if read_made and row[11] is not None:
                    yield (*row[:11], *NOBODY, *row[11:])
                else:
                    who = names.get((row[0], row[1]), NOBODY)
                    values = pickle.loads(row[6]), pickle.loads(row[7])
                    yield (*row[:6], *values, *row[8:11], *who, *row[11:])
            if len(page) < PAGE:
                return
            after = tuple(page[-1][:4])
