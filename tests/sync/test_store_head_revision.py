"""A start on a store already at the head revision skips Alembic: the head read from the
migration files must be the one Alembic computes, and only a store at it counts as current."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory

from sync.store.engine import make_engine
from sync.store.schema import alembic_config, head_revision, is_current, upgrade


def test_the_head_read_from_the_files_is_alembics(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    expected = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    assert head_revision() == expected is not None


def test_only_a_store_at_the_head_is_current(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    assert not is_current(engine)  # no alembic_version table yet
    upgrade(engine)
    assert is_current(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")
    assert not is_current(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{head_revision()}'")
    upgrade(engine)  # current: one read, nothing run
    assert is_current(engine)
