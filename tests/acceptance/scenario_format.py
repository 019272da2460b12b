"""The scenario format of the decision acceptance suite (see tests/acceptance/README.md).

A scenario is one YAML file in `scenarios/`: the CRM as it stands (`fixture:`, the sandbox
fixture format of sandbox/fixtures/README.md; the team of `team.yaml` unless it lists owners),
the config in the domain's words (`config:`, merged over the shipped example config), and
`steps:`: human edits in the CRM, then `handoff sync --as-of <instant>`, then what the CRM must
show for each person: stage, owner, tasks and the words of the reason the rep reads.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from config.base import StrictModel

HERE = Path(__file__).resolve().parent
SCENARIOS = HERE / "scenarios"
VARIANT_NAMES = ("hubspot-professional", "hubspot-enterprise", "salesforce")
_RELATIVE = re.compile(r"^([+-])(\d+(?:\.\d+)?)(s|m|h|d|w)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class ScenarioError(ValueError):
    """A scenario file that cannot run; the message names the file, the place and the fix."""


class TaskExpectation(StrictModel):
    """One open task Handoff created for the person."""

    owner: str = Field(description="the rep's handle in the team roster, e.g. maya")
    says: list[str] = Field(default_factory=list, description="words in the subject or body")
    due: date | None = Field(None, description="the task's due date (UTC)")


class PersonExpectation(StrictModel):
    """What the CRM shows for one person after a run. Every key is required on purpose: a
    decision is its stage, its owner, the rep's task and the reason the rep reads."""

    stage: str = Field(description="canonical: lead, mql, sal, sql, recycled, disqualified, ...")
    owner: str | list[str] = Field(
        description="a handle, `none` for no owner, or a list: any one of these reps"
    )
    tasks: list[TaskExpectation] = Field(description="Handoff's tasks on the person; [] = none")
    reason: list[str] = Field(description="words the score reasons must contain")
    not_reason: list[str] = Field(default_factory=list, description="words they must not contain")
    fit: int | None = Field(None, description="the fit points the CRM shows (optional)")
    behaviour: int | None = Field(None, description="the behaviour points it shows (optional)")


class ActivityEdit(StrictModel):
    """Something that happens in the CRM before a run (same keys as a fixture activity)."""

    kind: str
    at: str
    owner: str | None = None
    properties: dict[str, str] = Field(default_factory=dict)


class Edit(StrictModel):
    """A human's change in the CRM before a run: canonical fields set on a person, or an
    activity logged (a rep's call, a new page view)."""

    person: str
    set: dict[str, str] = Field(
        default_factory=dict, description="canonical field -> value (stage, rejection_reason)"
    )
    log: ActivityEdit | None = None


class Step(StrictModel):
    sync: str = Field(description="the --as-of instant: ISO-8601 with a zone, or +2h from now")
    edits: list[Edit] = Field(
        default_factory=list, description="made in the CRM before the run (`set`: a minute before)"
    )
    expect: dict[str, PersonExpectation] = Field(min_length=1)


class Scenario(StrictModel):
    title: str = Field(min_length=1)
    story: str = ""
    fixture: dict[str, Any]
    config: dict[str, Any] = Field(default_factory=dict)
    steps: list[Step] = Field(min_length=1)
    xfail: dict[Literal["hubspot-professional", "hubspot-enterprise", "salesforce"], str] = Field(
        default_factory=dict, description="variant -> 'issue 16: <the missing feature>'"
    )
    name: str = ""

    @model_validator(mode="after")
    def _anchor(self) -> Scenario:
        if "now" not in self.fixture:
            raise ValueError("fixture.now is required: the instant relative times count from")
        return self

    @property
    def now(self) -> datetime:
        return _instant(str(self.fixture["now"]), None)

    def instant(self, text: str) -> datetime:
        return _instant(text, self.now)


def _instant(text: str, now: datetime | None) -> datetime:
    relative = _RELATIVE.match(text.strip())
    if relative and now is not None:
        sign, amount, unit = relative.groups()
        delta = timedelta(seconds=float(amount) * _UNITS[unit])
        return now + delta if sign == "+" else now - delta
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ScenarioError(f"{text!r} has no time zone: add Z for UTC")
    return moment.astimezone(UTC)


def team() -> list[dict[str, Any]]:
    owners: list[dict[str, Any]] = yaml.safe_load((HERE / "team.yaml").read_text())["owners"]
    return owners


def load_scenario(path: Path) -> Scenario:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        scenario = Scenario.model_validate(raw)
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{path.name}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        place = ".".join(str(p) for p in first["loc"])
        raise ScenarioError(
            f"{path.name}: {place}: {first['msg']}; see tests/acceptance/README.md"
        ) from None
    return scenario.model_copy(update={"name": path.stem})


def all_scenarios() -> list[Scenario]:
    return [load_scenario(p) for p in sorted(SCENARIOS.glob("*.yaml"))]
