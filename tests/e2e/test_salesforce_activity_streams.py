"""Salesforce activities are read as org-wide streams on SystemModstamp, once a run, before the
people: an incremental run makes one query a source however many changed people's batches it has
(the per-batch read made one a source per 200 people) and no `describe` call, a call logged on a Lead nobody edited is
pulled and the Lead decided again with it, and an edited Lead keeps
its older activities. Through simple-salesforce against the sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from crm_clients import SalesforceClient
from e2e_stack import Stack, build_stack
from sqlmodel import Session, select

from sandbox.server import SandboxRequest
from sync.store.activities import read_activities
from sync.store.tables import PersonRecord, PersonState, SyncCursor

SOURCES = ("Task", "Event", "CampaignMember")


@pytest.fixture
def big_salesforce(tmp_path: Path, store_url: str) -> Iterator[Stack]:
    yield from build_stack("salesforce", tmp_path, store_url, contacts=700)


def _queries(stack: Stack) -> tuple[list[str], Iterator[None]]:
    asked: list[str] = []

    def watch(request: SandboxRequest) -> None:  # the pull's reads (not the run's writes)
        if "/query" in request.path or request.path.endswith("/describe"):
            asked.append(request.param("q") or request.path)

    server = stack.sandbox.server("salesforce")

    def hooked() -> Iterator[None]:
        server.before_request.append(watch)
        try:
            yield
        finally:
            server.before_request.remove(watch)

    return asked, hooked()


def _run_counting(stack: Stack) -> tuple[object, list[str]]:
    asked, hook = _queries(stack)
    next(hook)
    try:
        result = stack.pipeline().run()
    finally:
        next(hook, None)
    return result, asked


def _by_source(asked: list[str]) -> dict[str, int]:
    return {s: sum(f" FROM {s} " in q for q in asked) for s in SOURCES}


def _edit_leads(client: SalesforceClient, ids: list[str], title: str) -> None:
    for start in range(0, len(ids), 200):  # sObject Collections: 200 records a call
        records = [
            {"attributes": {"type": "Lead"}, "id": i, "Title": title}
            for i in ids[start : start + 200]
        ]
        client.api.restful(
            "composite/sobjects", method="PATCH", json={"allOrNone": False, "records": records}
        )


def _leads(stack: Stack) -> list[str]:
    with Session(stack.engine) as session:
        rows = session.exec(
            select(PersonRecord.crm_id).where(
                PersonRecord.object_type == "lead", PersonRecord.status == "active"
            )
        ).all()
    return sorted(rows)


def test_incremental_activity_reads_do_not_grow_with_the_changed_people(
    big_salesforce: Stack,
) -> None:
    stack = big_salesforce
    first, asked = _run_counting(stack)
    assert not first.errors, first.errors  # type: ignore[attr-defined]
    assert _by_source(asked) == dict.fromkeys(SOURCES, 1)  # the full pull: one stream a source
    client = SalesforceClient(stack.sandbox, stack.config)
    leads = _leads(stack)
    assert len(leads) > 450

    settled, _ = _run_counting(stack)  # reads the first run's own writes back (their echoes)
    assert not settled.errors, settled.errors  # type: ignore[attr-defined]
    _edit_leads(client, leads[:3], "Head of Data")
    few, few_asked = _run_counting(stack)
    _edit_leads(client, leads[3:453], "Director of Analytics")
    many, many_asked = _run_counting(stack)
    for result in (few, many):
        assert not result.errors, result.errors  # type: ignore[attr-defined]
    (few_pull,) = few.pulls.values()  # type: ignore[attr-defined]
    (many_pull,) = many.pulls.values()  # type: ignore[attr-defined]
    # (the runs also read their own earlier writes' echoes)
    assert few_pull.changed < 200 < 2 * 200 < many_pull.changed, (few_pull, many_pull)
    assert _by_source(few_asked) == _by_source(many_asked) == dict.fromkeys(SOURCES, 1)
    assert len(many_asked) == len(few_asked)  # the whole pull's queries too
    # the configured fields all exist: no describe call (only after a refused query)
    assert not [q for q in [*asked, *few_asked, *many_asked] if q.endswith("/describe")]


def _stored(stack: Stack, lead: str) -> set[str]:
    with Session(stack.engine) as session:
        return {a.id for a in read_activities(session, "salesforce", [lead])}


def test_a_call_on_an_unedited_lead_is_pulled_and_the_lead_decided_again(
    salesforce_stack: Stack,
) -> None:
    stack = salesforce_stack
    pipeline = stack.pipeline()
    first = pipeline.run()
    assert not first.errors, first.errors
    client = SalesforceClient(stack.sandbox, stack.config)
    leads = [lead for lead in _leads(stack) if _stored(stack, lead)]
    edited, called = leads[0], leads[1]
    old_edited, old_called = _stored(stack, edited), _stored(stack, called)
    before = client.person("lead", called)

    _edit_leads(client, [edited], "VP Revenue Operations")
    task = client.api.Task.create(
        {
            "WhoId": called,
            "Subject": "Discovery call",
            "TaskSubtype": "Call",
            "Status": "Completed",
        }
    )
    started = datetime.now(UTC)
    second = pipeline.run()
    assert not second.errors, second.errors
    # the call is stored for the Lead nobody edited, and the Lead is decided again with it
    assert _stored(stack, called) == old_called | {task["id"]}
    assert _stored(stack, edited) == old_edited  # the edited Lead keeps its older activities
    with Session(stack.engine) as session:
        key = session.exec(
            select(PersonRecord.person_key).where(PersonRecord.crm_id == called)
        ).one()
        state = session.get(PersonState, key)
    assert state is not None and state.computed_at is not None
    assert state.computed_at.replace(tzinfo=UTC) >= started  # decided again, with the call
    after = client.person("lead", called)
    assert after.owner == before.owner and after.score == before.score  # a rep's touch, unscored


def test_a_store_from_before_the_streams_starts_them_at_the_people_cursor(
    salesforce_stack: Stack,
) -> None:
    """A store whose people were pulled with their activities (no activity cursors yet) does not
    read every activity of the org again: the streams start at the oldest people cursor."""
    stack = salesforce_stack
    first, _ = _run_counting(stack)
    assert not first.errors, first.errors  # type: ignore[attr-defined]
    with Session(stack.engine) as session:
        for row in session.exec(select(SyncCursor)).all():
            if row.stream.startswith("activities."):
                session.delete(row)
        session.commit()
    second, asked = _run_counting(stack)
    assert not second.errors, second.errors  # type: ignore[attr-defined]
    streams = [q for q in asked if any(f" FROM {s} " in q for s in SOURCES)]
    assert len(streams) == len(SOURCES)
    assert all("SystemModstamp >= " in q for q in streams), streams
