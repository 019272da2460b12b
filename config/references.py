"""Cross-references in `handoff.yaml`: every name one section gives another must exist there.

Calendars (`sla.default_calendar`, `sla.territory_calendars`, `sla.rep_calendars`, a policy's
`calendar`), territories (`sla.territory_calendars` keys), people (a territory's `backup` and
`fallback`), connections (`sync.lifecycle_owner`, `sync.owner_owner`, `http.hubspot_webhooks`),
SLA lanes and stages, canonical stages and rejection codes in a field's `values`; and the rules
that span a list (unique names, one weight per rep, no tied territories).

These checks read the plain data the YAML gave, not the validated model, so they run even when
some other value in the file is wrong: `handoff config validate` reports field errors and
cross-reference errors together, in one run. A value of the wrong type is left to the field
check (it has its own message); only names that are strings are looked up here. Each problem
names its place (`routing.territories[2].backup`) and, when one is close, the name meant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from difflib import get_close_matches
from typing import Any

from config.custom_fields import field_problems

Path_ = tuple[str | int, ...]
Problem = tuple[Path_, str]

CLOCK_LANES = ("fast", "mql")
"""The lanes SLA clocks start in: fast-lane leads and MQLs (sync/decide.py)."""

CHECKED: tuple[tuple[str, str], ...] = (
    (
        "`sla.default_calendar`, `sla.territory_calendars.<territory>`, "
        "`sla.rep_calendars.<email>`, `sla.policies.<name>.calendar`",
        "a calendar defined under `sla.calendars`",
    ),
    ("the keys of `sla.territory_calendars`", "a territory's `name` in `routing.territories`"),
    (
        "`routing.territories[].backup`, `routing.territories[].fallback`",
        "a rep or manager of some territory, or `routing.fallback.owner`",
    ),
    ("`sync.lifecycle_owner`, `sync.owner_owner`", "a connection's `name`"),
    ("`http.hubspot_webhooks[]`", "a HubSpot connection's `name` (with `hubspot.client_secret`)"),
    ("`sla.policies.<name>.lane`", f"a lane SLA clocks start in: {', '.join(CLOCK_LANES)}"),
    (
        "`sla.policies.<name>.stages[]`, the keys of "
        "`connections[].objects.<object>.lifecycle_stage.values`",
        "a lifecycle stage: subscriber, lead, mql, sal, sql, opportunity, customer, recycled, "
        "disqualified",
    ),
    (
        "the keys of `connections[].objects.<object>.rejection_reason.values`",
        "a rejection code under `lifecycle.rejection_codes`",
    ),
    ("`connections[].name`, `routing.territories[].name`", "unique"),
    ("`routing.territories[].reps[].weight`", "one weight per rep across territories"),
    ("`routing.territories[].match`", "no two territories a lead matches equally"),
)
"""What must name what (docs/configuration.md lists it)."""


def suggest(name: str, known: Iterable[str]) -> str:
    """' did you mean 'x'?' for the closest known name, else ''."""
    close = get_close_matches(name, sorted(set(known)), n=1, cutoff=0.6)
    return f" did you mean {close[0]!r}?" if close else ""


def listing(known: Iterable[str], limit: int = 12) -> str:
    names = sorted(set(known))
    if not names:
        return "none"
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _map(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _seq(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _email(value: Any) -> str | None:
    """The normalized e-mail, or None when it is not one (the field check says so)."""
    from config.routing import normalize_email

    if not isinstance(value, str):
        return None
    try:
        return normalize_email(value)
    except ValueError:
        return None


def reference_problems(data: Mapping[str, Any]) -> list[Problem]:
    """Every cross-reference problem in the config's plain data (as the YAML gave it)."""
    problems: list[Problem] = []
    problems += _connections(data)
    territories = _routing(data, problems)
    problems += _sla(data, territories)
    problems += _field_values(data)
    problems += field_problems(data)  # fields rules name: canonical, derived or custom
    return [p for p in problems if not _unresolved(data, p[0])]


def _unresolved(data: Mapping[str, Any], path: Path_) -> bool:
    """The name is an environment variable left unset (`${NAME}` kept as written): the loader
    reports the variable; the name is checked once it is set."""
    node: Any = data
    for part in path:
        if isinstance(part, str) and "${" in part:
            return True
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return False
    return isinstance(node, str) and "${" in node


