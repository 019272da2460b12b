"""Salesforce adapter cost: API calls per pull and per write, and client memory against N.

    .venv/bin/python bench/connector_salesforce.py [--leads 2000 10000 50000] [--writes 1000]

For each N the Salesforce emulator serves N Leads (plus a call Task and a webinar CampaignMember
for every tenth) from a child process over loopback HTTPS, so the parent's memory is the
connector's alone. The parent runs the real adapter (simple-salesforce underneath) and prints:

- full pull: query calls (first page + nextRecordsUrl pages) against ceil(N/2000), the one
  queryAll call for deletes, records/s, and the peak traced memory while streaming the pages;
- activities of the last-modified `--activity-people` people: queries (Task, Event, CampaignMember;
  200 ids per IN list);
- K field writes: composite/sobjects calls against ceil(K/200);
- when N is above `salesforce.bulk_threshold` (2,000): all N written through Bulk API 2.0.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection as Pipe
from typing import Any

from config.connections import Connection
from connectors.records import FieldChange
from connectors.salesforce import SalesforceConnector

SESSION = "00Dbench!SESSION"
NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _serve(leads: int, pipe: Pipe) -> None:
    """Child process: build the portal, serve it, answer until told to stop."""
    from sandbox.portal import Portal, PortalActivity, PortalCompany, PortalOwner, PortalPerson
    from sandbox.salesforce.emulator import SalesforceEmulator
    from sandbox.server import SandboxCA, SandboxServer

    base = NOW - timedelta(days=20)
    people = [
        PortalPerson(
            id=f"p{i}",
            first_name=f"Lead{i}",
            last_name="Bench",
            email=f"lead{i}@bench.example",
            title="Director of Operations",
            company_id="c1",
            created_at=base,
            modified_at=base + timedelta(seconds=i * 7 // 3),  # some share a timestamp
            owner_id="o1",
        )
        for i in range(leads)
    ]
    activities = []
    for i in range(0, leads, 10):
        at = base + timedelta(days=1, seconds=i)
        activities.append(PortalActivity(f"c{i}", f"p{i}", "call", at, "o1"))
        activities.append(PortalActivity(f"w{i}", f"p{i}", "webinar_attended", at))
    portal = Portal(
        owners=[PortalOwner("o1", "rep@bench.example", "Rep", "One")],
        companies=[PortalCompany("c1", "Bench Co", "bench.example", 400, "Software", "US")],
        people=people,
        activities=activities,
    )
    emulator = SalesforceEmulator(
        portal, session_id=SESSION, daily_allocation=10**9, clock=lambda: NOW
    )
    ca = SandboxCA()
    server = SandboxServer(emulator.handle, ca).start()
    pipe.send((server.base_url, str(ca.ca_file)))
    while (message := pipe.recv()) != "stop":
        if message == "log":
            pipe.send(emulator.log.by_endpoint())
    server.stop()


def _connection(base_url: str, ca_file: str) -> Connection:
    return Connection.model_validate(
        {
            "name": "salesforce",
            "kind": "salesforce",
            "salesforce": {
                "auth": "session",
                "instance_url": base_url,
                "session_id": SESSION,
                "ca_file": ca_file,
            },
            "objects": {
                "lead": {
                    "email": {"property": "Email"},
                    "first_name": {"property": "FirstName"},
                    "last_name": {"property": "LastName"},
                    "title": {"property": "Title"},
                    "company": {"property": "Company"},
                    "lead_status": {"property": "Status", "managed": True},
                    "owner_id": {"property": "OwnerId", "managed": True},
                    "score": {"property": "Handoff_Score__c", "type": "number", "managed": True},
                }
            },
            "activities": [
                {"source": "Task", "kind": "call", "when": {"TaskSubtype": "Call"}},
                {"source": "Event", "kind": "meeting"},
                {
                    "source": "CampaignMember",
                    "kind": "webinar_attended",
                    "when": {"Status": "Attended"},
                },
            ],
        }
    )


def run(leads: int, writes: int, activity_people: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    server = ctx.Process(target=_serve, args=(leads, child), daemon=True)
    server.start()
    base_url, ca_file = parent.recv()
    connector = SalesforceConnector(_connection(base_url, ca_file))
    try:
        tracemalloc.start()
        started = time.perf_counter()
        pulled = 0
        for batch in connector.pull_contacts("lead", None, NOW):
            pulled += len(batch.contacts)  # keep nothing: what a streaming caller holds
        pull_seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        pull_calls = dict(connector.usage.calls)

        contacts = [c for b in connector.pull_contacts("lead", None, NOW) for c in b.contacts]
        before = connector.usage.total
        started = time.perf_counter()
        people = contacts[-activity_people:]  # people with activities were touched last
        activities = sum(1 for _ in connector.pull_activities(people, None))
        activity_seconds = time.perf_counter() - started
        activity_calls = connector.usage.total - before

        k = min(writes, len(contacts))
        changes = [
            FieldChange("salesforce", "lead", c.id, "score", 50 + n % 40, key=f"w{n}")
            for n, c in enumerate(contacts[:k])
        ]
        before_writes = connector.usage.calls.get("composite/sobjects", 0)
        started = time.perf_counter()
        outcomes = connector.apply_changes(changes)
        write_seconds = time.perf_counter() - started
        write_calls = connector.usage.calls.get("composite/sobjects", 0) - before_writes
        bulk: dict[str, Any] = {}
        if len(contacts) > connector.settings.bulk_threshold:
            changes = [
                FieldChange("salesforce", "lead", c.id, "score", 10 + n % 40, key=f"b{n}")
                for n, c in enumerate(contacts)
            ]
            before_bulk = connector.usage.calls.get("jobs/ingest", 0)
            started = time.perf_counter()
            bulk_outcomes = connector.apply_changes(changes)
            bulk = {
                "records": len(changes),
                "ok": sum(o.ok for o in bulk_outcomes),
                "calls": connector.usage.calls.get("jobs/ingest", 0) - before_bulk,
                "seconds": time.perf_counter() - started,
            }
        parent.send("log")
        server_log = parent.recv()
    finally:
        connector.close()
        parent.send("stop")
        server.join(timeout=10)
    return {
        "leads": leads,
        "pulled": pulled,
        "query_calls": pull_calls.get("query", 0),
        "query_expected": math.ceil(leads / 2000),
        "queryall_calls": pull_calls.get("queryAll", 0),
        "pull_seconds": pull_seconds,
        "peak_mib": peak / 2**20,
        "activity_people": len(people),
        "activities": activities,
        "activity_calls": activity_calls,
        "activity_seconds": activity_seconds,
        "writes": k,
        "write_calls": write_calls,
        "write_expected": math.ceil(k / 200),
        "write_ok": sum(o.ok for o in outcomes),
        "write_seconds": write_seconds,
        "bulk": bulk,
        "server_log": server_log,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, nargs="+", default=[2000, 10000, 50000])
    parser.add_argument(
        "--writes", type=int, default=2000, help="K field writes (<= bulk_threshold: collections)"
    )
    parser.add_argument(
        "--activity-people",
        type=int,
        default=10000,
        help="pull activities for the last-modified this many people (the emulator scans per query)",
    )
    args = parser.parse_args()
    for n in args.leads:
        r = run(n, args.writes, args.activity_people)
        off = abs(r["query_calls"] - r["query_expected"]) / r["query_expected"]
        print(
            f"N={r['leads']:>6}: pull {r['pulled']} leads in {r['query_calls']} query calls "
            f"(ceil(N/2000)={r['query_expected']}, off {off:.0%}) + {r['queryall_calls']} queryAll, "
            f"{r['pulled'] / r['pull_seconds']:,.0f} leads/s, client peak {r['peak_mib']:.1f} MiB"
        )
        print(
            f"          activities of {r['activity_people']} people: {r['activities']} in "
            f"{r['activity_calls']} queries (3 sources x ceil(people/200)) "
            f"({r['activity_seconds']:.2f}s); writes: {r['write_ok']}/{r['writes']} in "
            f"{r['write_calls']} calls (ceil(K/200)={r['write_expected']}, "
            f"{r['write_seconds']:.2f}s)"
        )
        if r["bulk"]:
            b = r["bulk"]
            print(
                f"          bulk API 2.0 (above bulk_threshold): {b['ok']}/{b['records']} in "
                f"{b['calls']} jobs/ingest calls ({b['seconds']:.2f}s)"
            )
        print(f"          emulator log: {r['server_log']}")


if __name__ == "__main__":
    main()
