"""HubSpot for marketing + Salesforce for sales: one person, one score, fields written where
config says (Salesforce owns lifecycle and owners; scores go to both)."""

from __future__ import annotations

from e2e_stack import Stack
from sqlmodel import Session, select

from sync.store.tables import ActivityRecord, PersonRecord


def test_one_person_one_score_fields_where_config_says(both_stack: Stack) -> None:
    result = both_stack.pipeline().run()
    with Session(both_stack.engine) as session:
        people = session.exec(select(PersonRecord)).all()
        by_key: dict[str, set[str]] = {}
        for record in people:
            by_key.setdefault(record.person_key, set()).add(record.connection)
        matched = [k for k, conns in by_key.items() if conns == {"hubspot", "salesforce"}]
        assert matched, "the same people are matched across both CRMs by email"
        kinds = {(a.connection, a.kind) for a in session.exec(select(ActivityRecord)).all()}
    assert ("hubspot", "page_view") in kinds and ("salesforce", "call") in kinds
    writes = result.writes.items
    assert {i.connection for i in writes if i.field == "score"} == {"hubspot", "salesforce"}
    # Owners are Salesforce's: HubSpot only ever mirrors them, by the same email.
    hubspot_owner_writes = [
        i for i in writes if i.connection == "hubspot" and i.field == "owner_id"
    ]
    assert all(
        i.reason.startswith(("owner mirrored from salesforce", "routed to"))
        for i in hubspot_owner_writes
    )
    # Lifecycle is decided in Salesforce and mirrored forward into HubSpot.
    hubspot_stage_writes = [
        i for i in writes if i.connection == "hubspot" and i.field == "lifecycle_stage"
    ]
    assert all("mirrored from salesforce" in i.reason for i in hubspot_stage_writes)
    again = both_stack.pipeline().run()
    assert again.writes.items == []  # both systems agree: nothing left to write
