"""Our own writes come back in the next pull: known by their modified time, skipped."""

from __future__ import annotations

from datetime import datetime, timedelta

from pipeline_harness import NOW, make_config, make_crm, seed_people

from sync.pipeline import Pipeline
from sync.run_people import RunPeople
from sync.store.engine import make_engine
from sync.store.schema import upgrade


def test_the_next_run_skips_its_own_echoes_but_not_a_real_change(store_url: str) -> None:
    now = [NOW]

    def clock() -> datetime:
        return now[0]

    crm = make_crm(clock)
    seed_people(crm)
    engine = make_engine(store_url)
    upgrade(engine)
    pipeline = Pipeline(make_config(), engine, {"crm": crm}, clock=clock)
    first = pipeline.run()
    assert not first.errors, first.errors
    written = {i.record_id for i in first.writes.items if i.kind == "field"}
    assert written == {"c1", "c2", "c3"}

    now[0] = NOW + timedelta(minutes=2)  # inside the cursor's 5-minute overlap
    contact = crm.contact("c3")
    assert contact is not None
    crm.put_contact("c3", {**contact.fields, "title": "PhD student"}, modified_at=now[0])
    reads_before = crm.usage.calls.get("activities.read", 0)
    second = pipeline.run()
    assert not second.errors, second.errors
    pulled = second.pulls["crm"]
    assert pulled.people == 3  # the CRM returned all three: two are our own writes
    assert pulled.unchanged == 2
    assert pulled.changed == 1  # only the real change goes on ...
    keys = {"email:kid@uni.edu", "email:vp@bigco.com", "email:dir@midco.com"}
    assert RunPeople(second.ledger).handed(keys) == {"email:kid@uni.edu"}  # ... to decide
    assert second.tally.scored == 1
    assert crm.usage.calls.get("activities.read", 0) - reads_before == 1  # one page, one read
    assert second.drifts == []  # the store's mirror holds what we wrote: no false drift
