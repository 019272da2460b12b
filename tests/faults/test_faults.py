"""Fault drills on the sandbox: throttling, quota, transient errors, refusals, credentials,
record events, a locked store and bad data. Each states the fault and what must hold."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from fault_stack import drill
from sqlmodel import Session, select

from connectors.hubspot import HubSpotConnector
from sandbox.faults import Faults
from sync.pipeline import Pipeline
from sync.store.engine import make_engine
from sync.store.tables import OutboxItem


def test_429_storm_completes_with_nothing_lost(tmp_path: Path, sqlite_url: str) -> None:
    """30% of responses are 429 with Retry-After: retried, honoured, the run completes."""
    with drill(tmp_path, sqlite_url, contacts=60) as d:
        hubspot = d.sandbox.hubspot
        assert hubspot is not None
        hubspot.faults = Faults(throttle_rate=0.3, retry_after_seconds=(0.05, 0.3), seed=4)
        pipeline = d.pipeline()
        result = pipeline.run()
        assert not result.errors, result.errors
        assert hubspot.log.total(status=429) > 0
        assert d.open_items() == []
        assert pipeline.connectors["hubspot"].usage.throttled > 0


class VirtualTime:
    """Monotonic time that a `sleep` moves forward at once (and records), for every thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._offset = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        with self._lock:
            return time.monotonic() + self._offset

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._offset += max(0.0, seconds)
            self.slept.append(seconds)


def test_429_storm_with_retry_after_of_1_to_10_seconds(tmp_path: Path, sqlite_url: str) -> None:
    """The storm at full scale: 30% of responses 429 with Retry-After between 1 and 10 s. Waits
    run on virtual time (the client's sleep and clock are injected), so each is honoured in full
    without the test waiting minutes."""
    with drill(tmp_path, sqlite_url, contacts=60) as d:
        hubspot = d.sandbox.hubspot
        assert hubspot is not None
        hubspot.faults = Faults(throttle_rate=0.3, retry_after_seconds=(1.0, 10.0), seed=11)
        virtual = VirtualTime()
        config = d.config()
        connector = HubSpotConnector(
            config.connections[0], sleep=virtual.sleep, clock=virtual.clock
        )
        pipeline = Pipeline(config, d.engine(), {connector.name: connector})
        result = pipeline.run()
        assert not result.errors, result.errors
        assert d.open_items() == []
        throttled = hubspot.log.total(status=429)
        assert throttled > 0 and connector.usage.throttled == throttled
        # every 429 was waited out: at least one wait of >= 1 s (the smallest Retry-After) each
        assert sum(1 for s in virtual.slept if s >= 1.0) >= throttled
        assert hubspot.log.total("contacts.batch_update", 200) > 0  # the writes landed


def test_5xx_resets_and_malformed_bodies_are_retried(tmp_path: Path, sqlite_url: str) -> None:
    with drill(tmp_path, sqlite_url, contacts=60) as d:
        hubspot = d.sandbox.hubspot
        assert hubspot is not None
        hubspot.faults = Faults(error_rate=0.1, reset_rate=0.05, malformed_rate=0.05, seed=9)
        first = d.pipeline().run()
        hubspot.faults = None
        second = d.pipeline().run()  # whatever gave up in the first run resumes here
        assert not second.errors, second.errors
        assert d.open_items() == []
        assert first.writes.items or second.writes.items


def test_daily_quota_stops_one_connection_cleanly_others_go_on(
    tmp_path: Path, sqlite_url: str
) -> None:
    """HubSpot's DAILY 429: that connection stops and resumes later; Salesforce is unaffected."""
    with drill(tmp_path, sqlite_url, crm="both", contacts=60) as d:
        hubspot = d.sandbox.hubspot
        assert hubspot is not None
        hubspot.limits_enabled = True
        hubspot.daily_limit = 5
        result = d.pipeline().run()
        assert any("hubspot" in e and "quota" in e for e in result.errors), result.errors
        assert any(i.connection == "salesforce" for i in result.writes.items)
        hubspot.daily_limit = None
        hubspot.limits_enabled = False
        resumed = d.pipeline().run()
        assert any(i.connection == "hubspot" for i in resumed.writes.items)
        assert [(i.connection, i.field, i.status, i.last_error) for i in d.open_items()] == []


