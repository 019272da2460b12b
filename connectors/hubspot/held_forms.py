"""A run that lists every contact matches its form submissions to them by email, on its pages.

A Forms API submission names no contact, only the submitted email (`forms.py`); an incremental
run finds each submitter through the contacts batch read by email (100 a call). A run that lists
every contact (a full run, or a store's first) reads each one's email with its page anyway: it
holds the submissions, read before the people, on disk by submitter email, and a page's contacts
take theirs when their activities are read, before those people are stored and decided. Only
what no page took is looked up after the last page, as before: a submitter who is no contact, or
one the listing did not show (created after it passed). At 1,000,000 contacts that is the 1,084
batch reads by email no longer made, 57 s of Professional's window.

The hold is on disk (a scratch SQLite file, `connectors.spill`): the portal's submissions grow
with it. Those later than the run's start are left for the next run, as the stream leaves them.
"""

from __future__ import annotations

import pickle
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from connectors.spill import PAGE, _disk, _scratch, write_all

IN_LIST = 500  # emails per IN (...) list

Held = tuple[str, int, dict[str, Any]]  # (contact id, submittedAt ms, the submission's raw)


class HeldSubmissions:
    """Submissions by submitter email: `add`, then `take` a page's, then the `rest` looked up.
    Thread-safe: a one-person read (the fast path) may take its person's beside the pull."""

    def __init__(self, until: datetime) -> None:
        self._until = int(until.timestamp() * 1000)
        self._db = _scratch(
            "CREATE TABLE held (email TEXT NOT NULL, ms INTEGER NOT NULL, data BLOB NOT NULL);"
            "CREATE INDEX held_email ON held (email);"
        )
        self._rows: list[tuple[str, int, bytes]] = []
        self._lock = threading.Lock()
        self.latest: datetime | None = None  # the newest submission held: the stream's cursor

    def add(self, email: str | None, ms: int, raw: dict[str, Any]) -> None:
        """Hold one submission (one without an email belongs to nobody; one after the run's
        start is the next run's)."""
        if ms > self._until:
            return
        moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
        self.latest = moment if self.latest is None else max(self.latest, moment)
        if email:
            with self._lock:
                self._rows.append((email, ms, pickle.dumps(raw, pickle.HIGHEST_PROTOCOL)))
                if len(self._rows) >= PAGE:
                    self._flush()

    def _flush(self) -> None:  # under the lock
        if self._rows:
            with _disk():
                write_all(self._db, "INSERT INTO held VALUES (?, ?, ?)", self._rows)
            self._rows = []

    def take(self, contacts: Iterable[tuple[str | None, str]]) -> list[Held]:
        """The held submissions of these (email, contact id), oldest first; taken, they are
        no longer held."""
        ids = {e.strip().lower(): i for e, i in contacts if e and e.strip()}
        if not ids:
            return []
        emails = sorted(ids)
        found: list[Held] = []
        with self._lock, _disk():
            self._flush()
            for start in range(0, len(emails), IN_LIST):
                part = emails[start : start + IN_LIST]
                marks = ", ".join("?" * len(part))
                rows = self._db.execute(
                    f"SELECT email, ms, data FROM held WHERE email IN ({marks})", part
                ).fetchall()
                if rows:
                    self._db.execute(f"DELETE FROM held WHERE email IN ({marks})", part)
                found += [(ids[email], ms, pickle.loads(data)) for email, ms, data in rows]
        return sorted(found, key=lambda h: (h[1], str(h[2].get("conversionId"))))

    def rest(self, lookup: Callable[[list[str]], dict[str, str]], size: int) -> Iterator[Held]:
        """What no page took, its submitters looked up `size` emails a call (a submitter the
        lookup does not find is no contact: dropped, as the stream drops them)."""
        with self._lock, _disk():
            self._flush()
            emails = [
                row[0] for row in self._db.execute("SELECT DISTINCT email FROM held ORDER BY 1")
            ]
        for start in range(0, len(emails), size):
            found = lookup(emails[start : start + size])
            yield from self.take((email, contact) for email, contact in found.items())

    def close(self) -> None:
        with self._lock:
            self._db.close()
