"""Custom fields score and route through the sandbox on HubSpot and Salesforce (issue 21, 1).

Fixture `fixtures/custom_fields.yaml`: five marketing managers with the same behaviour; only the
portal's own employee band and seat count (HubSpot `acme_employee_band` / `acme_seats`,
Salesforce `Employee_Band__c` / `Seats__c`) tell them apart. The example config gains the two as
custom fields, two fit rules on them and an `enterprise` territory matching `employee_band:
[large]`. `handoff sync` runs as a user runs it; scores, stages, owners and reasons are read back
through hubspot-api-client and simple-salesforce.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from e2e_stack import SEED_NOW
from hubspot import HubSpot
from simple_salesforce import Salesforce
from typer.testing import CliRunner

from config.cli import app
from sandbox.fixture import load_fixture
from sandbox.runtime import Sandbox
from sync.demo import example_config, sandbox_environment

FIXTURE = Path(__file__).parent / "fixtures" / "custom_fields.yaml"
AS_OF = SEED_NOW.isoformat().replace("+00:00", "Z")
RITA = "rita.alvarez@handoff-demo.com"
NA_EAST = {"maya.patel@handoff-demo.com", "jordan.reyes@handoff-demo.com"}
NA_EAST |= {"ethan.brooks@handoff-demo.com"}
PROPERTIES = {
    "hubspot": ("acme_employee_band", "acme_seats"),
    "salesforce": ("Employee_Band__c", "Seats__c"),
}
# canonical read-back names per CRM: score, fit, stage, owner, reasons
HS = ("handoff_score", "handoff_score_fit", "lifecyclestage", "hubspot_owner_id")
HS_REASONS = "handoff_score_reasons"
SF_FIELDS = "Handoff_Score__c, Handoff_Score_Fit__c, Status, OwnerId, Handoff_Score_Reasons__c"


def custom_config(crm: str) -> dict[str, Any]:
    """The example config with the custom fields, rules on them and the enterprise territory."""
    data = yaml.safe_load(example_config(crm).read_text(encoding="utf-8"))
    band, seats = PROPERTIES[crm]
    obj = "contact" if crm == "hubspot" else "lead"  # the fixture's people are Salesforce Leads
    data["connections"][0]["custom_fields"] = {
        obj: {
            "employee_band": {
                "property": band,
                "type": "enum",
                "values": ["small", "mid", "large"],
            },
            "seats": {"property": seats, "type": "number", "label": "Seats"},
        }
    }
    if crm == "hubspot":  # a property the portal lacks: HubSpot would read it blank silently
        data["connections"][0]["custom_fields"][obj]["segment"] = {"property": "acme_segmnt"}
    data.setdefault("scoring", {})["fit"] = [
        {"id": "band_large", "field": "employee_band", "in": ["large"], "points": 15},
        {"id": "band_mid", "field": "employee_band", "in": ["mid"], "points": 10},
        {"id": "many_seats", "field": "seats", "at_least": 100, "points": 5,
         "label": "{value} seats"},
        {"id": "supported_region", "label": "Supported region", "field": "country",
         "in": ["us"], "points": 10},
    ]  # fmt: skip
    territories = data["routing"]["territories"]
    territories.insert(
        0,
        {
            "name": "enterprise",
            "match": {
                "countries": ["US"],
                "states": ["NY"],
                "fields": {"employee_band": ["large"]},
            },
            "reps": [{"email": RITA}],
        },
    )
    return data


@dataclass
class Synced:
    crm: str
    sandbox: Sandbox
    config_path: str
    output: str
    directory: Path

    def cli(self, *args: str, code: int = 0) -> str:
        result = CliRunner().invoke(app, [*args, "--config", self.config_path])
        assert result.exit_code == code, result.output
        return result.output


@pytest.fixture(params=["hubspot", "salesforce"])
def synced(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Synced]:
    crm = str(request.param)
    sandbox = Sandbox(
        load_fixture(FIXTURE, now=SEED_NOW),
        hubspot=crm == "hubspot",
        salesforce=crm == "salesforce",
        ca_directory=tmp_path / "ca",
    )
    path = tmp_path / "handoff.yaml"
    path.write_text(yaml.safe_dump(custom_config(crm), sort_keys=False), encoding="utf-8")
    with sandbox, sandbox_environment(sandbox.info, tmp_path):
        result = CliRunner().invoke(app, ["sync", "--as-of", AS_OF, "--config", str(path)])
        assert result.exit_code == 0, result.output
        yield Synced(crm, sandbox, str(path), result.output, tmp_path)


def _hubspot_people(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    info = sandbox.info
    client = HubSpot(
        access_token=info.hubspot_token, host=info.hubspot_base_url, ssl_ca_cert=str(info.ca_file)
    )
    owners = {o.id: o.email for o in client.crm.owners.owners_api.get_page(limit=100).results}
    people = {}
    for contact in client.crm.contacts.get_all(properties=["email", *HS, HS_REASONS]):
        p = contact.properties
        people[p["email"]] = {
            "score": float(p["handoff_score"] or 0),
            "fit": float(p["handoff_score_fit"] or 0),
            "mql": p["lifecyclestage"] == "marketingqualifiedlead",
            "owner": owners.get(p.get("hubspot_owner_id") or ""),
            "reasons": p.get(HS_REASONS) or "",
        }
    return people


def _salesforce_people(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    info = sandbox.info
    session = requests.Session()
    session.trust_env = False
    session.verify = str(info.ca_file)
    sf = Salesforce(
        instance_url=info.salesforce_instance_url,
        session_id=info.salesforce_session_id,
        session=session,
    )
    users = {u["Id"]: u["Email"] for u in sf.query_all("SELECT Id, Email FROM User")["records"]}
    people = {}
    for row in sf.query_all(f"SELECT Email, {SF_FIELDS} FROM Lead")["records"]:
        people[row["Email"]] = {
            "score": row["Handoff_Score__c"] or 0,
            "fit": row["Handoff_Score_Fit__c"] or 0,
            "mql": row["Status"] == "MQL",
            "owner": users.get(row["OwnerId"]),
            "reasons": row["Handoff_Score_Reasons__c"] or "",
        }
    return people


def _people(synced: Synced) -> dict[str, dict[str, Any]]:
    if synced.crm == "hubspot":
        return _hubspot_people(synced.sandbox)
    return _salesforce_people(synced.sandbox)


def test_custom_fields_score_route_and_show_in_reasons(synced: Synced) -> None:
    people = _people(synced)
    ava = people["ava.stone@northwind-labs.com"]
    ben = people["ben.hart@tinyforge.com"]
    # Manager 5 + supported region 10 = 15 for everyone; the custom fields add the rest
    assert ben["fit"] == 15 and not ben["mql"], ben
    assert ava["fit"] == 15 + 15 + 5 and ava["mql"], ava
    assert ava["score"] - ben["score"] == 20
    assert "Employee band is large" in ava["reasons"] and "250 seats" in ava["reasons"]
    assert "Employee band" not in ben["reasons"]
    # the enterprise territory takes the large band; the mid band stays in na-east
    assert ava["owner"] == RITA
    dan = people["dan.reed@harbor-freight-co.com"]  # "Large" as the CRM spells it
    assert dan["mql"] and dan["owner"] == RITA and dan["fit"] == 30
    eve = people["eve.moss@quartzline.com"]
    assert eve["mql"] and eve["owner"] in NA_EAST and "Employee band is mid" in eve["reasons"]
    cal = people["cal.young@megacorp-example.com"]  # "huge" is no value of employee_band
    assert not cal["mql"] and cal["fit"] == 15


def test_custom_field_problems_are_named_and_explain_shows_the_values(synced: Synced) -> None:
    band, seats = PROPERTIES[synced.crm]
    # the unknown band and the seat count that is no number: in the run's problems, by property
    assert f"'{band}'" in synced.output and "'huge'" in synced.output, synced.output
    assert "not one of its values (small, mid, large)" in synced.output
    assert f"'{seats}'" in synced.output and "'lots'" in synced.output
    if synced.crm == "hubspot":
        assert "HubSpot contact property 'acme_segmnt' (custom field segment) does not " in (
            synced.output
        )
    text = synced.cli("explain", "ava.stone@northwind-labs.com", "--as-of", AS_OF)
    assert "custom fields: Employee band large · Seats 250" in text, text
    assert "+15  fit        Employee band is large  (band_large)" in text
    assert "territory: enterprise (country us, state ny, domain northwind-labs.com, " in text
    assert "employee band large) round robin, 1st of 1" in text  # the routing reason
    live = synced.cli("explain", "ava.stone@northwind-labs.com", "--live", "--as-of", AS_OF)
    assert "custom fields: Employee band large · Seats 250" in live  # read from the CRM now
    data = json.loads(
        synced.cli("explain", "cal.young@megacorp-example.com", "--json", "--as-of", AS_OF)
    )
    assert data["custom_fields"]["employee_band"] is None and data["custom_fields"]["seats"] == 90


def test_the_run_report_shows_custom_fields_in_reasons_and_routes(synced: Synced) -> None:
    (path,) = (synced.directory / "reports").glob("*/report.json")
    report = json.loads(path.read_text(encoding="utf-8"))
    decisions = {d["email"]: d for d in report["assignments"]["decisions"]}
    ava = decisions["ava.stone@northwind-labs.com"]
    assert ava["territory"] == "enterprise" and ava["owner"] == RITA
    assert "employee band large) round robin, 1st of 1" in ava["reason"]
    markdown = (path.parent / "report.md").read_text(encoding="utf-8").splitlines()
    (written,) = [ln for ln in markdown if ln.startswith("| Ava Stone") and "score_reasons" in ln]
    assert "Employee band is large" in written and "250 seats" in written
