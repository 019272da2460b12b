"""The decision rows of a run (assignments, flags, disagreements, duplicates), in its ledger.

The decide stage appends one row per person it routed or flagged; at a million contacts those
lists would grow the worker with N. `DecisionNotes` takes their place in the run's tally: an
append goes to the ledger file, reading iterates it, and the report reads them back sorted as it
lists them, with each person's name, a page at a time.
"""

from __future__ import annotations

import itertools
import pickle
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from sync.ledger import IN_LIST, PAGE, RunLedger
from sync.store.key_in import key_in
from sync.store.tables import PersonRecord

# each list's order in the report: by person, then this field (then as decided)
SORTS: dict[str, tuple[str, str | None]] = {
    "assignments": ("person", None),
    "flags": ("person", "flag"),
    "disagreements": ("person", "field"),
    "duplicates": ("person", "connection"),
}


class DecisionNotes:
    """A tally list kept in the ledger: `append`, iterate (in the order appended), `len`."""

    def __init__(self, ledger: RunLedger, kind: str) -> None:
        self._ledger = ledger
        self.kind = kind

    def append(self, row: dict[str, Any]) -> None:
        self._ledger.note(self.kind, row, SORTS[self.kind])

    def __iter__(self) -> Iterator[dict[str, Any]]:
        after = 0
        while True:
            page = self._ledger.query(
                f"SELECT seq, data FROM notes WHERE kind = ? AND seq > ? ORDER BY seq LIMIT {PAGE}",
                (self.kind, after),
            )
            for _, data in page:
                yield pickle.loads(data)
            if len(page) < PAGE:
                return
            after = page[-1][0]

    def __len__(self) -> int:
        sql = "SELECT count(*) FROM notes WHERE kind = ?"
        return int(self._ledger.query(sql, (self.kind,))[0][0])

    def __bool__(self) -> bool:
        return len(self) > 0

    def __getitem__(self, index: int) -> dict[str, Any]:
        """The `index`th (read through to it: for a look, not for loops)."""
        if index < 0:
            return list(self)[index]
        found = next(itertools.islice(iter(self), index, None), None)
        if found is None:
            raise IndexError(index)
        return found

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DecisionNotes | list):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{len(self)} {self.kind}>"


def keep_in_ledger(tally: Any, ledger: RunLedger) -> None:
    """The tally's per-person lists go to the ledger from now on."""
    for kind in SORTS:
        setattr(tally, kind, DecisionNotes(ledger, kind))


def sorted_notes(ledger: RunLedger, kind: str) -> Iterator[tuple[dict[str, Any], Any]]:
    """A list's rows in the report's order, each with (name, email, company) of its person
    (None when the store knows no record of them)."""
    after: tuple[Any, ...] | None = None
    while True:
        where = "AND (n.k1, n.k2, n.seq) > (?, ?, ?) " if after else ""
        page = ledger.query(
            "SELECT n.k1, n.k2, n.seq, n.data, p.key, p.name, p.email, p.company FROM notes n "
            f"LEFT JOIN people p ON p.key = n.k1 WHERE n.kind = ? {where}"
            f"ORDER BY n.k1, n.k2, n.seq LIMIT {PAGE}",
            (kind, *(after or ())),
        )
        for row in page:
            yield pickle.loads(row[3]), (row[5:] if row[4] is not None else None)
        if len(page) < PAGE:
            return
        after = tuple(page[-1][:3])


def name_people(ledger: RunLedger, session: Session, person: Any) -> None:
    """Name, email and company of every person in the decision rows (the first of their
    records, by connection and id, that has each), in pages of person keys."""
    columns: tuple[Any, ...] = (
        PersonRecord.connection,
        PersonRecord.crm_id,
        PersonRecord.person_key,
        PersonRecord.email,
        PersonRecord.fields,
    )
    after = ""
    while True:
        keys = [
            r[0]
            for r in ledger.query(
                f"SELECT DISTINCT k1 FROM notes WHERE k1 > ? ORDER BY k1 LIMIT {IN_LIST}",
                (after,),
            )
        ]
        if not keys:
            return
        found: dict[str, list[Any]] = {}
        for row in session.execute(
            sa_select(*columns)
            .where(key_in(col(PersonRecord.person_key), keys))
            .order_by(col(PersonRecord.connection), col(PersonRecord.crm_id))
        ):
            found.setdefault(row.person_key, []).append(person(row))
        ledger.record(
            "INSERT OR REPLACE INTO people VALUES (?, ?, ?, ?)",
            [
                (
                    key,
                    next((p.name for p in people if p.name), ""),
                    next((p.email for p in people if p.email), ""),
                    next((p.company for p in people if p.company), ""),
                )
                for key, people in found.items()
            ],
        )
        if len(keys) < IN_LIST:
            return
        after = keys[-1]
