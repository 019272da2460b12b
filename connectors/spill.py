"""Per-run data that grows with the portal, kept on disk: a stream sorted there, a map.

Some sources are portal-wide and come in no useful order: HubSpot's form submissions (newest
first, form by form) and webinar participations (event by event). A run reads them once and
hands them on ascending; held in a list for the sort they would grow the worker with the portal
(about 170,000 submissions and participations at 100,000 contacts). `DiskSorted` keeps them in a
scratch SQLite file instead (private to the process, unlinked once open, gone when closed or
when the process dies), and reads them back in key order a page at a time.

Each item may carry a tag (a submitter's email) resolved once per distinct tag, in batches, by a
lookup the caller gives (HubSpot's contacts batch read by email): the sorted read gives each item
with its tag's value.

`DiskMap` is a run's cache of what it read once (HubSpot companies by id and by domain: one per
eight contacts), on disk the same way: a dict's few operations, each a point lookup.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import sqlite3
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

PAGE = 1000  # items per insert and per read


class ScratchUnwritable(Exception):
    """The run's scratch files cannot be written (a full temp directory): one clear message."""

    def __init__(self, error: sqlite3.Error | OSError) -> None:
        directory = tempfile.gettempdir()
        super().__init__(
            f"the run's scratch files in {directory} cannot be written ({error}): its disk is "
            "full, or the process may not grow files there. Free space there (or point TMPDIR "
            "at a directory with room) and run again: the next run resumes where this one "
            "stopped."
        )


@contextlib.contextmanager
def _disk() -> Iterator[None]:
    try:
        yield
    except (sqlite3.OperationalError, OSError) as exc:
        if isinstance(exc, sqlite3.OperationalError) and not any(
            word in str(exc) for word in ("disk", "full", "unable to open")
        ):
            raise  # not the disk: a bug, shown as one
        raise ScratchUnwritable(exc) from None


def write_all(db: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """`executemany` on a scratch file in one transaction: in autocommit each row is a
    transaction of its own, with its file locks and page writes (about 20 us a row, mostly
    system time; 5,000,000 report rows were 100 s of a 1,000,000-contact run)."""
    db.execute("BEGIN")
    try:
        db.executemany(sql, rows)
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _scratch(schema: str) -> sqlite3.Connection:
    """A private SQLite file in the temp directory, unlinked once open."""
    with _disk():
        fd, path = tempfile.mkstemp(prefix="handoff-spill-", suffix=".db")
        os.close(fd)
        try:
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        finally:  # open, it lives on unnamed: gone with the process, even a killed one
            with contextlib.suppress(OSError):
                os.unlink(path)
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -2048"):
            db.execute(f"PRAGMA {pragma}")
        db.executescript(schema)
    return db


class DiskMap:
    """str -> picklable value, on disk (`in`, `get`, `[]`, `[]=`, `update`, `len`); its file is
    made on the first write."""

    def __init__(self) -> None:
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _row(self, key: str) -> tuple[bytes] | None:
        with self._lock:
            if self._db is None:
                return None
            row: tuple[bytes] | None = self._db.execute(
                "SELECT value FROM map WHERE key = ?", (key,)
            ).fetchone()
            return row

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self._row(key) is not None

    def get(self, key: str, default: Any = None) -> Any:
        row = self._row(key)
        return default if row is None else pickle.loads(row[0])

    def get_many(self, keys: Iterable[str]) -> dict[str, Any]:
        """The values of those `keys` the map holds, one query a 500 (a page's companies: one
        statement, not one a contact)."""
        wanted = sorted(set(keys))
        out: dict[str, Any] = {}
        with self._lock:
            if self._db is None:
                return out
            for start in range(0, len(wanted), 500):
                part = wanted[start : start + 500]
                marks = ", ".join("?" * len(part))
                for key, value in self._db.execute(
                    f"SELECT key, value FROM map WHERE key IN ({marks})", part
                ):
                    out[key] = value
        return {key: pickle.loads(value) for key, value in out.items()}

    def __getitem__(self, key: str) -> Any:
        row = self._row(key)
        if row is None:
            raise KeyError(key)
        return pickle.loads(row[0])

    def __setitem__(self, key: str, value: Any) -> None:
        self.update({key: value})

    def update(self, items: dict[str, Any]) -> None:
        rows = [(k, pickle.dumps(v, pickle.HIGHEST_PROTOCOL)) for k, v in items.items()]
        with self._lock, _disk():
            if self._db is None:
                self._db = _scratch(
                    "CREATE TABLE map (key TEXT PRIMARY KEY, value BLOB) WITHOUT ROWID;"
                )
            write_all(self._db, "INSERT OR REPLACE INTO map VALUES (?, ?)", rows)

    def __len__(self) -> int:
        with self._lock:
            if self._db is None:
                return 0
            return int(self._db.execute("SELECT count(*) FROM map").fetchone()[0])


class DiskSorted:
    """`add(key, item, tag)` items, `resolve(lookup, size)` their tags, then iterate: (tag's
    value or None, item) in (key, order added) order. A context manager: closing removes it."""

    def __init__(self) -> None:
        self._db = _scratch(
            "CREATE TABLE items (k1, k2, tag TEXT, data BLOB);"
            "CREATE TABLE tags (tag TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;"
        )
        self._rows: list[tuple[Any, ...]] = []
        self._tags: set[str] = set()

    def __enter__(self) -> DiskSorted:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def add(self, key: tuple[Any, Any], item: Any, tag: str | None = None) -> None:
        self._rows.append((key[0], key[1], tag, pickle.dumps(item, pickle.HIGHEST_PROTOCOL)))
        if tag is not None:
            self._tags.add(tag)
        if len(self._rows) >= PAGE:
            self._flush()

    def _flush(self) -> None:
        with _disk():
            self._write()

    def _write(self) -> None:
        if self._rows:
            write_all(self._db, "INSERT INTO items VALUES (?, ?, ?, ?)", self._rows)
            self._rows = []
        if self._tags:
            write_all(
                self._db, "INSERT OR IGNORE INTO tags (tag) VALUES (?)", [(t,) for t in self._tags]
            )
            self._tags = set()

    def resolve(self, lookup: Callable[[list[str]], dict[str, str]], size: int) -> None:
        """Each distinct tag's value, `size` tags a lookup, in tag order (a tag the lookup
        does not answer has none)."""
        self._flush()
        after = ""
        while True:
            tags = [
                row[0]
                for row in self._db.execute(
                    "SELECT tag FROM tags WHERE tag > ? ORDER BY tag LIMIT ?", (after, size)
                )
            ]
            if not tags:
                return
            found = lookup(tags)
            write_all(
                self._db,
                "UPDATE tags SET value = ? WHERE tag = ?",
                [(v, t) for t, v in found.items()],
            )
            after = tags[-1]

    def __iter__(self) -> Iterator[tuple[str | None, Any]]:
        self._flush()
        cursor = self._db.execute(
            "SELECT t.value, i.data FROM items i LEFT JOIN tags t ON t.tag = i.tag "
            "ORDER BY i.k1, i.k2, i.rowid"
        )
        while page := cursor.fetchmany(PAGE):
            for value, data in page:
                yield value, pickle.loads(data)
