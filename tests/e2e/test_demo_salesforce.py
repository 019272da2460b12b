"""`handoff demo --crm salesforce`'s live demo request: a Lead and its "Request a demo" campaign
response made through simple-salesforce, decided by the change event subscriber `handoff run`
uses, and shown as the rep sees it.

The command runs in-process (typer's runner, the same `handoff demo` a user types), so that the
test can read the demo Lead back through its own simple-salesforce client while the sandbox is
up, right after the live part (step 4, five days later, hands untouched leads to a backup rep).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from crm_clients import CrmPerson, SalesforceClient
from typer.testing import CliRunner

import sync.demo_live_salesforce as live
from config.cli import app
from config.loader import load_config

pytestmark = pytest.mark.slow


def _demo(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    crm: str = "salesforce",
    before: Any = None,
    held: dict[str, int] | None = None,
) -> tuple[str, dict[str, CrmPerson]]:
    """Run `handoff demo --crm <crm>`; the demo Lead as simple-salesforce reads it after the
    live part (`before(sandbox)` runs first); `held`: filled with what the org holds as the
    live part begins, counted through simple-salesforce."""
    seen: dict[str, CrmPerson] = {}
    request = live.live_salesforce_request

    def spied(sandbox: Any, config: Path, directory: Path, console: Any) -> None:
        if held is not None:
            held.update(_org_counts(_client(sandbox, config)))
        if before is not None:
            before(sandbox)
        request(sandbox, config, directory, console)
        client = _client(sandbox, directory / "speed-to-lead.yaml")
        soql = "SELECT Id FROM Lead WHERE Email LIKE '%@lakeview-robotics.com'"
        rows = client.api.query(soql)["records"]
        for row in rows:
            seen[row["Id"]] = client.person("lead", row["Id"])

    monkeypatch.setattr(live, "live_salesforce_request", spied)
    for key in [k for k in os.environ if k.startswith(("SALESFORCE_", "HUBSPOT_", "HANDOFF_"))]:
        monkeypatch.delenv(key)
    directory = tmp_path / "handoff-demo"
    result = CliRunner().invoke(
        app, ["demo", "--crm", crm, "--contacts", "250", "--dir", str(directory)]
    )
    assert result.exit_code == 0, (result.output[-3000:], result.exception)
    assert "Traceback" not in result.output
    return result.output, seen


def test_the_demo_shows_a_salesforce_demo_request_as_the_rep_sees_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    held: dict[str, int] = {}
    out, leads = _demo(tmp_path, monkeypatch, held=held)
    part = out.split("3. A demo request, live: Salesforce change events")[1].split("4. Five")[0]
    _shows_the_rep_view(part, leads)
    # After the live run, the table of what Salesforce holds is what simple-salesforce counts.
    shown = _table(out.split("2. Live run")[1].split("3. A demo request")[0], "Salesforce")
    assert {key: shown.get(key) for key in held} == held, shown


def _client(sandbox: Any, config: Path) -> SalesforceClient:
    loaded = load_config(config)
    salesforce = [c for c in loaded.connections if c.kind == "salesforce"]
    return SalesforceClient(sandbox, loaded.model_copy(update={"connections": salesforce}))


def _org_counts(client: SalesforceClient) -> dict[str, int]:
    def count(soql: str) -> int:
        return int(client.api.query(soql)["totalSize"])

    lead = "FROM Lead WHERE IsConverted = false"
    return {
        "leads": count(f"SELECT COUNT() {lead}"),
        "leads at MQL": count(f"SELECT COUNT() {lead} AND Status = 'MQL'"),
        "leads scored by Handoff": count(f"SELECT COUNT() {lead} AND Handoff_Score__c != null"),
        "contacts": count("SELECT COUNT() FROM Contact"),
        "open tasks": count("SELECT COUNT() FROM Task WHERE IsClosed = false"),
    }


def _table(part: str, crm: str) -> dict[str, int]:
    """The rows of the demo's "<crm> now holds" table."""
    table = part.split(f"{crm} now holds")[1]
    rows = re.findall(r"^│ (.+?) +│ +(\d+) │$", table.split("└")[0], re.M)
    return {what: int(n) for what, n in rows}


def test_the_demo_on_both_crms_shows_a_demo_request_in_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, leads = _demo(tmp_path, monkeypatch, "both")
    part = out.split("3. Two demo requests live")[1].split("4. Five")[0]
    assert re.search(r"submitted the 'Demo request' form\. .* routed to \S+@\S+ in [\d.]+ s", part)
    _shows_the_rep_view(part, leads)


def _shows_the_rep_view(part: str, leads: dict[str, CrmPerson]) -> None:
    """What the demo printed for the Lead is what simple-salesforce reads: its owner, status,
    score and exactly one task, in that owner's queue."""
    lead_id = re.search(r"What the rep sees on Lead (\w+), read back through simple-salesforce "
                        r"([\d.]+) s after the request:", part)  # fmt: skip
    assert lead_id, part
    owner = re.search(r"^  Owner   (.+) <(\S+@\S+)>$", part, re.M)
    task = re.search(r'^  Task    for (.+): "(Reminder: contact Rowan Ellis .+)"$', part, re.M)
    assert owner and task, part
    assert re.search(r"^  Status  MQL$", part, re.M), part
    score = re.search(r"^  Score   (\d+) \((.+)\)$", part, re.M)
    assert score and "Requested a demo" in score.group(2), part
    assert task.group(1) == owner.group(1)  # the task is in the owner's queue

    person = leads[lead_id.group(1)]  # read back through simple-salesforce
    assert person.owner == owner.group(2)
    assert person.stage == "MQL"
    assert person.score == float(score.group(1))
    assert person.tasks == [(owner.group(2), task.group(2))]  # exactly one task, the owner's
    assert len(leads) == 1


def test_the_demo_gives_up_on_a_lead_nobody_publishes_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Change Data Capture not on for Leads (the org publishes nothing): the live part says so
    after its bounded wait, and the demo goes on."""
    monkeypatch.setattr(live, "WAIT", 3.0)

    def unpublished(sandbox: Any) -> None:
        monkeypatch.setattr(sandbox.salesforce.change_events, "publish", lambda *a, **k: None)

    out, leads = _demo(tmp_path, monkeypatch, before=unpublished)
    assert re.search(
        r"The demo request from \S+@lakeview-robotics\.com was not routed within 3 s: "
        r"no change event arrived from the Pub/Sub API",
        out,
    ), out
    assert "5. Run again" in out  # the demo went on
    [person] = leads.values()
    assert person.tasks == []
