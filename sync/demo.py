"""`handoff demo`: the whole product on the sandbox CRMs in under a minute.

It seeds a portal, starts the emulators, points the shipped example config at them (through the
environment only, as a real deployment would), dry-runs, applies, reads the CRM back, and shows a
second run with nothing left to do.
"""

from __future__ import annotations

import os
import shutil
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

EXAMPLES = Path(__file__).resolve().parent.parent / "config" / "examples"


def example_config(crm: str) -> Path:
    name = {
        "hubspot": "hubspot.yaml",
        "salesforce": "salesforce.yaml",
        "both": "hubspot-salesforce.yaml",
    }[crm]
    return EXAMPLES / name


@contextmanager
def sandbox_environment(info: object, directory: Path) -> Iterator[dict[str, str]]:
    """Environment variables the example configs read, pointing at a running sandbox."""
    values = {
        "HANDOFF_STATE_URL": f"sqlite:///{directory / 'handoff.db'}",
        "HANDOFF_REPORTS_DIR": str(directory / "reports"),
        "HANDOFF_CA_FILE": str(info.ca_file),  # type: ignore[attr-defined]
    }
    if getattr(info, "hubspot_base_url", None):
        values["HUBSPOT_BASE_URL"] = info.hubspot_base_url  # type: ignore[attr-defined]
        values["HUBSPOT_TOKEN"] = info.hubspot_token  # type: ignore[attr-defined]
        if getattr(info, "hubspot_portal_id", None):  # rows in reports link to the record
            values["HUBSPOT_PORTAL_ID"] = str(info.hubspot_portal_id)  # type: ignore[attr-defined]
    if getattr(info, "salesforce_instance_url", None):
        values["SALESFORCE_INSTANCE_URL"] = info.salesforce_instance_url  # type: ignore[attr-defined]
        values["SALESFORCE_SESSION_ID"] = info.salesforce_session_id  # type: ignore[attr-defined]
        values["PARDOT_BASE_URL"] = info.salesforce_instance_url  # type: ignore[attr-defined]
        values["PARDOT_BUSINESS_UNIT_ID"] = getattr(info, "pardot_business_unit_id", None) or ""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield values
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def run_demo(directory: Path, *, contacts: int, seed: int, crm: str, console: Console) -> None:
    from sandbox.runtime import Sandbox
    from sandbox.seed import generate_portal
    from sync.cli import run_once

    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    now = datetime.now(UTC).replace(microsecond=0)
    console.rule("Handoff demo")
    console.print(f"Seeding a demo portal: {contacts} contacts, 90 days of activity (seed {seed})")
    portal = generate_portal(seed, contacts, now)
    sandbox = Sandbox(
        portal,
        hubspot=crm in ("hubspot", "both"),
        salesforce=crm in ("salesforce", "both"),
        ca_directory=directory / "ca",
    )
    config = example_config(crm)
    with sandbox, sandbox_environment(sandbox.info, directory):
        info = sandbox.info
        if info.hubspot_base_url:
            console.print(f"HubSpot sandbox     {info.hubspot_base_url}")
        if info.salesforce_instance_url:
            console.print(f"Salesforce sandbox  {info.salesforce_instance_url}")
        console.print(
            f"Config              {config} (pointed at the sandbox through the environment)"
        )
        console.rule("1. Dry run: every change Handoff would make, nothing written")
        dry = run_once(str(config), dry_run=True, as_of=None, full=False)
        console.print(f"Reconciliation report: {dry / 'report.md'}  (also {dry / 'report.html'})")
        console.rule("2. Live run: apply")
        live = run_once(str(config), dry_run=False, as_of=None, full=False)
        _show_crm(sandbox, console)
        later = now + timedelta(days=5)
        console.rule(f"3. Five days later (--as-of {later:%Y-%m-%dT%H:%M}Z): the SLA ladder acts")
        console.print(
            "Leads nobody touched get a task for their owner, then go to the backup rep (SLA ladder)."
        )
        run_once(str(config), dry_run=False, as_of=later, full=False)
        _show_crm(sandbox, console)
        console.rule("4. Run again: nothing left to do")
        again = run_once(str(config), dry_run=False, as_of=later, full=False)
        console.print(f"Reports: {live / 'report.html'} · {again / 'report.md'}")
        console.print(
            "Try your own config against the sandbox: `handoff sandbox serve` prints the URLs, "
            "token and CA file to put in the environment."
        )


def _show_crm(sandbox: object, console: Console) -> None:
    """What the CRM holds now: stages, scores, owners and tasks, read back from the emulators."""
    hubspot = getattr(sandbox, "hubspot", None)
    salesforce = getattr(sandbox, "salesforce", None)
    for name, emulator in (("HubSpot", hubspot), ("Salesforce", salesforce)):
        if emulator is None or not hasattr(emulator, "summary"):
            continue
        summary = emulator.summary()
        table = Table(title=f"{name} now holds", show_lines=False)
        table.add_column("what")
        table.add_column("count", justify="right")
        for key, value in sorted(Counter(summary).items()):
            table.add_row(str(key), str(value))
        console.print(table)
