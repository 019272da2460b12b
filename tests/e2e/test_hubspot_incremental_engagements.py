"""An incremental HubSpot pull reads engagements only for the changed contacts whose activity
rollups reach its cursor, and no decision loses an activity by it: a call logged on a contact
nobody edited is pulled and the contact re-decided with it; a contact whose job title changed
keeps its older activities (from the store) and costs no engagement read. Through
hubspot-api-client against the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from e2e_stack import Stack
from hubspot import HubSpot
from hubspot.crm.contacts import SimplePublicObjectInput
from hubspot.crm.objects import SimplePublicObjectInputForCreate
from sqlmodel import Session, select

from sandbox.server import SandboxRequest
from sync.run_people import RunPeople
from sync.store.activities import read_activities
from sync.store.tables import PersonRecord

ENGAGEMENT_LINKS = ("calls", "emails", "meetings")
CALL_TO_CONTACT = 194  # HubSpot-defined association type: call -> contact


def _client(stack: Stack) -> HubSpot:
    info = stack.sandbox.info
    return HubSpot(
        access_token=info.hubspot_token, host=info.hubspot_base_url, ssl_ca_cert=str(info.ca_file)
    )


def _stored(stack: Stack, contact_id: str) -> set[str]:
    with Session(stack.engine) as session:
        return {a.id for a in read_activities(session, "hubspot", [contact_id])}


def _person_key(stack: Stack, contact_id: str) -> str:
    with Session(stack.engine) as session:
        return session.exec(
            select(PersonRecord.person_key).where(PersonRecord.crm_id == contact_id)
        ).one()


def test_new_call_on_an_unedited_contact_and_an_edited_contact_with_old_activities(
    hubspot_stack: Stack,
) -> None:
    pipeline = hubspot_stack.pipeline()
    first = pipeline.run()
    assert not first.errors, first.errors
    hubspot = hubspot_stack.sandbox.hubspot
    assert hubspot is not None
    with_calls = sorted(
        (c for c in _linked(hubspot, "calls") if _stored(hubspot_stack, c)), key=int
    )
    edited, called = with_calls[0], with_calls[1]
    old_edited, old_called = _stored(hubspot_stack, edited), _stored(hubspot_stack, called)
    assert old_edited and old_called

    api = _client(hubspot_stack)
    api.crm.contacts.basic_api.update(
        edited, SimplePublicObjectInput(properties={"jobtitle": "VP Revenue Operations"})
    )
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    call = api.crm.objects.calls.basic_api.create(
        SimplePublicObjectInputForCreate(
            properties={"hs_timestamp": str(now_ms), "hs_call_title": "Discovery call"},
            associations=[
                {
                    "to": {"id": called},
                    "types": [
                        {
                            "associationCategory": "HUBSPOT_DEFINED",
                            "associationTypeId": CALL_TO_CONTACT,
                        }
                    ],
                }
            ],
        )
    )

    asked: list[tuple[str, Any]] = []

    def watch(request: SandboxRequest) -> None:
        if "/crm/v4/associations/contacts/" in request.path:
            asked.append((request.path, request.json()))

    server = hubspot_stack.sandbox.server("hubspot")
    server.before_request.append(watch)
    try:
        second = pipeline.run()
    finally:
        server.before_request.remove(watch)
    assert not second.errors, second.errors
    (pulled,) = second.pulls.values()
    assert pulled.changed == 2

    # the new call is pulled and its contact (not edited by anyone) re-decided with it
    assert _stored(hubspot_stack, called) == old_called | {f"calls:{call.id}"}
    # the edited contact keeps every older activity, and both are handed to the decisions
    assert _stored(hubspot_stack, edited) == old_edited
    keys = {_person_key(hubspot_stack, edited), _person_key(hubspot_stack, called)}
    assert RunPeople(second.ledger).handed(keys) == keys
    # engagement links were asked for the called contact only
    engagement_reads = [body for path, body in asked if path.split("/")[5] in ENGAGEMENT_LINKS]
    assert engagement_reads
    assert {i["id"] for body in engagement_reads for i in body["inputs"]} == {called}


def _linked(hubspot: Any, engagement: str) -> set[str]:
    """Contact ids with at least one `engagement` linked in the sandbox's store."""
    found: set[str] = set()
    for obj in hubspot.store.objects[engagement].values():
        found.update(str(i) for i in hubspot.store.linked(engagement, obj.id, "contacts"))
    return found
