"""A run keeps the PostgreSQL planner's statistics of the store current (sync/store/statistics.py):
a server may run with `autovacuum = off` (or behind), and a store that grew from nothing in one
full sync would otherwise be planned on default guesses. A sync through the real HubSpot client
against the sandbox, on a throwaway database whose tables autovacuum leaves alone."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlmodel import Session, func, select

from connectors.shared_budget import TABLE, SharedBudget, postgres_connect
from sync.replicas import conninfo
from sync.store.engine import make_engine
from sync.store.schema import upgrade
from sync.store.statistics import (
    BASE_THRESHOLD,
    SCALE_FACTOR,
    refresh_statistics,
    stale_tables,
)
from sync.store.tables import PersonRecord, PersonState
from tests.faults.fault_stack import drill

BIG = ("activities", "outbox", "people", "person_state")
PAGE_HOLD = 5.0  # seconds a contact page waits for the analysis, at most


@pytest.mark.postgres
def test_a_sync_leaves_the_stores_big_tables_analysed(tmp_path: Path, pg_url: str) -> None:
    engine = make_engine(pg_url)
    upgrade(engine)
    with engine.begin() as connection:  # only the run may analyse them
        for table in BIG:
            connection.exec_driver_sql(f'ALTER TABLE "{table}" SET (autovacuum_enabled = false)')
    with drill(tmp_path, pg_url, contacts=150) as d:
        pipeline = d.pipeline()
        result = pipeline.run()
    assert not result.errors, result.errors
    with engine.connect() as connection:
        stats = {
            row.relname: row
            for row in connection.execute(
                text(
                    "SELECT s.relname, s.last_analyze, s.last_autoanalyze, c.reltuples "
                    "FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid"
                )
            )
        }
    for table in BIG:
        assert stats[table].last_analyze is not None, table
        assert stats[table].last_autoanalyze is None, table
    with Session(engine) as session:
        people = session.exec(select(func.count()).select_from(PersonRecord)).one()
        states = session.exec(select(func.count()).select_from(PersonState)).one()
    # the planner knows how many people the store holds (ANALYZE read every row at this size;
    # the pull wrote every person before it), and their states as current as autoanalyze keeps
    # them (the routing pass adds the states of the people it routed, fewer than its threshold)
    assert people >= 150
    assert stats["people"].reltuples == people
    assert states - stats["person_state"].reltuples <= BASE_THRESHOLD + SCALE_FACTOR * states


def test_sqlite_stores_need_no_statistics(sqlite_url: str) -> None:
    """SQLite plans on its indexes without statistics: the refresh touches nothing there."""
    engine = make_engine(sqlite_url)
    upgrade(engine)
    assert stale_tables(engine) == []
    assert refresh_statistics(engine) == []
    with engine.connect() as connection:
        found = connection.exec_driver_sql(
            "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
        ).scalar_one()
    assert found == 0


@pytest.mark.postgres
def test_a_first_sync_analyses_the_tables_while_they_grow(tmp_path: Path, pg_url: str) -> None:
    """The planner's statistics follow the store through the pull, not only after it: without
    them each chunk's key-list reads scan every row of the connection, which turns a first
    sync of a million people quadratic (sync/store/statistics.py). The sandbox holds each of the
    pull's contact pages after the eighth (800 people stored) until the store's people are
    analysed, at most 5 s a page (well inside the client's 30 s read timeout: a hold of 30 s
    timed the read out in CI when the first chunk took longer to be decided): without the
    refresh during the pull they are analysed only after it."""
    engine = make_engine(pg_url)
    upgrade(engine)
    with engine.begin() as connection:
        for table in BIG:
            connection.exec_driver_sql(f'ALTER TABLE "{table}" SET (autovacuum_enabled = false)')
    people_when_analysed: list[int] = []
    analysed = threading.Event()
    pages = [0]
    with drill(tmp_path, pg_url, contacts=1600) as d:
        pipeline = d.pipeline()

        def hold(request: Any) -> None:
            if request.method == "GET" and request.path.rstrip("/").endswith("objects/contacts"):
                pages[0] += 1
                if pages[0] > 8:
                    analysed.wait(PAGE_HOLD)

        d.sandbox.server("hubspot").before_request.append(hold)

        @event.listens_for(pipeline.engine, "before_cursor_execute")
        def _analyse(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
            if statement.startswith('ANALYZE "people"') or statement == "ANALYZE people":
                with engine.connect() as look:
                    people_when_analysed.append(
                        look.execute(text("SELECT count(*) FROM people")).scalar_one()
                    )
                analysed.set()

        result = pipeline.run()
    assert not result.errors, result.errors
    with Session(engine) as session:
        people = session.exec(select(func.count()).select_from(PersonRecord)).one()
    assert people >= 1600 and pages[0] > 8
    during = [n for n in people_when_analysed if n < people]
    assert during, people_when_analysed  # analysed while the pull was still storing people
    assert people_when_analysed[-1] == people  # and once more at its end


@pytest.mark.postgres
def test_only_the_stores_own_tables_are_analysed(pg_url: str) -> None:
    """The rate budget replicas share changes its row at every lease: past autoanalyze's
    threshold at every look, and no plan reads it. The run analyses the store's tables only
    (analysing the budget each chunk logged a line every few seconds of a long pull)."""
    engine = make_engine(pg_url)
    upgrade(engine)
    refresh_statistics(engine)
    budget = SharedBudget(
        postgres_connect(conninfo(pg_url)),
        "hubspot/x/burst",
        limit=1000,
        period=10.0,
    )
    for _ in range(120):  # a row updated past 50 + 10% of its size
        budget.take()
    budget.close()
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE not_the_stores (n int)")
        connection.exec_driver_sql("INSERT INTO not_the_stores SELECT generate_series(1, 500)")
    deadline = time.monotonic() + 10  # the activity counters reach the view when backends idle
    while time.monotonic() < deadline and not _modified(engine, TABLE):
        time.sleep(0.2)
    assert _modified(engine, TABLE) > BASE_THRESHOLD  # it would be stale, were it the store's
    assert refresh_statistics(engine) == []


def _modified(engine: Any, table: str) -> int:
    with engine.connect() as connection:
        found = connection.execute(
            text("SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = :t"),
            {"t": table},
        ).scalar()
    return int(found or 0)
