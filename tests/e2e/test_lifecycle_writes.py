"""One decision, one lifecycle write a record, read back through hubspot-api-client as the stage's
history (`propertiesWithHistory`): HubSpot owning lifecycle (automation moves only its own stages,
and a sales-owned one only to carry out sales' rejection) and HubSpot mirroring Salesforce's
(forward only)."""

from __future__ import annotations

from e2e_stack import Stack
from hubspot import HubSpot

# HubSpot's lifecycle values in funnel order; `other` (recycled, disqualified) is a side exit.
LADDER = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead", "opportunity")
LADDER += ("customer",)
SALES_OWNED = frozenset({"salesqualifiedlead", "opportunity", "customer"})


def _versions(stack: Stack) -> dict[str, list[str]]:
    """Each contact's lifecycle stage versions, oldest first ("" where it was cleared)."""
    info = stack.sandbox.info
    api = HubSpot(
        access_token=info.hubspot_token,
        host=info.hubspot_base_url,
        ssl_ca_cert=str(info.ca_file),
    )
    rows = api.crm.contacts.get_all(
        properties=["lifecyclestage"], properties_with_history=["lifecyclestage"]
    )
    return {
        row.id: [v.value for v in reversed(row.properties_with_history["lifecyclestage"])]
        for row in rows
    }


def _added(before: dict[str, list[str]], after: dict[str, list[str]]) -> dict[str, list[str]]:
    """The versions a run added, per contact that got any."""
    added = {}
    for contact, versions in after.items():
        held = before[contact]
        assert versions[: len(held)] == held, "a stage's history only grows"
        if versions[len(held) :]:
            added[contact] = versions[len(held) :]
    return added


def _forward(held: str, stage: str) -> bool:
    return held in LADDER and stage in LADDER and LADDER.index(stage) > LADDER.index(held)


def test_owning_system_one_lifecycle_write_a_decision(hubspot_stack: Stack) -> None:
    before = _versions(hubspot_stack)
    assert any(v and v[-1] in SALES_OWNED for v in before.values())
    first = hubspot_stack.pipeline().run()
    assert not first.errors, first.errors
    added = _added(before, _versions(hubspot_stack))
    assert added, "the run moves some stages"
    for contact, versions in added.items():
        held, stages = before[contact][-1], [v for v in versions if v]
        assert len(stages) == 1, (contact, held, versions)  # a clear ("") is part of a move back
        # a stage sales owns moves only to carry out sales' rejection (to `other`)
        assert held not in SALES_OWNED or stages[0] == "other", (contact, held, versions)
        assert _forward(held, stages[0]) or stages[0] == "other", (contact, held, versions)
    again = hubspot_stack.pipeline().run()
    assert not again.errors, again.errors
    assert _added(before, _versions(hubspot_stack)) == added  # a second run writes no stage


def test_mirror_one_forward_lifecycle_write(both_stack: Stack) -> None:
    before = _versions(both_stack)
    first = both_stack.pipeline().run()
    assert not first.errors, first.errors
    added = _added(before, _versions(both_stack))
    assert added, "HubSpot follows the stages Salesforce's records moved to"
    for contact, versions in added.items():
        assert len(versions) == 1 and _forward(before[contact][-1], versions[0]), (
            contact,
            before[contact],
            versions,
        )
    stage_writes = [i for i in first.writes.items if i.field == "lifecycle_stage"]
    assert {i.connection for i in stage_writes} == {"hubspot", "salesforce"}
    assert len({(i.connection, i.record_id) for i in stage_writes}) == len(stage_writes)
    again = both_stack.pipeline().run()
    assert not again.errors, again.errors
    assert _added(before, _versions(both_stack)) == added
