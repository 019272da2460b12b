"""The opt-in growth log names what a process accumulates: types by count, big containers by
what holds them, allocations by line (sync/object_growth.py, docs/deploy.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync import object_growth
from sync.object_growth import ObjectGrowthLog, start_from_environment


class Keeper:
    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.rows: list[Keeper] = []


def test_a_growing_set_of_strings_and_a_growing_type_are_named(tmp_path: Path) -> None:
    log = ObjectGrowthLog(tmp_path / "growth.log", every=60)
    keeper = Keeper()
    log.sample()
    # big enough to rank among the process's six largest containers even late in a full test
    # run, where other tests' lists and dicts of a few thousand entries are still alive
    keeper.keys.update(f"email:person{i}@example.com" for i in range(100_000))
    keeper.rows += [Keeper() for _ in range(3_000)] + [None] * 97_000
    text = log.sample()
    assert f"{__name__}.Keeper +3" in text  # 3,000 (or 3,001) more instances since the first
    assert "100000 set in Keeper.keys" in text
    assert "100000 list in Keeper.rows" in text
    assert (tmp_path / "growth.log").read_text().count("since first") == 2


def test_off_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(object_growth.ENV, raising=False)
    assert start_from_environment() is None
    monkeypatch.setenv(object_growth.ENV, "0")
    assert start_from_environment() is None
