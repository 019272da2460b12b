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
import platform
import resource
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PRO_BURST = 190 / 10.0  # calls per second, HubSpot Professional
PAGE = 100  # list page and batch size
SEARCH_PAGE = 200  # CRM search page
HISTORY_BATCH = 50  # contacts per batch read with propertiesWithHistory


@contextmanager
def sandbox(
    contacts: int, limits: bool, seed: int = 7, activity_scale: float = 1.0
) -> Iterator[dict[str, Any]]:
    """`handoff sandbox serve --json` in its own process, so its memory is not ours."""
    cmd = [
        sys.executable,
        "-m",
        "config.cli",
        "sandbox",
        "serve",
        "--json",
        "--seed",
        str(seed),
        "--contacts",
        str(contacts),
    ] + (["--limits"] if limits else [])
    if activity_scale != 1.0:
        cmd += ["--activity-scale", str(activity_scale)]

    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert proc.stdout is not None
        info: dict[str, Any] = json.loads(proc.stdout.readline())
        yield info
    finally:  # a large portal can take a while to stop: never lose the figures to it
        proc.terminate()
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def log_rss(path: Path, every: float = 10.0) -> None:
    """A thread appending (UTC time, RSS MB, peak MB) to `path` every `every` seconds: a long
    run's memory, readable while it runs."""
    import threading

    def sample() -> None:
        while True:
            with path.open("a") as handle:
                handle.write(f"{datetime.now(UTC):%H:%M:%S} {rss_mb():.1f} {peak_rss_mb():.1f}\n")
            time.sleep(every)

    threading.Thread(target=sample, name="rss-log", daemon=True).start()


def peak_rss_mb() -> float:
    """This process's peak RSS since the last `reset_peak_rss()` (VmHWM; else the lifetime's)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak_rss() -> None:
    """Linux: writing 5 to clear_refs resets VmHWM, so each run's peak is its own."""
    with suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


@contextmanager
def state_store(kind: str, directory: Path) -> Iterator[str]:
    """The run's state store: an SQLite file, or a throwaway PostgreSQL database on the local
    server (127.0.0.1:5432, trust auth; HANDOFF_BENCH_PG overrides), dropped after."""
    if kind == "sqlite":
        yield f"sqlite:///{directory / 'handoff.db'}"
        return
    import uuid

    import psycopg

    admin = os.environ.get("HANDOFF_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    name = f"handoff_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def make_changes(info: dict[str, Any], count: int, crm: str) -> int:
    """Change `count` people's job titles through the CRM's own API, as users would."""
    if crm == "salesforce":
        return make_salesforce_changes(info, count)
    return make_hubspot_changes(info, count)


def make_salesforce_changes(info: dict[str, Any], count: int) -> int:
    """sObject Collections PATCH of Lead titles, 200 a call."""
    import requests
    from simple_salesforce import Salesforce

    session = requests.Session()
    session.trust_env = False
    session.verify = info["ca_file"]
    sf = Salesforce(
        instance_url=info["salesforce"]["instance_url"],
        session_id=info["salesforce"]["session_id"],
        session=session,
        version="59.0",
    )
    ids = [
        r["Id"]
        for r in sf.query_all_iter(f"SELECT Id FROM Lead WHERE IsConverted = false LIMIT {count}")
    ]
    calls = 0
    for start in range(0, len(ids), 200):
        records = [
            {"attributes": {"type": "Lead"}, "id": i, "Title": "VP of Revenue Operations"}
            for i in ids[start : start + 200]
        ]
        sf.restful(
            "composite/sobjects", method="PATCH", json={"allOrNone": False, "records": records}
        )
        calls += 1
    return calls


def make_hubspot_changes(info: dict[str, Any], count: int) -> int:
    """Change `count` contacts' job titles through the HubSpot API (batch update, 100 a call)."""
    from hubspot import HubSpot

    client = HubSpot(
        access_token=info["hubspot"]["token"],
        host=info["hubspot"]["base_url"],
        ssl_ca_cert=info["ca_file"],
    )
    ids: list[str] = []
    after = None
    while len(ids) < count:
        page = client.crm.contacts.basic_api.get_page(limit=100, after=after)
        time.sleep(1 / PRO_BURST)  # this helper stays under the limit too (it is not Handoff)
        ids += [c.id for c in page.results]
        if not page.paging:
            break
        after = page.paging.next.after
    calls = 0
    for start in range(0, min(count, len(ids)), 100):
        inputs = [
            {"id": i, "properties": {"jobtitle": "VP of Revenue Operations"}}
            for i in ids[start : min(start + 100, count)]
        ]
        client.crm.contacts.batch_api.update({"inputs": inputs})
        calls += 1
        time.sleep(1 / PRO_BURST)
    return calls


def call_floor(total: int, search: int, salesforce: bool) -> float:
    """Seconds the calls take at the limits: HubSpot Pro 190 / 10 s (search 5 / s on its own
    bucket); Salesforce has no burst limit, its floor is our own 100 calls / s limiter."""
    return (total / 100.0) if salesforce else max((total - search) / PRO_BURST, search / 5.0)


def minimum_calls(
    calls: dict[str, int], people: int, fresh: int, records: int, salesforce: bool
) -> dict[str, int]:
    """The fewest calls the job needs, each read and write at its maximum size: every contact
    read 100 a list page or 200 a search page (an incremental search must page through our own
    echoes too: HubSpot has no 'modified by someone else' filter); for the `fresh` ones (not
    echoes) property history 50 a batch read and associations 1,000 a call per engagement type;
    writes 100 records a batch update. Engagement reads count as made (each type's associated
    ids in full batches of 100 is that read's minimum), and so do owners, forms and tasks
    (their minimum is what they read, which the run does not report). Salesforce: 2,000
    records a query page, the rest as made."""
    if salesforce:
        pages = math.ceil(people / 2000)
        return {
            "query pages": pages,
            "other (as made)": sum(calls.values()) - calls.get("query", 0),
        }
    search = any(k.endswith("/contacts/search") for k in calls)  # not the companies search
    types = sum(1 for k in calls if k.startswith("POST /crm/v4/associations/"))
    history = any(k == "POST /crm/v3/objects/contacts/batch/read" for k in calls)
    engagements = sum(
        n
        for k, n in calls.items()
        if k.startswith("POST /crm/v3/objects/")
        and k.endswith("/batch/read")
        and "/contacts/" not in k
        and "/tasks/" not in k
    )
    as_made = sum(
        n
        for k, n in calls.items()
        if k.startswith(("GET /crm/v3/owners", "GET /marketing/", "GET /form-integrations/"))
        or "/tasks/" in k
    )
    page = SEARCH_PAGE if search else PAGE
    return {
        "search pages" if search else "contact pages": math.ceil(people / page),
        "history reads": math.ceil(fresh / HISTORY_BATCH) if history else 0,
        "association reads": types * math.ceil(fresh / 1000),
        "engagement reads (as made)": engagements,
        "write batches": math.ceil(records / PAGE),
        "owners, forms, tasks (as made)": as_made,
    }


def run_stage(pipeline: Any, label: str) -> dict[str, Any]:
    """One run as the worker does it: the sync, then its report (files and the store's copy)."""
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
    from sync.store.engine import make_engine
    from sync.store.schema import upgrade

    with (
        tempfile.TemporaryDirectory() as tmp,
        state_store(store, Path(tmp)) as store_url,
        sandbox(contacts, limits, activity_scale=activity_scale) as info,
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
            pipeline = Pipeline(config, engine, {connector.name: connector})
            full = run_stage(pipeline, "full sync")
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
            incremental = run_stage(pipeline, f"incremental ({changed} changed)")
            idle = run_stage(pipeline, "no change")
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


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.machine()}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}"


