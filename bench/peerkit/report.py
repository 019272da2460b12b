"""The peers benchmark as Markdown: one row per peer and run, then each full pull's calls by
endpoint, then what failed and why."""

from __future__ import annotations

import os
import platform
from datetime import UTC, datetime
from typing import Any


def _machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{platform.machine()}, {os.cpu_count()} cores, {mem:.0f} GiB, Python {platform.python_version()}"


COLUMNS = 13


def _row(*cells: str) -> str:
    return "| " + " | ".join(list(cells) + [""] * (COLUMNS - len(cells))) + " |"


def _answered(cmp: dict[str, Any], ours: str, best: str) -> str:
    answered = cmp.get("answered_calls_per_record")
    if not answered:
        return ""
    return f" (without the 429s: {answered[ours]} against {answered[best]})"


def markdown(result: dict[str, Any], command: str) -> str:
    peers = result["peers"]
    lines = [
        f"## Peers{' (Salesforce)' if result.get('crm') == 'salesforce' else ''}: "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {_machine()}",
        "",
        f"`{command}`",
        "",
        f"{result['contacts']:,} seeded {_people(result)} (seed 7), limits {result['limits']}; "
        "versions: "
        + ", ".join(f"{n} {p.get('version', '?')}" for n, p in peers.items())
        + ". API time: first request in to last answer out, from the sandbox's request log; CPU: "
        "the peer process's user + system seconds; load: the machine's 1-minute load average "
        "after the run (2 cores, shared).",
        "",
        "| peer | run | streams ok | records | calls | calls/record | 429s | refused | wall s "
        "| API s | CPU s | load | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, peer in peers.items():
        if "install_error" in peer:
            lines.append(_row(name, f"install failed: {peer['install_error'][:80]}"))
            continue
        disc = peer.get("discovery", {})
        if not disc.get("ok", True):
            lines.append(_row(name, f"discovery failed ({disc.get('calls', 0)} calls)"))
        for run in peer["runs"]:
            if "error" in run:
                lines.append(_row(name, run["run"], "harness error"))
                continue
            ok = sum(v.startswith("ok") for v in run["streams"].values())
            records = ", ".join(f"{k} {v:,}" for k, v in run["records"].items()) or "0"
            lines.append(
                f"| {name} | {run['run']} | {ok}/{len(run['streams'])} | {records} | "
                f"{run['calls']:,} | {run['calls_per_record'] or ''} | {run['throttled_429']} | "
                f"{sum(run['refused'].values())} | {run['wall_seconds']} | {run['api_seconds']} | "
                f"{run.get('cpu_seconds', '')} | {run.get('load_1min', '')} | {run['peak_rss_mb']} |"
            )
    lines += [""]
    for ours, by_run in (result.get("comparison") or {}).items():
        for label, cmp in by_run.items():
            best = cmp["best_peer"]
            lines.append(
                f"- {label}: {ours} against the fastest peer ({best}, "
                f"{cmp['best_peer_streams_ok']}/{cmp['best_peer_streams']} streams ok): "
                f"wall x{cmp['wall_speedup']}, API time x{cmp['api_time_speedup']}; calls per "
                f"record {cmp['calls_per_record'][ours]} against {cmp['calls_per_record'][best]}"
                + _answered(cmp, ours, best)
                + ("; **goal met**" if cmp.get("goal_met") else "; goal not met")
                + "."
            )
    labels = dict.fromkeys(r["run"] for p in peers.values() for r in p.get("runs", []))
    for label in labels:
        lines += ["", f"{label[0].upper()}{label[1:]}, calls by endpoint:", ""]
        for name, peer in peers.items():
            run = next((r for r in peer.get("runs", []) if r["run"] == label), None)
            if run and "calls_by_endpoint" in run:
                calls = ", ".join(f"`{k}` {v}" for k, v in run["calls_by_endpoint"].items())
                lines.append(f"- {name}: {calls}")
    problems = []
    for name, peer in peers.items():
        disc = peer.get("discovery", {})
        if disc and not disc.get("ok", True):
            problems.append(f"- {name} discovery: {disc['error']} (refused: {disc['refused']})")
        failed: dict[str, str] = {}
        for run in peer.get("runs", []):
            for stream, verdict in run.get("streams", {}).items():
                if not verdict.startswith("ok"):
                    failed.setdefault(f"{stream} ({run['run']})", verdict)
            if run.get("refused"):
                problems.append(f"- {name} {run['run']}: refused {run['refused']}")
        problems += [f"- {name} {k}: {v}" for k, v in failed.items()]
    if problems:
        lines += ["", "What failed:", "", *problems]
    return "\n".join(lines) + "\n"


def _people(result: dict[str, Any]) -> str:
    return "people (Leads and Contacts)" if result.get("crm") == "salesforce" else "contacts"
