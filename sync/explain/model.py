"""Why one person has their score, stage, owner and task: the explanation as data.

Built by `sync.explain.build` from what the domain engines decide (scoring model, lifecycle policy,
router, SLA engine) and from what the state store recorded (assignments, clocks, outbox); rendered
as text or JSON by `sync.explain.render`. Nothing here decides anything.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class RecordRef:
    """One CRM record of the person."""

    connection: str
    object_type: str
    crm_id: str
    url: str | None = None


@dataclass(frozen=True)
class RulePoints:
    """One line of the score: the points a rule gave, and what config allows it.

    `category` is fit, behaviour, negative or adjustment (caps, decay, the ICP ceiling, the zero
    floor); the points of all lines add up to the total."""

    rule_id: str
    label: str
    points: int
    category: str
    configured: int | None = None  # points per occurrence (or once) in the config
    cap: int | None = None  # most points the rule can add


@dataclass(frozen=True)
class ScoreExplanation:
    total: int
    fit: int
    behaviour: int
    negative: int
    mql: bool
    mql_bar: str  # e.g. "60 points with fit >= 20"
    fast_lane: bool
    fast_lane_reason: str | None
    disqualified: bool
    disqualify_reason: str | None
    outside_icp: bool
    track: str
    summary: str  # the reason line the CRM holds
    model_version: str
    last_signal_at: datetime | None
    caps: dict[str, int]  # fit, behaviour
    rules: list[RulePoints] = field(default_factory=list)
    stored_total: int | None = None  # the score the last run wrote, and when it decided
    stored_at: datetime | None = None


@dataclass(frozen=True)
class StageMove:
    from_stage: str
    to_stage: str
    reason: str


@dataclass(frozen=True)
class StageExplanation:
    current: str  # the canonical stage the CRM holds (from the owning connection)
    decided: str  # the stage after the lifecycle policy's decision
    owned_by: str  # automation | sales | nurture | closed
    why: str
    changed_at: datetime | None = None
    moves: list[StageMove] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RepOption:
    """A rep of the matching territory, in rotation order, and why the router would skip them."""

    email: str
    position: int
    weight: int
    skipped: str | None = None


@dataclass(frozen=True)
class Assignment:
    """A recorded routing decision (the assignment ledger)."""

    owner: str
    rule: str
    reason: str
    assigned_at: datetime
    lane: str
    territory: str | None = None
    turn: int | None = None  # the territory's round-robin slot
    previous_owner: str | None = None


@dataclass(frozen=True)
class RouterDecision:
    """What the router decides for the person at the explained instant (nothing recorded)."""

    owner: str | None
    rule: str
    reason: str
    lane: str
    territory: str | None = None
    turn: int | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class RoutingExplanation:
    owner: str | None  # the owner the CRM holds (by email)
    owner_active: bool
    account_owner: str | None  # the owner most of the company's people have
    company_domain: str | None
    territory: str | None  # the territory the person's place matches
    place: str  # e.g. "(country us, state ca, 300 employees)"
    reps: list[RepOption] = field(default_factory=list)
    rotation_turn: int = 0  # round-robin assignments the territory has made so far
    router: RouterDecision | None = None
    assignments: list[Assignment] = field(default_factory=list)  # newest first


@dataclass(frozen=True)
class Rung:
    rung_id: str
    at: str  # as configured: "100%", "+1bd"
    action: str
    due_at: datetime
    fired: bool
    notify_manager: bool = False


@dataclass(frozen=True)
class ClockExplanation:
    owner: str
    lane: str
    policy: str
    calendar: str
    started_at: datetime
    due_at: datetime  # the first-touch deadline
    state: str  # running | touched | ended
    first_touch_at: datetime | None = None
    first_touch_by: str | None = None
    ended_at: datetime | None = None
    end_reason: str | None = None
    rungs: list[Rung] = field(default_factory=list)
    next_rung: Rung | None = None


@dataclass(frozen=True)
class PendingWrite:
    connection: str
    object_type: str
    record_id: str
    kind: str  # field | task
    field: str
    value: Any
    previous: Any
    reason: str
    status: str
    attempts: int = 0
    last_error: str | None = None


@dataclass(frozen=True)
class Explanation:
    person: str  # the person key
    name: str
    email: str | None
    title: str | None
    company: str | None
    as_of: datetime
    source: str  # store | live
    records: list[RecordRef]
    score: ScoreExplanation
    stage: StageExplanation
    routing: RoutingExplanation
    clocks: list[ClockExplanation] = field(default_factory=list)
    pending: list[PendingWrite] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # the custom fields of the config (connections[].custom_fields): name -> value as read,
    # None where the person's records hold none (or a value the type refused)
    custom_fields: dict[str, Any] = field(default_factory=dict)
    custom_titles: dict[str, str] = field(default_factory=dict)  # name -> "Employee band"

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: datetimes as ISO-8601 UTC."""
        return _plain(asdict(self))


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value
