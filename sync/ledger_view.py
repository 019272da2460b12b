"""A side of the run's ledger as a list: `RunResult.planned` and `RunResult.writes.items`.

Callers that used to hold the run's changes in lists (the report, the CLI's summary, tests)
iterate, count and compare them as before; each read goes to the ledger's file
(sync/ledger.py), so the run holds none of them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from sync.outbox import PlannedChange

if TYPE_CHECKING:
    from sync.ledger import RunLedger


class LedgerView:
    """`RunResult.planned` / `writes.items`: the ledger's changes of one side, read on demand
    (iterate, count, compare with a list); appending records them."""

    def __init__(self, ledger: RunLedger, side: str) -> None:
        self._ledger = ledger
        self._side = side

    def append(self, change: PlannedChange) -> None:
        self.extend([change])

    def extend(self, changes: Iterable[PlannedChange]) -> None:
        if self._side == "p":
            self._ledger.plan(changes)
        else:
            self._ledger.write(changes)

    def __iadd__(self, changes: Iterable[PlannedChange]) -> LedgerView:
        self.extend(changes)
        return self

    def __iter__(self) -> Iterator[PlannedChange]:
        return self._ledger.changes(self._side)

    def __len__(self) -> int:
        return self._ledger.count(self._side)

    def __bool__(self) -> bool:
        return len(self) > 0

    def __getitem__(self, index: int) -> PlannedChange:
        """The `index`th (read through to it: for a look, not for loops)."""
        if index < 0:
            return list(self)[index]
        found = next(itertools.islice(iter(self), index, None), None)
        if found is None:
            raise IndexError(index)
        return found

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LedgerView | list | tuple):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{len(self)} {'planned' if self._side == 'p' else 'written'} changes>"