def test_refused_writes_keep_their_reason_then_dead_letter(tmp_path: Path, sqlite_url: str) -> None:
    """Salesforce refuses one lead (a validation rule): others land; it is retried with backoff,
    then moved to dead-letter after sync.max_attempts, visible in the report."""
    from datetime import timedelta

    with drill(tmp_path, sqlite_url, crm="salesforce", contacts=40) as d:
        salesforce = d.sandbox.salesforce
        assert salesforce is not None
        pipeline = d.pipeline()
        dry = pipeline.run(dry_run=True)
        victim = next(i.record_id for i in dry.writes.items if i.field == "score")
        salesforce.fail_record(victim)
        first = pipeline.run(as_of=dry.as_of)
        assert any(i.record_id != victim for i in first.writes.items)
        engine = make_engine(d.store_url)
        with Session(engine) as session:
            refused = session.exec(select(OutboxItem).where(OutboxItem.record_id == victim)).all()
        assert refused and all(i.status == "rejected" and i.last_error for i in refused)
        as_of = dry.as_of
        for _ in range(6):  # each retry waits for its backoff
            as_of = as_of + timedelta(days=1)
            pipeline.run(as_of=as_of)
        with Session(engine) as session:
            statuses = {
                i.status
                for i in session.exec(select(OutboxItem).where(OutboxItem.record_id == victim))
            }
        assert "dead" in statuses


def test_revoked_token_fails_loudly_with_the_fix_and_no_secret(
    tmp_path: Path, sqlite_url: str
) -> None:
    with drill(tmp_path, sqlite_url, contacts=20) as d:
        hubspot = d.sandbox.hubspot
        assert hubspot is not None
        token = d.env["HUBSPOT_TOKEN"]
        hubspot.revoke_token(token)
        proc = d.sync_process()
        output, _ = proc.communicate(timeout=120)
        assert proc.returncode == 1
        assert "Traceback" not in output
        assert token not in output
        assert "token" in output.lower()


def test_merge_moves_clocks_and_a_deactivated_owner_gets_rerouted(
    tmp_path: Path, sqlite_url: str
) -> None:
    from routing.sla.tables import SlaClock

    with drill(tmp_path, sqlite_url, contacts=120) as d:
        hubspot = d.sandbox.hubspot
        assert hubspot is not None
        first = d.pipeline().run()
        routed = [
            i
            for i in first.writes.items
            if i.field == "owner_id"
            and hubspot.contact(i.record_id)["lifecyclestage"] == "marketingqualifiedlead"
        ]
        assert len(routed) >= 2
        # An owner leaves the company: their HubSpot owner is archived.
        gone = str(routed[0].value)
        hubspot.store.owners[
            next(k for k, o in hubspot.store.owners.items() if o.id == gone)
        ].active = False
        hubspot.update_contact(routed[0].record_id, {"jobtitle": "VP Sales"})  # touch the record
        second = d.pipeline().run()
        moved = [
            i
            for i in second.writes.items
            if i.record_id == routed[0].record_id and i.field == "owner_id"
        ]
        assert moved and str(moved[0].value) != gone
        # Two contacts merged: the survivor inherits the loser's clocks.
        loser, survivor = routed[1].record_id, routed[0].record_id
        engine = make_engine(d.store_url)
        hubspot.merge_contacts(survivor, loser)
        d.pipeline().run()
        with Session(engine) as session:
            clocks = session.exec(select(SlaClock)).all()
        assert all(c.lead_key != f"record:hubspot:contact:{loser}" for c in clocks)


def test_sqlite_locked_by_another_process_waits_then_completes(
    tmp_path: Path, sqlite_url: str
) -> None:
    with drill(tmp_path, sqlite_url, contacts=30) as d:
        d.engine().dispose()
        path = sqlite_url.removeprefix("sqlite:///")
        holder = sqlite3.connect(path, timeout=1, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock

        def release() -> None:
            time.sleep(2)
            holder.rollback()
            holder.close()

        threading.Thread(target=release).start()
        result = d.pipeline().run()
        assert not result.errors
        assert result.writes.items


def test_unknown_stage_values_and_unknown_owners_are_reported_not_fatal(
    tmp_path: Path, sqlite_url: str
) -> None:
    with drill(tmp_path, sqlite_url, contacts=40) as d:
        hubspot = d.sandbox.hubspot
        assert hubspot is not None
        some = next(iter(hubspot.store.objects["contacts"]))
        hubspot.update_contact(str(some), {"lifecyclestage": "partner_referral_custom"})
        result = d.pipeline().run()
        flags = [f for f in result.tally.flags if f["flag"] == "unknown_stage"]
        assert flags and not any("Traceback" in e for e in result.errors)
