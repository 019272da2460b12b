"""Two `handoff run --replicas` processes on one PostgreSQL store against the HubSpot sandbox
with Professional limits enforced (190 calls per rolling 10 s, search 5/s): one runs the first
full sync, the other receives the webhooks of demo requests and contact changes made meanwhile.
The portal's rate budget is shared through the store, so the sandbox answers no 429 to either;
both finish; every demo request ends with an owner and exactly one task (read back through
hubspot-api-client), also after a delivery is replayed to the other replica.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from demo_requests import submit_form
from hubspot import HubSpot
from hubspot.crm.contacts.exceptions import ApiException
from sqlmodel import Session, col, select

from sandbox.runtime import Sandbox
from sandbox.seed import generate_portal
from sandbox.server import SandboxRequest, SandboxResponse
from sync.demo import sandbox_environment
from sync.speed_config import speed_to_lead_config
from sync.store.engine import make_engine
from sync.store.tables import RunRecord

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(900)]
ROOT = Path(__file__).resolve().parents[2]
SEED_NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
SECRET = "replica-app-secret-" + "93be"
FORMS = 12
CHANGES = 30
DEADLINE = 300.0  # a guard against a hung replica, not a timing


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(tmp_path: Path, pg_url: str, port: int, name: str) -> Path:
    text = speed_to_lead_config(
        "hubspot", sync_every="5s", sla_every="10m", listen_port=port, state_url=pg_url
    )
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


class Replica:
    def __init__(self, config: Path, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "config.cli", "run", "--replicas", "-c", str(config),
             "--heartbeat", str(config.with_suffix(".beat"))],
            cwd=config.parent, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        for line in self.proc.stdout or []:
            self.lines.append(line)

    def output(self) -> str:
        return "".join(self.lines)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def _wait(condition, what: str, replicas: list[Replica]) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + DEADLINE
    while not condition():
        for replica in replicas:
            assert replica.proc.poll() is None, replica.output()[-3000:]
        assert time.monotonic() < deadline, f"no {what}:\n" + "\n".join(
            r.output()[-2500:] for r in replicas
        )
        time.sleep(0.3)


def _bulk_run(pg_url: str) -> RunRecord | None:
    engine = make_engine(pg_url)
    try:
        with Session(engine) as session:
            runs = session.exec(
                select(RunRecord).where(col(RunRecord.id).not_like("%-only-%"))
            ).all()
            return min(runs, key=lambda r: r.started_at) if runs else None
    finally:
        engine.dispose()


def _submit(sandbox: Sandbox, form: str, n: int) -> str:
    email = f"lead-{n}@harbor-{n}.com"
    submit_form(
        sandbox.info, form, email, firstname="Rae", lastname=f"Lead {n}", company=f"Harbor {n}"
    )
    return email


def _owner_and_tasks(api: HubSpot, email: str) -> tuple[str | None, int]:
    """The contact's owner and task count, read as any client of the portal's app reads: the
    replicas may be using the whole window Handoff allows itself (187 of 190), so a 429 is
    waited out for its Retry-After."""
    for _ in range(20):
        try:
            contact = api.crm.contacts.basic_api.get_by_id(
                email, id_property="email", properties=["hubspot_owner_id"], associations=["tasks"]
            )
            break
        except ApiException as exc:
            if exc.status != 429:
                return None, 0
            time.sleep(float((exc.headers or {}).get("Retry-After") or 1))
    else:
        return None, 0
    links = (contact.associations or {}).get("tasks")
    return contact.properties.get("hubspot_owner_id"), len(links.results) if links else 0


def test_a_listener_replica_and_a_bulk_sync_replica_share_the_portals_limits(
    tmp_path: Path, pg_url: str
) -> None:
    portal = generate_portal(11, 1500, SEED_NOW)
    sandbox = Sandbox(portal, salesforce=False, limits_enabled=True, ca_directory=tmp_path / "ca")
    refused: list[str] = []

    def count_429(request: SandboxRequest, response: SandboxResponse) -> None:
        if response.status == 429 and request.headers.get("user-agent", "").startswith("handoff"):
            refused.append(f"{time.strftime('%H:%M:%S')} {request.method} {request.path}")

    ports = [_port(), _port()]
    with sandbox, sandbox_environment(sandbox.info, tmp_path) as env:
        sandbox.server("hubspot").after_request.append(count_429)
        run_env = {
            **os.environ, **env, "HUBSPOT_CLIENT_SECRET": SECRET, "PYTHONPATH": str(ROOT),
        }  # fmt: skip
        configs = [_config(tmp_path, pg_url, port, f"replica{n}") for n, port in enumerate(ports)]
        replicas = [Replica(c, run_env) for c in configs]
        try:
            _wait(
                lambda: all("handoff replica running" in r.output() for r in replicas),
                "replicas running",
                replicas,
            )
            _wait(lambda: _bulk_run(pg_url) is not None, "the first full sync", replicas)
            bulk = _bulk_run(pg_url)
            assert bulk is not None and bulk.worker
            pids = [r.proc.pid for r in replicas]
            busy = pids.index(int(bulk.worker.rsplit(":", 1)[1]))
            listener = 1 - busy
            assert sandbox.hubspot is not None
            url = f"http://127.0.0.1:{ports[listener]}/webhooks/hubspot/hubspot"
            app = sandbox.hubspot.enable_webhooks(url, SECRET, retry_base_seconds=0.5)
            # the test spends none of the portal's budget while the replicas work: forms are
            # submitted unauthenticated (no limit, as in HubSpot) and contacts changed in the store
            hub = sandbox.hubspot
            form = next(f.id for f in hub.store.forms.values() if f.name == "Demo request")
            emails = [_submit(sandbox, form, n) for n in range(FORMS)]
            with hub._lock:  # property changes the listener decides too (one event each)
                for record_id in sorted(hub.store.objects["contacts"])[:CHANGES]:
                    obj = hub.store.objects["contacts"][record_id]
                    hub.store.apply(obj, {"jobtitle": "Chief Revenue Officer"}, hub._now_ms())
            assert (_bulk_run(pg_url) or bulk).finished_at is None  # all during the bulk sync
            _wait(lambda: (_bulk_run(pg_url) or bulk).finished_at is not None, "sync end", replicas)
            ended = _bulk_run(pg_url) or bulk
            bulk_times = (ended.started_at, ended.finished_at)
            _wait(
                lambda: replicas[listener].output().count('"speed.sla_step"') >= FORMS,
                "every demo request's task",
                replicas,
            )
            _wait(lambda: app.idle(), "every delivery answered", replicas)
            info = sandbox.info
            api = HubSpot(
                access_token=info.hubspot_token, host=info.hubspot_base_url,
                ssl_ca_cert=str(info.ca_file),
            )  # fmt: skip
            for email in emails:  # paced: the test's reads are not in the replicas' budget
                time.sleep(0.2)
                owner, tasks = _owner_and_tasks(api, email)
                assert owner and tasks == 1, (email, owner, tasks)

            # a delivery replayed to the other replica: deduplicated through the store
            first = next(d for d in app.deliveries if b"contact.creation" in d.body)
            other = f"http://127.0.0.1:{ports[busy]}/webhooks/hubspot/hubspot"
            assert app.post(first.body, url=other) == 204
            _wait(lambda: "speed.duplicates" in replicas[busy].output(), "dedup", replicas)
            assert [_owner_and_tasks(api, e)[1] for e in emails] == [1] * FORMS
        finally:
            codes = [r.stop() for r in replicas]
    assert refused == [], (refused[:10], bulk_times)
    assert codes == [0, 0], "\n".join(r.output()[-2000:] for r in replicas)
    assert all(SECRET not in r.output() for r in replicas)
