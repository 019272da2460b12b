"""SLA escalations reach the webhook: once, without the URL or the lead's email leaking."""

from __future__ import annotations

import json
from datetime import timedelta

import requests
import responses
from pipeline_harness import CONFIG, NOW, make_crm, seed_people
from sqlmodel import Session

from config.loader import parse_config
from connectors.records import OutcomeStatus
from sync.pipeline import Pipeline
from sync.report.build import build_report
from sync.report.render import to_json
from sync.store.engine import make_engine
from sync.store.schema import upgrade
from sync.webhooks import WebhookSender

URL = "https://hooks.example.test/services/T0/B0/secret-token"


def _config():  # type: ignore[no-untyped-def]
    text = CONFIG.replace(
        '{at: "+15m", action: reassign_backup, notify_manager: true}',
        '{at: "+15m", action: reassign_backup, notify_manager: true, webhook: true}',
    ).replace("sla:\n", "sla:\n  webhook_url: ${SLACK_WEBHOOK}\n", 1)
    return parse_config(text, "test.yaml", env={"TOKEN": "t", "SLACK_WEBHOOK": URL})


@responses.activate
def test_a_missed_fast_lane_lead_posts_one_escalation(sqlite_url: str) -> None:
    responses.add(responses.POST, URL, status=503, headers={"Retry-After": "0"})
    responses.add(responses.POST, URL, body="ok")
    crm = make_crm()
    seed_people(crm)
    engine = make_engine(sqlite_url)
    upgrade(engine)
    pipeline = Pipeline(_config(), engine, {"crm": crm}, clock=lambda: NOW)
    first = pipeline.run()
    assert not first.errors, first.errors
    assert len(responses.calls) == 0  # routed, clock running: nothing to escalate yet
    late = pipeline.run(as_of=NOW + timedelta(hours=2))  # 1h window + 15m rung long past
    assert not late.errors, late.errors
    assert len(responses.calls) == 2  # a 503, retried once
    body = json.loads(responses.calls[1].request.body)
    assert body["event"] == "sla.escalation" and body["reassigned"] is True
    assert body["manager"] == "mia@acme.test" and body["record_id"] == "c1"
    assert "vp@bigco.com" not in json.dumps(body)  # the lead is its CRM record, not its email
    key = responses.calls[1].request.headers["Idempotency-Key"]
    assert any(i.key == key and i.kind == "webhook" for i in late.writes.items)
    with Session(engine) as session:
        report = to_json(build_report(late, session, pipeline.config, pipeline.sla))
    assert "secret-token" not in report and '"notify"' in report
    again = pipeline.run(as_of=NOW + timedelta(hours=3))
    assert not again.errors and len(responses.calls) == 2  # fired once per clock and rung


@responses.activate
def test_a_refused_post_is_rejected_with_the_status_and_no_url() -> None:
    responses.add(responses.POST, URL, status=404)
    (outcome,) = WebhookSender(URL, sleep=lambda s: None).post([("k1", {"text": "hi"})])
    assert outcome.status is OutcomeStatus.REJECTED
    assert "HTTP 404" in str(outcome.error) and "secret" not in str(outcome.error)


@responses.activate
def test_an_unreachable_receiver_is_retried_then_left_for_the_next_run() -> None:
    responses.add(responses.POST, URL, body=requests.exceptions.ConnectionError("refused"))
    (outcome,) = WebhookSender(URL, attempts=3, sleep=lambda s: None).post([("k1", {"text": "x"})])
    assert len(responses.calls) == 3
    assert outcome.status is OutcomeStatus.REJECTED and "next run" in str(outcome.error)
    assert "secret" not in str(outcome.error)