def markdown(results: list[dict[str, Any]], command: str) -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        f"## {datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {machine()} · load at the end {load}",
        "",
        f"`{command}`",
        "",
        "| store | CRM | contacts | limits | run | wall s | worker CPU s | load (1 min, before/after) "
        "| calls made | job minimum | made/min | floor of calls made s | wall/floor | floor of "
        "minimum s | wall/min floor | 429s | report s | RSS before MB | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for s in r["stages"]:
            load_ba = "/".join(str(x) for x in s.get("load_1min", []))
            lines.append(
                f"| {r.get('store', 'sqlite')} | {r['crm']} | {r['contacts']} | {r['limits']} | "
                f"{_stage_label(s)} | {s['wall_seconds']} | {s.get('worker_cpu_seconds', '')} | "
                f"{load_ba} | {s['api_calls_total']} | {s.get('api_calls_job_minimum_total', '')} | "
                f"{s.get('calls_vs_job_minimum', '')} | {s['rate_limit_floor_seconds']} | "
                f"{s['wall_vs_floor']} | {s.get('job_minimum_floor_seconds', '')} | "
                f"{s.get('wall_vs_job_minimum_floor', '')} | {s['throttled_429']} | "
                f"{s.get('report_seconds', '')} | {s.get('rss_before_mb', '')} | {s['peak_rss_mb']} |"
            )
        nb = r["naive_baseline"]
        lines.append(
            f"| {r.get('store', 'sqlite')} | {r['crm']} | {r['contacts']} | {r['limits']} | naive "
            f"baseline (1 read + 1 write per contact) | | | | {nb['api_calls']} | | | "
            f"{nb['rate_limit_floor_seconds']} | | | | | | | |"
        )
    lines += _store_ratios(results)
    return "\n".join(lines) + "\n"


def _stage_label(stage: dict[str, Any]) -> str:
    """The run's name; a full sync's with the activities it pulled (the portal's size)."""
    if stage["stage"] == "full sync" and stage.get("activities_pulled"):
        return f"full sync ({stage['activities_pulled']:,} activities)"
    return str(stage["stage"])


def _store_ratios(results: list[dict[str, Any]]) -> list[str]:
    """PostgreSQL against SQLite, run by run, where both were measured."""
    by = {(r.get("store", "sqlite"), r["crm"], r["contacts"], r["limits"]): r for r in results}
    lines: list[str] = []
    for (store, crm, contacts, limits), pg in sorted(by.items()):
        lite = by.get(("sqlite", crm, contacts, limits))
        if store != "postgresql" or lite is None:
            continue
        if not lines:
            lines = [
                "",
                "| CRM | contacts | run | wall PG/SQLite | worker CPU PG/SQLite | peak RSS PG/SQLite |",
                "|---|---|---|---|---|---|",
            ]
        for a, b in zip(pg["stages"], lite["stages"], strict=False):

            def ratio(key: str, a: dict[str, Any] = a, b: dict[str, Any] = b) -> str:
                return f"{a[key] / b[key]:.2f}" if b.get(key) else ""

            lines.append(
                f"| {crm} | {contacts} | {a['stage']} | {ratio('wall_seconds')} | "
                f"{ratio('worker_cpu_seconds')} | {ratio('peak_rss_mb')} |"
            )
    return lines


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
