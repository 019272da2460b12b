"""The pipeline on the HubSpot sandbox, through hubspot-api-client over HTTPS."""

from __future__ import annotations

from collections import Counter

from e2e_stack import Stack
from sla_lapse import every_window_lapsed
from sqlmodel import Session

from sandbox.server import SandboxRequest
from sync.run_people import RunPeople
from sync.store.tables import PersonRecord


def _tasks(stack: Stack) -> Counter[str]:
    hubspot = stack.sandbox.hubspot
    assert hubspot is not None
    keys: Counter[str] = Counter()
    for obj in hubspot.store.objects["tasks"].values():
        key = obj.value("handoff_task_key")
        if key:
            keys[key] += 1
    return keys


def test_full_run_writes_stages_scores_owners(hubspot_stack: Stack) -> None:
    result = hubspot_stack.pipeline().run()
    assert not result.errors, result.errors
    hubspot = hubspot_stack.sandbox.hubspot
    assert hubspot is not None
    contacts = list(hubspot.store.objects["contacts"].values())
    scored = [c for c in contacts if c.value("handoff_score") not in (None, "")]
    assert len(scored) == len(contacts)  # every contact got its score and reasons
    assert all(c.value("handoff_score_reasons") for c in scored)
    stages = Counter(c.value("lifecyclestage") for c in contacts)
    assert stages["marketingqualifiedlead"] > 0
    routed = [i for i in result.writes.items if i.field == "owner_id"]
    assert routed, "fast-lane and MQL leads get owners"
    owners = {o.id: o for o in hubspot.store.owners.values()}
    for item in routed:  # never an inactive owner
        assert owners[str(item.value)].active


def test_dry_run_equals_the_applied_run_and_second_run_is_idle(hubspot_stack: Stack) -> None:
    pipeline = hubspot_stack.pipeline()
    hubspot = hubspot_stack.sandbox.hubspot
    assert hubspot is not None
    before = hubspot.log.total("contacts.batch_update")
    dry = pipeline.run(dry_run=True, as_of=None)
    assert hubspot.log.total("contacts.batch_update") == before  # nothing written
    live = pipeline.run(as_of=dry.as_of)
    assert sorted((i.key, i.value) for i in dry.writes.items) == sorted(
        (i.key, i.value) for i in live.writes.items
    )
    again = pipeline.run(as_of=dry.as_of)
    assert again.planned == [] and again.writes.items == []
    (pulled,) = again.pulls.values()
    assert pulled.people > 0 and pulled.unchanged == pulled.people  # our echoes, all skipped
    assert again.tally.scored == 0


def test_drift_is_left_alone_and_reported(hubspot_stack: Stack) -> None:
    pipeline = hubspot_stack.pipeline()
    first = pipeline.run()
    owner_writes = [i for i in first.writes.items if i.field == "owner_id"]
    assert owner_writes
    target = owner_writes[0]
    hubspot = hubspot_stack.sandbox.hubspot
    assert hubspot is not None
    human_choice = next(
        o.id for o in hubspot.store.owners.values() if o.id != str(target.value) and o.active
    )
    hubspot.update_contact(
        target.record_id, {"hubspot_owner_id": human_choice, "lifecyclestage": "lead"}
    )
    second = pipeline.run()
    assert hubspot.contact(target.record_id)["hubspot_owner_id"] == human_choice
    assert any(d.record_id == target.record_id and d.field == "owner_id" for d in second.drifts)


def test_no_duplicate_tasks_across_reruns(hubspot_stack: Stack) -> None:
    pipeline = hubspot_stack.pipeline()
    pipeline.run()
    later = every_window_lapsed(hubspot_stack.engine)
    escalated = pipeline.run(as_of=later)
    assert escalated.writes.counts.get("unknown", 0) == 0  # every task's outcome was recorded
    assert pipeline.run(as_of=later).writes.items == []
    tasks = _tasks(hubspot_stack)
    assert tasks, "lapsed SLA windows create tasks"
    assert max(tasks.values()) == 1


def test_an_edit_between_our_read_and_our_write_is_not_taken_for_our_echo(
    hubspot_stack: Stack,
) -> None:
    """A person edits a contact after the run read it and before the run's write lands: the
    CRM stamps the record with our write's time, so its modified time alone says 'our echo'."""
    pipeline = hubspot_stack.pipeline()
    hubspot = hubspot_stack.sandbox.hubspot
    assert hubspot is not None
    edited: list[str] = []

    def edit_before_the_first_write(request: SandboxRequest) -> None:
        if request.path.endswith("/contacts/batch/update") and not edited:
            record = str(request.json()["inputs"][0]["id"])
            hubspot.update_contact(record, {"jobtitle": "Chief Revenue Officer"})
            edited.append(record)

    server = hubspot_stack.sandbox.server("hubspot")
    server.before_request.append(edit_before_the_first_write)
    try:
        pipeline.run()
    finally:
        server.before_request.remove(edit_before_the_first_write)
    assert edited
    second = pipeline.run()
    (pulled,) = second.pulls.values()
    assert pulled.unchanged == pulled.people - 1  # every other record is our echo
    with Session(hubspot_stack.engine) as session:
        stored = session.get_one(PersonRecord, ("hubspot", edited[0]))
    assert stored.fields["title"] == "Chief Revenue Officer"
    assert pulled.changed == 1
    assert RunPeople(second.ledger).handed([stored.person_key]) == {stored.person_key}


def test_full_sync_reads_links_inline_with_the_contact_pages(hubspot_stack: Stack) -> None:
    """120 contacts come in two list pages that carry each contact's companies and engagements
    (`associations=`, fewer than 100 links of a type each): a full sync makes no v4 associations
    call, reads the companies in one batch and the engagements the links name."""
    hubspot = hubspot_stack.sandbox.hubspot
    assert hubspot is not None
    result = hubspot_stack.pipeline().run()
    assert not result.errors, result.errors
    assert hubspot.log.total("contacts.list") >= 2  # the list endpoint's pages hold 100
    assert hubspot.log.total("associations.batch_read") == 0
    assert hubspot.log.total("companies.batch_read") == 1  # fewer than 100 companies
    (pulled,) = result.pulls.values()
    assert pulled.people == 120 and pulled.activities > 0
