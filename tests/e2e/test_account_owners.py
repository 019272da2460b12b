"""Account owners come from the CRM's companies and accounts (issue 16, deliverable 3).

Fixture `fixtures/accounts.yaml`: Acme Robotics is owned by Maya and none of its people has an
owner; Dormant Dynamics is owned by an inactive rep; nobody owns Orphan Labs; Nia has no company.
Everyone asked for a demo, so everyone is routed at once. The owners are read back through the
real clients (hubspot-api-client, simple-salesforce) from the sandbox over HTTPS.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from e2e_stack import Stack, build_stack
from hubspot import HubSpot
from simple_salesforce import Salesforce

from sandbox.fixture import load_fixture
from sync.pipeline import RunResult

FIXTURE = Path(__file__).parent / "fixtures" / "accounts.yaml"
MAYA = "maya.patel@handoff-demo.com"
GRACE = "grace.kim@handoff-demo.com"


def _stack(crm: str, tmp_path: Path, store_url: str) -> Iterator[Stack]:
    portal = load_fixture(FIXTURE, now=datetime.now(UTC).replace(microsecond=0))
    yield from build_stack(crm, tmp_path, store_url, portal=portal)


@pytest.fixture
def hubspot_accounts(tmp_path: Path, sqlite_url: str) -> Iterator[Stack]:
    yield from _stack("hubspot", tmp_path, sqlite_url)


@pytest.fixture
def salesforce_accounts(tmp_path: Path, sqlite_url: str) -> Iterator[Stack]:
    """The example Salesforce config, with Handoff writing Contact owners too (the example
    leaves a Contact's OwnerId to Salesforce; a Lead's it writes)."""
    for stack in _stack("salesforce", tmp_path, sqlite_url):
        (connection,) = stack.config.connections
        contact = dict(connection.objects["contact"])
        contact["owner_id"] = contact["owner_id"].model_copy(update={"managed": True})
        objects = {**connection.objects, "contact": contact}
        stack.config = stack.config.model_copy(
            update={"connections": [connection.model_copy(update={"objects": objects})]}
        )
        yield stack


def _account_warnings(result: RunResult) -> list[str]:
    """The run's warnings about companies/accounts (behaviour sources warn on their own)."""
    return [w for w in result.warnings if "compan" in w.lower() or "account" in w.lower()]


def _decisions(result: RunResult) -> dict[str, dict[str, Any]]:
    assert result.tally is not None
    return {str(a["person"]).removeprefix("email:"): a for a in result.tally.assignments}


# --- HubSpot ---------------------------------------------------------------------------------


def _hubspot(stack: Stack) -> HubSpot:
    info = stack.sandbox.info
    return HubSpot(
        access_token=info.hubspot_token, host=info.hubspot_base_url, ssl_ca_cert=str(info.ca_file)
    )


def _hubspot_owner_ids(client: HubSpot) -> dict[str, str]:
    page = client.crm.owners.owners_api.get_page(limit=100)
    return {o.email: o.id for o in page.results}


def _hubspot_contact(client: HubSpot, email: str) -> dict[str, Any]:
    contact = client.crm.contacts.basic_api.get_by_id(
        email,
        id_property="email",
        properties=["hubspot_owner_id", "handoff_score_reasons", "numemployees"],
    )
    return dict(contact.properties)


def test_hubspot_company_owner_gets_the_mql_of_its_unowned_contacts(
    hubspot_accounts: Stack,
) -> None:
    result = hubspot_accounts.pipeline().run()
    assert not result.errors and not _account_warnings(result), result
    client = _hubspot(hubspot_accounts)
    maya = _hubspot_owner_ids(client)[MAYA]
    for email in ("ava.stone@acmerobotics.com", "ben.hart@acmerobotics.com"):
        props = _hubspot_contact(client, email)
        assert props["hubspot_owner_id"] == maya, email
        decision = _decisions(result)[email]
        assert decision["rule"] == "account_owner"
        assert "account owner of Acme Robotics (HubSpot company)" in decision["reason"]
    # Lou is associated with no company: matched to Acme by his email domain
    assert _hubspot_contact(client, "lou.park@acmerobotics.com")["hubspot_owner_id"] == maya
    lou = _decisions(result)["lou.park@acmerobotics.com"]["reason"]
    assert "account owner of Acme Robotics (HubSpot company matched by email domain)" in lou
    ava = _hubspot_contact(client, "ava.stone@acmerobotics.com")
    assert not ava.get("numemployees")  # the contact has no size of its own...
    assert (
        "320-person software company" in ava["handoff_score_reasons"]
    )  # ...its company's reaches fit


