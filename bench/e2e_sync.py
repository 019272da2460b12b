"""End-to-end benchmark: API calls, 429s, wall time against the rate-limit floor, stage speed, RSS.

One command runs, against the sandbox started as a separate process (`handoff sandbox serve`):
a full sync of N contacts (~20 activities each), an incremental sync after M = N/10 changes made
through the CRM's own API, and a run with nothing changed; once with HubSpot Pro limits on
(190 / 10 s, search 5 / s) and once with limits off. It also prices the naive baseline (one read
and one write call per contact) at the same limits. Results: JSON in bench/out/ and a Markdown
table appended to bench/RESULTS.md with the machine's description.

    .venv/bin/python bench/e2e_sync.py --contacts 20000            # both limit settings
    .venv/bin/python bench/e2e_sync.py --contacts 300 --smoke      # what CI runs
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.e2ekit.changes import PRO_BURST, make_changes, make_hubspot_changes  # noqa: E402
from bench.e2ekit.floors import HISTORY_BATCH, PAGE, SEARCH_PAGE, call_floor, minimum_calls  # noqa: E402
from bench.e2ekit.process import (  # noqa: E402
    log_rss,
    peak_rss_mb,
    reset_peak_rss,
    rss_mb,
    sandbox,
    state_store,
)
from bench.e2ekit.tables import markdown  # noqa: E402

__all__ = ["make_hubspot_changes"]  # bench/peers.py and its test change contacts through it


def run_stage(pipeline: Any, label: str) -> dict[str, Any]:
    """One run as the worker does it: the sync, then its report (files and the store's copy)."""
    from sync.process_memory import release_freed_memory
    from sync.report.files import write_run_reports

    connector = next(iter(pipeline.connectors.values()))
    before_calls = dict(connector.usage.calls)
    before_throttled = connector.usage.throttled
    load_before = os.getloadavg()[0]
    rss_before = rss_mb()
    reset_peak_rss()
    started = time.perf_counter()
    cpu_before = time.process_time()
    result = pipeline.run()
    synced = time.perf_counter()
    write_run_reports(result, pipeline.engine, pipeline.config, pipeline.sla)
    release_freed_memory()  # as `handoff sync` and the worker do after a run's report
    wall = time.perf_counter() - started
    report_seconds = time.perf_counter() - synced
    cpu = time.process_time() - cpu_before  # the worker's CPU: near `wall` means CPU-bound
    calls = {
        k: v - before_calls.get(k, 0)
        for k, v in connector.usage.calls.items()
        if v - before_calls.get(k, 0)
    }
    people = sum(p.people for p in result.pulls.values())
    activities = sum(p.activities for p in result.pulls.values())
    writes = len(result.writes.items)
    records_written = result.ledger.records_written()
    salesforce = connector.name == "salesforce"
    fresh = people - sum(p.unchanged for p in result.pulls.values())  # not our own echoes
    job_minimum = minimum_calls(calls, people, fresh, records_written, salesforce)
    page, batch = (2000, 200) if salesforce else (PAGE, PAGE)
    if any(k.endswith("/contacts/search") for k in calls):
        page = SEARCH_PAGE  # an incremental HubSpot pull reads search pages of 200
    minimum = {
        "contact pages": math.ceil(people / page) if people else 0,
        # HubSpot below Enterprise: page views are the last-URL history of the people pulled,
        # 50 a batch read (form submissions add a page per form and 50 submissions)
        "event pages": 0 if salesforce else (math.ceil(people / HISTORY_BATCH) if people else 0),
        "write batches": math.ceil(records_written / batch) if records_written else 0,
    }
    total = sum(calls.values())
    search = sum(v for k, v in calls.items() if k.endswith("/search"))
    # Salesforce has no burst limit (a daily allocation): its floor is our own client limiter.
    floor = call_floor(total, search, salesforce)
    min_total = sum(job_minimum.values())
    min_floor = call_floor(min_total, job_minimum.get("search pages", 0), salesforce)
    scored = result.tally.scored if result.tally else 0
    routed = sum(result.tally.routed.values()) if result.tally else 0
    timings = result.timings
    return {
        "stage": label,
        "wall_seconds": round(wall, 2),
        "worker_cpu_seconds": round(cpu, 2),
        "timings": {k: round(v, 2) for k, v in result.timings.items()},
        "people_pulled": people,
        "activities_pulled": activities,
        "scored": scored,
        "fields_written": writes,
        "records_written": records_written,
        "api_calls": dict(sorted(calls.items())),
        "api_calls_total": total,
        "api_calls_minimum": minimum,
        "throttled_429": connector.usage.throttled - before_throttled,
        "rate_limit_floor_seconds": round(floor, 2),
        "wall_vs_floor": round(wall / floor, 2) if floor else None,
        # the fewest calls the job needs (pages and batches at their maximum sizes), its floor
        "api_calls_job_minimum": job_minimum,
        "api_calls_job_minimum_total": min_total,
        "calls_vs_job_minimum": round(total / min_total, 2) if min_total else None,
        "job_minimum_floor_seconds": round(min_floor, 2),
        "wall_vs_job_minimum_floor": round(wall / min_floor, 2) if min_floor else None,
        "report_seconds": round(report_seconds, 2),
        "rss_before_mb": round(rss_before, 1),
        "load_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "per_second": {
            stage: round(n / seconds, 1)
            for stage, n, seconds in (
                ("pull", people, timings.get("pull", 0)),
                ("decide (score+route+SLA+plan)", scored, timings.get("decide", 0)),
                # inside decide: busy seconds of each step (people scored, routed, planned)
                ("score", scored, timings.get("decide.score", 0)),
                ("route", routed, timings.get("decide.route", 0)),
                ("plan", scored, timings.get("decide.plan", 0)),
                ("apply", writes, timings.get("write", 0)),
            )
            if seconds > 0 and n
        },
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "errors": result.errors[:5],
    }


