"""A person as the decide stage reads them: through Handoff's own unconfirmed writes, with
Handoff's last owner decision kept while the owning record has not moved since."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.records import Contact
from routing.ledger import LastAssignment
from sync.people import OwnerBook, PersonView
from sync.store.tables import OwnerRecord, PersonRecord

AT = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
OWNERS = OwnerBook(
    [
        OwnerRecord(connection=c, crm_id=f"{c}-{n}", email=f"{n}@x.com", active=True)
        for c in ("hubspot", "salesforce")
        for n in ("ann", "bob", "cat")
    ]
)


def _person(sf_owner: str | None, sf_stage: str = "lead") -> PersonView:
    records = [
        PersonRecord(
            connection="hubspot",
            crm_id="1",
            object_type="contact",
            person_key="p",
            fields={"owner_id": "hubspot-ann", "lifecycle_stage": "lead"},
            modified_at=AT,
        ),
        PersonRecord(
            connection="salesforce",
            crm_id="00Q1",
            object_type="lead",
            person_key="p",
            fields={"owner_id": sf_owner, "lifecycle_stage": sf_stage},
            modified_at=AT,
        ),
    ]
    contact = Contact(connection="hubspot", object_type="contact", id="1", modified_at=AT)
    view = PersonView(
        "p",
        records,
        contact,
        [],
        None,
        False,
        None,
        AT,
        lifecycle_from="salesforce",
        owner_from="salesforce",
    )
    view.settle({}, OWNERS)
    return view


def test_the_crm_as_pulled_without_writes_of_ours() -> None:
    person = _person("salesforce-ann")
    assert (person.owner_email, person.stage, person.owner_active) == ("ann@x.com", "lead", True)


def test_our_pending_or_in_flight_writes_are_read_as_landed() -> None:
    person = _person(None)
    person.settle(
        {("salesforce", "00Q1"): {"owner_id": "salesforce-bob", "lifecycle_stage": "mql"}}, OWNERS
    )
    assert (person.owner_email, person.stage, person.owner_active) == ("bob@x.com", "mql", True)
    hubspot = person.records[0]
    assert person.held(hubspot, "owner_id") == "hubspot-ann"  # no write of ours there
    assert person.records[1].fields["owner_id"] is None  # the CRM's value is kept as pulled


def test_our_owner_decision_stands_while_the_owning_record_holds_what_it_overrode() -> None:
    person = _person("salesforce-ann")
    person.settle({}, OWNERS, LastAssignment("cat@x.com", "ann@x.com"))
    assert (person.owner_email, person.source_owner_email) == ("cat@x.com", "ann@x.com")


def test_someone_moving_the_owning_record_since_wins() -> None:
    person = _person("salesforce-bob")
    person.settle({}, OWNERS, LastAssignment("cat@x.com", "ann@x.com"))
    assert person.owner_email == "bob@x.com"
