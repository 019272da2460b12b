"""The per-chunk queries of a run use indexes: no full scan of a table that grows with history.

At 100,000 contacts a scan per chunk made the decide stage quadratic (activities were read by
contact id alone while the index leads with the connection). SQLite tells its plan; every
statement a run sends is traced and explained."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from pipeline_harness import NOW, make_config, make_crm, seed_people
from sqlalchemy import event

from sync.pipeline import Pipeline
from sync.store.engine import make_engine
from sync.store.schema import upgrade

# Tables that grow with every run or every activity; the people table is read whole on purpose
# (dirty people, account owners), owners are few.
GROWING = ("activities", "outbox", "sla_clocks", "sla_touches", "written_values", "routing_")


def _scans(tmp_path: Path) -> dict[str, str]:
    engine = make_engine(f"sqlite:///{tmp_path / 'plans.db'}")
    upgrade(engine)
    statements: list[str] = []

    @event.listens_for(engine, "connect")
    def trace(dbapi_connection: sqlite3.Connection, _record: object) -> None:
        dbapi_connection.set_trace_callback(statements.append)

    engine.dispose()  # reconnect with the trace on
    crm = make_crm()
    seed_people(crm)
    pipeline = Pipeline(make_config(), engine, {"crm": crm}, clock=lambda: NOW)
    assert not pipeline.run().errors
    crm.put_contact("c3", {**crm.contact("c3").fields, "title": "VP Sales"}, modified_at=NOW)  # type: ignore[union-attr]
    assert not pipeline.run().errors
    scans: dict[str, str] = {}
    raw = sqlite3.connect(tmp_path / "plans.db")
    for sql in set(statements):
        if not re.match(r"\s*(SELECT|UPDATE|DELETE)\b", sql, re.I):
            continue
        for *_, detail in raw.execute("EXPLAIN QUERY PLAN " + sql):
            table = detail.split()[1] if detail.startswith("SCAN ") else ""
            if table.startswith(GROWING) and "USING" not in detail:
                scans[detail] = sql
    return scans


def test_no_run_query_scans_a_growing_table(tmp_path: Path) -> None:
    scans = _scans(tmp_path)
    assert scans == {}, "\n\n".join(f"{plan}:\n{sql}" for plan, sql in scans.items())
