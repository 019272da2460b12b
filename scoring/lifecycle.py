"""Lifecycle policy: which stage changes a score and sales' verdicts call for.

Automation owns subscriber/lead -> MQL and never moves a stage backwards; sales owns SAL and
beyond and automation never overrides it. A sales rejection with a valid reason code recycles
(nurture, with a cooldown) or disqualifies, as config maps the code: that is sales' own decision,
and Handoff carries it out in the CRM, from MQL, SAL or SQL alike (`moves_owning_stage`); a
rejection without a valid code changes nothing and is flagged for reports. After the cooldown,
fresh engagement that makes the score an MQL again re-opens a recycled lead. The policy only
decides: the pipeline writes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from config.scoring import LifecycleConfig
from scoring.score import Score


class LifecycleStage(StrEnum):
    """Canonical stages; connections map them to CRM values (FieldMapping.values)."""

    SUBSCRIBER = "subscriber"
    LEAD = "lead"
    MQL = "mql"
    SAL = "sal"
    SQL = "sql"
    OPPORTUNITY = "opportunity"
    CUSTOMER = "customer"
    RECYCLED = "recycled"
    DISQUALIFIED = "disqualified"


# The forward ladder; recycled and disqualified are side exits outside it.
FUNNEL: tuple[LifecycleStage, ...] = (
    LifecycleStage.SUBSCRIBER,
    LifecycleStage.LEAD,
    LifecycleStage.MQL,
    LifecycleStage.SAL,
    LifecycleStage.SQL,
    LifecycleStage.OPPORTUNITY,
    LifecycleStage.CUSTOMER,
)
AUTOMATION_OWNED = frozenset({LifecycleStage.SUBSCRIBER, LifecycleStage.LEAD})
REJECTABLE = frozenset({LifecycleStage.MQL, LifecycleStage.SAL, LifecycleStage.SQL})
# The stages automation moves a record out of on its own: its own ones, an MQL sales has not
# taken yet, and a recycled lead re-opened after the cooldown.
AUTOMATION_MOVES = AUTOMATION_OWNED | {LifecycleStage.MQL, LifecycleStage.RECYCLED}
INVALID_REJECTION = "invalid_rejection_code"  # the flag of a rejection without a valid code


def funnel_rank(stage: LifecycleStage) -> int | None:
    """Position on the forward ladder; None for the side exits."""
    return FUNNEL.index(stage) if stage in FUNNEL else None


def is_forward(current: object, stage: str) -> bool:
    """`stage` is ahead of `current` on the forward ladder (or nothing is set yet)."""
    if stage not in FUNNEL:
        return False
    if current in (None, ""):
        return True
    return current in FUNNEL and FUNNEL.index(stage) > FUNNEL.index(str(current))  # type: ignore[arg-type]


def is_regression(current: str, stage: str) -> bool:
    """A deliberate move back: down the ladder, into recycling, or a recycled or disqualified
    lead re-opened. A CRM whose lifecycle only moves forward over its API (HubSpot) must clear
    the stage before it takes an earlier one (HubSpot sorts its side-exit value `other` last)."""
    if current in FUNNEL and stage in FUNNEL:
        return FUNNEL.index(stage) < FUNNEL.index(current)  # type: ignore[arg-type]
    if stage == LifecycleStage.RECYCLED:
        return True
    return current in (LifecycleStage.RECYCLED, LifecycleStage.DISQUALIFIED) and stage in FUNNEL


def moves_owning_stage(current: str, change: StageChange | None) -> bool:
    """Whether automation writes `change` into the owning system's stage. It moves its own
    stages; a stage sales owns (SAL and beyond) only to carry out sales' own verdict, a rejection
    with a valid reason code (`change.code`): the rep decided, Handoff writes it down. Anything
    else sales set is never overridden."""
    if change is None or str(change.to_stage) == current:
        return False
    if current in AUTOMATION_MOVES:
        return True
    return change.by_sales and current in REJECTABLE


def normalise_code(value: str) -> str:
    """ "Bad Timing" / "bad-timing" -> "bad_timing"."""
    return re.sub(r"[^a-z0-9]+", "_", value.strip().lower()).strip("_")


@dataclass(frozen=True, slots=True)
class StageChange:
    """One stage move the policy calls for, with its reason (and rejection code, if any)."""

    from_stage: LifecycleStage
    to_stage: LifecycleStage
    reason: str
    at: datetime
    code: str | None = None

    @property
    def by_sales(self) -> bool:
        """Sales' verdict (a rejection with a valid reason code), not automation's call."""
        return self.code is not None


@dataclass(frozen=True, slots=True)
class PolicyFlag:
    """Something for the reports, not a change (e.g. a rejection without a valid code)."""

    kind: str
    detail: str


@dataclass(frozen=True, slots=True)
class LifecycleDecision:
    changes: tuple[StageChange, ...] = ()
    flags: tuple[PolicyFlag, ...] = field(default_factory=tuple)

    @property
    def last(self) -> StageChange | None:
        """The change that sets the stage the person ends at (None: the stage stays)."""
        return self.changes[-1] if self.changes else None

    def stage(self, current: str) -> str:
        """The stage the person ends at."""
        return str(self.changes[-1].to_stage) if self.changes else current


class LifecyclePolicy:
    """Decides stage changes; build with `LifecyclePolicy.from_config`."""

    def __init__(self, cfg: LifecycleConfig) -> None:
        self.config = cfg
        self._codes = {normalise_code(k): v for k, v in cfg.rejection_codes.items()}

    @classmethod
    def from_config(cls, cfg: LifecycleConfig) -> LifecyclePolicy:
        """The policy for a `lifecycle:` config section (codes normalised once)."""
        return cls(cfg)

    def decide(
        self,
        current_stage: LifecycleStage | str | None,
        score: Score,
        *,
        rejection_reason: str | None = None,
        stage_changed_at: datetime | None = None,
        now: datetime,
        rejected_at: datetime | None = None,
        spent_code: str | None = None,
    ) -> list[StageChange]:
        """The stage changes called for now (empty when none); see `review` for flags."""
        return list(
            self.review(
                current_stage,
                score,
                rejection_reason=rejection_reason,
                stage_changed_at=stage_changed_at,
                now=now,
                rejected_at=rejected_at,
                spent_code=spent_code,
            ).changes
        )

    def review(
        self,
        current_stage: LifecycleStage | str | None,
        score: Score,
        *,
        rejection_reason: str | None = None,
        stage_changed_at: datetime | None = None,
        now: datetime,
        rejected_at: datetime | None = None,
        spent_code: str | None = None,
    ) -> LifecycleDecision:
        """Changes and report flags for one contact.

        `current_stage` is the canonical stage the CRM holds (None/"" = no stage yet: a lead);
        `rejection_reason` the code sales left in the lead status / reason field;
        `stage_changed_at` when the current stage was set (for the recycle cooldown);
        `rejected_at`, when known, lets a rejection older than the current stage be ignored
        (a re-opened lead still carrying its old code); so does `spent_code`, the code already
        carried out while the record still carries it (`spent_code()`): the lead has moved on
        since (re-opened after the cooldown, or taken back by a rep).
        """
        stage = self._stage(current_stage)
        if stage is None:
            return LifecycleDecision(
                flags=(PolicyFlag("unknown_stage", f"stage {current_stage!r} is not canonical"),)
            )
        code = normalise_code(rejection_reason) if rejection_reason else ""
        if code and code == spent_code:
            if stage in (LifecycleStage.SAL, LifecycleStage.SQL):  # sales took it back
                return LifecycleDecision(
                    flags=(
                        PolicyFlag(
                            "spent_rejection_code",
                            f"the record still carries the rejection code {rejection_reason!r} "
                            f"carried out before; sales moved it on to {stage.value} since, so "
                            "it is kept there (clear the code, then set one, to reject it again)",
                        ),
                    )
                )
            code = ""
        stale = (
            rejected_at is not None
            and stage_changed_at is not None
            and rejected_at < stage_changed_at
        )
        if code and stage in REJECTABLE and not stale:
            return self._rejection(stage, code, rejection_reason or "", now)
        if stage in AUTOMATION_OWNED:
            if code in self._codes and score.mql and not score.disqualified:
                # A sales rejection code still on the record: an MQL now would be rejected by
                # that same code on the next run (a flip-flop the rep sees). Held, and said.
                return LifecycleDecision(
                    flags=(
                        PolicyFlag(
                            "held_by_rejection_code",
                            f"MQL score, but the record still carries sales' rejection code "
                            f"{rejection_reason!r}: kept at {stage.value} until sales clears it",
                        ),
                    )
                )
            return self._automation(stage, score, now)
        if stage is LifecycleStage.RECYCLED:
            return self._recycled(score, stage_changed_at, now)
        return LifecycleDecision()

    def spent_code(self, rejection_reason: str | None, stage: str, spent: str | None) -> str | None:
        """The rejection code carried out for a person who ends a decision at `stage`: the
        record's valid code once the person sits in a side exit (recycled, disqualified), kept
        while the record still carries it; None once it carries another value or none."""
        code = normalise_code(rejection_reason) if rejection_reason else ""
        if code not in self._codes:
            return None
        if stage in (LifecycleStage.RECYCLED, LifecycleStage.DISQUALIFIED):
            return code
        return spent if code == spent else None

    def _stage(self, value: LifecycleStage | str | None) -> LifecycleStage | None:
        if value is None or value == "":
            return LifecycleStage.LEAD
        try:
            return LifecycleStage(str(value).strip().lower())
        except ValueError:
            return None

    def _rejection(
        self, stage: LifecycleStage, code: str, raw: str, now: datetime
    ) -> LifecycleDecision:
        outcome = self._codes.get(code)
        if outcome is None:
            valid = ", ".join(sorted(self._codes))
            return LifecycleDecision(
                flags=(
                    PolicyFlag(
                        INVALID_REJECTION,
                        f"rejected at {stage.value} with {raw!r}, not a valid code ({valid})",
                    ),
                )
            )
        if outcome == "recycle":
            target = LifecycleStage.RECYCLED
            reason = f"Sales rejected ({code}): recycled to nurture"
        else:
            target = LifecycleStage.DISQUALIFIED
            reason = f"Sales rejected ({code}): disqualified"
        return LifecycleDecision(changes=(StageChange(stage, target, reason, now, code),))

    def _automation(self, stage: LifecycleStage, score: Score, now: datetime) -> LifecycleDecision:
        if score.disqualified:
            if self.config.auto_disqualify:
                reason = f"Disqualified by scoring: {score.disqualify_reason}"
                return LifecycleDecision(
                    changes=(StageChange(stage, LifecycleStage.DISQUALIFIED, reason, now),)
                )
            return LifecycleDecision()
        if score.mql:
            return LifecycleDecision(
                changes=(StageChange(stage, LifecycleStage.MQL, _mql_reason(score), now),)
            )
        return LifecycleDecision()

    def _recycled(
        self, score: Score, stage_changed_at: datetime | None, now: datetime
    ) -> LifecycleDecision:
        if not score.mql or score.disqualified:
            return LifecycleDecision()
        if stage_changed_at is None:
            return LifecycleDecision(
                flags=(PolicyFlag("missing_stage_date", "recycled without a stage date: kept"),)
            )
        ready = stage_changed_at + self.config.recycle_cooldown
        fresh = score.last_signal_at is not None and score.last_signal_at > stage_changed_at
        if now < ready or not fresh:
            return LifecycleDecision()
        reason = f"Re-engaged after the recycle cooldown: {_mql_reason(score)}"
        return LifecycleDecision(
            changes=(StageChange(LifecycleStage.RECYCLED, LifecycleStage.MQL, reason, now),)
        )


def _mql_reason(score: Score) -> str:
    if score.fast_lane:
        return f"Fast lane: {score.fast_lane_reason}"
    return f"Score {score.total} (fit {score.fit}, behaviour {score.behaviour}): {score.summary}"