def test_hubspot_inactive_unowned_or_missing_company_falls_to_round_robin(
    hubspot_accounts: Stack,
) -> None:
    result = hubspot_accounts.pipeline().run()
    assert not result.errors and not _account_warnings(result), result
    decisions = _decisions(result)
    client = _hubspot(hubspot_accounts)
    owners = {v: k for k, v in _hubspot_owner_ids(client).items()}
    expected = {
        "dan.reed@dormantdynamics.com": f"account owner {GRACE} of Dormant Dynamics "
        "(HubSpot company) inactive",
        "ola.berg@orphanlabs.com": "Orphan Labs (HubSpot company) has no owner",
        "nia.cole@freelance-nia.com": "no HubSpot company linked",
    }
    for email, words in expected.items():
        decision = decisions[email]
        assert decision["rule"] == "round_robin", decision
        assert words in decision["reason"] and "na-east" in decision["reason"]
        written = owners[_hubspot_contact(client, email)["hubspot_owner_id"]]
        assert written == decision["owner"] and written != GRACE


def test_hubspot_companies_are_read_in_batches_once_per_run(hubspot_accounts: Stack) -> None:
    hubspot = hubspot_accounts.sandbox.hubspot
    assert hubspot is not None
    hubspot_accounts.pipeline().run()
    # seven contacts: one associations call, one companies batch read for the three companies
    assert hubspot.log.total("companies.batch_read") == 1
    assert hubspot.log.total("properties.list") >= 1
    before = hubspot.log.total("companies.batch_read")
    again = hubspot_accounts.pipeline().run()
    assert again.planned == []  # their companies' fields do not make the echoes look changed
    assert hubspot.log.total("companies.batch_read") == before  # no new contact, no company read


# --- Salesforce ------------------------------------------------------------------------------


def _salesforce(stack: Stack) -> Salesforce:
    info = stack.sandbox.info
    assert info.salesforce_instance_url and info.salesforce_session_id
    session = requests.Session()
    session.trust_env = False  # the environment's CA bundle must not replace ours
    session.verify = str(info.ca_file)
    return Salesforce(
        instance_url=info.salesforce_instance_url,
        session_id=info.salesforce_session_id,
        session=session,
    )


def _user_ids(sf: Salesforce) -> dict[str, str]:
    rows = sf.query_all("SELECT Id, Email, UserType FROM User")["records"]
    users = {str(r["Email"]): r["Id"] for r in rows}
    users |= {str(r["UserType"]): r["Id"] for r in rows if r["UserType"] != "Standard"}
    return users


def _unown_contacts(sf: Salesforce) -> None:
    """Hand every Contact to the integration user (the sandbox gives an unowned person its
    account's owner; here nobody owns the people, only the accounts do)."""
    integration = _user_ids(sf)["AutomatedProcess"]
    for row in sf.query_all("SELECT Id FROM Contact")["records"]:
        sf.Contact.update(row["Id"], {"OwnerId": integration})


def _owner_of(sf: Salesforce, sobject: str, email: str) -> str:
    rows = sf.query(f"SELECT OwnerId FROM {sobject} WHERE Email = '{email}'")["records"]
    assert len(rows) == 1, (sobject, email)
    return str(rows[0]["OwnerId"])


def test_salesforce_account_owner_gets_contacts_and_matched_leads(
    salesforce_accounts: Stack,
) -> None:
    sf = _salesforce(salesforce_accounts)
    _unown_contacts(sf)
    result = salesforce_accounts.pipeline().run()
    assert not result.errors and not _account_warnings(result), result
    maya = _user_ids(sf)[MAYA]
    decisions = _decisions(result)
    for email in ("ava.stone@acmerobotics.com", "ben.hart@acmerobotics.com"):
        assert _owner_of(sf, "Contact", email) == maya
        assert "account owner of Acme Robotics (Salesforce account)" in decisions[email]["reason"]
    # Leads have no account: matched to Acme's by email domain, or by website for a gmail lead
    assert _owner_of(sf, "Lead", "lou.park@acmerobotics.com") == maya
    assert (
        "(Salesforce account matched by email domain)"
        in decisions["lou.park@acmerobotics.com"]["reason"]
    )
    assert _owner_of(sf, "Lead", "kim.lane@gmail.com") == maya
    assert "(Salesforce account matched by website)" in decisions["kim.lane@gmail.com"]["reason"]
    ava = sf.query("SELECT Handoff_Score_Reasons__c FROM Contact WHERE Email = "
                   "'ava.stone@acmerobotics.com'")["records"][0]  # fmt: skip
    assert (
        "320-person software company" in ava["Handoff_Score_Reasons__c"]
    )  # Account.NumberOfEmployees


