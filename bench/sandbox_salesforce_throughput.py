"""Throughput of the Salesforce emulator (limits off) for query and collection requests.

Runs a mixed workload -- an incremental SOQL page (WHERE SystemModstamp > literal ORDER BY
SystemModstamp LIMIT 200), an `Id IN (...)` lookup of 50 leads, and an sObject Collections PATCH of
25 leads -- first straight into `SalesforceEmulator.handle` (emulator cost only), then over loopback
HTTPS with the real simple-salesforce client from separate processes (one session each).

    .venv/bin/python bench/sandbox_salesforce_throughput.py [--leads 5000] [--seconds 5] [--clients 2]
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import requests
from simple_salesforce import Salesforce

from sandbox.portal import Portal, PortalCompany, PortalOwner, PortalPerson
from sandbox.salesforce import SalesforceEmulator
from sandbox.server import SandboxCA, SandboxRequest, SandboxServer

SID = "bench-session"
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
# Steady-state incremental pull: the last two hours of changes (tens of rows), oldest first.
INCREMENTAL = (
    "SELECT Id, Email, Status, OwnerId, SystemModstamp FROM Lead "
    "WHERE SystemModstamp > 2026-11-20T13:00:00Z ORDER BY SystemModstamp LIMIT 200"
)
# A full first page (200 rows), reported on its own line.
FULL_PAGE = (
    "SELECT Id, Email, Status, OwnerId, SystemModstamp FROM Lead "
    "WHERE SystemModstamp > 2026-11-01T00:00:00Z ORDER BY SystemModstamp LIMIT 200"
)


def portal(leads: int) -> Portal:
    owners = [PortalOwner(f"o{i}", f"rep{i}@example.com", "Rep", str(i)) for i in range(10)]
    companies = [
        PortalCompany(f"c{i}", f"Company {i}", f"c{i}.example", 50 + i, "Software", "US", "CA")
        for i in range(200)
    ]
    people = [
        PortalPerson(
            id=f"p{i}",
            first_name="Lead",
            last_name=str(i),
            email=f"lead{i}@c{i % 200}.example",
            title="Director",
            company_id=f"c{i % 200}",
            created_at=NOW - timedelta(days=40, minutes=i),
            modified_at=NOW - timedelta(minutes=i * 7),
            owner_id=f"o{i % 10}",
        )
        for i in range(leads)
    ]
    return Portal(owners, companies, people)


Work = tuple[str, str, dict[str, str], object]


def workload(emulator: SalesforceEmulator) -> list[Work]:
    ids = list(emulator.org.records["Lead"])
    lookup = "SELECT Id, Status FROM Lead WHERE Id IN ({})".format(
        ",".join(f"'{i}'" for i in ids[:50])
    )
    patch = {
        "allOrNone": False,
        "records": [
            {"attributes": {"type": "Lead"}, "id": i, "Handoff_Score__c": 50 + n}
            for n, i in enumerate(ids[100:125])
        ],
    }
    return [
        ("GET", "query/", {"q": INCREMENTAL}, None),
        ("GET", "query/", {"q": lookup}, None),
        ("PATCH", "composite/sobjects", {}, patch),
    ]


def in_process(emulator: SalesforceEmulator, seconds: float, work: list[Work]) -> float:
    """Requests/s of `SalesforceEmulator.handle` alone (requests are built before timing)."""
    requests_ = [
        SandboxRequest(
            method=method,
            path=f"/services/data/v59.0/{path}",
            query={k: [v] for k, v in params.items()},
            headers={"authorization": f"Bearer {SID}"},
            body=json.dumps(body).encode() if body is not None else b"",
        )
        for method, path, params, body in work
    ]
    done, start = 0, time.perf_counter()
    deadline = start + seconds
    for request in itertools.cycle(requests_):
        if emulator.handle(request).status != 200:
            raise SystemExit(f"unexpected status for {request.path}")
        done += 1
        if time.perf_counter() > deadline:
            break
    return done / (time.perf_counter() - start)


def _client(
    base_url: str, ca_file: str, work: list[Work], seconds: float, ready: Any, go: Any, out: Any
) -> None:
    session = requests.Session()
    session.trust_env = False
    session.verify = ca_file
    sf = Salesforce(instance_url=base_url, session_id=SID, version="59.0", session=session)
    sf.limits()  # connect and handshake before the clock starts
    ready.put(True)
    go.wait()
    done, deadline = 0, time.perf_counter() + seconds
    for method, path, params, body in itertools.cycle(work):
        if method == "GET":
            sf.restful(f"{path}?{urlencode(params)}")
        else:
            sf.restful(path, method=method, json=body)
        done += 1
        if time.perf_counter() > deadline:
            break
    out.put(done)


def over_https(emulator: SalesforceEmulator, seconds: float, clients: int) -> float:
    """Requests/s the HTTPS server + emulator answer to `clients` client processes."""
    ca = SandboxCA()
    work = workload(emulator)
    spawn = multiprocessing.get_context("spawn")
    results, ready, go = spawn.Queue(), spawn.Queue(), spawn.Event()
    with SandboxServer(emulator.handle, ca) as server:
        args = (server.base_url, str(ca.ca_file), work, seconds, ready, go, results)
        pool = [spawn.Process(target=_client, args=args) for _ in range(clients)]
        for process in pool:
            process.start()
        for _ in pool:
            ready.get()
        start = time.perf_counter()
        go.set()
        total = sum(results.get() for _ in pool)
        elapsed = time.perf_counter() - start
        for process in pool:
            process.join()
    return total / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=2, help="client processes for HTTPS")
    args = parser.parse_args()
    emulator = SalesforceEmulator(
        portal(args.leads), session_id=SID, limits_enabled=False, clock=lambda: NOW
    )
    work = workload(emulator)
    # Shared CI boxes are noisy: measure in short windows and report the best and the median.
    windows = [in_process(emulator, args.seconds / 5, work) for _ in range(5)]
    print(
        f"emulator.handle, mixed workload ({args.leads} leads): best {max(windows):,.0f}, "
        f"median {statistics.median(windows):,.0f} requests/s"
    )
    names = ("incremental query", "Id IN (50) query", "collections PATCH x25")
    singles = [*zip(names, work, strict=True)]
    singles.append(("full 200-row page", ("GET", "query/", {"q": FULL_PAGE}, None)))
    for label, item in singles:
        rates = [in_process(emulator, args.seconds / 15, [item]) for _ in range(3)]
        print(f"  {label}: best {max(rates):,.0f} requests/s")
    https_rate = over_https(emulator, args.seconds, args.clients)
    print(
        f"HTTPS server + emulator, {args.clients} simple-salesforce client processes: "
        f"{https_rate:,.0f} requests/s"
    )
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("request mix:", emulator.log.by_endpoint())


if __name__ == "__main__":
    main()
