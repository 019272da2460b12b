"""What the state store says of a run's changes, read once at its end into the run's ledger:
the store's status of the changes it planned and did not write, and who the records it changed
without deciding them are (the decide stage names the rest as it decides them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from sync.ledger import IN_LIST, RunLedger
from sync.store.key_in import key_in
from sync.store.tables import OutboxItem, PersonRecord


def _keys(ledger: RunLedger, sql: str) -> Iterator[list[Any]]:
    """Pages of the second column of `sql`, which is ordered by its first and takes the last
    one seen."""
    after: Any = 0
    while True:
        page = ledger.query(sql, (after,))
        if page:
            yield [row[1] for row in page]
        if len(page) < IN_LIST:
            return
        after = page[-1][0]


def settle_from(ledger: RunLedger, session: Session) -> None:
    """Planned but not written by this run (rejected, dead, left pending ...): the status the
    store holds for them, in pages of keys."""
    # in the table's own order (rowid): one pass over it; in key order each of the run's
    # ~5,000,000 changes at 1,000,000 contacts was a look-up from the key index (12 s)
    sql = (
        "SELECT rowid, key FROM changes WHERE p_seq IS NOT NULL AND w_seq IS NULL "
        f"AND rowid > ? ORDER BY rowid LIMIT {IN_LIST}"
    )
    for keys in _keys(ledger, sql):
        found = session.execute(
            sa_select(
                col(OutboxItem.key), col(OutboxItem.status), col(OutboxItem.last_error)
            ).where(key_in(col(OutboxItem.key), keys))
        ).all()
        ledger.record(
            "UPDATE changes SET s_status = ?, s_error = ? WHERE key = ?",
            [(str(status), error, str(key)) for key, status, error in found],
        )


def name_records(
    ledger: RunLedger, session: Session, person: Callable[[Any], Any], who: Any | None = None
) -> None:
    """Who each changed record the run has not named (`RunLedger.name`) is, in pages:
    `person(row)` of each row of `who` (a select of PersonRecord; by default its keys, email
    and whole `fields`)."""
    ledger.sort_for_report()
    connections = [r[0] for r in ledger.query("SELECT DISTINCT connection FROM changes")]
    if who is None:
        who = sa_select(
            col(PersonRecord.connection),
            col(PersonRecord.crm_id),
            col(PersonRecord.person_key),
            col(PersonRecord.email),
            col(PersonRecord.fields),
        )
    sql = (
        "SELECT DISTINCT c.record_id FROM changes c WHERE c.connection = ? "
        "AND c.record_id > ? AND NOT EXISTS (SELECT 1 FROM records r "
        "WHERE r.connection = c.connection AND r.record_id = c.record_id) "
        f"ORDER BY c.record_id LIMIT {IN_LIST}"
    )
    for connection in sorted(connections):
        after = ""
        while True:
            ids = [r[0] for r in ledger.query(sql, (connection, after))]
            if not ids:
                break
            found = []
            for row in session.execute(
                who.where(
                    col(PersonRecord.connection) == connection,
                    key_in(col(PersonRecord.crm_id), ids),
                )
            ):
                p = person(row)
                found.append((row.connection, row.crm_id, p.key, p.name, p.email, p.company))
            if found:
                ledger.record("INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?, ?)", found)
            if len(ids) < IN_LIST:
                break
            after = ids[-1]
