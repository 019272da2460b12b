"""Fault 9b: the PostgreSQL state store restarted mid-run (a private server, not the shared one).

Whatever the restart breaks in the run it hits, the next run completes: every person decided
and written once, nothing left pending, no second assignment or clock for anyone.
"""

from __future__ import annotations

import contextlib
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "sync"))  # the pipeline harness

from pipeline_harness import NOW, make_config, make_crm, seed_people
from private_postgres import PrivatePostgres, private_postgres, server_binaries
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, select

from connectors.memory import InMemoryConnector
from connectors.records import Activity, Contact, FieldChange, WriteOutcome
from routing.sla.tables import SlaClock
from routing.tables import Assignment
from sync.pipeline import Pipeline
from sync.store.engine import make_engine
from sync.store.schema import upgrade
from sync.store.tables import OutboxItem

pytestmark = pytest.mark.skipif(server_binaries() is None, reason="no PostgreSQL server binaries")


class RestartingCrm(InMemoryConnector):
    """Restarts the store's server at one point of the run, once."""

    def __init__(self, server: PrivatePostgres, point: str) -> None:
        super().__init__(
            "crm",
            clock=lambda: NOW,
            fields=["score", "score_fit", "score_behaviour", "score_reasons"],
        )
        self.server, self.point = server, point
        self.pages = 0
        self.restarted = False

    def _restart(self) -> None:
        if not self.restarted:
            self.restarted = True
            self.server.restart()

    def pull_activities(
        self, contacts: Sequence[Contact], since: datetime | None
    ) -> list[Activity]:  # type: ignore[override]
        self.pages += 1
        if self.point == "pull" and self.pages == 3:
            self._restart()
        return list(super().pull_activities(contacts, since))

    def apply_changes(self, changes: Sequence[FieldChange]) -> Sequence[WriteOutcome]:
        outcomes = super().apply_changes(changes)
        if self.point == "apply":  # the CRM took the batch; its record is what fails
            self._restart()
        return outcomes


@pytest.mark.parametrize("point", ["pull", "apply"])
def test_the_store_restarting_loses_and_duplicates_nothing(point: str) -> None:
    with private_postgres() as server:
        engine = make_engine(server.url)
        upgrade(engine)
        crm = RestartingCrm(server, point)
        for owner in make_crm().pull_owners():
            crm.add_owner(owner)
        seed_people(crm)
        for i in range(1200):
            crm.put_contact(
                f"p{i:04d}",
                {"email": f"p{i}@co{i % 40}.com", "title": "Analyst", "country": "US",
                 "lifecycle_stage": "lead"},
                modified_at=NOW - timedelta(hours=1, seconds=i),
            )  # fmt: skip
        pipeline = Pipeline(make_config(), engine, {"crm": crm}, clock=lambda: NOW)
        with contextlib.suppress(DBAPIError):  # the run the restart hit may fail ...
            pipeline.run()
        assert crm.restarted
        later = pipeline.run(as_of=NOW + timedelta(minutes=10))
        assert not later.errors, later.errors
        people = crm._store.contacts["contact"].values()
        assert all("score" in c.fields for c in people)  # nothing lost
        with Session(engine) as session:
            open_items = session.exec(
                select(OutboxItem).where(OutboxItem.status.in_(("pending", "sending")))  # type: ignore[attr-defined]
            ).all()
            assert open_items == []
            per_lead = Counter(a.lead_key for a in session.exec(select(Assignment)))
            assert per_lead and max(per_lead.values()) == 1  # nobody routed twice
            clocks = Counter(c.lead_key for c in session.exec(select(SlaClock)))
            assert clocks and max(clocks.values()) == 1
        engine.dispose()
