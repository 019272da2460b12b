"""Sales' rejections, carried out in the CRM: `handoff sync` against the sandbox, read back through
hubspot-api-client / simple-salesforce, the run's report and Handoff's own state.

A rep rejects a lead sales owns (SAL, SQL) with a valid reason code: that is sales' decision, and
Handoff writes it down as the team's config maps the code (recycled: Salesforce `Nurture`, HubSpot
`other`; disqualified: `Disqualified` / `other`), with the rep still the owner, and the report's
rejection reasons list the code. A rejection without a valid code changes nothing and is reported.
Afterwards Handoff's state says what the CRM shows, and the next run writes, decides and counts
nothing for these people.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from scenario_format import Edit, Scenario
from scenario_harness import VARIANTS, ScenarioRun, scenario_run
from sqlmodel import Session, create_engine, select

from sync.store.tables import PersonRecord, PersonState

NOW = "2026-11-19T15:00:00Z"
GOTHAM = {
    "id": "gotham",
    "name": "Gotham Ledger",
    "domain": "gothamledger.com",
    "employees": 300,
    "industry": "Software",
    "country": "US",
    "state": "NY",
}


def _person(pid: str, first: str, stage: str, lead_status: str, **more: Any) -> dict[str, Any]:
    return {
        "id": pid,
        "first_name": first,
        "last_name": "Cole",
        "email": f"{pid}.cole@gothamledger.com",
        "title": "Director of Marketing",
        "company": "gotham",
        "created_at": "-30d",
        "lifecycle_stage": stage,
        "lead_status": lead_status,
        "properties": {"Rejection_Reason__c": ""},
        **more,
    }


STORY: dict[str, Any] = {
    "title": "Sales' rejections of leads it owns are carried out; one without a code is not",
    "fixture": {
        "now": NOW,
        "companies": [GOTHAM],
        "people": [
            # Dana: Handoff makes her an MQL (pricing twice); Jordan accepts, then rejects her
            {**_person("dana", "Dana", "lead", ""), "title": "VP of Marketing"},
            _person("sam", "Sam", "sql", "OPEN_DEAL", owner="jordan"),
            _person("cara", "Cara", "sal", "ATTEMPTED_TO_CONTACT", owner="jordan"),
        ],
        "activities": [
            {
                "person": "dana",
                "kind": "page_view",
                "at": at,
                "properties": {"url": "https://www.handoff-demo.com/pricing", "title": "Pricing"},
            }
            for at in ("2026-11-16T14:00:00Z", "2026-11-18T16:30:00Z")
        ],
    },
    "config": {
        "salesforce": {
            "objects": {"lead": {"rejection_reason": {"property": "Rejection_Reason__c"}}}
        }
    },
    "steps": [  # the format asks for one; these tests run and check their own steps
        {
            "sync": NOW,
            "expect": {"dana": {"stage": "mql", "owner": "none", "tasks": [], "reason": []}},
        }
    ],
}


def _report(run: ScenarioRun) -> dict[str, Any]:
    reports = run.directory / "reports"
    latest = json.loads((reports / "latest.json").read_text(encoding="utf-8"))["run_id"]
    report: dict[str, Any] = json.loads((reports / latest / "report.json").read_text("utf-8"))
    return report


def _states(run: ScenarioRun) -> dict[str, str]:
    """Handoff's own stage per person (by e-mail), from its state store."""
    engine = create_engine(f"sqlite:///{run.directory / 'handoff.db'}")
    with Session(engine) as session:
        emails = {r.person_key: r.email for r in session.exec(select(PersonRecord))}
        states = {emails[s.person_key]: s.stage for s in session.exec(select(PersonState))}
    engine.dispose()
    return {str(email).split(".")[0]: stage for email, stage in states.items()}


