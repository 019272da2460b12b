"""`handoff explain` and `handoff sync --only` on the HubSpot and Salesforce sandboxes: the CLI as
a user runs it, the CRM read back (and edited) through hubspot-api-client / simple-salesforce."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from crm_clients import HubSpotClient, SalesforceClient, crm_client
from e2e_stack import SEED_NOW
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from config.cli import app
from config.loader import load_config
from config.model import HandoffConfig
from routing.sla.tables import SlaClock
from routing.tables import Assignment
from sandbox.runtime import Sandbox
from sandbox.seed import generate_portal
from sync.demo import example_config, sandbox_environment
from sync.store.engine import make_engine
from sync.store.tables import OutboxItem, PersonRecord

AS_OF = SEED_NOW.isoformat().replace("+00:00", "Z")


@dataclass
class Synced:
    """A sandbox portal after one `handoff sync`, with the CLI and the CRM's client at hand."""

    crm: str
    sandbox: Sandbox
    config: HandoffConfig
    config_path: str
    engine: Engine
    client: HubSpotClient | SalesforceClient

    def cli(self, *args: str, code: int = 0) -> str:
        result = CliRunner().invoke(app, [*args, "--config", self.config_path])
        assert result.exit_code == code, result.output
        return result.stdout

    def routed(self) -> list[tuple[PersonRecord, Assignment, SlaClock]]:
        """People the run handed to a rep, whose clock runs, with their write target."""
        with Session(self.engine) as session:
            rows = session.exec(
                select(PersonRecord, Assignment, SlaClock)
                .join(Assignment, col(Assignment.lead_key) == col(PersonRecord.person_key))
                .join(SlaClock, col(SlaClock.lead_key) == col(PersonRecord.person_key))
                .where(col(SlaClock.ended_at).is_(None), col(PersonRecord.status) == "active")
                .order_by(col(PersonRecord.person_key))
            ).all()
            return [(p, a, c) for p, a, c in rows if p.email]


@pytest.fixture(params=["hubspot", "salesforce"])
def synced(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Synced]:
    crm = str(request.param)
    sandbox = Sandbox(
        generate_portal(11, 120, SEED_NOW),
        hubspot=crm == "hubspot",
        salesforce=crm == "salesforce",
        ca_directory=tmp_path / "ca",
    )
    with sandbox, sandbox_environment(sandbox.info, tmp_path) as env:
        path = str(example_config(crm))
        config = load_config(path)
        engine = make_engine(env["HANDOFF_STATE_URL"])
        synced = Synced(crm, sandbox, config, path, engine, crm_client(crm, sandbox, config))
        synced.cli("sync", "--as-of", AS_OF)
        yield synced
        engine.dispose()


def _stage_value(config: HandoffConfig, object_type: str, stage: str) -> str:
    mapping = config.connections[0].objects[object_type]["lifecycle_stage"]
    return str(mapping.values.get(stage, stage))


def test_explain_names_points_stage_owner_route_and_deadline(synced: Synced) -> None:
    record, assignment, clock = synced.routed()[0]
    assert record.email is not None
    crm = synced.client.person(record.object_type, record.crm_id)
    data: dict[str, Any] = json.loads(
        synced.cli("explain", record.email, "--json", "--as-of", AS_OF)
    )

    assert data["source"] == "store" and data["person"] == record.person_key
    score = data["score"]
    assert score["total"] == crm.score  # the score the CRM holds, rule by rule
    assert sum(rule["points"] for rule in score["rules"]) == score["total"]
    assert score["summary"] == crm.reasons
    assert {"fit", "behaviour"} & {rule["category"] for rule in score["rules"]}
    for rule in score["rules"]:
        if rule["cap"] is not None:
            assert rule["points"] <= rule["cap"], rule
    assert data["stage"]["decided"] == "mql"
    if "lifecycle_stage" in synced.config.connections[0].objects[record.object_type]:
        assert crm.stage == _stage_value(synced.config, record.object_type, "mql")
    routing = data["routing"]
    assert crm.owner and routing["owner"] == crm.owner  # as the CRM's owner list names them
    (recorded,) = routing["assignments"]
    assert recorded["owner"] == crm.owner and recorded["rule"] == assignment.rule
    assert recorded["reason"] == assignment.reason and recorded["reason"]
    (shown,) = data["clocks"]
    assert shown["owner"] == crm.owner and shown["state"] == "running"
    due = datetime.fromisoformat(shown["due_at"].replace("Z", "+00:00"))
    assert due == clock.due_at and due > SEED_NOW
    assert (
        shown["next_rung"]["action"] == "task_owner"
        and shown["next_rung"]["due_at"] == shown["due_at"]
    )

    text = synced.cli("explain", record.email, "--as-of", AS_OF)
    assert f"Score {score['total']} = fit {score['fit']}" in text
    assert f"Owner: {crm.owner}" in text and assignment.reason in text
    assert f"first-touch deadline {due:%Y-%m-%d %H:%M}Z" in text
    assert "next rung: task for the owner" in text

    # the deadline explain gave is the one the SLA ladder acts on: the owner's task then
    assert crm.tasks == []
    synced.cli("sync", "--as-of", shown["due_at"])
    tasks = synced.client.person(record.object_type, record.crm_id).tasks
    assert [owner for owner, _ in tasks] == [crm.owner]


