"""Speed to lead: seconds from a demo form submitted in the HubSpot sandbox to the routed owner and
the SLA task being readable through hubspot-api-client, with `handoff run` serving webhooks.

Two phases on one worker: `during bulk sync` submits while the worker's first (full) sync of
`--contacts` contacts runs; `idle` submits after it, one at a time. The poller's own reads count
against the portal's limits like the worker's. The fast lane's first ladder rung is set to 0.01% of
its window on an always-open calendar, so the task comes with the SLA check after the handoff
(`schedules.sla_every`, `--sla-every`).

    python bench/speed_to_lead.py --contacts 5000 --submissions 10 --limits pro
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import requests
from hubspot import HubSpot

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sandbox.runtime import Sandbox  # noqa: E402
from sandbox.seed import generate_portal  # noqa: E402
from sync.demo import example_config, sandbox_environment  # noqa: E402

SECRET = "bench-app-secret-" + "7c1d"
SEED_NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(directory: Path, port: int, sla_every: str) -> Path:
    text = example_config("hubspot").read_text()
    text = text.replace(
        "access_token: ${HUBSPOT_TOKEN}",
        "access_token: ${HUBSPOT_TOKEN}\n      client_secret: ${HUBSPOT_CLIENT_SECRET}",
        1,
    )
    text = text.replace(
        '- {at: "100%", action: task_owner}\n        - {at: "+15m"',
        '- {at: "0.01%", action: task_owner}\n        - {at: "+15m"',
        1,
    )
    text = text.replace(
        "territory_calendars: {na-east: us-east,", "territory_calendars: {na-east: always,"
    )
    text = text.replace("\nsync:\n", "\nsync:\n  first_run: live\n", 1)
    text = re.sub(r"(?m)^schedules:.*$", "", text)
    text += (
        f"\nhttp: {{listen: '127.0.0.1:{port}', hubspot_webhooks: [hubspot]}}\n"
        f"schedules: {{sync_every: 1h, sla_every: {sla_every}}}\n"
    )
    path = directory / "handoff.yaml"
    path.write_text(text)
    return path


def submit(info: object, form: str, n: str) -> str:
    """A demo request from a new person at a company of their own (a shared domain would route
    the second one to the first one's owner: account owner first)."""
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
        timeout=30,
    )
    answer.raise_for_status()
    return email


def seen_routed(api: HubSpot, email: str) -> tuple[bool, bool]:
    """(has an owner, has a Handoff task), read once through hubspot-api-client."""
    try:
        contact = api.crm.contacts.basic_api.get_by_id(
            email, id_property="email", properties=["hubspot_owner_id"], associations=["tasks"]
        )
    except Exception:
        return False, False
    links = (contact.associations or {}).get("tasks")
    return bool(contact.properties.get("hubspot_owner_id")), bool(links and links.results)


