"""Child-to-parent relationship fields in SOQL (`Account.OwnerId` on a Contact), through the
real simple-salesforce client: nested parent objects with `attributes`, null for an empty lookup,
and Salesforce's INVALID_FIELD for a relationship that does not exist."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from tests.sandbox_salesforce.conftest import SalesforceSandbox, first_error, make_portal


def test_contact_reads_its_account_fields_nested(
    start_sandbox: Callable[..., SalesforceSandbox],
) -> None:
    sf = start_sandbox(make_portal(leads=0, contacts=4)).client()
    rows = list(
        sf.query_all_iter(
            "SELECT Id, Email, Account.Name, Account.OwnerId, Account.NumberOfEmployees, "
            "Account.Owner.Email, Account.CreatedDate FROM Contact ORDER BY Email"
        )
    )
    assert len(rows) == 4
    by_domain = {r["Email"].split("@")[1]: r for r in rows}
    acme = by_domain["acme.io"]["Account"]
    assert acme["attributes"]["type"] == "Account"
    assert acme["attributes"]["url"].startswith("/services/data/v59.0/sobjects/Account/001")
    assert (acme["Name"], acme["NumberOfEmployees"]) == ("Acme Analytics", 300)
    assert acme["OwnerId"].startswith("005")
    assert acme["Owner"]["Email"] == "ana.ruiz@example.com"  # two lookups deep
    assert acme["CreatedDate"].endswith("+0000")  # parent datetimes in the REST form
    assert by_domain["bolt.de"]["Account"]["Name"] == "Bolt Logistics"
    assert "Account.Name" not in by_domain["acme.io"]  # nested, not a dotted key


def test_an_empty_lookup_answers_null(start_sandbox: Callable[..., SalesforceSandbox]) -> None:
    sf = start_sandbox(make_portal(leads=0, contacts=2)).client()
    contact = next(iter(sf.query_all_iter("SELECT Id FROM Contact")))
    sf.Contact.update(contact["Id"], {"AccountId": None})
    row = sf.query(f"SELECT Id, Account.OwnerId FROM Contact WHERE Id = '{contact['Id']}'")
    assert row["records"][0]["Account"] is None


@pytest.mark.parametrize(
    ("field", "words"),
    [
        ("Acount.OwnerId", "Didn't understand relationship 'Acount'"),
        ("Account.Colour", "No such column 'Colour' on entity 'Account'"),
        ("Who.Name", "Didn't understand relationship 'Who'"),
    ],
)
def test_a_bad_path_is_invalid_field(
    start_sandbox: Callable[..., SalesforceSandbox], field: str, words: str
) -> None:
    sf = start_sandbox(make_portal(leads=1, contacts=1)).client()
    sobject = "Task" if field.startswith("Who") else "Contact"
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query(f"SELECT Id, {field} FROM {sobject}")
    error = first_error(caught)
    assert error["errorCode"] == "INVALID_FIELD" and words in error["message"]