def test_explain_live_reads_the_record_from_the_crm(synced: Synced) -> None:
    record, _, _ = synced.routed()[0]
    assert record.email is not None
    synced.client.edit(record.object_type, record.crm_id, {"unsubscribed": True})
    stored = json.loads(synced.cli("explain", record.crm_id, "--json", "--as-of", AS_OF))
    live = json.loads(synced.cli("explain", record.crm_id, "--json", "--live", "--as-of", AS_OF))
    assert stored["source"] == "store" and live["source"] == "live"
    assert "unsubscribed" not in {rule["rule_id"] for rule in stored["score"]["rules"]}
    penalty = [rule for rule in live["score"]["rules"] if rule["rule_id"] == "unsubscribed"]
    assert [(p["points"], p["category"]) for p in penalty] == [(-10, "negative")]
    assert live["score"]["negative"] == stored["score"]["negative"] - 10
    # nothing was saved: the store still explains the record as the last sync pulled it
    again = json.loads(synced.cli("explain", record.crm_id, "--json", "--as-of", AS_OF))
    assert again["score"] == stored["score"]


def test_sync_only_changes_that_person_alone(synced: Synced) -> None:
    people = synced.routed()
    (one, _, _), (other, _, _) = people[0], people[1]
    assert one.email is not None
    for record in (one, other):  # both unsubscribe in the CRM; only one is synced
        synced.client.edit(record.object_type, record.crm_id, {"unsubscribed": True})
    everyone = [(p.object_type, p.crm_id) for p, _, _ in people]
    before = {ref: synced.client.person(*ref) for ref in everyone}

    out = synced.cli("sync", "--only", one.email, "--as-of", AS_OF)
    assert f"only {one.person_key}" in out

    after = {ref: synced.client.person(*ref) for ref in everyone}
    changed = [ref for ref in everyone if after[ref] != before[ref]]
    assert changed == [(one.object_type, one.crm_id)]
    mine = after[(one.object_type, one.crm_id)]
    explained = json.loads(synced.cli("explain", one.email, "--json", "--as-of", AS_OF))
    assert "unsubscribed" in {rule["rule_id"] for rule in explained["score"]["rules"]}
    assert explained["score"]["total"] == mine.score and explained["pending"] == []
    assert mine.score == max(0, (before[(one.object_type, one.crm_id)].score or 0) - 10)
    assert mine.owner == before[(one.object_type, one.crm_id)].owner


def test_explain_unknown_person_says_what_to_do(synced: Synced) -> None:
    result = CliRunner().invoke(
        app, ["explain", "nobody@nowhere.example", "--config", synced.config_path]
    )
    assert result.exit_code == 2
    assert "nobody in the state store answers to 'nobody@nowhere.example'" in result.output
    assert "Traceback" not in result.output


def test_explain_lists_the_writes_still_pending(synced: Synced) -> None:
    record, assignment, _ = synced.routed()[0]
    assert record.email is not None
    with Session(synced.engine) as session:  # the CRM refused this record's score write
        item = session.exec(
            select(OutboxItem).where(
                col(OutboxItem.connection) == record.connection,
                col(OutboxItem.record_id) == record.crm_id,
                col(OutboxItem.field) == "score",
            )
        ).one()
        item.status, item.last_error = "rejected", "PROPERTY_DOESNT_EXIST: handoff_score"
        session.add(item)
        session.commit()
    data = json.loads(synced.cli("explain", record.email, "--json", "--as-of", AS_OF))
    (pending,) = data["pending"]
    assert (pending["field"], pending["status"], pending["record_id"]) == (
        "score",
        "rejected",
        record.crm_id,
    )
    assert pending["value"] == data["score"]["total"]
    text = synced.cli("explain", record.email, "--as-of", AS_OF)
    assert "Pending writes: 1" in text and "PROPERTY_DOESNT_EXIST" in text
    if assignment.rule == "round_robin":
        assert f"turn {assignment.turn}" in text


def test_explain_without_a_store_says_so_and_creates_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "handoff.db"
    monkeypatch.setenv("HUBSPOT_TOKEN", "token-for-the-config-only")
    monkeypatch.setenv("HANDOFF_STATE_URL", f"sqlite:///{store}")
    result = CliRunner().invoke(
        app, ["explain", "dana@ledgerly.com", "--config", str(example_config("hubspot"))]
    )
    assert result.exit_code == 2
    assert f"no state store at {store}: run `handoff sync` first" in result.output
    assert not store.exists()
