"""Speed to lead on Salesforce: seconds from a demo request created in the sandbox org to the
routed owner and the owner's task being readable through simple-salesforce, with `handoff run`
subscribed to Change Data Capture (Pub/Sub API) while its first full sync of `--contacts` people
runs (the sandbox's API limits on).

A demo request is what a web-to-lead form makes: a Lead, then its "Request a demo" campaign
response (CampaignMember, Status Responded), both through simple-salesforce. `--submissions` of
them, one every `--spacing` seconds from the worker's start. A poller reads the pending Leads
through simple-salesforce (one SOQL query for owners and statuses, one for Handoff tasks, per
`--poll` seconds). The fast lane's first ladder rung is "task the owner" at 0.01% of its window on
an always-open calendar, and the worker's own SLA check runs once an hour: the task is the change
event path's.

`--restart-at N`: the worker is stopped (SIGTERM, or SIGKILL with `--kill`) right after the Nth
request and started again `--down` seconds later; requests made meanwhile are replayed from the
stored replay id. Read back through simple-salesforce at the end, every Lead must have exactly one
Handoff task, in its owner's queue, and the owner first read for it (none lost, none handled
twice: a second decision that routed it again would show as another owner or a second task).

The sandbox's request log (`sandbox-requests.jsonl` beside the worker's log) gives the calls
refused (403 REQUEST_LIMIT_EXCEEDED, 503) and the slowest answers.

    python bench/speed_to_lead_salesforce.py --contacts 5000 --submissions 50 --spacing 1
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from simple_salesforce import Salesforce

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
    where_the_seconds_go,
)
from sandbox.runtime import Sandbox  # noqa: E402
from sandbox.seed import generate_portal  # noqa: E402
from sync.demo import sandbox_environment  # noqa: E402
from sync.speed_config import speed_to_lead_config  # noqa: E402

SEED_NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def write_config(directory: Path) -> Path:
    path = directory / "handoff.yaml"
    path.write_text(speed_to_lead_config("salesforce"))
    return path


class Poller:
    """Reads pending Leads through simple-salesforce until each has an owner and a task."""

    def __init__(self, sf: Any, integration_user: str, since: str) -> None:
        self.sf = sf
        self.integration_user = integration_user
        # Handoff tasks made since the stream began: the org's CreatedDate index serves this, where
        # `WhoId IN (...)` alone scans every Task (53,622 at 100,000 people: 0.18 s a poll, four
        # polls a second, in the process that also serves the worker's sync)
        self.task_filter = f"CreatedDate >= {since} AND Handoff_Task_Key__c != null"
        self.sent: dict[str, tuple[float, bool]] = {}  # lead id -> (created at, bulk running)
        self.owner_at: dict[str, float] = {}
        self.task_at: dict[str, float] = {}
        self.first_owner: dict[str, str] = {}  # lead id -> the owner first read

    def pending(self) -> list[str]:
        return [i for i in self.sent if i not in self.task_at]

    def poll(self) -> None:
        waiting = self.pending()
        if not waiting:
            return
        ids = ", ".join(f"'{i}'" for i in waiting)
        now = time.monotonic()
        for row in self.sf.query_all(f"SELECT Id, OwnerId FROM Lead WHERE Id IN ({ids})")[
            "records"
        ]:
            if row["OwnerId"] != self.integration_user:
                self.owner_at.setdefault(row["Id"], now)
                self.first_owner.setdefault(row["Id"], str(row["OwnerId"]))
        owned = [i for i in waiting if i in self.owner_at]  # a task is looked for once owned
        if not owned:
            return
        ids = ", ".join(f"'{i}'" for i in owned)
        tasks = self.sf.query_all(
            f"SELECT WhoId FROM Task WHERE WhoId IN ({ids}) AND {self.task_filter}"
        )["records"]
        for row in tasks:
            self.task_at.setdefault(row["WhoId"], now)

    def tasks(self) -> Counter[str]:
        ids = ", ".join(f"'{i}'" for i in self.sent)
        rows = self.sf.query_all(
            f"SELECT WhoId FROM Task WHERE WhoId IN ({ids}) AND {self.task_filter}"
        )["records"]
        found = Counter(str(r["WhoId"]) for r in rows)
        return Counter({i: found[i] for i in self.sent})

    def handled_twice(self) -> list[str]:
        """Leads whose owner moved since first read, or whose Handoff task is not in the owner's
        queue: what a second decision routing them again would leave (read back at the end)."""
        ids = ", ".join(f"'{i}'" for i in self.sent)
        owners = {
            str(r["Id"]): str(r["OwnerId"])
            for r in self.sf.query_all(f"SELECT Id, OwnerId FROM Lead WHERE Id IN ({ids})")[
                "records"
            ]
        }
        task_owners: dict[str, set[str]] = {}
        for r in self.sf.query_all(
            f"SELECT WhoId, OwnerId FROM Task WHERE WhoId IN ({ids}) AND {self.task_filter}"
        )["records"]:
            task_owners.setdefault(str(r["WhoId"]), set()).add(str(r["OwnerId"]))
        return [
            f"{lead}: owner {self.first_owner.get(lead)} then {owners.get(lead)}, "
            f"task owners {sorted(task_owners.get(lead, set()))}"
            for lead in self.sent
            if owners.get(lead) != self.first_owner.get(lead)
            or task_owners.get(lead, {owners.get(lead)}) != {owners.get(lead)}
        ]


def demo_request(sf: Any, campaign: str, n: str) -> str:
    lead = sf.Lead.create(
        {
            "FirstName": "Bench", "LastName": f"Lead {n}", "Email": f"lead-{n}@northwind-{n}.com",
            "Company": f"Northwind {n}", "Title": "VP of Sales", "NumberOfEmployees": 450,
            "Country": "US", "State": "NY",
        }
    )  # fmt: skip
    sf.CampaignMember.create({"CampaignId": campaign, "LeadId": lead["id"], "Status": "Responded"})
    return str(lead["id"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=2000)
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--spacing", type=float, default=3.0, help="seconds between requests")
    parser.add_argument("--poll", type=float, default=0.25, help="seconds between read-backs")
    parser.add_argument("--limit-seconds", type=float, default=1800.0)
    parser.add_argument("--restart-at", type=int, default=0, help="stop the worker after N")
    parser.add_argument("--kill", action="store_true", help="SIGKILL instead of SIGTERM")
    parser.add_argument("--down", type=float, default=5.0, help="seconds the worker stays down")
    parser.add_argument("--json", type=Path, help="write the timings here")
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="speed-bench-sf-"))
    portal = generate_portal(7, args.contacts, SEED_NOW)
    journal = directory / "sandbox-requests.jsonl"
    sandbox = Sandbox(
        portal, hubspot=False, limits_enabled=True, ca_directory=directory / "ca",
        request_log=journal,
    )  # fmt: skip
    lines: list[str] = []
    with sandbox, sandbox_environment(sandbox.info, directory) as env:
        assert sandbox.pubsub is not None and sandbox.salesforce is not None
        service = sandbox.pubsub.service
        config = write_config(directory)
        run_env = {
            **os.environ, **env, "HANDOFF_STATE_URL": f"sqlite:///{directory / 'state.db'}",
            "PYTHONPATH": str(ROOT),
        }  # fmt: skip
        info = sandbox.info
        http = requests.Session()
        http.verify, http.trust_env = str(info.ca_file), False
        sf: Any = Salesforce(
            instance_url=info.salesforce_instance_url,
            session_id=info.salesforce_session_id,
            session=http,
        )
        campaign = sf.Campaign.create({"Name": "Request a demo"})["id"]
        made = sf.query(f"SELECT CreatedDate FROM Campaign WHERE Id = '{campaign}'")["records"]
        since = datetime.strptime(made[0]["CreatedDate"], "%Y-%m-%dT%H:%M:%S.%f%z")
        poller = Poller(sf, sandbox.salesforce.org.api_user_id, f"{since:%Y-%m-%dT%H:%M:%SZ}")

        def start() -> Worker:
            before = service.subscribes  # Lead, Contact and CampaignMember topics
            return Worker(config, run_env, lines, lambda: service.subscribes >= before + 3)

        worker = start()
        stream = Stream(args, poller, start)
        try:
            worker = stream.run(lambda n: demo_request(sf, campaign, n), args.poll, worker)
            time.sleep(10)  # a duplicate decision would have landed by now
            tasks = poller.tasks()
            twice = poller.handled_twice()
        finally:
            worker.stop()
            (directory / "worker.log").write_text("".join(lines))
            print(f"worker log: {directory / 'worker.log'}", flush=True)
    rows = [
        {
            "lead": lead, "bulk_running": bulk, "owner_s": seconds_since(at, poller.owner_at.get(lead)),
            "task_s": seconds_since(at, poller.task_at.get(lead)), "tasks": tasks[lead],
        }
        for lead, (at, bulk) in poller.sent.items()
    ]  # fmt: skip
    decided = sum('"cdc.decided"' in line for line in lines)
    detail = "\n".join(
        (
            where_the_seconds_go(lines, "cdc.decided", "since_change_seconds"),
            decision_parts(lines, "cdc.decided"),
            slowest_statements(lines, "cdc.decided"),
            stream.first_syncs(),
            refusals(journal),
            f"handled twice (owner moved, or a task outside the owner's queue): {len(twice)}",
            *twice[:10],
        )
    )
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "detail": detail}, indent=1))
    report(
        rows,
        "lead",
        f"people {args.contacts}, demo requests {len(rows)} every {args.spacing} s, restarts "
        f"{stream.restarts}{' (SIGKILL)' if args.kill else ''}; change event decisions {decided}",
        stream.load,
        detail,
    )
    if twice:
        raise SystemExit(f"{len(twice)} leads handled twice")


if __name__ == "__main__":
    main()
