"""The run's ledger records the writer's pages of outcomes on a thread of its own (sync/ledger.py):
every outcome is read back once, in order, with its report row made once, whatever the
decide stage records and reads meanwhile; a page that cannot be recorded is an error the run
sees, not a lost page."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from sync import ledger as ledger_module
from sync.ledger import LedgerUnwritable, RunLedger
from sync.outbox import PlannedChange
from sync.run_people import RunPeople


def _change(i: int, status: str = "applied") -> PlannedChange:
    return PlannedChange(
        f"k{i:06d}", "hubspot", "contact", f"r{i % 97}", "field", "score", i, None, "score", status
    )


class _Early:
    """Stands in for the report's row maker: remembers which changes it made rows of."""

    def __init__(self) -> None:
        self.made: list[str] = []
        self.threads: set[str] = set()

    def __call__(self, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        self.threads.add(threading.current_thread().name)
        self.made += [row[3] for row in rows]
        return [(row[3], 0, 1, 0, 1, None) for row in rows]


def test_every_outcome_is_recorded_once_in_order_while_the_decide_stage_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger_module, "PAGE", 50)
    ledger = RunLedger(str(tmp_path))
    early = _Early()
    ledger.early = early
    people = RunPeople(ledger)
    ledger.name([("hubspot", f"r{i}", f"p{i}", f"Person {i}", f"p{i}@x.io", "") for i in range(97)])
    changes = [_change(i) for i in range(1234)]

    def writer() -> None:
        for start in range(0, len(changes), 7):  # the write-behind: chunks of outcomes
            ledger.written.extend(changes[start : start + 7])

    thread = threading.Thread(target=writer, name="write-behind")
    thread.start()
    for i in range(200):  # the decide stage meanwhile: plans, deferred people, reads of them
        ledger.plan([_change(10_000 + i, "pending")])
        people.defer([(f"p{i}", None)])
        assert people.deferred([f"p{i}"]) == {f"p{i}"}
    thread.join()

    assert list(ledger.written) == changes  # all of them, in the order written
    assert len(ledger.planned) == 200
    assert sorted(early.made) == [c.key for c in changes]  # each row made once
    assert "run-ledger_0" in early.threads  # full pages on the ledger's own thread
    made = [row for row in ledger.rows() if row[15] is not None]  # where its row is
    assert len(made) == len(changes)
    ledger.close()


def test_a_page_that_cannot_be_recorded_stops_the_run_with_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger_module, "PAGE", 10)
    ledger = RunLedger(str(tmp_path))
    ledger.name([("hubspot", f"r{i}", f"p{i}", "", "", "") for i in range(97)])

    def full_disk(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        raise LedgerUnwritable(str(tmp_path), OSError(28, "No space left on device"))

    ledger.early = full_disk
    ledger.written.extend([_change(i) for i in range(10)])  # a page, recorded behind
    with pytest.raises(LedgerUnwritable, match="cannot be written"):
        ledger.written.extend([_change(i) for i in range(10, 20)])  # the next page sees it
    ledger.written.extend([_change(i) for i in range(20, 30)])
    with pytest.raises(LedgerUnwritable, match="No space left"):
        len(ledger.written)  # ... and a read sees the one after it
    ledger.close()