@pytest.mark.parametrize("variant", ["hubspot-professional", "salesforce"])
def test_rejections_with_a_code_are_carried_out_and_stay_done(variant: str, tmp_path: Path) -> None:
    scenario = Scenario.model_validate(STORY)
    hubspot = variant.startswith("hubspot")
    with scenario_run(scenario, VARIANTS[variant], tmp_path) as run:
        assert run.sync(scenario.now).exit_code == 0
        assert "mql" in run.person("dana").stages
        # Dana's rep takes her: on Salesforce the Lead Status, on HubSpot the lead status (HubSpot
        # keeps MQL and SAL as one lifecycle stage)
        accepted = {"rejection_reason": "IN_PROGRESS"} if hubspot else {"lifecycle_stage": "sal"}
        taken = scenario.now + timedelta(hours=2)
        run.apply(Edit(person="dana", set=accepted), taken)
        assert run.sync(taken).exit_code == 0
        assert _states(run)["dana"] == "sal"
        owners = {p: run.person(p).owner for p in ("dana", "sam", "cara")}
        assert owners["dana"] and owners["sam"] == owners["cara"] == run.owners["jordan"]

        rejected = taken + timedelta(hours=2)
        run.apply(Edit(person="dana", set={"rejection_reason": "BAD_TIMING"}), rejected)
        run.apply(Edit(person="sam", set={"rejection_reason": "not_icp"}), rejected)
        run.apply(Edit(person="cara", set={"rejection_reason": "Not a fit"}), rejected)
        outcome = run.sync(rejected)
        assert outcome.exit_code == 0, outcome.output

        shown = {p: run.person(p) for p in owners}
        other, nurture = ("other", "other") if hubspot else ("Nurture", "Disqualified")
        assert shown["dana"].stage_value == other and "recycled" in shown["dana"].stages
        assert shown["sam"].stage_value == nurture and "disqualified" in shown["sam"].stages
        assert "sal" in shown["cara"].stages, shown["cara"]  # no valid code: left alone
        assert {p: v.owner for p, v in shown.items()} == owners  # the reps keep their leads
        assert _states(run) == {"dana": "recycled", "sam": "disqualified", "cara": "sal"}

        report = _report(run)
        reasons = {r["reason"]: r["count"] for r in report["rejections"]}
        assert reasons == {"bad_timing": 1, "not_icp": 1, "(no reason code)": 1}, reasons
        assert report["counts"]["stage_decisions"] == {
            "sal->recycled": 1,
            "sql->disqualified": 1,
        }
        invalid = [f for f in report["flags"] if f["flag"] == "invalid_rejection_code"]
        assert len(invalid) == 1 and "'Not a fit'" in invalid[0]["detail"], invalid
        assert invalid[0]["email"] == "cara.cole@gothamledger.com"

        records = [run.record_id(p) for p in ("dana", "sam")]
        with run.writes_to(records) as writes:
            later = rejected + timedelta(days=1)  # everyone decided again
            assert run.sync(later).exit_code == 0
        assert writes == [], f"a second run wrote {writes}"
        again = _report(run)
        assert again["counts"]["stage_decisions"] == {}, again["counts"]
        assert {r["reason"] for r in again["rejections"]} <= {"(no reason code)"}
        assert {p: run.person(p).stage_value for p in owners} == {
            p: v.stage_value for p, v in shown.items()
        }
        assert _states(run) == {"dana": "recycled", "sam": "disqualified", "cara": "sal"}


def test_a_verdict_the_crm_cannot_take_is_not_decided_and_says_why(tmp_path: Path) -> None:
    """Lead Status not managed by Handoff: Sam's rejection cannot be written, so Handoff's state
    keeps the stage Salesforce shows, counts no stage change and flags it on every run."""
    story = {
        **STORY,
        "fixture": {
            **STORY["fixture"],
            "people": STORY["fixture"]["people"][1:2],
            "activities": [],
        },
        "config": {
            "salesforce": {
                "objects": {
                    "lead": {
                        "rejection_reason": {"property": "Rejection_Reason__c"},
                        "lifecycle_stage": {"managed": False},
                    }
                }
            }
        },
    }
    scenario = Scenario.model_validate(story)
    with scenario_run(scenario, VARIANTS["salesforce"], tmp_path) as run:
        run.apply(Edit(person="sam", set={"rejection_reason": "not_icp"}), scenario.now)
        for as_of in (scenario.now, scenario.now + timedelta(days=1)):
            assert run.sync(as_of).exit_code == 0
            assert run.person("sam").stage_value == "SQL"
            assert _states(run) == {"sam": "sql"}
            report = _report(run)
            assert report["counts"]["stage_decisions"] == {}
            flags = [f for f in report["flags"] if f["flag"] == "rejection_not_written"]
            assert len(flags) == 1, report["flags"]
            assert "lifecycle_stage is not managed on salesforce lead" in flags[0]["detail"]


def test_a_lead_sales_takes_back_stays_until_rejected_again(tmp_path: Path) -> None:
    """Salesforce keeps the code in a field of its own: after Cara's recycle, Jordan takes her
    back to "Working - Contacted" and leaves the old code in place. That code was carried out
    already: she stays with sales (flagged), until Jordan rejects her again with a new code."""
    story = {
        **STORY,
        "fixture": {
            **STORY["fixture"],
            "people": STORY["fixture"]["people"][2:],
            "activities": [],
        },
    }
    scenario = Scenario.model_validate(story)
    with scenario_run(scenario, VARIANTS["salesforce"], tmp_path) as run:
        steps = [
            ({"rejection_reason": "BAD_TIMING"}, "Nurture", "recycled", {"bad_timing": 1}),
            ({"lifecycle_stage": "sal"}, "Working - Contacted", "sal", {}),
            ({}, "Working - Contacted", "sal", {}),  # a day later: decided again, kept
            ({"rejection_reason": "no_budget"}, "Nurture", "recycled", {"no_budget": 1}),
        ]
        for day, (edit, shown, stage, codes) in enumerate(steps):
            as_of = scenario.now + timedelta(days=day)
            if edit:
                run.apply(Edit(person="cara", set=edit), as_of)
            assert run.sync(as_of).exit_code == 0
            assert run.person("cara").stage_value == shown, (day, edit)
            assert run.person("cara").owner == run.owners["jordan"]
            assert _states(run) == {"cara": stage}, (day, edit)
            report = _report(run)
            assert {r["reason"]: r["count"] for r in report["rejections"]} == codes, day
            spent = [f for f in report["flags"] if f["flag"] == "spent_rejection_code"]
            assert len(spent) == (day in (1, 2)), report["flags"]
