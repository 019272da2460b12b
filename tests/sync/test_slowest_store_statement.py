"""A measured piece of work (the fast path's decision: sync/change_inbox.py) knows its slowest store
statement by table and operation, which the `cdc.decided` log line names."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors import timing
from sync.store.engine import make_engine, statement_label
from sync.store.schema import upgrade


@pytest.mark.parametrize(
    ("sql", "label"),
    [
        ("SELECT connection, crm_id FROM activities WHERE connection = ?", "activities select"),
        ('SELECT count(*) AS count_1 \nFROM "runs" WHERE runs.id LIKE ?', "runs select"),
        ("INSERT INTO outbox (key) VALUES (?) ON CONFLICT (key) DO NOTHING", "outbox insert"),
        ("UPDATE person_state SET decided_at = ?", "person_state update"),
        ("DELETE FROM change_event_inbox WHERE record_id = ?", "change_event_inbox delete"),
        ("CREATE INDEX IF NOT EXISTS ix_activities_person ON activities (a)", "activities create"),
        ("ANALYZE", "analyze"),
    ],
)
def test_a_statement_is_labelled_by_its_table_and_operation(sql: str, label: str) -> None:
    assert statement_label(sql) == label


def test_the_slowest_store_statement_of_a_measured_block_is_named(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    upgrade(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("SELECT count(*) FROM activities").all()  # not measured
        with timing.parts() as seconds:
            connection.exec_driver_sql("SELECT count(*) FROM runs").all()
            label, own = timing.slowest()["store"]
        assert timing.slowest() == {}  # outside the block: nothing measured
    assert label == "runs select"
    assert 0 <= own <= seconds["store"]


def test_a_decision_log_line_names_its_slowest_store_statement(tmp_path: Path) -> None:
    from sync.decision_clock import decision_clock

    engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    upgrade(engine)
    with engine.connect() as connection, decision_clock() as clock:
        clock.read()
        connection.exec_driver_sql("SELECT count(*) FROM activities").all()
        clock.owner_written()
        connection.exec_driver_sql("SELECT count(*) FROM runs").all()  # the task: after the owner
        fields = clock.fields()
    assert fields["slowest_store"] == "activities select"
    assert 0 <= float(fields["slowest_store_seconds"]) <= float(fields["store_seconds"])
