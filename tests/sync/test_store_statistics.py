"""A run keeps the PostgreSQL planner's statistics of the store current (sync/store/statistics.py):
a server may run with `autovacuum = off` (or behind), and a store that grew from nothing in one
full sync would otherwise be planned on default guesses. A sync through the real HubSpot client
against the sandbox, on a throwaway database whose tables autovacuum leaves alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, func, select

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