def test_salesforce_inactive_or_missing_account_owner_falls_to_round_robin(
    salesforce_accounts: Stack,
) -> None:
    sf = _salesforce(salesforce_accounts)
    _unown_contacts(sf)
    result = salesforce_accounts.pipeline().run()
    assert not result.errors and not _account_warnings(result), result
    decisions = _decisions(result)
    users = {v: k for k, v in _user_ids(sf).items()}
    dan = decisions["dan.reed@dormantdynamics.com"]
    assert dan["rule"] == "round_robin"
    assert (
        f"account owner {GRACE} of Dormant Dynamics (Salesforce account) inactive" in dan["reason"]
    )
    assert users[_owner_of(sf, "Contact", "dan.reed@dormantdynamics.com")] == dan["owner"] != GRACE
    nia = decisions["nia.cole@freelance-nia.com"]
    assert nia["rule"] == "round_robin"
    assert "no Salesforce account (by domain) linked" in nia["reason"]


# --- bad input: a refused scope, a property the CRM lacks --------------------------------------


def _with_accounts(stack: Stack, **settings: Any) -> None:
    (connection,) = stack.config.connections
    accounts = connection.accounts.model_copy(update=settings)
    stack.config = stack.config.model_copy(
        update={"connections": [connection.model_copy(update={"accounts": accounts})]}
    )


def test_hubspot_refused_company_scope_is_a_warning_and_the_run_goes_on(
    hubspot_accounts: Stack,
) -> None:
    hubspot = hubspot_accounts.sandbox.hubspot
    assert hubspot is not None
    # a private app without the companies scope: its company reads are refused (403)
    hubspot.knobs.missing_scopes = {"crm.objects.companies.read": ["companies."]}
    result = hubspot_accounts.pipeline().run()
    (warning,) = _account_warnings(result)
    assert "HubSpot companies unavailable" in warning and "MISSING_SCOPES" in warning
    assert "grant scopes: crm.objects.companies.read" in warning
    assert result.pulls["hubspot"].people == 7  # everyone pulled and decided all the same
    assert hubspot.log.total("companies.batch_read", 200) == 0  # refused (403), never read
    assert all(a["rule"] != "account_owner" for a in _decisions(result).values())


def test_hubspot_company_property_the_portal_lacks_is_named(hubspot_accounts: Stack) -> None:
    _with_accounts(hubspot_accounts, fields={"company_size": "employees_band"})
    result = hubspot_accounts.pipeline().run()
    (warning,) = _account_warnings(result)
    assert "company property 'employees_band' (for company_size) does not exist" in warning
    # the other company fields and the owner still arrive
    assert _decisions(result)["ava.stone@acmerobotics.com"]["owner"] == MAYA


def test_salesforce_account_field_the_org_lacks_is_named_not_a_failed_pull(
    salesforce_accounts: Stack,
) -> None:
    _unown_contacts(_salesforce(salesforce_accounts))
    _with_accounts(salesforce_accounts, fields={"state": "Sales_Region__c"})
    result = salesforce_accounts.pipeline().run()
    (warning,) = _account_warnings(result)
    assert "Account field 'Sales_Region__c' (for state) does not exist" in warning
    assert result.pulls["salesforce"].people == 7
    assert _decisions(result)["ava.stone@acmerobotics.com"]["owner"] == MAYA


def test_salesforce_many_new_domains_read_every_account_once(
    salesforce_accounts: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full sync's thousands of lead domains: one paged read of the Accounts with a website,
    not one LIKE query per 40 domains; the matches are the same."""
    from connectors.salesforce import accounts

    monkeypatch.setattr(accounts, "ALL_ACCOUNTS_ABOVE", 0)
    reads: list[bool] = []
    original = accounts.AccountReader._read_accounts

    def spy(self: accounts.AccountReader, domains: Any, *, every: bool = False) -> None:
        reads.append(every)
        original(self, domains, every=every)

    monkeypatch.setattr(accounts.AccountReader, "_read_accounts", spy)
    result = salesforce_accounts.pipeline().run()
    assert reads == [True]  # one read of every account, then the index answers
    decisions = _decisions(result)
    for email in ("lou.park@acmerobotics.com", "kim.lane@gmail.com"):
        assert decisions[email]["rule"] == "account_owner" and decisions[email]["owner"] == MAYA
    assert (
        "no Salesforce account (by domain) linked"
        in decisions["nia.cole@freelance-nia.com"]["reason"]
    )
