"""Metrics scraped over HTTP after real sandbox runs; alerts received by a local webhook receiver,
once per incident, across a restart, again after the incident resolved and recurred."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import requests
from faults.fault_stack import drill
from ops_support import Receiver, WritesReceived, metric, scrape
from sla_lapse import every_window_lapsed
from sqlalchemy.engine import Engine

from config.ops import AlertsConfig
from sandbox.faults import Faults
from sync.ops import dead_letters
from sync.ops.alerts import Alerter, Condition
from sync.ops.service import Operations
from sync.pipeline import Pipeline
from sync.store.types import utc_now
from sync.worker import Heartbeat


def test_metrics_after_sandbox_runs_match_what_the_crm_saw(tmp_path: Path, sqlite_url: str) -> None:
    with drill(tmp_path, sqlite_url, contacts=60) as d:
        hubspot = d.sandbox.hubspot
        assert hubspot is not None
        received = WritesReceived(d.sandbox)
        pipeline = d.pipeline()
        first = pipeline.run()
        assert received.values["accepted"] > 0 and not first.errors
        hubspot.faults = Faults(throttle_rate=0.3, retry_after_seconds=(0.01, 0.05), seed=5)
        hubspot.update_contact(first.writes.items[0].record_id, {"jobtitle": "VP Sales"})
        second = pipeline.run()
        assert not second.errors, second.errors
        heartbeat = tmp_path / "heartbeat"
        ops = Operations(
            d.config(),
            pipeline.engine,
            lambda: pipeline.connectors,
            heartbeat=heartbeat,
            listen="127.0.0.1:0",
        )
        try:
            assert ops.address is not None
            samples = scrape(ops.address)
            assert metric(samples, "handoff_runs_total", status="ok", mode="live") == 2
            assert metric(samples, "handoff_run_duration_seconds_count", mode="live") == 2
            assert metric(samples, "handoff_run_duration_seconds_sum", mode="live") > 0
            # every field write Handoff counts as applied is a property value HubSpot accepted
            assert (
                metric(samples, "handoff_writes_total", outcome="applied")
                == received.values["accepted"]
                == first.writes.counts["applied"] + second.writes.counts["applied"]
            )
            assert metric(samples, "handoff_people_decided_total", mode="live") >= 60
            calls = sum(v for (name, _), v in samples.items() if name == "handoff_api_calls_total")
            assert calls == hubspot.log.total()  # every request the sandbox answered, 429s too
            assert metric(
                samples,
                "handoff_api_calls_total",
                connection="hubspot",
                endpoint="POST /crm/v3/objects/contacts/batch/update",
            ) == hubspot.log.total("contacts.batch_update")
            throttled = hubspot.log.total(status=429)
            assert throttled > 0
            assert metric(samples, "handoff_api_throttled_total", connection="hubspot") == throttled
            limit = metric(samples, "handoff_api_quota_limit", connection="hubspot")
            assert limit == hubspot.daily_limit > 0
            assert 0 < metric(samples, "handoff_api_quota_remaining", connection="hubspot") <= limit
            assert metric(samples, "handoff_sla_clocks_open") > 0
            assert metric(samples, "handoff_outbox_items", connection="hubspot", status="dead") == 0
            base = f"http://{ops.address}"
            unhealthy = requests.get(f"{base}/healthz", timeout=10)
            assert unhealthy.status_code == 503 and "no heartbeat" in unhealthy.json()["reason"]
            Heartbeat(heartbeat).beat()
            assert requests.get(f"{base}/healthz", timeout=10).status_code == 200
            ready = requests.get(f"{base}/readyz", timeout=10)
            assert ready.status_code == 200, ready.json()
            assert ready.json()["checks"] == {
                "store": "ok",
                "migrations": "ok",
                "config": "ok",
                "heartbeat": "ok",
            }
            from connectors.errors import FatalError

            ops.after_job(
                "sync", FatalError("hubspot: HubSpot refused access (403)", connection="x")
            )
            refused = requests.get(f"{base}/readyz", timeout=10)
            assert refused.status_code == 503 and "403" in refused.json()["checks"]["config"]
        finally:
            ops.close()


def test_alerts_once_per_incident_across_restarts_and_again_when_it_recurs(
    tmp_path: Path, store_url: str
) -> None:
    with drill(tmp_path, store_url, contacts=40) as d, Receiver() as receiver:
        hubspot = d.sandbox.hubspot
        assert hubspot is not None
        base = d.config()
        config = base.model_copy(
            update={
                "sync": base.sync.model_copy(update={"max_attempts": 1}),
                "alerts": AlertsConfig(webhook_url=receiver.url, quota_low_share=0),
            }
        )
        pipeline = Pipeline(config, d.engine(), d.pipeline().connectors)
        dry = pipeline.run(dry_run=True)
        victim = next(i.record_id for i in dry.writes.items if i.field == "score")
        hubspot.knobs.refuse_updates[victim] = "Property values were not valid: record locked"
        alerter = Alerter(pipeline.engine, config.alerts)

        pipeline.run()  # the victim's writes are refused once: dead at max_attempts 1
        assert alerter.check(pipeline.connectors) == ["dead_letters"]
        assert receiver.opened("dead_letters") == 1
        assert "handoff outbox list" in receiver.posts[0]["text"]

        pipeline.run()  # nothing new: the dead letter stays, the incident is open
        assert alerter.check(pipeline.connectors) == []
        restarted = Alerter(pipeline.engine, config.alerts)  # a new worker process
        assert restarted.check(pipeline.connectors) == []
        assert receiver.opened("dead_letters") == 1

        retried = dead_letters.retry(pipeline.engine, every=True, who="ops@acme")
        assert retried and all(o.done for o in retried)
        assert restarted.check(pipeline.connectors) == ["dead_letters resolved"]
        pipeline.run()  # still refused: dead again, a new incident
        assert restarted.check(pipeline.connectors) == ["dead_letters"]
        assert receiver.opened("dead_letters") == 2

        hubspot.limits_enabled = True
        hubspot.daily_limit = 3  # HubSpot's DAILY 429: the run stops, partial
        hubspot.update_contact(victim, {"jobtitle": "VP Sales"})
        partial = pipeline.run()
        assert partial.status == "partial"
        assert restarted.check(pipeline.connectors, job="sync", job_status=partial.status) == [
            "run_failed:sync"
        ]
        failed = next(p for p in receiver.posts if p["kind"] == "run_failed:sync")
        assert "ended partial" in failed["summary"] and "daily" in failed["summary"].lower()
        sla_check = pipeline.run(pull=False)  # the minutely SLA check goes through meanwhile
        assert sla_check.status == "ok"
        assert restarted.check(pipeline.connectors, job="sla", job_status="ok") == []
        again = pipeline.run()
        assert again.status == "partial"
        assert restarted.check(pipeline.connectors, job="sync", job_status=again.status) == []
        hubspot.limits_enabled = False
        healed = pipeline.run()
        assert healed.status == "ok"
        assert restarted.check(pipeline.connectors, job="sync", job_status=healed.status) == [
            "run_failed:sync resolved"
        ]
        assert receiver.opened("run_failed:sync") == 1
        assert receiver.resolved("run_failed:sync") == 1
        crashed = restarted.check(pipeline.connectors, job="decay", job_error="OSError: disk full")
        assert crashed == ["run_failed:decay"]
        assert any("the decay job failed: OSError: disk full" in p["text"] for p in receiver.posts)
        assert receiver.url not in str(receiver.posts)


def test_quota_low_and_sla_breach_rate_alert(tmp_path: Path, sqlite_url: str) -> None:
    with drill(tmp_path, sqlite_url, contacts=60) as d, Receiver() as receiver:
        hubspot = d.sandbox.hubspot
        assert hubspot is not None
        hubspot.daily_limit = 200  # the sandbox reports it in X-HubSpot-RateLimit-Daily*
        hubspot.limits_enabled = True
        pipeline = d.pipeline()
        pipeline.run()
        usage = pipeline.connectors["hubspot"].usage
        assert usage.daily_limit == 200 and usage.daily_remaining is not None
        used_share = 1 - usage.daily_remaining / 200
        lapsed = every_window_lapsed(pipeline.engine)
        alerts = AlertsConfig(
            webhook_url=receiver.url,
            quota_low_share=1 - used_share / 2,  # less than this share is left
            sla_breach_rate=0.5,
            sla_window=timedelta(days=30),
            sla_min_clocks=1,
        )
        posted = Alerter(pipeline.engine, alerts, clock=lambda: lapsed).check(pipeline.connectors)
        assert sorted(posted) == ["quota_low:hubspot", "sla_breach_rate"]
        breach = next(p for p in receiver.posts if p["kind"] == "sla_breach_rate")
        assert "breached (100%" in breach["summary"]
        calm = alerts.model_copy(update={"quota_low_share": used_share / 2})
        assert Alerter(pipeline.engine, calm, clock=lambda: lapsed).check(pipeline.connectors) == [
            "quota_low:hubspot resolved"
        ]


def test_replicas_checking_at_once_post_an_incident_once(engine: Engine) -> None:
    """Several replicas check the same condition at the same moment: one incident, one post;
    a post the receiver refused is claimed again and posted by the next check."""
    posts: list[str] = []
    lock = threading.Lock()
    refuse = threading.Event()

    def post(url: str, body: dict[str, Any]) -> bool:
        with lock:
            if refuse.is_set():
                return False
            posts.append(body["event"])
            return True

    config = AlertsConfig(webhook_url="https://hooks.example.com/services/T0/B0/abcdefghijkl")
    replicas = [Alerter(engine, config, post=post) for _ in range(4)]
    start = threading.Barrier(len(replicas))
    held = Condition("dead_letters", True, "3 CRM write(s) dead-lettered")

    def check(alerter: Alerter) -> None:
        start.wait()
        alerter.apply([held], utc_now())

    threads = [threading.Thread(target=check, args=(a,)) for a in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert posts == ["alert.opened"]

    cleared = Condition("dead_letters", False)
    assert replicas[0].apply([cleared], utc_now()) == ["dead_letters resolved"]
    assert replicas[1].apply([cleared], utc_now()) == []
    refuse.set()
    assert replicas[2].apply([held], utc_now()) == []  # the receiver is down: not notified
    refuse.clear()
    assert replicas[3].apply([held], utc_now()) == ["dead_letters"]  # the same incident, posted
    assert posts == ["alert.opened", "alert.resolved", "alert.opened"]
