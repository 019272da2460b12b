"""A sent chunk is settled a slice of whole records at a time (sync/settle.py): a record whose
fields straddled two slices would have its echo taken from the first slice only, and the next
pull would take our own write for someone else's change."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from pipeline_harness import NOW, make_config, make_crm, seed_people

from sync import settle
from sync.pipeline import Pipeline
from sync.store.engine import make_engine
from sync.store.schema import upgrade


def test_a_record_settled_across_tiny_slices_is_known_as_our_echo(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settle, "SLICE_ITEMS", 1)  # every slice is one record's items
    now = [NOW]
    crm = make_crm(lambda: now[0])
    seed_people(crm)
    engine = make_engine(store_url)
    upgrade(engine)
    pipeline = Pipeline(make_config(), engine, {"crm": crm}, clock=lambda: now[0])
    first = pipeline.run()
    assert not first.errors, first.errors
    fields_per_record = Counter(i.record_id for i in first.writes.items if i.kind == "field")
    assert set(fields_per_record) == {"c1", "c2", "c3"}
    assert min(fields_per_record.values()) > 1  # each record's items span several keys

    now[0] = NOW + timedelta(minutes=2)  # the next pull reads all three back
    second = pipeline.run()
    assert not second.errors, second.errors
    assert second.pulls["crm"].unchanged == 3  # every field of every echo was mirrored
    assert second.tally.scored == 0
    assert second.drifts == []


def test_slices_end_where_a_record_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settle, "SLICE_ITEMS", 2)
    sent = settle.SentChunk()
    for key, record in [
        ("a1", "a"),
        ("a2", "a"),
        ("a3", "a"),
        ("b1", "b"),
        ("c1", "c"),
        ("c2", "c"),
    ]:
        sent.add(key, record)
    assert sent.slices() == [["a1", "a2", "a3"], ["b1", "c1", "c2"]]
