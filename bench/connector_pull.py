"""Connector benchmark: API calls against their minimum, and memory flat with N.

Runs the HubSpot emulator in one process and the real HubSpotConnector (hubspot-api-client)
in another, so the client's peak RSS is its own. Prints, for each N:
- full pull of N contacts: calls vs ceil(N / 100) list pages (+1 archived listing),
- incremental pull of M changed contacts: calls vs ceil(M / 200) search pages (+1 archived),
- activities of those M contacts: calls by endpoint,
- a write of K changed fields: calls vs ceil(K / 100),
- the client process's peak RSS.

    .venv/bin/python bench/connector_pull.py                 # N = 20,000 and 200,000
    .venv/bin/python bench/connector_pull.py --sizes 2000    # quick look
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import resource
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WRITES = 1_000  # K


def changed_count(n: int) -> int:
    """M: a tenth of the contacts changed since the last run."""
    return max(1, n // 10)


def _portal(n: int, base: datetime) -> Any:
    from sandbox.portal import Portal, PortalActivity, PortalOwner, PortalPerson

    owners = [PortalOwner("o1", "ana@bench.example", "Ana", "Reyes")]
    people = [
        PortalPerson(
            id=f"p{i}",
            first_name="Bench",
            last_name=str(i),
            email=f"p{i}@bench.example",
            title="Director" if i % 3 == 0 else "Analyst",
            company_id=None,
            created_at=base - timedelta(days=90),
            # the last M people were modified after `base`
            modified_at=base + timedelta(seconds=i - (n - changed_count(n))),
            owner_id="o1",
        )
        for i in range(n)
    ]
    activities = [
        PortalActivity(
            f"a{i}", f"p{i}", "page_view", base + timedelta(minutes=1), None, {"url": "/pricing"}
        )
        for i in range(n - changed_count(n), n, 2)
    ]
    return Portal(owners=owners, people=people, activities=activities)


def _serve(n: int, base: datetime, ready: Any, done: Any) -> None:
    from sandbox.hubspot import HubSpotEmulator
    from sandbox.server import SandboxCA, SandboxServer

    emulator = HubSpotEmulator(_portal(n, base), token="bench-token", limits_enabled=False)
    ca = SandboxCA()
    server = SandboxServer(emulator.handle, ca).start()
    ready.put((server.base_url, str(ca.ca_file)))
    done.get()
    server.stop()


def _client(base_url: str, ca_file: str, base: datetime, out: Any) -> None:
    from config.connections import Connection
    from connectors.hubspot import HubSpotConnector
    from connectors.records import FieldChange

    connection = Connection.model_validate(
        {
            "name": "hubspot",
            "kind": "hubspot",
            "hubspot": {
                "access_token": "bench-token",
                "base_url": base_url,
                "ca_file": ca_file,
                "requests_per_10s": 100_000,  # the emulator's limits are off: measure calls only
                "search_per_second": 10_000,
            },
            "objects": {
                "contact": {
                    "email": {"property": "email"},
                    "first_name": {"property": "firstname"},
                    "last_name": {"property": "lastname"},
                    "title": {"property": "jobtitle"},
                    "owner_id": {"property": "hubspot_owner_id", "managed": True},
                    "score": {"property": "handoff_score", "type": "number", "managed": True},
                }
            },
            "activities": [{"source": "page_views", "kind": "page_view"}],
            "overlap": "1s",
        }
    )
    connector = HubSpotConnector(connection)
    until = datetime.now(UTC)
    result: dict[str, Any] = {}

    def measured(step: str, run: Any) -> Any:
        before = dict(connector.usage.calls)
        value = run()
        result[step] = {
            k: v - before.get(k, 0)
            for k, v in connector.usage.calls.items()
            if v != before.get(k, 0)
        }
        return value

    full = measured(
        "full",
        lambda: sum(len(b.contacts) for b in connector.pull_contacts("contact", None, until)),
    )
    full_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    changed: list[Any] = []

    def incremental() -> None:
        for batch in connector.pull_contacts("contact", base + timedelta(seconds=1), until):
            changed.extend(batch.contacts)

    measured("incremental", incremental)
    activities = measured("activities", lambda: len(list(connector.pull_activities(changed, None))))
    changes = [
        FieldChange("hubspot", "contact", c.id, "score", 50 + i % 40, key=f"k{i}")
        for i, c in enumerate(changed[:WRITES])
    ]
    outcomes = measured("write", lambda: connector.apply_changes(changes))
    result |= {
        "pulled": full,
        "changed": len(changed),
        "activities_found": activities,
        "written": sum(1 for o in outcomes if o.ok),
        "full_rss_mb": full_rss_mb,  # peak while streaming the full pull
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    out.put(result)


def run(n: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    base = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0)
    ready, done, out = ctx.Queue(), ctx.Queue(), ctx.Queue()
    server = ctx.Process(target=_serve, args=(n, base, ready, done))
    server.start()
    try:
        base_url, ca_file = ready.get(timeout=600)
        client = ctx.Process(target=_client, args=(base_url, ca_file, base, out))
        client.start()
        result: dict[str, Any] = out.get(timeout=3600)
        client.join()
    finally:
        done.put(True)
        server.join(timeout=30)
    return result


def _report(n: int, r: dict[str, Any]) -> None:
    def total(step: str) -> int:
        return sum(r[step].values())

    full_min = math.ceil(n / 100) + 1  # list pages + one archived listing
    inc_min = math.ceil(r["changed"] / 200) + 1
    write_min = math.ceil(r["written"] / 100)
    print(
        f"N={n:,}  pulled={r['pulled']:,}  peak RSS after full pull {r['full_rss_mb']:.0f} MB, "
        f"after everything {r['maxrss_mb']:.0f} MB (the bench keeps the M changed contacts)"
    )
    print(
        f"  full pull        {total('full'):6d} calls  minimum {full_min:6d}  x{total('full') / full_min:.3f}"
    )
    print(
        f"  incremental M={r['changed']:,} {total('incremental'):4d} calls  minimum {inc_min:6d}  x{total('incremental') / inc_min:.3f}"
    )
    print(
        f"  activities       {total('activities'):6d} calls  ({r['activities_found']} found) {r['activities']}"
    )
    print(
        f"  write K={r['written']:,}     {total('write'):4d} calls  minimum {write_min:6d}  x{total('write') / max(1, write_min):.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 200_000])
    args = parser.parse_args()
    results = {n: run(n) for n in args.sizes}
    for n, r in results.items():
        _report(n, r)
    if len(results) >= 2:
        small, large = min(results), max(results)
        ratio = results[large]["full_rss_mb"] / results[small]["full_rss_mb"]
        print(f"full-pull peak RSS {large:,} vs {small:,}: x{ratio:.2f} (goal <= 1.5)")


if __name__ == "__main__":
    main()