def kept(stage: dict[str, Any], contacts: int, store: str) -> dict[str, Any]:
    """A run's figures on disk and on stderr as it ends: a long benchmark stopped later keeps them."""
    slug = stage["stage"].split(" ")[0]
    out = ROOT / "bench" / "out" / f"e2e_sync_{contacts}_{store}_{slug}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(stage, indent=2, sort_keys=True))
    print(
        f"e2e_sync: {store} {stage['stage']}: {json.dumps(stage, sort_keys=True)}", file=sys.stderr
    )
    return stage


def bench(
    contacts: int,
    limits: bool,
    crm: str = "hubspot",
    full_only: bool = False,
    store: str = "sqlite",
    activity_scale: float = 1.0,
) -> dict[str, Any]:
    from config.loader import load_config
    from connectors.factory import build_connector
    from sync.demo import example_config, sandbox_environment
    from sync.pipeline import Pipeline
    from sync.runtime import share_budgets
    from sync.store.engine import make_engine
    from sync.store.schema import upgrade

    with (
        tempfile.TemporaryDirectory() as tmp,
        state_store(store, Path(tmp)) as store_url,
        sandbox(contacts, limits, activity_scale=activity_scale, crm=crm) as info,
    ):
        env_info = type(
            "Info",
            (),
            {
                "ca_file": info["ca_file"],
                "hubspot_base_url": info["hubspot"]["base_url"],
                "hubspot_token": info["hubspot"]["token"],
                "salesforce_instance_url": info["salesforce"]["instance_url"],
                "salesforce_session_id": info["salesforce"]["session_id"],
                "pardot_business_unit_id": (info["salesforce"].get("account_engagement") or {}).get(
                    "business_unit_id"
                ),
            },
        )()
        with sandbox_environment(env_info, Path(tmp)):
            config = load_config(example_config(crm))
            config = config.model_copy(
                update={
                    "state": config.state.model_copy(update={"url": store_url}),
                    "reports": config.reports.model_copy(
                        update={"directory": Path(tmp) / "reports"}
                    ),
                }
            )
            if not limits:  # the sandbox enforces nothing: lift our own client limiter too
                connection = config.connections[0]
                if connection.hubspot is not None:
                    fast = connection.hubspot.model_copy(
                        update={"requests_per_10s": 100_000, "search_per_second": 10_000.0}
                    )
                    connection = connection.model_copy(update={"hubspot": fast})
                config = config.model_copy(update={"connections": [connection]})
            engine = make_engine(config.state.url)
            upgrade(engine)
            connector = build_connector(config.connections[0])
            # as `handoff sync` does (sync/runtime.py): on PostgreSQL the portal's rate budget is
            # shared with every process on the store (connectors/shared_budget.py)
            share_budgets(engine, config.state.url, {connector.name: connector})
            pipeline = Pipeline(config, engine, {connector.name: connector})
            full = kept(run_stage(pipeline, "full sync"), contacts, store)
            changed = max(1, contacts // 10)
            if full_only:
                transport = getattr(connector, "transport", None)
                waited = getattr(getattr(transport, "burst", None), "waited", None)
                print(f"limiter waited {waited}")
                out = ROOT / "bench" / "out" / f"e2e_sync_full_{contacts}_{store}.json"
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps(full, indent=2, sort_keys=True))
                print(
                    json.dumps(
                        {
                            k: full[k]
                            for k in (
                                "wall_seconds",
                                "worker_cpu_seconds",
                                "rate_limit_floor_seconds",
                                "wall_vs_floor",
                                "api_calls_total",
                                "api_calls_job_minimum_total",
                                "calls_vs_job_minimum",
                                "job_minimum_floor_seconds",
                                "wall_vs_job_minimum_floor",
                                "report_seconds",
                                "rss_before_mb",
                                "peak_rss_mb",
                                "load_1min",
                                "timings",
                            )
                        }
                    )
                )
                raise SystemExit(0)
            time.sleep(10 if limits else 0)  # let the 10-second window drain
            change_calls = make_changes(info, changed, crm)
            time.sleep(10 if limits else 0)
            incremental = kept(
                run_stage(pipeline, f"incremental ({changed} changed)"), contacts, store
            )
            idle = kept(run_stage(pipeline, "no change"), contacts, store)
    naive_calls = 2 * contacts
    return {
        "store": store,
        "crm": crm,
        "contacts": contacts,
        "activity_scale": activity_scale,
        "limits": (
            "HubSpot Pro (190/10 s, search 5/s)"
            if crm == "hubspot"
            else "Salesforce daily allocation"
        )
        if limits
        else "off",
        "stages": [full, incremental, idle],
        "changes_made_calls": change_calls,
        "naive_baseline": {
            "api_calls": naive_calls,
            "rate_limit_floor_seconds": round(naive_calls / PRO_BURST, 1),
            "handoff_full_sync_call_ratio": round(full["api_calls_total"] / naive_calls, 4),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--contacts", type=int, default=20000)
    parser.add_argument("--limits", choices=["both", "on", "off"], default="both")
    parser.add_argument("--smoke", action="store_true", help="small, limits off, no RESULTS.md")
    parser.add_argument("--crm", choices=["hubspot", "salesforce", "both"], default="both")
    parser.add_argument(
        "--store",
        choices=["sqlite", "postgresql", "both"],
        default="sqlite",
        help="state store: an SQLite file, a throwaway PostgreSQL database on 127.0.0.1:5432 "
        "(trust auth; HANDOFF_BENCH_PG overrides), or both side by side (each in its own "
        "process, so each peak RSS is its own)",
    )
    parser.add_argument(
        "--activity-scale",
        type=float,
        default=1.0,
        help="the sandbox's activities per contact, times this (1: ~20; 0.1: ~2, for 1M)",
    )
    parser.add_argument(
        "--rss-log", type=Path, help="append time, RSS and peak RSS (MB) here every 10 s"
    )
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--full-only",
        action="store_true",
        help="development aid: print the full sync's figures, write nothing",
    )
    args = parser.parse_args()
    from sync.object_growth import start_from_environment
    from sync.process_memory import apply_allocator_policy

    apply_allocator_policy()  # as `handoff run` and `handoff sync` do at start
    if args.child_out is not None or args.store != "both":
        start_from_environment()  # HANDOFF_OBJECT_GROWTH (opt-in): the measuring process's own
    if args.rss_log is not None and (args.child_out is not None or args.store != "both"):
        log_rss(args.rss_log)  # the measuring process's own
    settings = (
        [False]
        if args.smoke
        else {"both": [True, False], "on": [True], "off": [False]}[args.limits]
    )
    crms = ["hubspot", "salesforce"] if args.crm == "both" else [args.crm]
    stores = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    results: list[dict[str, Any]] = []
    for crm in crms:
        for limits in settings:
            for store in stores:
                try:
                    results.append(_measured(args, crm, limits, store))
                except Exception:  # one setting failing keeps the others' figures
                    traceback.print_exc()
                    print(
                        f"e2e_sync: {crm} limits={'on' if limits else 'off'} store={store} failed",
                        file=sys.stderr,
                    )
                    continue
                if args.child_out is None:  # after each: a crash keeps it
                    (out / f"e2e_sync_{args.contacts}.json").write_text(
                        json.dumps(results, indent=2, sort_keys=True)
                    )
    if args.child_out is not None:
        args.child_out.write_text(json.dumps(results, sort_keys=True))
        return
    command = "python bench/e2e_sync.py " + " ".join(sys.argv[1:])
    table = markdown(results, command)
    print(table)
    if not args.smoke:
        with (ROOT / "bench" / "RESULTS.md").open("a") as handle:
            handle.write("\n" + table)


def _measured(args: argparse.Namespace, crm: str, limits: bool, store: str) -> dict[str, Any]:
    """One setting; with several stores each runs in a process of its own (its own peak RSS)."""
    if args.child_out is not None or args.store != "both":
        return bench(args.contacts, limits, crm, args.full_only, store, args.activity_scale)
    with tempfile.TemporaryDirectory() as tmp:
        child = Path(tmp) / "result.json"
        subprocess.run(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--contacts",
                str(args.contacts),
                "--crm",
                crm,
                "--limits",
                "on" if limits else "off",
                "--store",
                store,
                "--activity-scale",
                str(args.activity_scale),
                "--child-out",
                str(child),
            ]
            + ([] if args.rss_log is None else ["--rss-log", f"{args.rss_log}.{store}"]),
            check=True,
        )
        found: list[dict[str, Any]] = json.loads(child.read_text())
    if not found:
        raise RuntimeError(f"{crm} {store}: the child process measured nothing")
    return found[0]


if __name__ == "__main__":
    main()
