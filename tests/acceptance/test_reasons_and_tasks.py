"""Reasons and tasks in the words a rep reads, read back through the CRMs' own clients; and a rerun
five days later with no new activity writes nothing (the sandbox's write requests are counted).
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from scenario_format import ActivityEdit, Edit, Scenario, load_scenario
from scenario_harness import VARIANTS, ScenarioRun, scenario_run

HERE = Path(__file__).parent
NOW = "2026-11-19T15:00:00Z"
STORY: dict[str, Any] = {
    "title": "Reasons name what the person did and who they are",
    "fixture": {
        "now": NOW,
        "companies": [
            {
                "id": "northwave",
                "name": "Northwave",
                "domain": "northwave.com",
                "employees": 300,
                "industry": "Software",
                "country": "US",
                "state": "NY",
            },
        ],
        "people": [
            {
                "id": "dana",
                "first_name": "Dana",
                "last_name": "Fox",
                "title": "VP of Marketing",
                "email": "dana.fox@northwave.com",
                "company": "northwave",
                "created_at": "-60d",
            },
            {
                "id": "hugo",
                "first_name": "Hugo",
                "last_name": "Berg",
                "title": "VP of Sales",
                "email": "hugo.berg@northwave.com",
                "company": "northwave",
                "created_at": "-90d",
            },
        ],
        "activities": [
            {
                "person": "dana",
                "kind": "page_view",
                "at": "2026-11-16T14:00:00Z",
                "properties": {"url": "https://www.handoff-demo.com/pricing", "title": "Pricing"},
            },
            {
                "person": "dana",
                "kind": "page_view",
                "at": "2026-11-18T16:30:00Z",
                "properties": {"url": "https://www.handoff-demo.com/pricing", "title": "Pricing"},
            },
            {
                "person": "dana",
                "kind": "webinar_attended",
                "at": "-3d",
                "properties": {"webinar_name": "Scaling RevOps"},
            },
            # Hugo's visits are 40 days old: his behaviour points have decayed (one period)
            {
                "person": "hugo",
                "kind": "page_view",
                "at": "-40d",
                "properties": {"url": "https://www.handoff-demo.com/pricing", "title": "Pricing"},
            },
            {
                "person": "hugo",
                "kind": "page_view",
                "at": "-40d",
                "properties": {"url": "https://www.handoff-demo.com/pricing", "title": "Pricing"},
            },
        ],
    },
    "steps": [
        {
            "sync": NOW,
            "expect": {"dana": {"stage": "mql", "owner": "none", "tasks": [], "reason": []}},
        }
    ],
}


def _story() -> Scenario:
    return Scenario.model_validate(STORY).model_copy(update={"name": "reasons_in_words"})


def _breakdown(run: ScenarioRun, person: str) -> dict[str, Any]:
    """The `score_breakdown` property, read through the CRM's client."""
    reader: Any = run.reader
    email = run.reader.emails[person]  # type: ignore[union-attr]
    if run.variant.crm == "hubspot":
        contact = reader.client.crm.contacts.basic_api.get_by_id(
            email, id_property="email", properties=["handoff_score_breakdown"]
        )
        text = contact.properties.get("handoff_score_breakdown")
    else:
        rows = reader.client.query(
            f"SELECT Handoff_Score_Breakdown__c FROM Lead WHERE Email = '{email}'"
        )["records"]
        text = rows[0]["Handoff_Score_Breakdown__c"]
    assert text, f"{person} has no score breakdown in the CRM"
    data: dict[str, Any] = json.loads(text)
    return data


@pytest.mark.parametrize("variant", ["hubspot-enterprise", "salesforce"])
def test_reasons_name_assets_and_fit_and_a_quiet_rerun_writes_nothing(
    variant: str, tmp_path: Path
) -> None:
    scenario = _story()
    with scenario_run(scenario, VARIANTS[variant], tmp_path) as run:
        assert run.sync(scenario.now).exit_code == 0
        dana = run.person("dana").reasons
        assert "Visited pricing 2x" in dana, dana
        assert "Pricing 2+ times in 7 days" in dana, dana
        # the person's fit in words (the company's size and industry, on both CRMs)
        assert "VP at a 300-person software company" in dana, dana
        if variant == "salesforce":  # webinar attendance reaches the scorer from campaigns
            assert "Attended webinar 1x: 'Scaling RevOps'" in dana, dana
        assert len(dana) <= 255 and "days idle" not in dana
        breakdown = _breakdown(run, "dana")
        rules = {r["rule"]: r for r in breakdown["rules"]}
        assert rules["pricing_visit"]["count"] == 2 and rules["pricing_visit"]["points"] == 25
        assert rules["pricing_visit"]["assets"] == ["Pricing"]
        assert breakdown["model"].startswith("sm-") and breakdown["mql"] is True
        assert sum(r["points"] for r in breakdown["rules"]) == breakdown["score"]
        hugo = run.person("hugo").reasons
        assert "Last active Oct 10 (−20% decay)" in hugo, hugo

        # their reps call them (the SLA clocks stop: no task falls due later)
        called = scenario.now + timedelta(hours=1)
        for person in ("dana", "hugo"):
            owner = run.person(person).owner
            rep = next(handle for handle, email in run.owners.items() if email == owner)
            run.apply(
                Edit(person=person, log=ActivityEdit(kind="call", at="+20m", owner=rep)), called
            )
        assert run.sync(called).exit_code == 0

        records = [run.record_id("dana"), run.record_id("hugo")]
        with run.writes_to(records) as writes:
            later = scenario.now + timedelta(days=5)
            assert run.sync(later).exit_code == 0
        assert writes == [], f"a rerun with no new activity wrote {writes}"
        assert run.person("dana").reasons == dana and run.person("hugo").reasons == hugo


@pytest.mark.parametrize("variant", ["hubspot-enterprise", "salesforce"])
def test_sla_tasks_say_who_why_now_and_by_when(variant: str, tmp_path: Path) -> None:
    scenario = load_scenario(HERE / "scenarios" / "fast_lane_sla.yaml")
    with scenario_run(scenario, VARIANTS[variant], tmp_path) as run:
        for step in scenario.steps[:4]:  # up to the escalation at 11:20 New York
            assert run.sync(scenario.instant(step.sync)).exit_code == 0
        tasks = {t.owner: t for t in run.person("priya").tasks}
    owner = tasks[run.owners["jordan"]]
    assert owner.subject == (
        "SLA breached: contact Priya Shah (Director of Sales Operations, Harbor Metrics) now, "
        "due by 11:00 EST Thu 19 Nov"
    )
    assert (
        "Why now: Requested a demo (fast lane); latest: form submission 'Request a demo' "
        "at 09:50 EST Thu 19 Nov" in owner.body
    )
    assert "Assigned to you at 10:00 EST Thu 19 Nov (fast lane, territory na-east)" in owner.body
    manager = tasks[run.owners["maya"]]
    assert manager.subject.startswith("SLA escalation, reassigned: Priya Shah")
    assert "Jordan Reyes missed first touch" in manager.subject
    assert (
        "What lapsed: first touch on Priya Shah was due by 11:00 EST Thu 19 Nov; Jordan Reyes "
        "<jordan.reyes@handoff-demo.com> made no call, email or meeting." in manager.body
    )
    assert "Who was told: Maya Patel <maya.patel@handoff-demo.com> (this task), Ethan Brooks" in (
        manager.body
    )
    for task in (owner, manager):
        text = task.subject + task.body
        assert len(task.subject) <= 255
        assert "email:" not in text and "sla-" not in text  # no internal keys
