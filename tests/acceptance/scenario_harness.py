"""Runs a scenario on one CRM variant: the sandbox over HTTPS, the real `handoff sync` command,
the CRM read back through hubspot-api-client / simple-salesforce.

The CRM lives in scenario time: the emulators' clock is set to each step's as-of instant (and to
each human edit's time), so records Handoff writes and activities a rep logs carry the times the
scenario states, as they would in a real portal on that day.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import time_machine
import yaml
from crm_readback import CrmReader, HubSpotReader, PersonView, SalesforceReader
from scenario_format import Edit, Scenario, ScenarioError, team
from typer.testing import CliRunner

from config.cli import app
from sandbox.fixture import load_fixture
from sandbox.runtime import Sandbox
from sandbox.server import SandboxRequest
from sync.demo import example_config, sandbox_environment


@dataclass(frozen=True)
class Variant:
    name: str
    crm: str  # hubspot | salesforce
    tier: str | None = None


VARIANTS = {
    "hubspot-professional": Variant("hubspot-professional", "hubspot", "professional"),
    "hubspot-enterprise": Variant("hubspot-enterprise", "hubspot", "enterprise"),
    "salesforce": Variant("salesforce", "salesforce"),
}


class ScenarioClock:
    """The CRM's clock: a set instant that keeps ticking in real time (records written in one
    run get distinct, increasing stamps)."""

    def __init__(self, start: datetime) -> None:
        self.set(start)

    def set(self, instant: datetime) -> None:
        self._base, self._mark = instant, time.perf_counter()

    def __call__(self) -> datetime:
        return self._base + timedelta(seconds=time.perf_counter() - self._mark)


def deep_merge(base: Any, over: Any) -> Any:
    """Mappings merge key by key; anything else (lists included) is replaced."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = deep_merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(over)


def scenario_config(scenario: Scenario, variant: Variant) -> dict[str, Any]:
    """The shipped example config for the CRM, the variant's tier, then the scenario's config.
    `config.hubspot:` / `config.salesforce:` merge into that CRM's connection only."""
    base: dict[str, Any] = yaml.safe_load(example_config(variant.crm).read_text(encoding="utf-8"))
    domain = {k: v for k, v in scenario.config.items() if k not in ("hubspot", "salesforce")}
    merged: dict[str, Any] = deep_merge(base, domain)
    connection = merged["connections"][0]
    if variant.tier:
        connection["hubspot"]["tier"] = variant.tier
    if variant.crm in scenario.config:
        merged["connections"][0] = deep_merge(connection, scenario.config[variant.crm])
    return merged


def fixture_data(scenario: Scenario) -> dict[str, Any]:
    data = copy.deepcopy(scenario.fixture)
    data.setdefault("owners", team())
    return data


@dataclass
class RunOutcome:
    exit_code: int
    output: str


@dataclass
class ScenarioRun:
    """One scenario on one variant, inside a running sandbox."""

    scenario: Scenario
    variant: Variant
    directory: Path
    sandbox: Sandbox
    clock: ScenarioClock
    reader: CrmReader
    config_path: Path
    env: dict[str, str]
    owners: dict[str, str] = field(default_factory=dict)  # handle -> email
    runs: list[RunOutcome] = field(default_factory=list)

    def sync(self, as_of: datetime) -> RunOutcome:
        """`handoff sync --as-of <as_of>`, run on that day: Handoff's own clock (which bounds
        its pulls) and the CRM's agree, as they would in production."""
        self.clock.set(as_of)
        with time_machine.travel(as_of, tick=True):
            result = CliRunner().invoke(
                app,
                ["sync", "--config", str(self.config_path), "--as-of", as_of.isoformat()],
                env=self.env,
            )
        output = result.output
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            output += f"\n{type(result.exception).__name__}: {result.exception}"
        outcome = RunOutcome(result.exit_code, output)
        self.runs.append(outcome)
        return outcome

    def apply(self, edit: Edit, as_of: datetime) -> None:
        if edit.log is not None:
            at = self.scenario.instant(edit.log.at)
            if at >= as_of:
                raise ScenarioError(
                    f"{self.scenario.name}: log.at {edit.log.at} is not before the run at {as_of}"
                )
            self.clock.set(at)
            if edit.log.owner is not None and edit.log.owner not in self.owners:
                raise KeyError(
                    f"log.owner {edit.log.owner!r} is not in the team: {list(self.owners)}"
                )
            self.reader.log_activity(edit.person, edit.log, at)
        if edit.set:
            # a minute before the run: an edit stamped at the run's own instant could fall
            # after the run's pull window (Handoff's clock starts at as_of too)
            self.clock.set(as_of - timedelta(minutes=1))
            self.reader.edit(edit.person, edit.set)

    def person(self, person_id: str) -> PersonView:
        return self.reader.person(person_id)

    def record_id(self, person_id: str) -> str:
        """The person's record id in the CRM (HubSpot contact, Salesforce Lead or Contact)."""
        reader: Any = self.reader
        if self.variant.crm == "hubspot":
            return str(reader._contact(person_id).id)
        return str(reader._record(person_id)[2]["Id"])

    @contextmanager
    def writes_to(self, record_ids: list[str]) -> Iterator[list[str]]:
        """Every write request (create, update, delete; not a search or a read) whose body names
        one of these records, as the sandbox receives it."""
        seen: list[str] = []

        def count(request: SandboxRequest) -> None:
            path = request.path.lower()
            if request.method == "GET" or path.endswith(("/search", "/batch/read", "/query")):
                return
            body = request.body.decode("utf-8", "replace")
            if any(record_id in body or record_id in path for record_id in record_ids):
                seen.append(f"{request.method} {request.path}")

        server = self.sandbox.server(self.variant.crm)
        server.before_request.append(count)
        try:
            yield seen
        finally:
            server.before_request.remove(count)


@contextmanager
def scenario_run(scenario: Scenario, variant: Variant, directory: Path) -> Iterator[ScenarioRun]:
    fixture_path = directory / "fixture.yaml"
    data = fixture_data(scenario)
    fixture_path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    portal = load_fixture(fixture_path)
    config = scenario_config(scenario, variant)
    config_path = directory / "handoff.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    clock = ScenarioClock(scenario.now)
    sandbox = Sandbox(
        portal,
        hubspot=variant.crm == "hubspot",
        salesforce=variant.crm == "salesforce",
        ca_directory=directory / "ca",
    )
    if sandbox.hubspot is not None:
        sandbox.hubspot.clock = clock
        if variant.tier:
            sandbox.hubspot.tier = variant.tier
    if sandbox.salesforce is not None:
        sandbox.salesforce.org.clock = clock
    owners = {o["id"]: o["email"] for o in data["owners"]}
    emails = {p["id"]: p["email"] for p in data.get("people", [])}
    with sandbox, sandbox_environment(sandbox.info, directory) as env:
        reader: CrmReader
        if variant.crm == "hubspot":
            reader = HubSpotReader(sandbox, config, emails, owners)
        else:
            reader = SalesforceReader(sandbox, config, emails, owners)
        yield ScenarioRun(
            scenario, variant, directory, sandbox, clock, reader, config_path, env, owners
        )
