"""Handoff's pull against third-party HubSpot connectors, on the same seeded sandbox portal.

Installs each peer into its own virtual environment under ~/.cache/handoff-peers (not the repo;
HANDOFF_PEERS_CACHE moves it): Airbyte's `airbyte-source-hubspot` and Meltano's
`meltano-tap-hubspot`. Starts the sandbox (`handoff sandbox serve`, HubSpot Professional limits
on) with a certificate for api.hubapi.com and a request log, and points each peer at it with a
`sitecustomize.py` resolver override on the peer's PYTHONPATH (api.hubapi.com -> the sandbox's
loopback port; /etc/hosts untouched) and the sandbox's CA. Then, one portal, one run:

1. full pull, every peer and Handoff's (bench/peerkit/handoff_pull.py) one after the other;
2. 10% of the contacts changed through HubSpot's batch update API; incremental pull, each;
3. no change; each again.

Per run: records by stream (with each stream's verdict: ok, or the error that stopped it),
calls by endpoint, 429s and refused routes (from the sandbox's request log), wall time, API time
(first request in to last answer out), peak RSS of the peer's process. Writes
bench/out/peers_<N>.json and, unless --smoke, a section in bench/RESULTS.md.

    .venv/bin/python bench/peers.py                    # 5,000 contacts, all peers
    .venv/bin/python bench/peers.py --smoke            # 200 contacts, no RESULTS.md
    .venv/bin/python bench/peers.py --peers handoff airbyte --contacts 1000
    .venv/bin/python bench/peers.py --crm salesforce   # the Salesforce peers (below)

`--crm salesforce`: the Salesforce sandbox (certificate for login.salesforce.com), Handoff's
Salesforce pull beside Airbyte's `airbyte-source-salesforce` (Bulk API 2.0 query jobs, one per
30-day slice of SystemModstamp from the start date) and Singer's `tap-salesforce` (REST
`queryAll`), both logging in with the refresh token grant (bench/peerkit/salesforce_peers.py);
10% of the Leads' titles changed through sObject Collections; bench/out/peers_<N>_salesforce.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.peerkit.airbyte import AirbyteHubSpot  # noqa: E402
from bench.peerkit.handoff_peer import HandoffPull  # noqa: E402
from bench.peerkit.peer import Peer  # noqa: E402
from bench.peerkit.report import markdown  # noqa: E402
from bench.peerkit.requests_log import summarize  # noqa: E402
from bench.peerkit.salesforce_peers import AirbyteSalesforce, SingerSalesforce  # noqa: E402
from bench.peerkit.sandbox_proc import SandboxProcess, sandbox  # noqa: E402
from bench.peerkit.shim import peer_environment, write_shim  # noqa: E402
from bench.peerkit.singer import MeltanoHubSpot  # noqa: E402

PEERS = ("handoff", "handoff-engagements", "airbyte", "meltano", "singer")
# Handoff with the example config's engagement sources only: the activities the peers read too
# (the full config also reads page views, form submissions, email events and webinars; on
# Salesforce, campaign members and Account Engagement's visitor activities)
ENGAGEMENTS = {"hubspot": "calls,emails,meetings", "salesforce": "Task,Event"}
THIRD_PARTY = {"hubspot": ("airbyte", "meltano"), "salesforce": ("airbyte", "singer")}
DRAIN_SECONDS = 10  # HubSpot's burst window: each run starts with a full bucket


def make_peer(name: str, box: SandboxProcess) -> Peer:
    if name.startswith("handoff"):
        sources = ENGAGEMENTS[box.crm] if name == "handoff-engagements" else ""
        if box.crm == "salesforce":
            sf = box.info["salesforce"]
            # the engagements-only variant reads no Account Engagement web behaviour either
            unit = sf["account_engagement"]["business_unit_id"] or "" if not sources else ""
            return HandoffPull(sf["instance_url"], box.ca_file, name, sources, "salesforce", unit)
        return HandoffPull(box.info["hubspot"]["base_url"], box.ca_file, name, sources)
    if box.crm == "salesforce":
        return {"airbyte": AirbyteSalesforce, "singer": SingerSalesforce}[name](box.info)
    return {"airbyte": AirbyteHubSpot, "meltano": MeltanoHubSpot}[name]()


def one_run(peer: Peer, box: SandboxProcess, env: dict[str, str], work: Path, run: str) -> dict:
    mark = box.mark()
    try:
        result = peer.read(env, work, run.split(" (")[0].replace(" ", "_"))
    except Exception as exc:  # a harness-side surprise in one peer keeps the others' figures
        traceback.print_exc()
        return {"run": run, "error": repr(exc)[:300]}
    figures = summarize(box.requests_since(mark))
    records = sum(result.records.values())
    return {
        "run": run,
        "streams": result.streams,
        "records": dict(sorted(result.records.items())),
        "records_total": records,
        "calls_per_record": round(figures["calls"] / records, 4) if records else None,
        "wall_seconds": result.wall_seconds,
        "cpu_seconds": result.cpu_seconds,
        "load_1min": round(os.getloadavg()[0], 2),
        "peak_rss_mb": result.peak_rss_mb,
        "processes": len(result.processes),
        **figures,
    }


def bench(
    contacts: int,
    names: list[str],
    limits: bool,
    keep: Path | None,
    sandbox_root: Path = ROOT,
    crm: str = "hubspot",
) -> dict[str, Any]:
    from bench.e2ekit.changes import make_changes

    start_date = (datetime.now(UTC) - timedelta(days=3650)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with tempfile.TemporaryDirectory(prefix="handoff-peers-") as tmp:
        work = keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        # Salesforce's limit is a daily allocation: no burst window to wait out between runs
        drain = DRAIN_SECONDS if limits and crm == "hubspot" else 0
        with sandbox(contacts, limits, work, root=sandbox_root, crm=crm) as box:
            env = peer_environment(write_shim(work / "shim"), box.port, box.ca_file, box.hosts)
            peers: dict[str, dict[str, Any]] = {}
            ready: list[tuple[Peer, Path]] = []
            for name in names:
                peer = make_peer(name, box)
                entry: dict[str, Any] = {"package": peer.package, "runs": []}
                peers[name] = entry
                try:
                    peer.install()
                    entry["version"] = peer.version()
                except Exception as exc:
                    entry["install_error"] = repr(exc)[:300]
                    continue
                place = work / name
                peer.write_config(place, box.token, start_date)
                mark = box.mark()
                ok, problem = peer.discover(env, place)
                asked = box.requests_since(mark)
                entry["discovery"] = {"ok": ok, "error": problem} | summarize(asked)
                if ok:
                    ready.append((peer, place))
                time.sleep(drain)
            changed = max(1, contacts // 10)
            for run in ("full pull", f"incremental ({changed} changed)", "no change"):
                if run.startswith("incremental"):
                    calls = make_changes({crm: box.info[crm], "ca_file": box.ca_file}, changed, crm)
                    print(f"changed {changed} contacts' job titles in {calls} calls", flush=True)
                    time.sleep(drain)
                for peer, place in ready:
                    print(f"{peer.name}: {run}", flush=True)
                    peers[peer.name]["runs"].append(one_run(peer, box, env, place, run))
                    time.sleep(drain)
    limited = {
        "hubspot": "HubSpot Professional (190 / 10 s, search 5 / s)",
        "salesforce": "Salesforce daily API allocation",
    }
    return {
        "contacts": contacts,
        "crm": crm,
        "limits": limited[crm] if limits else "off",
        "start_date": start_date,
        "peers": peers,
        "comparison": compare(peers),
    }


def _answered_per_record(run: dict[str, Any]) -> float | None:
    records = run.get("records_total") or 0
    return round((run["calls"] - run["throttled_429"]) / records, 4) if records else None


def compare(peers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per run (full, incremental, no change) and Handoff variant: Handoff against the fastest
    third-party peer in that run (wall and API time ratios, calls per record side by side)."""

    def runs(name: str) -> dict[str, dict[str, Any]]:
        found = peers.get(name, {}).get("runs", [])
        return {r["run"].split(" (")[0]: r for r in found if "error" not in r}

    out: dict[str, Any] = {}
    for ours in (n for n in peers if n.startswith("handoff")):
        for label, mine in runs(ours).items():
            others = [
                (n, r)
                for n in peers
                if not n.startswith("handoff") and (r := runs(n).get(label)) and r["calls"]
            ]
            if not others:
                continue
            name, best = min(others, key=lambda item: item[1]["wall_seconds"])
            wall = round(best["wall_seconds"] / mine["wall_seconds"], 2)
            out.setdefault(ours, {})[label] = {
                # the goal: at least 3x faster, no more calls per record than that peer
                "goal_met": wall >= 3 and mine["calls_per_record"] <= best["calls_per_record"],
                "best_peer": name,
                "best_peer_streams_ok": sum(v.startswith("ok") for v in best["streams"].values()),
                "best_peer_streams": len(best["streams"]),
                "wall_speedup": wall,
                "api_time_speedup": round(best["api_seconds"] / mine["api_seconds"], 2)
                if mine["api_seconds"]
                else None,
                "calls_per_record": {
                    ours: mine["calls_per_record"],
                    name: best["calls_per_record"],
                },
                # the same without the calls answered 429 (a peer's throttled retries)
                "answered_calls_per_record": {
                    ours: _answered_per_record(mine),
                    name: _answered_per_record(best),
                },
            }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=5000)
    parser.add_argument("--crm", choices=("hubspot", "salesforce"), default="hubspot")
    parser.add_argument(
        "--peers",
        nargs="+",
        choices=PEERS,
        help="default: handoff, handoff-engagements and the CRM's third-party peers (HubSpot: "
        "airbyte, meltano; Salesforce: airbyte, singer)",
    )
    parser.add_argument("--no-limits", action="store_true", help="the sandbox enforces nothing")
    parser.add_argument("--smoke", action="store_true", help="200 contacts, no RESULTS.md")
    parser.add_argument("--keep", type=Path, help="keep the peers' work files (logs) here")
    parser.add_argument(
        "--sandbox-root",
        type=Path,
        default=ROOT,
        help="serve the sandbox from this checkout (development aid: another worktree's routes)",
    )
    args = parser.parse_args()
    contacts = 200 if args.smoke else args.contacts
    names = args.peers or ["handoff", "handoff-engagements", *THIRD_PARTY[args.crm]]
    result = bench(contacts, names, not args.no_limits, args.keep, args.sandbox_root, args.crm)
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.crm == "hubspot" else f"_{args.crm}"
    (out / f"peers_{contacts}{suffix}.json").write_text(
        json.dumps(result, indent=2, sort_keys=True)
    )
    command = "nice -n 10 .venv/bin/python bench/peers.py " + " ".join(sys.argv[1:])
    table = markdown(result, command.strip())
    print(table)
    if not args.smoke:
        with (ROOT / "bench" / "RESULTS.md").open("a") as handle:
            handle.write("\n" + table)


if __name__ == "__main__":
    main()
