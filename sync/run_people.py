"""Who a run holds, kept in its ledger on disk: the people handed to its decide stage, and the
people deferred for routing with what the routing pass needs of them (score, touches, words).

Kept in memory these would grow the worker with N (a person key per contact pulled, a score per
person routed: about 200,000 keys and 230,000 held scores at 1,000,000 contacts); in the run's
scratch file they cost an indexed lookup per chunk of people instead.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterable, Iterator
from typing import Any

from sync.ledger import IN_LIST, RunLedger
from sync.record_names import named

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS handed (key TEXT PRIMARY KEY) WITHOUT ROWID",
    # held is NULL once forgotten (a merge changed them): routed, on a fresh score
    "CREATE TABLE IF NOT EXISTS deferred (key TEXT PRIMARY KEY, held BLOB)",
)


class RunPeople:
    """The run's handed and deferred people (a view of its ledger: several may share one)."""

    def __init__(self, ledger: RunLedger) -> None:
        self.ledger = ledger
        self._ready = False

    def _query(self, sql: str, args: Iterable[Any] = ()) -> list[Any]:
        self._schema()
        return self.ledger.query(sql, tuple(args), flush=False)  # tables of their own

    def _record(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        self._schema()
        if rows:
            self.ledger.record(sql, rows, flush=False)

    def _schema(self) -> None:
        if not self._ready:
            for statement in _SCHEMA:
                self.ledger.query(statement, flush=False)
            self._ready = True

    def _among(self, table: str, keys: list[str], extra: str = "") -> list[Any]:
        found: list[Any] = []
        for start in range(0, len(keys), IN_LIST):
            part = keys[start : start + IN_LIST]
            marks = ", ".join("?" * len(part))
            found += self._query(f"SELECT key{extra} FROM {table} WHERE key IN ({marks})", part)
        return found

    # handed to the decide stage ------------------------------------------------------------

    def hand_on(self, keys: Iterable[str]) -> list[str]:
        """The keys not handed on yet (in their order, each once), now marked handed."""
        unique = list(dict.fromkeys(keys))
        seen = {row[0] for row in self._among("handed", unique)}
        fresh = [key for key in unique if key not in seen]
        self._record("INSERT INTO handed VALUES (?)", [(key,) for key in fresh])
        return fresh

    def handed(self, keys: Iterable[str]) -> set[str]:
        """Which of `keys` were handed on."""
        return {row[0] for row in self._among("handed", list(keys))}

    def name(self, people: Iterable[Any]) -> None:
        """Who the records of these people (PersonViews) are, as they are decided."""
        self.ledger.name([named(record) for person in people for record in person.records])

    # deferred for routing ------------------------------------------------------------------

    def defer(self, people: Iterable[tuple[str, Any]]) -> None:
        """These (key, held) are routed after the pull, with what was kept of them (None:
        decided afresh then): a chunk's in one transaction."""
        rows = [
            (key, None if held is None else pickle.dumps(held, protocol=pickle.HIGHEST_PROTOCOL))
            for key, held in people
        ]
        self._record("INSERT OR REPLACE INTO deferred VALUES (?, ?)", rows)

    def kept(self, keys: Iterable[str]) -> dict[str, Any]:
        """What was kept of these people for the routing pass (those deferred with it)."""
        rows = self._among("deferred", list(keys), ", held")
        return {key: pickle.loads(blob) for key, blob in rows if blob is not None}

    def forget(self, keys: Iterable[str]) -> None:
        """These people changed after they were deferred: routed, but scored afresh."""
        self._record("UPDATE deferred SET held = NULL WHERE key = ?", [(k,) for k in keys])

    def deferred(self, keys: Iterable[str]) -> set[str]:
        """Which of `keys` are deferred for routing."""
        return {row[0] for row in self._among("deferred", list(keys))}

    def deferred_count(self) -> int:
        return int(self._query("SELECT count(*) FROM deferred")[0][0])

    def deferred_pages(self, size: int) -> Iterator[list[str]]:
        """The deferred people in key order, `size` at a time (read as the pages are used)."""
        after = ""
        while True:
            page = [
                row[0]
                for row in self._query(
                    f"SELECT key FROM deferred WHERE key > ? ORDER BY key LIMIT {int(size)}",
                    (after,),
                )
            ]
            if page:
                yield page
            if len(page) < size:
                return
            after = page[-1]

    def clear_deferred(self) -> None:
        self._query("DELETE FROM deferred")

    def __contains__(self, key: object) -> bool:
        """Held by the run (handed on or deferred): the fast path leaves them to it."""
        if not isinstance(key, str):
            return False
        return bool(self.handed([key]) or self.deferred([key]))
