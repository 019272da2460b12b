"""Deciding and writing behind the pull: overlap, equivalence, whole batches, one try per run."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, ClassVar

import pytest
from pipeline_harness import NOW, make_config, make_crm, seed_people
from sqlmodel import Session, select

from connectors.base import ContactBatch
from connectors.memory import InMemoryConnector
from connectors.records import FieldChange, OutcomeStatus, WriteOutcome
from sync.pipeline import Pipeline
from sync.store.engine import make_engine
from sync.store.schema import upgrade
from sync.store.tables import OutboxItem

PEOPLE = 2500


def _crowd(crm: InMemoryConnector, n: int = PEOPLE) -> None:
    """Many quiet people (nobody needs routing) plus the three seeded ones who do."""
    seed_people(crm)
    for i in range(n):
        crm.put_contact(
            f"p{i:05d}",
            {
                "email": f"person{i}@co{i % 50}.com",
                "title": "Analyst",
                "company_domain": f"co{i % 50}.com",
                "country": "US",
                "lifecycle_stage": "lead",
            },
            modified_at=NOW - timedelta(hours=1, seconds=i),
        )


def _pipeline(url: str, crm: InMemoryConnector) -> Pipeline:
    engine = make_engine(url)
    upgrade(engine)
    return Pipeline(make_config(), engine, {"crm": crm}, clock=lambda: NOW)


class WatchedCrm(InMemoryConnector):
    """Holds its last pages back until the run has written 1,000 scores (or 20 s pass)."""

    written_before_last_page = 0

    def pull_contacts(
        self, object_type: str, since: datetime | None, until: datetime
    ) -> Iterator[ContactBatch]:
        batches = list(super().pull_contacts(object_type, since, until))
        for index, batch in enumerate(batches):
            if index == len(batches) - 1:
                deadline = time.monotonic() + 20
                while self._scored() < 1000 and time.monotonic() < deadline:
                    time.sleep(0.05)
                self.written_before_last_page = self._scored()
            yield batch

    def _scored(self) -> int:
        with self._lock:
            return sum("score" in c.fields for c in self._store.contacts["contact"].values())


def test_decisions_and_writes_run_behind_the_pull(sqlite_url: str) -> None:
    crm = make_crm(cls=WatchedCrm)
    _crowd(crm)
    result = _pipeline(sqlite_url, crm).run()
    assert not result.errors, result.errors
    assert crm.written_before_last_page >= 1000  # written while the pull was still going
    assert all("score" in c.fields for c in crm._store.contacts["contact"].values())


def test_write_calls_are_whole_batches_of_records(sqlite_url: str) -> None:
    crm = make_crm()
    _crowd(crm)
    result = _pipeline(sqlite_url, crm).run()
    assert not result.errors, result.errors
    records = {(i.object_type, i.record_id) for i in result.writes.items if i.kind == "field"}
    assert len(records) == PEOPLE + 3
    # every record's fields travel together, and only the run's last batch is partial
    assert crm.usage.calls["contacts.batch_update"] == math.ceil(len(records) / 100)


def test_streaming_decides_exactly_what_waiting_for_the_pull_does(tmp_path) -> None:  # type: ignore[no-untyped-def]
    results = []
    for streams in (True, False):
        crm = make_crm()
        _crowd(crm, 1200)
        pipeline = _pipeline(f"sqlite:///{tmp_path}/s{streams}.db", crm)
        mode = pipeline.mode

        def forced(dry_run: bool, streams: bool = streams, mode=mode):  # type: ignore[no-untyped-def]
            chosen = mode(dry_run)
            chosen.streams = streams
            return chosen

        pipeline.mode = forced  # type: ignore[method-assign]
        results.append(pipeline.run())
    streamed, waited = results
    assert sorted((i.key, i.value) for i in streamed.writes.items) == sorted(
        (i.key, i.value) for i in waited.writes.items
    )
    assert streamed.tally.assignments == waited.tally.assignments
    assert streamed.tally.assignments  # the seeded fast-lane and MQL people were routed


class FlakyWrites(InMemoryConnector):
    """The first write call's outcome is lost (a timeout after the CRM took it)."""

    calls = 0

    def apply_changes(self, changes: list[FieldChange]) -> list[WriteOutcome]:  # type: ignore[override]
        self.calls += 1
        outcomes = list(super().apply_changes(changes))
        if self.calls == 1:
            return [WriteOutcome(o.key, OutcomeStatus.UNKNOWN, "read timed out") for o in outcomes]
        return outcomes


def test_an_unknown_outcome_is_not_retried_in_the_same_run(sqlite_url: str) -> None:
    crm = make_crm(cls=FlakyWrites)
    _crowd(crm)
    pipeline = _pipeline(sqlite_url, crm)
    first = pipeline.run()
    assert first.writes.counts["unknown"] > 0
    with Session(pipeline.engine) as session:
        sending = session.exec(select(OutboxItem).where(OutboxItem.status == "sending")).all()
        assert sending and all(item.attempts == 1 for item in sending)  # tried once this run
    second = pipeline.run(as_of=NOW + timedelta(minutes=10))
    assert second.writes.counts["unknown"] == 0
    with Session(pipeline.engine) as session:
        left = session.exec(select(OutboxItem).where(OutboxItem.status == "sending")).all()
        assert left == []  # the next run resent them (idempotent field writes)


def test_a_failing_decision_stops_the_pull_thread(sqlite_url: str) -> None:
    crm = make_crm()
    _crowd(crm)
    pipeline = _pipeline(sqlite_url, crm)

    real = pipeline.scoring

    class Broken:  # the real model, but scoring anyone raises
        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

        def score(self, *args: object) -> object:
            raise RuntimeError("scoring bug")

    pipeline.scoring = Broken()  # type: ignore[assignment]
    with pytest.raises(RuntimeError, match="scoring bug"):
        pipeline.run()
    assert not [t for t in threading.enumerate() if t.name.startswith("pull-")]