def _connections(data: Mapping[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    connections = _seq(data.get("connections"))
    names: dict[str, int] = {}
    for index, conn in enumerate(connections):
        name = _map(conn).get("name")
        if not isinstance(name, str):
            continue
        if name in names:
            problems.append(
                (
                    ("connections", index, "name"),
                    f"connection name {name!r} is already used by connections[{names[name]}]: "
                    "give each connection its own name",
                )
            )
        else:
            names[name] = index
    known = f"(connections: {listing(names)})"
    sync = _map(data.get("sync"))
    for key in ("lifecycle_owner", "owner_owner"):
        value = sync.get(key)
        if isinstance(value, str) and value not in names:
            problems.append(
                (("sync", key), f"unknown connection {value!r}:{suggest(value, names)} {known}")
            )
    http = _map(data.get("http"))
    for index, name in enumerate(_seq(http.get("hubspot_webhooks"))):
        if not isinstance(name, str):
            continue
        where: Path_ = ("http", "hubspot_webhooks", index)
        if name not in names:
            problems.append((where, f"unknown connection {name!r}:{suggest(name, names)} {known}"))
            continue
        conn = _map(connections[names[name]])
        if conn.get("kind") != "hubspot":
            problems.append((where, f"connection {name!r} is not a HubSpot connection"))
        elif _map(conn.get("hubspot")).get("client_secret") is None:
            problems.append(
                (
                    where,
                    f"connection {name!r} needs hubspot.client_secret (the app's client secret, "
                    "e.g. ${HUBSPOT_CLIENT_SECRET}): it checks the webhook signatures",
                )
            )
    return problems


def _routing(data: Mapping[str, Any], problems: list[Problem]) -> list[str]:
    """Routing's own cross-references; returns the territory names it defines."""
    routing = _map(data.get("routing"))
    territories = _seq(routing.get("territories"))
    names: dict[str, int] = {}
    for index, territory in enumerate(territories):
        name = _map(territory).get("name")
        if not isinstance(name, str):
            continue
        if name in names:
            problems.append(
                (
                    ("routing", "territories", index, "name"),
                    f"territory name {name!r} is already used by routing.territories"
                    f"[{names[name]}]: give each territory its own name",
                )
            )
        else:
            names[name] = index
    fallback = routing.get("fallback")
    if territories and fallback is None:
        problems.append(
            (
                ("routing", "fallback"),
                "routing.fallback.owner is required when territories are configured (leads no "
                "territory or rep can take go there), e.g. fallback: {owner: queue@x.com}",
            )
        )
    weights: dict[str, tuple[int, str]] = {}
    people: set[str] = set()
    for index, territory in enumerate(territories):
        territory = _map(territory)
        label = territory.get("name", f"routing.territories[{index}]")
        for rep_index, rep in enumerate(_seq(territory.get("reps"))):
            email = _email(_map(rep).get("email"))
            if email is None:
                continue
            people.add(email)
            weight = _map(rep).get("weight", 1)
            if not isinstance(weight, int) or isinstance(weight, bool):
                continue
            seen = weights.setdefault(email, (weight, str(label)))
            if seen[0] != weight:
                problems.append(
                    (
                        ("routing", "territories", index, "reps", rep_index, "weight"),
                        f"rep {email} has weight {seen[0]} in {seen[1]!r} but {weight} in "
                        f"{label!r}: give one weight",
                    )
                )
        manager = _email(territory.get("manager"))
        if manager:
            people.add(manager)
    owner = _email(_map(fallback).get("owner"))
    if owner:
        people.add(owner)
    for index, territory in enumerate(territories):
        territory = _map(territory)
        for role in ("backup", "fallback"):
            email = _email(territory.get(role))
            if email is not None and email not in people:
                problems.append(
                    (
                        ("routing", "territories", index, role),
                        f"{role} {email} is not a rep, manager or the fallback owner of any "
                        f"territory:{suggest(email, people)} fix the spelling, or add them as a rep",
                    )
                )
    problems += _ties(territories)
    return list(names)


def _ties(territories: list[Any]) -> list[Problem]:
    """Territories a lead could match equally (the router's own matcher), among those valid."""
    from pydantic import ValidationError

    from config.routing import Territory
    from routing.territory import find_ties

    parsed: dict[str, int] = {}
    valid: list[Territory] = []
    for index, raw in enumerate(territories):
        try:
            territory = Territory.model_validate(raw)
        except ValidationError:
            continue  # its own problems are reported by the field check
        if territory.name not in parsed:
            parsed[territory.name] = index
            valid.append(territory)
    ties = find_ties(valid)
    if not ties:
        return []
    first, second = ties[0]
    return [
        (
            ("routing", "territories", parsed[second], "match"),
            f"territories {first!r} and {second!r} overlap with equal specificity, so a lead "
            "could match both: narrow one of them (add a country, industry or size band)",
        )
    ]


def _sla(data: Mapping[str, Any], territories: list[str]) -> list[Problem]:
    from scoring.lifecycle import LifecycleStage

    problems: list[Problem] = []
    sla = _map(data.get("sla"))
    calendars = [str(name) for name in _map(sla.get("calendars"))]
    defines = f"(sla.calendars defines {listing(calendars)})"

    def calendar(where: Path_, name: Any) -> None:
        if isinstance(name, str) and name not in calendars:
            problems.append(
                (where, f"unknown calendar {name!r}:{suggest(name, calendars)} {defines}")
            )

    calendar(("sla", "default_calendar"), sla.get("default_calendar"))
    for key, name in _map(sla.get("territory_calendars")).items():
        where: Path_ = ("sla", "territory_calendars", str(key))
        if str(key) not in territories:
            problems.append(
                (
                    where,
                    f"unknown territory {key!r}:{suggest(str(key), territories)} "
                    f"(routing.territories defines {listing(territories)})",
                )
            )
        calendar(where, name)
    for key, name in _map(sla.get("rep_calendars")).items():
        calendar(("sla", "rep_calendars", str(key)), name)
    stages = [s.value for s in LifecycleStage]
    policies = _map(sla.get("policies"))
    seen: dict[tuple[str, str], str] = {}
    for key, policy in policies.items():
        policy = _map(policy)
        base: Path_ = ("sla", "policies", str(key))
        calendar((*base, "calendar"), policy.get("calendar"))
        if policy.get("calendar") is None and sla.get("default_calendar") is None:
            problems.append(
                (
                    (*base, "calendar"),
                    f"no calendar: set sla.policies.{key}.calendar or sla.default_calendar",
                )
            )
        lane = policy.get("lane")
        if isinstance(lane, str) and lane not in CLOCK_LANES:
            problems.append(
                (
                    (*base, "lane"),
                    f"lane {lane!r} is not one Handoff starts SLA clocks in:"
                    f"{suggest(lane, CLOCK_LANES)} use {' or '.join(CLOCK_LANES)}",
                )
            )
        for index, stage in enumerate(_seq(policy.get("stages"))):
            if isinstance(stage, str) and stage not in stages:
                problems.append(
                    (
                        (*base, "stages", index),
                        f"unknown stage {stage!r}:{suggest(stage, stages)} "
                        f"(stages: {', '.join(stages)})",
                    )
                )
        for index, rung in enumerate(_seq(policy.get("ladder"))):
            if _map(rung).get("webhook") is True and sla.get("webhook_url") is None:
                problems.append(
                    (
                        (*base, "ladder", index, "webhook"),
                        "webhook is on but sla.webhook_url is not set: set it (e.g. "
                        "${SLACK_WEBHOOK}) or drop webhook: true",
                    )
                )
        if not isinstance(lane, str):
            continue
        for stage in _seq(policy.get("stages")) or ["*"]:
            other = seen.setdefault((lane, str(stage)), str(key))
            if other != key:
                problems.append(
                    (
                        (*base, "lane"),
                        f"sla.policies.{other} watches lane {lane!r} stage {stage!r} too: give "
                        "each lane/stage one policy",
                    )
                )
    return problems


def _field_values(data: Mapping[str, Any]) -> list[Problem]:
    """Canonical values a connection maps: lifecycle stages and rejection codes."""
    from config.scoring_defaults import REJECTION_CODES
    from scoring.lifecycle import LifecycleStage

    lifecycle = _map(data.get("lifecycle"))
    codes = [str(c) for c in _map(lifecycle.get("rejection_codes", REJECTION_CODES))]
    stages = [s.value for s in LifecycleStage]
    known = {
        "lifecycle_stage": ("stage", stages, f"stages: {', '.join(stages)}"),
        "rejection_reason": (
            "rejection code",
            codes,
            f"lifecycle.rejection_codes defines {listing(codes)}",
        ),
    }
    problems: list[Problem] = []
    for index, conn in enumerate(_seq(data.get("connections"))):
        for kind, fields in _map(_map(conn).get("objects")).items():
            for field, (what, names, defined) in known.items():
                values = _map(_map(_map(fields).get(field)).get("values"))
                for value in values:
                    if not isinstance(value, str) or value in names:
                        continue
                    where: Path_ = ("connections", index, "objects", str(kind), field, "values")
                    problems.append(
                        (
                            (*where, value),
                            f"unknown {what} {value!r}:{suggest(value, names)} ({defined})",
                        )
                    )
    return problems
