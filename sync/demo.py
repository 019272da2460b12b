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
from typing import TYPE_CHECKING

from rich.console import Console

from sync.explain.render import RULE_WORDS, stage_word

if TYPE_CHECKING:  # the run's story (the store's tables) is loaded by the demo alone, not by
    from sync.demo_story import RunStory  # example_config / sandbox_environment users

PLACEHOLDER = "not-needed-to-explain"
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
        values["SALESFORCE_PUBSUB_ENDPOINT"] = (
            getattr(info, "salesforce_pubsub_endpoint", None) or ""
        )
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
    with sandbox, sandbox_environment(sandbox.info, directory) as env:
        info = sandbox.info
        if info.hubspot_base_url:
            console.print(f"HubSpot sandbox     {info.hubspot_base_url}")
        if info.salesforce_instance_url:
            console.print(f"Salesforce sandbox  {info.salesforce_instance_url}")
        console.print(
            f"Config              {config} (pointed at the sandbox through the environment)"
        )
        console.rule("1. Dry run: every change Handoff would make, nothing written")
        dry, _ = _run(config, dry_run=True, as_of=None)
        console.print(f"Reconciliation report: {dry / 'report.md'}  (also {dry / 'report.html'})")
        console.rule("2. Live run: score, stage, route, write")
        live, story = _run(config, dry_run=False, as_of=None)
        _tell(console, story)
        _tell_example(console, story, config, crm, env["HANDOFF_STATE_URL"])
        _show_crm(sandbox, console, config)
        _live_demo_requests(sandbox, config, directory, console)
        later = now + timedelta(days=5)
        console.rule(f"4. Five days later (--as-of {later:%Y-%m-%dT%H:%M}Z): the SLA ladder acts")
        console.print(
            "Leads nobody touched get a task for their owner, then go to the backup rep (SLA ladder)."
        )
        _, story = _run(config, dry_run=False, as_of=later)
        _tell(console, story)
        _show_crm(sandbox, console, config)
        console.rule("5. Run again: nothing left to do")
        again, _ = _run(config, dry_run=False, as_of=later)
        console.print(f"Reports: {live / 'report.html'} · {again / 'report.md'}")
        console.print(
            "Try your own config against the sandbox: `handoff sandbox serve` prints the URLs, "
            "token and CA file to put in the environment."
        )
        if crm == "hubspot":
            console.print(
                "On Salesforce: `handoff demo --crm salesforce` (a demo request decided from its "
                "change events); both CRMs: `handoff demo --crm both`."
            )


def _live_demo_requests(sandbox: object, config: Path, directory: Path, console: Console) -> None:
    """A demo request made live in each sandbox CRM, decided by the path `handoff run` serves:
    a HubSpot webhook (sync/demo_live.py), Salesforce change events (sync/demo_live_salesforce.py)."""
    info = sandbox.info  # type: ignore[attr-defined]
    paths = [
        name
        for name, url in (
            ("a HubSpot webhook", info.hubspot_base_url),
            ("Salesforce change events", info.salesforce_instance_url),
        )
        if url
    ]
    if len(paths) == 1:
        console.rule(f"3. A demo request, live: {paths[0]}, routed in seconds")
    else:  # the title fits 80 columns
        console.rule("3. Two demo requests live: HubSpot webhook, Salesforce change events")
    if info.hubspot_base_url:
        from sync.demo_live import live_demo_request

        live_demo_request(sandbox, config, console)
    if info.salesforce_instance_url:
        from sync.demo_live_salesforce import live_salesforce_request

        live_salesforce_request(sandbox, config, directory, console)


_SHOWN_WARNINGS: set[str] = set()  # the demo's runs share it: a run's warning is told once


def _run(config: Path, *, dry_run: bool, as_of: datetime | None) -> tuple[Path, RunStory]:
    """One `handoff sync` of the example config; its report folder and what it did. Handoff's
    log lines stay quiet (errors aside): the story is told here, and each run warning (a
    Professional portal's behaviour sources, say) is printed once as a plain line."""
    from sync.demo_story import read_story
    from sync.runtime import Runtime

    runtime = Runtime(str(config), "sync --dry-run" if dry_run else "sync", log_level="error")
    try:
        runtime.shown_warnings = _SHOWN_WARNINGS
        folder = runtime.run(dry_run=dry_run, as_of=as_of)
        return folder, read_story(runtime.engine, folder.name)
    finally:
        runtime.close()


def _tell(console: Console, story: RunStory) -> None:
    for line in story.lines():
        console.print(line, markup=False, highlight=False)


def _tell_example(console: Console, story: RunStory, config: Path, crm: str, state: str) -> None:
    """One person handed to a rep: who, why their score, why that rep; and how to ask again."""
    example = story.example
    if example is None:
        return
    role = " at ".join(x for x in (example.title, example.company) if x)
    lines = [
        f"For example, {example.name} ({role}) went to {example.owner}, "
        f"by {RULE_WORDS.get(example.rule, example.rule)}: {example.route}",
        f"  score {example.score}"
        + (" (fast lane)" if example.lane == "fast" else "")
        + f": {example.reasons}",
        "Why, for anyone (points per rule, stage, routing path, SLA deadline):",
        f"  {explain_command(example.email, config, crm, state)}",
    ]
    for line in lines:
        console.print(line, markup=False, highlight=False)


def explain_command(email: str, config: Path, crm: str, state: str) -> str:
    """`handoff explain` for a demo person, runnable once the demo is over: the store is the
    demo's; explaining from the store calls no CRM, so the credentials are placeholders."""
    env = [f"HANDOFF_STATE_URL={state}"]
    if crm in ("hubspot", "both"):
        env.append(f"HUBSPOT_TOKEN={PLACEHOLDER}")
    if crm in ("salesforce", "both"):
        env += [
            "SALESFORCE_INSTANCE_URL=https://example.my.salesforce.com",
            f"SALESFORCE_SESSION_ID={PLACEHOLDER}",
        ]
    return f"{' '.join(env)} handoff explain {email} --config {_relative(config)}"


def _relative(path: Path) -> Path:
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _show_crm(sandbox: object, console: Console, config: Path) -> None:
    """What the CRM holds now, read back from the emulators, its stages in the domain's words."""
    hubspot = getattr(sandbox, "hubspot", None)
    salesforce = getattr(sandbox, "salesforce", None)
    words = _stage_words(config)
    for name, emulator in (("HubSpot", hubspot), ("Salesforce", salesforce)):
        if emulator is None or not hasattr(emulator, "summary"):
            continue
        summary: Counter[str] = Counter()
        for key, value in emulator.summary().items():
            prefix, _, stage = key.partition(" in stage ")
            summary[f"{prefix} at {words.get(stage, stage)}" if stage else key] += value
        from rich.table import Table

        table = Table(title=f"{name} now holds", show_lines=False)
        table.add_column("what")
        table.add_column("count", justify="right")
        for key, value in sorted(summary.items()):
            table.add_row(key, str(value))
        console.print(table)


def _stage_words(config: Path) -> dict[str, str]:
    """A CRM stage value -> the stages it stands for ("MQL or SAL": HubSpot has no SAL stage)."""
    from config.loader import load_config

    meaning: dict[str, list[str]] = {}
    for connection in load_config(config).connections:
        for mapping in connection.objects.values():
            stage = mapping.get("lifecycle_stage")
            for canonical, value in (stage.values if stage is not None else {}).items():
                words = meaning.setdefault(str(value), [])
                if stage_word(canonical) not in words:
                    words.append(stage_word(canonical))
    return {value: " or ".join(words) for value, words in meaning.items()}
