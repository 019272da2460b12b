"""Load a demo portal from a YAML/JSON fixture file (format: sandbox/fixtures/README.md).

`load_fixture(path, now=None) -> Portal`. Timestamps are ISO-8601 with a zone (`Z`) or relative to
`now` (one signed number and unit: "-3d", "-90m", "+1d"); `now` comes from
the argument, else the file's `now:` key. Every problem is reported with its place in the file
and how to fix it (`FixtureError`).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError

from config.base import StrictModel
from connectors.records import ActivityKind
from sandbox.portal import (
    Portal,
    PortalActivity,
    PortalCompany,
    PortalOwner,
    PortalPerson,
    PortalTask,
)

_RELATIVE = re.compile(r"^([+-])(\d+(?:\.\d+)?)(s|m|h|d|w)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class FixtureError(ValueError):
    """A fixture file that cannot become a portal; the message names the place and the fix."""


class _Owner(StrictModel):
    id: str = Field(min_length=1)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    first_name: str
    last_name: str
    active: bool = True
    territory: str = ""


class _Company(StrictModel):
    id: str = Field(min_length=1)
    name: str
    domain: str
    employees: int = Field(ge=1)
    industry: str = ""
    country: str = Field(min_length=2, max_length=2, description="ISO 3166 alpha-2, e.g. US")
    state: str = ""
    owner: str | None = None


class _Person(StrictModel):
    id: str = Field(min_length=1)
    first_name: str
    last_name: str
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    title: str = ""
    company: str | None = None
    created_at: str
    modified_at: str | None = None
    owner: str | None = None
    lifecycle_stage: Literal[
        "subscriber", "lead", "mql", "sal", "sql", "opportunity", "customer", "evangelist", "other"
    ] = "lead"
    lead_status: str = ""
    unsubscribed: bool = False
    kind: Literal["lead", "contact"] = "lead"
    properties: dict[str, str] = Field(default_factory=dict)


class _Activity(StrictModel):
    id: str | None = None
    person: str
    kind: ActivityKind
    at: str
    owner: str | None = None
    properties: dict[str, str] = Field(default_factory=dict)


class _Task(StrictModel):
    id: str | None = None
    person: str
    owner: str
    subject: str
    due_at: str
    status: Literal["NOT_STARTED", "IN_PROGRESS", "WAITING", "COMPLETED", "DEFERRED"] = (
        "NOT_STARTED"
    )
    task_key: str | None = None


class _Fixture(StrictModel):
    version: Literal[1] = 1
    now: str | None = None
    tier: Literal["free", "starter", "professional", "enterprise"] | None = None
    owners: list[_Owner] = Field(default_factory=list)
    companies: list[_Company] = Field(default_factory=list)
    people: list[_Person] = Field(default_factory=list)
    activities: list[_Activity] = Field(default_factory=list)
    tasks: list[_Task] = Field(default_factory=list)


def _place(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FixtureError(
            f"{path}: cannot read the fixture ({exc.strerror}); check the path."
        ) from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise FixtureError(f"{path}: not valid YAML/JSON: {exc}") from None


class _Times:
    def __init__(self, path: Path, now: datetime | None) -> None:
        self.path, self.now = path, now

    def __call__(self, raw: str, place: str) -> datetime:
        text = str(raw).strip()
        relative = _RELATIVE.match(text)
        if relative:
            if self.now is None:
                raise FixtureError(
                    f"{self.path}: {place}: relative time {text!r} needs `now` "
                    "(pass now= to load_fixture or add a top-level `now:` to the file)."
                )
            sign, amount, unit = relative.groups()
            delta = timedelta(seconds=float(amount) * _UNITS[unit])
            return self.now + delta if sign == "+" else self.now - delta
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise FixtureError(
                f"{self.path}: {place}: {text!r} is not a time: write ISO-8601 with a zone, e.g. "
                "2026-10-30T09:00:00Z, or relative to now, e.g. -3d"
            ) from None
        if moment.tzinfo is None:
            raise FixtureError(f"{self.path}: {place}: {text!r} has no time zone: add Z for UTC.")
        return moment.astimezone(UTC)


def _check_refs(path: Path, fixture: _Fixture) -> None:
    def unique(kind: str, ids: list[str]) -> set[str]:
        seen: set[str] = set()
        for index, ident in enumerate(ids):
            if ident in seen:
                raise FixtureError(
                    f"{path}: {kind}[{index}].id: {ident!r} is used twice; ids must be unique."
                )
            seen.add(ident)
        return seen

    owners = unique("owners", [o.id for o in fixture.owners])
    companies = unique("companies", [c.id for c in fixture.companies])
    people = unique("people", [p.id for p in fixture.people])

    def need(ref: str | None, pool: set[str], place: str, kind: str) -> None:
        if ref is not None and ref not in pool:
            raise FixtureError(
                f"{path}: {place}: {ref!r} is not a known {kind} id; add it under `{kind}s:` or fix the id "
                f"(known: {', '.join(sorted(pool)[:8]) or 'none'})."
            )

    for i, c in enumerate(fixture.companies):
        need(c.owner, owners, f"companies[{i}].owner", "owner")
    for i, p in enumerate(fixture.people):
        need(p.owner, owners, f"people[{i}].owner", "owner")
        need(p.company, companies, f"people[{i}].company", "company")
    for i, a in enumerate(fixture.activities):
        need(a.person, people, f"activities[{i}].person", "person")
        need(a.owner, owners, f"activities[{i}].owner", "owner")
    for i, t in enumerate(fixture.tasks):
        need(t.person, people, f"tasks[{i}].person", "person")
        need(t.owner, owners, f"tasks[{i}].owner", "owner")


def load_fixture(path: str | Path, *, now: datetime | None = None) -> Portal:
    path = Path(path)
    raw = _read(path)
    if not isinstance(raw, dict):
        raise FixtureError(
            f"{path}: the top level must be a mapping with owners, companies, people, ..."
        )
    try:
        fixture = _Fixture.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more problems)" if exc.error_count() > 1 else ""
        raise FixtureError(
            f"{path}: {_place(first['loc'])}: {first['msg']}{more}; see sandbox/fixtures/README.md"
        ) from None
    _check_refs(path, fixture)
    times = _Times(path, now)
    if times.now is None and fixture.now is not None:
        times.now = times(fixture.now, "now")
    portal = Portal(tier=fixture.tier)
    portal.owners = [
        PortalOwner(o.id, o.email, o.first_name, o.last_name, o.active, o.territory)
        for o in fixture.owners
    ]
    portal.companies = [
        PortalCompany(
            c.id, c.name, c.domain, c.employees, c.industry, c.country.upper(), c.state, c.owner
        )
        for c in fixture.companies
    ]
    latest: dict[str, datetime] = {}
    for i, a in enumerate(fixture.activities):
        at = times(a.at, f"activities[{i}].at")
        portal.activities.append(
            PortalActivity(
                a.id or f"a{i + 1}", a.person, a.kind.value, at, a.owner, dict(a.properties)
            )
        )
        latest[a.person] = max(latest.get(a.person, at), at)
    for i, p in enumerate(fixture.people):
        created = times(p.created_at, f"people[{i}].created_at")
        modified = times(p.modified_at, f"people[{i}].modified_at") if p.modified_at else created
        modified = max(modified, latest.get(p.id, modified))
        portal.people.append(
            PortalPerson(
                p.id,
                p.first_name,
                p.last_name,
                p.email,
                p.title,
                p.company,
                created,
                modified,
                p.owner,
                p.lifecycle_stage,
                p.lead_status,
                p.unsubscribed,
                p.kind,
                dict(p.properties),
            )
        )
    for i, t in enumerate(fixture.tasks):
        portal.tasks.append(
            PortalTask(
                t.id or f"t{i + 1}",
                t.person,
                t.owner,
                t.subject,
                times(t.due_at, f"tasks[{i}].due_at"),
                t.status,
                t.task_key,
            )
        )
    return portal
