"""Salesforce behaviour reaches the decision: the example Salesforce config on the sandbox org
with Account Engagement, the real pipeline, and every outcome read back through simple-salesforce
over HTTPS (a requests session with trust_env off and the sandbox CA)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce
from sqlmodel import Session

from config.loader import load_config
from connectors.factory import build_connector
from sandbox.portal import Portal, PortalActivity, PortalCompany, PortalOwner, PortalPerson
from sandbox.runtime import Sandbox
from sandbox.salesforce.ids import derived_id
from sync.demo import example_config, sandbox_environment
from sync.pipeline import Pipeline, RunResult
from sync.report.build import build_report
from sync.report.render import to_markdown
from sync.store.activities import read_activities
from sync.store.engine import make_engine
from sync.store.schema import upgrade

NOW = datetime(2026, 11, 19, 15, 0, tzinfo=UTC)  # a Thursday
WEBINARS = ("Pipeline Clinic", "Routing Live", "Scoring 101")


def _portal() -> Portal:
    owners = [
        PortalOwner("maya", "maya.patel@handoff-demo.com", "Maya", "Patel", territory="na-east"),
        PortalOwner("jordan", "jordan.reyes@handoff-demo.com", "Jordan", "Reyes"),
        PortalOwner("ethan", "ethan.brooks@handoff-demo.com", "Ethan", "Brooks"),
        PortalOwner("queue", "lead-queue@handoff-demo.com", "Lead", "Queue"),
    ]
    companies = [PortalCompany("nw", "Northwave", "northwave.com", 300, "Software", "US", "NY")]

    def person(ident: str, first: str) -> PortalPerson:
        return PortalPerson(
            ident, first, "Fox", f"{first.lower()}@northwave.com", "VP of Marketing", "nw",
            NOW - timedelta(days=30), NOW - timedelta(days=30),
        )  # fmt: skip

    def act(ident: str, who: str, kind: str, days: float, **props: str) -> PortalActivity:
        return PortalActivity(ident, who, kind, NOW - timedelta(days=days), None, props)

    people = [person(p, p.title()) for p in ("dana", "reggie", "ada", "trio")]
    activities = [
        act("v1", "dana", "page_view", 3, url="https://www.handoff-demo.com/pricing"),
        act("v2", "dana", "page_view", 1, url="https://www.handoff-demo.com/pricing"),
        act("f1", "dana", "form_submission", 0.5, form_name="Request a demo"),
        act("r1", "reggie", "webinar_registered", 6, webinar_name="Routing Live"),
        act("r2", "ada", "webinar_registered", 6, webinar_name="Routing Live"),
        act("a2", "ada", "webinar_attended", 2, webinar_name="Routing Live"),
        *(
            act(f"t{i}", "trio", "webinar_registered", 5 - i, webinar_name=name)
            for i, name in enumerate(WEBINARS)
        ),
    ]
    return Portal(owners, companies, people, activities, [])


class Org:
    """The sandbox org, read back through simple-salesforce."""

    def __init__(self, sandbox: Sandbox) -> None:
        info = sandbox.info
        session = requests.Session()
        session.trust_env = False
        session.verify = str(info.ca_file)
        self.sf: Any = Salesforce(
            instance_url=info.salesforce_instance_url,
            session_id=info.salesforce_session_id,
            session=session,
            version="59.0",
        )

    def lead(self, person: str) -> dict[str, Any]:
        record: dict[str, Any] = self.sf.Lead.get(derived_id("Lead", person))
        return record


@pytest.fixture
def org_run(tmp_path: Path) -> Iterator[tuple[Sandbox, Pipeline, Any]]:
    sandbox = Sandbox(_portal(), hubspot=False, salesforce=True, ca_directory=tmp_path / "ca")
    assert sandbox.salesforce is not None
    sandbox.salesforce.org.clock = lambda: NOW
    with sandbox, sandbox_environment(sandbox.info, tmp_path):
        config = load_config(example_config("salesforce"))
        engine = make_engine(f"sqlite:///{tmp_path / 'handoff.db'}")
        upgrade(engine)
        connectors = {c.name: build_connector(c) for c in config.connections}
        yield sandbox, Pipeline(config, engine, connectors), engine
        engine.dispose()


def _run(pipeline: Pipeline) -> RunResult:
    return pipeline.run(as_of=NOW)


def test_pricing_twice_and_a_demo_request_make_an_mql_with_the_reason(
    org_run: tuple[Sandbox, Pipeline, Any],
) -> None:
    sandbox, pipeline, _ = org_run
    result = _run(pipeline)
    assert not result.errors, result.errors
    dana = Org(sandbox).lead("dana")
    assert dana["Status"] == "MQL"
    reasons = dana["Handoff_Score_Reasons__c"]
    assert "Visited pricing 2x" in reasons and "Pricing 2+ times in 7 days" in reasons
    assert "Requested a demo" in reasons
    assert dana["Handoff_Score_Behaviour__c"] >= 45


def test_webinar_attended_outscores_registered(org_run: tuple[Sandbox, Pipeline, Any]) -> None:
    sandbox, pipeline, _ = org_run
    assert not _run(pipeline).errors
    org = Org(sandbox)
    reggie, ada = org.lead("reggie"), org.lead("ada")
    assert "Registered for webinar" in reggie["Handoff_Score_Reasons__c"]
    assert "Attended webinar 1x" in ada["Handoff_Score_Reasons__c"]
    assert "Registered for webinar" not in ada["Handoff_Score_Reasons__c"]
    assert ada["Handoff_Score_Behaviour__c"] - reggie["Handoff_Score_Behaviour__c"] == 13


def test_three_webinars_stay_three_names(org_run: tuple[Sandbox, Pipeline, Any]) -> None:
    _, pipeline, engine = org_run
    assert not _run(pipeline).errors
    with Session(engine) as session:
        stored = list(read_activities(session, "salesforce", [derived_id("Lead", "trio")]))
    names = sorted(a.properties.get("webinar_name", "") for a in stored)
    assert names == sorted(WEBINARS)
    assert {a.properties.get("member_status") for a in stored} == {"registered"}


def test_a_refusing_business_unit_is_a_warning_and_the_run_goes_on(
    org_run: tuple[Sandbox, Pipeline, Any],
) -> None:
    sandbox, pipeline, engine = org_run
    assert sandbox.salesforce is not None
    sandbox.salesforce.pardot.business_unit_id = "0Uv5g000000RETIRED"
    result = _run(pipeline)
    warning = next(w for w in result.warnings if "Account Engagement" in w)
    assert "code 201" in warning and "the rest of the run continues" in warning
    org = Org(sandbox)
    assert org.lead("ada")["Handoff_Score__c"] is not None  # Salesforce itself was decided
    assert "pricing" not in (org.lead("dana")["Handoff_Score_Reasons__c"] or "")
    with Session(engine) as session:
        report = build_report(result, session, pipeline.config, pipeline.sla)
    assert warning.split(":")[0] in to_markdown(report)


def test_web_behaviour_of_an_unchanged_lead_is_decided_on_the_next_run(
    org_run: tuple[Sandbox, Pipeline, Any],
) -> None:
    """Account Engagement activity does not touch the Salesforce lead, so the lead itself does not
    change: its new activity must still bring it back to the decision."""
    sandbox, pipeline, _ = org_run
    assert sandbox.salesforce is not None
    pardot = sandbox.salesforce.pardot
    pardot.down = True
    first = _run(pipeline)
    assert any("Account Engagement" in w for w in first.warnings)
    assert Org(sandbox).lead("dana")["Status"] != "MQL"  # no pricing, no demo form yet
    pardot.down = False
    second = _run(pipeline)
    assert not second.errors, second.errors
    dana = Org(sandbox).lead("dana")
    assert dana["Status"] == "MQL" and "Requested a demo" in dana["Handoff_Score_Reasons__c"]
