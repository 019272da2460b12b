"""The Markdown table bench/e2e_sync.py appends to bench/RESULTS.md: one row per run, the
naive baseline, and PostgreSQL against SQLite where both stores ran."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from typing import Any


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