def wait_routed(api: HubSpot, email: str, started: float, limit: float) -> tuple[float, float]:
    """(seconds to an owner, seconds to a Handoff task), read through hubspot-api-client."""
    owner_at = task_at = None
    while time.monotonic() - started < limit:
        try:
            contact = api.crm.contacts.basic_api.get_by_id(
                email, id_property="email", properties=["hubspot_owner_id"], associations=["tasks"]
            )
        except Exception:
            time.sleep(0.5)
            continue
        now = time.monotonic() - started
        if owner_at is None and contact.properties.get("hubspot_owner_id"):
            owner_at = now
        links = (contact.associations or {}).get("tasks")
        if task_at is None and links and links.results:
            task_at = now
        if owner_at is not None and task_at is not None:
            return owner_at, task_at
        time.sleep(0.5)
    raise SystemExit(f"{email}: not routed within {limit:.0f} s")


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    return f"{statistics.median(ordered):.2f} | {p95:.2f} | {ordered[-1]:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--submissions", type=int, default=10)
    parser.add_argument("--limits", choices=["pro", "off"], default="pro")
    parser.add_argument("--sla-every", default="5s")
    parser.add_argument("--limit-seconds", type=float, default=900.0)
    parser.add_argument(
        "--spacing", type=float, default=3.0, help="seconds between bulk-phase forms"
    )
    parser.add_argument("--bulk-forms", type=int, default=20, help="forms while the sync runs")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="speed-bench-"))
    portal = generate_portal(7, args.contacts, SEED_NOW)
    sandbox = Sandbox(
        portal, salesforce=False, limits_enabled=args.limits == "pro", ca_directory=directory / "ca"
    )
    port = free_port()
    with sandbox, sandbox_environment(sandbox.info, directory) as env:
        os.environ["HUBSPOT_CLIENT_SECRET"] = SECRET
        config = write_config(directory, port, args.sla_every)
        run_env = {**os.environ, **env, "HANDOFF_STATE_URL": f"sqlite:///{directory / 'state.db'}"}
        lines: list[str] = []
        worker = subprocess.Popen(
            [sys.executable, "-m", "config.cli", "run", "-c", str(config),
             "--heartbeat", str(directory / "heartbeat")],
            cwd=directory, env=run_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        threading.Thread(target=lambda: lines.extend(worker.stdout or []), daemon=True).start()
        try:
            while not any("handoff worker running" in line for line in lines):
                assert worker.poll() is None, "".join(lines)[-3000:]
                time.sleep(0.05)
            assert sandbox.hubspot is not None
            sandbox.hubspot.enable_webhooks(
                f"http://127.0.0.1:{port}/webhooks/hubspot/hubspot", SECRET
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
            results: dict[str, list[tuple[float, float]]] = {"during bulk sync": [], "idle": []}
            pending: dict[str, float] = {}
            owners: dict[str, float] = {}
            next_form = time.monotonic()
            sent = 0
            while pending or not sent:  # forms while the first full sync runs, polled meanwhile
                bulk_running = not any("(applied)" in line for line in lines)
                if bulk_running and sent < args.bulk_forms and time.monotonic() >= next_form:
                    sent += 1
                    pending[submit(info, form, f"b{sent}")] = time.monotonic()
                    next_form += args.spacing
                for email, started in list(pending.items()):
                    seen = seen_routed(api, email)
                    now = time.monotonic() - started
                    if seen[0] and email not in owners:
                        owners[email] = now
                    if seen[0] and seen[1]:
                        results["during bulk sync"].append((owners[email], now))
                        del pending[email]
                        print(
                            f"during bulk sync {email}: owner {owners[email]:.2f} s, "
                            f"task {now:.2f} s (sync running: {bulk_running})",
                            flush=True,
                        )
                    elif now > args.limit_seconds:
                        raise SystemExit(f"{email}: not routed within {args.limit_seconds:.0f} s")
                time.sleep(0.5)
            while not any("(applied)" in line for line in lines):
                assert worker.poll() is None, "".join(lines)[-3000:]
                time.sleep(0.5)
            for n in range(1, args.submissions + 1):
                started = time.monotonic()
                email = submit(info, form, f"i{n}")
                timing = wait_routed(api, email, started, args.limit_seconds)
                results["idle"].append(timing)
                print(f"idle {email}: owner {timing[0]:.2f} s, task {timing[1]:.2f} s", flush=True)
        finally:
            worker.terminate()
            worker.wait(timeout=120)
            (directory / "worker.log").write_text("".join(lines))
            print(f"worker log: {directory / 'worker.log'}", flush=True)
    print()
    print(
        "| phase | forms | owner p50 s | owner p95 s | owner max s | task p50 s | task p95 s | task max s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for phase, timings in results.items():
        if timings:
            owners = [o for o, _ in timings]
            tasks = [t for _, t in timings]
            print(f"| {phase} | {len(timings)} | {summary(owners)} | {summary(tasks)} |")


if __name__ == "__main__":
    main()
