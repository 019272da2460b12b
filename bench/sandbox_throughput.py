"""HubSpot sandbox throughput: list/search/batch requests per second with limits off.

    .venv/bin/python bench/sandbox_throughput.py [--contacts 5000] [--seconds 5] [--clients 2]
    .venv/bin/python bench/sandbox_throughput.py --big   # also time a 100,000-contact portal

Reports (1) the emulator's own rate (handler called in-process) and (2) the rate over HTTPS
through SandboxServer with keep-alive urllib3 clients (the transport hubspot-api-client uses) in
separate processes. Each is given per wall second and per CPU second of the serving process:
the second figure is what one free core sustains, independent of other load on the machine.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import resource
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime

import urllib3

from sandbox.hubspot import HubSpotEmulator
from sandbox.seed import generate_portal
from sandbox.server import SandboxCA, SandboxRequest, SandboxServer

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
TOKEN = "bench-token"


def workload(emulator: HubSpotEmulator, contacts: int) -> list[tuple[str, str, dict | None]]:
    """(method, path, body) requests: a list page, an incremental search (changed in the last
    hour, sorted by lastmodifieddate, as a sync's periodic pull), a 100-id batch read."""
    ids = [emulator.contact_id(f"p{n}") for n in range(1, min(contacts, 100) + 1)]
    search = {
        "filterGroups": [
            {
                "filters": [
                    {
                        "propertyName": "lastmodifieddate",
                        "operator": "GTE",
                        "value": str(int(NOW.timestamp() * 1000) - 3_600_000),
                    }
                ]
            }
        ],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "properties": ["email", "lastmodifieddate", "lifecyclestage"],
        "limit": 100,
    }
    return [
        (
            "GET",
            "/crm/v3/objects/contacts?limit=100&properties=email,lifecyclestage&after=" + ids[40],
            None,
        ),
        ("POST", "/crm/v3/objects/contacts/search", search),
        (
            "POST",
            "/crm/v3/objects/contacts/batch/read",
            {"inputs": [{"id": i} for i in ids], "properties": ["email", "hs_lead_status"]},
        ),
    ]


def in_process(
    emulator: HubSpotEmulator, calls: list, seconds: float
) -> dict[str, tuple[float, float]]:
    rates = {}
    for method, path, body in calls:
        path_only, _, query = path.partition("?")
        from urllib.parse import parse_qs

        request = SandboxRequest(
            method,
            path_only,
            parse_qs(query),
            {"authorization": f"Bearer {TOKEN}"},
            json.dumps(body).encode() if body else b"",
        )
        n, start, cpu = 0, time.perf_counter(), time.process_time()
        while time.perf_counter() - start < seconds:
            assert emulator.handle(request).status == 200
            n += 1
        name = path_only.rsplit("/", 1)[-1] or "list"
        rates[name] = (n / (time.perf_counter() - start), n / (time.process_time() - cpu))
    return rates


def _client_loop(base_url: str, ca_file: str, calls: list, seconds: float, offset: int) -> int:
    """One keep-alive client in its own process (so clients do not share the server's GIL)."""
    pool = urllib3.PoolManager(ca_certs=ca_file, cert_reqs="CERT_REQUIRED", maxsize=1)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    bodies = [json.dumps(body) if body else None for _, _, body in calls]
    done, stop = 0, time.perf_counter() + seconds
    while time.perf_counter() < stop:
        n = (offset + done) % len(calls)
        method, path, _ = calls[n]
        response = pool.request(
            method, base_url + path, headers=headers, body=bodies[n], retries=False
        )
        assert response.status == 200, response.data[:200]
        done += 1
    return done


def over_https(
    base_url: str, ca_file: str, calls: list, seconds: float, clients: int
) -> tuple[float, float]:
    """(requests per wall second, requests per CPU second of this server process)."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(clients, mp_context=context) as pool:
        # warm the worker processes (imports, TLS handshake) before the timed run
        list(
            pool.map(
                _client_loop,
                *zip(*[(base_url, ca_file, calls, 0.2, n) for n in range(clients)], strict=True),
            )
        )
        started, cpu = time.perf_counter(), time.process_time()
        counts = list(
            pool.map(
                _client_loop,
                *zip(
                    *[(base_url, ca_file, calls, seconds, n) for n in range(clients)], strict=True
                ),
            )
        )
    total = sum(counts)
    return total / (time.perf_counter() - started), total / (time.process_time() - cpu)


def timed(label: str, fn: Callable[[], object]) -> object:
    start, cpu = time.perf_counter(), time.process_time()
    result = fn()
    print(
        f"{label}: {time.perf_counter() - start:.1f} s wall, {time.process_time() - cpu:.1f} s CPU"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument(
        "--big", action="store_true", help="also generate and load 100,000 contacts"
    )
    args = parser.parse_args()
    portal = generate_portal(42, args.contacts, NOW)
    emulator = HubSpotEmulator(portal, token=TOKEN, limits_enabled=False, clock=lambda: NOW)
    calls = workload(emulator, args.contacts)
    print(f"portal: {args.contacts} contacts, {len(portal.activities)} activities")
    for name, (wall, cpu) in in_process(emulator, calls, args.seconds / 3).items():
        print(f"in-process {name:>8}: {wall:6.0f} req/s wall, {cpu:6.0f} req per CPU-second")
    with SandboxServer(emulator.handle, SandboxCA()) as server:
        wall, cpu = over_https(
            server.base_url, str(server.ca.ca_file), calls, args.seconds, args.clients
        )
    print(
        f"HTTPS mixed list/search/batch, {args.clients} keep-alive client processes: "
        f"{wall:.0f} req/s wall, {cpu:.0f} req per server CPU-second"
    )
    print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs while measuring)")
    if args.big:
        big = timed("generate_portal(100,000 contacts)", lambda: generate_portal(7, 100_000, NOW))
        timed("HubSpotEmulator load", lambda: HubSpotEmulator(big, token=TOKEN, clock=lambda: NOW))  # type: ignore[arg-type]
        print(f"max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