def test_people_deferred_for_routing_get_their_scores_early_and_the_rest_after(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first pass plans a deferred person's score fields only (written behind the pull) and
    saves nothing else; a run cut short before the routing pass decides them afresh next time:
    routed, stage moved, one SLA clock."""
    from routing.sla.tables import SlaClock
    from sync.decide import DecisionStage
    from sync.store.tables import PersonState

    crm = make_crm()
    _crowd(crm)  # enough people for whole write-behind batches before the routing pass
    pipeline = _pipeline(sqlite_url, crm)

    def crash(*args: object, **kwargs: object) -> object:
        raise RuntimeError("worker killed before the routing pass")

    monkeypatch.setattr(DecisionStage, "_route", crash)
    with pytest.raises(RuntimeError, match="routing pass"):
        pipeline.run()
    vp = crm.contact("c1")
    assert vp is not None and float(vp.fields["score"]) > 0  # written behind the pull
    assert "owner_id" not in vp.fields and vp.fields["lifecycle_stage"] == "lead"
    with Session(pipeline.engine) as session:
        assert session.get(PersonState, "email:vp@bigco.com") is None  # nothing else saved
        assert session.exec(select(SlaClock)).all() == []

    monkeypatch.undo()
    result = pipeline.run()
    assert not result.errors, result.errors
    vp = crm.contact("c1")
    assert vp is not None and vp.fields["owner_id"] in ("o1", "o2")
    with Session(pipeline.engine) as session:
        state = session.get(PersonState, "email:vp@bigco.com")
        assert state is not None and state.owner_email in ("ana@acme.test", "bob@acme.test")
        clocks = session.exec(
            select(SlaClock).where(SlaClock.lead_key == "email:vp@bigco.com")
        ).all()
        assert len(clocks) == 1


class SlowReadsCrm(InMemoryConnector):
    """Each contact page and each page's activity read takes a while; the order is logged."""

    reads_pages_ahead = True
    log: list[str]

    def pull_contacts(
        self, object_type: str, since: datetime | None, until: datetime
    ) -> Iterator[ContactBatch]:
        for index, batch in enumerate(super().pull_contacts(object_type, since, until)):
            time.sleep(0.02)
            self.log.append(f"page {index}")
            yield batch

    def pull_activities(self, contacts, since):  # type: ignore[no-untyped-def]
        self.log.append("activities")
        time.sleep(0.05)
        self.log.append("activities done")
        return super().pull_activities(contacts, since)


def test_the_next_page_is_read_while_this_pages_activities_are(sqlite_url: str) -> None:
    crm = make_crm(cls=SlowReadsCrm)
    crm.log = []
    _crowd(crm, 600)
    plain = make_crm()
    _crowd(plain, 600)
    result = _pipeline(sqlite_url, crm).run()
    expected = _pipeline(sqlite_url.replace(".db", "-plain.db"), plain).run()
    assert not result.errors
    # page 1 was read while page 0's activities were: the reads overlap
    assert crm.log.index("page 1") < crm.log.index("activities done")
    assert sorted((i.key, i.value) for i in result.writes.items) == sorted(
        (i.key, i.value) for i in expected.writes.items
    )


class SlowWrites(InMemoryConnector):
    """Each write call takes 0.4 s; the first one waits (up to a minute: however loaded the
    machine) for planning to go on meanwhile, and notes how far it got."""

    engine: Any = None
    threads: ClassVar[list[str]] = []
    planned_during_first_write: tuple[int, int] | None = None

    def _planned(self) -> int:
        with Session(self.engine) as session:
            return len(session.exec(select(OutboxItem.key)).all())

    def apply_changes(self, changes: list[FieldChange]) -> list[WriteOutcome]:  # type: ignore[override]
        self.threads.append(threading.current_thread().name)
        first = self.planned_during_first_write is None
        before = self._planned() if first else 0
        time.sleep(0.4)
        if first:
            waited = time.monotonic() + 60
            while self._planned() <= before and time.monotonic() < waited:
                time.sleep(0.05)  # a deciding thread held up behind this write never gets on
            self.planned_during_first_write = (before, self._planned())
        return list(super().apply_changes(changes))


def test_deciding_goes_on_while_a_write_behind_waits_for_the_crm(sqlite_url: str) -> None:
    crm = make_crm(cls=SlowWrites)
    crm.threads = []
    _crowd(crm)
    pipeline = _pipeline(sqlite_url, crm)
    crm.engine = pipeline.engine
    result = pipeline.run()
    assert not result.errors, result.errors
    assert crm.threads[0].startswith("write-behind")  # not the deciding thread
    assert crm.threads[-1] == "MainThread"  # the run's final write
    assert crm.planned_during_first_write is not None
    before, after = crm.planned_during_first_write
    assert after > before  # the next chunks were planned while that write was in flight
    assert all("score" in c.fields for c in crm._store.contacts["contact"].values())
    assert not [t for t in threading.enumerate() if t.name.startswith("write-behind")]


class BrokenWrites(InMemoryConnector):
    def apply_changes(self, changes: list[FieldChange]) -> list[WriteOutcome]:  # type: ignore[override]
        raise RuntimeError("writer bug")


def test_a_write_behind_that_fails_fails_the_run(sqlite_url: str) -> None:
    crm = make_crm(cls=BrokenWrites)
    _crowd(crm)
    with pytest.raises(RuntimeError, match="writer bug"):
        _pipeline(sqlite_url, crm).run()
    assert not [t for t in threading.enumerate() if t.name.startswith(("write-behind", "pull-"))]
