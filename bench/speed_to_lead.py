"""Speed to lead: seconds from a demo form submitted in the HubSpot sandbox to the routed owner and
the owner's task being readable through hubspot-api-client, with `handoff run` serving webhooks
while its first full sync of `--contacts` contacts runs under HubSpot Pro limits.

`--submissions` forms, one every `--spacing` seconds from the worker's start (each from a new
person at a company of their own); each is timed from the sandbox's answer to the submission (the
contact exists from then on; the emulator's own time to take a form is printed apart). A poller reads the pending contacts through hubspot-api-client:
one CRM search a second for their owners (the search bucket, 5/s, is apart from the ten-secondly
one the bulk sync fills), then each owned contact's task associations until its task is there; its
calls count against the portal's limits like the worker's. The fast lane's first ladder rung is
"task the owner" at 0.01% of its window on an always-open calendar, and the worker's own SLA check
runs once an hour: the task is the fast path's (sync/speed_sla.py).

`--restart-at N`: the worker is stopped (SIGTERM, or SIGKILL with `--kill`) right after the Nth
submission and started again `--down` seconds later; deliveries made meanwhile fail and the
sandbox app retries them on HubSpot's schedule (`--retry-base`). Every submitted contact must end
with exactly one Handoff task: none lost, none handled twice.

    python bench/speed_to_lead.py --contacts 5000 --submissions 20 --spacing 3
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import requests
from hubspot import HubSpot

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.speed_common import (  # noqa: E402
    Stream,
    Worker,
    decision_parts,
    refusals,
    report,
    seconds_since,
    slowest_statements,
    summary,
    where_the_seconds_go,
)
from sandbox.runtime import Sandbox  # noqa: E402
from sandbox.seed import generate_portal  # noqa: E402
from sandbox.server import SandboxRequest, SandboxResponse  # noqa: E402
from sync.demo import sandbox_environment  # noqa: E402
from sync.speed_config import speed_to_lead_config  # noqa: E402

SECRET = "bench-app-secret-" + "7c1d"
SEED_NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(directory: Path, port: int) -> Path:
    path = directory / "handoff.yaml"
    path.write_text(speed_to_lead_config("hubspot", listen_port=port))
    return path


def submit(info: object, form: str, n: str) -> str:
    email = f"lead-{n}@northwind-{n}.com"
    fields = {
        "email": email, "firstname": "Bench", "lastname": f"Lead {n}", "jobtitle": "VP of Sales",
        "company": f"Northwind {n}", "numemployees": "450", "country": "US", "state": "NY",
        "asset_stage": "bottom",
    }  # fmt: skip
    base, portal = info.hubspot_base_url, info.hubspot_portal_id  # type: ignore[attr-defined]
    answer = requests.post(
        f"{base}/submissions/v3/integration/submit/{portal}/{form}",
        json={
            "fields": [{"objectTypeId": "0-1", "name": k, "value": v} for k, v in fields.items()]
        },
        verify=str(info.ca_file),  # type: ignore[attr-defined]
        timeout=300,
    )
    answer.raise_for_status()
    return email


class Poller:
    """Reads pending contacts through hubspot-api-client until each has an owner and a task."""

    def __init__(self, api: HubSpot) -> None:
        self.api = api
        self.sent: dict[str, tuple[float, bool]] = {}  # email -> (submitted at, bulk running)
        self.ids: dict[str, str] = {}
        self.owner_at: dict[str, float] = {}
        self.task_at: dict[str, float] = {}
        self.lock = threading.Lock()

    def pending(self) -> list[str]:
        with self.lock:
            return [e for e in self.sent if e not in self.task_at]

    def poll(self) -> None:
        waiting = [e for e in self.pending() if e not in self.owner_at]
        for start in range(0, len(waiting), 100):
            chunk = waiting[start : start + 100]
            try:
                found = self.api.crm.contacts.search_api.do_search(
                    public_object_search_request={
                        "filterGroups": [
                            {"filters": [{"propertyName": "email", "operator": "IN",
                                          "values": chunk}]}
                        ],
                        "properties": ["email", "hubspot_owner_id"],
                        "limit": 100,
                    }
                )  # fmt: skip
            except Exception:
                continue
            now = time.monotonic()
            for contact in found.results:
                email = contact.properties.get("email")
                if email in self.sent and contact.properties.get("hubspot_owner_id"):
                    self.owner_at.setdefault(email, now)
                    self.ids[email] = contact.id
        for email in [e for e in self.pending() if e in self.owner_at]:
            if self.tasks(self.ids[email]):
                self.task_at[email] = time.monotonic()

    def tasks(self, contact_id: str, *, patient: bool = False) -> int:
        """The contact's tasks; `patient`: retried until read (a 429 is no answer)."""
        while True:
            try:
                contact = self.api.crm.contacts.basic_api.get_by_id(
                    contact_id, associations=["tasks"]
                )
                break
            except Exception:
                if not patient:
                    return 0
                time.sleep(0.5)
        links = (contact.associations or {}).get("tasks")
        return len({r.id for r in links.results}) if links else 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--spacing", type=float, default=3.0, help="seconds between forms")
    parser.add_argument("--limits", choices=["pro", "off"], default="pro")
    parser.add_argument("--limit-seconds", type=float, default=1800.0)
    parser.add_argument("--restart-at", type=int, default=0, help="stop the worker after form N")
    parser.add_argument("--kill", action="store_true", help="SIGKILL instead of SIGTERM")
    parser.add_argument("--down", type=float, default=5.0, help="seconds the worker stays down")
    parser.add_argument("--retry-base", type=float, default=84.0, help="sandbox app's retries")
    parser.add_argument("--json", type=Path, help="write the timings here")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="speed-bench-"))
    portal = generate_portal(7, args.contacts, SEED_NOW)
    journal = directory / "sandbox-requests.jsonl"  # the sandbox's answers: refusals, slowest
    sandbox = Sandbox(
        portal, salesforce=False, limits_enabled=args.limits == "pro", ca_directory=directory / "ca",
        request_log=journal,
    )  # fmt: skip
    throttled: Counter[str] = Counter()

    def count_429(request: SandboxRequest, response: SandboxResponse) -> None:
        if response.status == 429:
            agent = request.headers.get("user-agent", "")
            throttled["worker" if agent.startswith("handoff") else "poller"] += 1

    port = free_port()
    lines: list[str] = []
    with sandbox, sandbox_environment(sandbox.info, directory) as env:
        sandbox.server("hubspot").after_request.append(count_429)
        os.environ["HUBSPOT_CLIENT_SECRET"] = SECRET
        config = write_config(directory, port)
        run_env = {
            **os.environ, **env, "HANDOFF_STATE_URL": f"sqlite:///{directory / 'state.db'}",
            "PYTHONPATH": str(ROOT),
        }  # fmt: skip

        def start() -> Worker:
            lives = sum("handoff worker running" in line for line in lines)
            return Worker(
                config,
                run_env,
                lines,
                lambda: sum("handoff worker running" in line for line in lines) > lives,
            )

        worker = start()
        assert sandbox.hubspot is not None
        sandbox.hubspot.enable_webhooks(
            f"http://127.0.0.1:{port}/webhooks/hubspot/hubspot",
            SECRET,
            retry_base_seconds=args.retry_base,
        )
        info = sandbox.info
        api = HubSpot(
            access_token=info.hubspot_token, host=info.hubspot_base_url,
            ssl_ca_cert=str(info.ca_file),
        )  # fmt: skip
        form = next(
            f.id for f in api.marketing.forms.forms_api.get_page(limit=100).results
            if f.name == "Demo request"
        )  # fmt: skip
        poller = Poller(api)
        stream = Stream(args, poller, start)
        submit_s: list[float] = []  # the sandbox's own time to take a form, for the reading

        def request(n: str) -> str:
            tick = time.monotonic()
            email = submit(info, form, n)
            submit_s.append(time.monotonic() - tick)
            return email

        try:
            worker = stream.run(request, 1.0, worker)
            time.sleep(10)  # a duplicate decision would have landed by now
            tasks = {
                e: poller.tasks(poller.ids[e], patient=True) if e in poller.ids else 0
                for e in poller.sent
            }
        finally:
            worker.stop()
            (directory / "worker.log").write_text("".join(lines))
            print(f"worker log: {directory / 'worker.log'}", flush=True)
    rows = []
    for email, (at, bulk) in poller.sent.items():
        rows.append(
            {
                "email": email, "bulk_running": bulk, "owner_s": seconds_since(at, poller.owner_at.get(email)),
                "task_s": seconds_since(at, poller.task_at.get(email)), "tasks": tasks[email],
            }
        )  # fmt: skip
    detail = "\n".join(
        (
            where_the_seconds_go(lines, "speed.decided", "since_event_seconds"),
            decision_parts(lines, "speed.decided"),
            slowest_statements(lines, "speed.decided"),
            stream.first_syncs(),
            refusals(journal),
        )
    )
    if args.json:
        args.json.write_text(
            json.dumps({"rows": rows, "throttled": throttled, "detail": detail}, indent=1)
        )
    report(
        rows,
        "contact",
        f"contacts {args.contacts}, forms {len(rows)} every {args.spacing} s, limits "
        f"{args.limits}, restarts {stream.restarts}{' (SIGKILL)' if args.kill else ''}; "
        f"429s {dict(throttled)}; the sandbox took a form in p50/p95/max {summary(submit_s)} s",
        stream.load,
        detail,
    )


if __name__ == "__main__":
    main()
