"""Explain one person: run the domain engines the pipeline runs on what the store holds for them.

The scoring model scores them at the explained instant, the lifecycle policy reviews their stage,
the router decides their owner in a transaction that is rolled back (nothing is recorded, no
rotation moves), and the SLA engine lays out their clock's ladder. Nothing is written.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from config.custom_fields import custom_fields
from config.model import HandoffConfig
from scoring import LifecyclePolicy, ScoringModel
from scoring.lifecycle import AUTOMATION_OWNED, LifecycleStage
from scoring.score import Score
from sync.explain.model import (
    Explanation,
    RecordRef,
    RulePoints,
    ScoreExplanation,
    StageExplanation,
    StageMove,
)
from sync.explain.paths import explain_clocks, explain_routing, pending_writes
from sync.people import OwnerBook, PersonView, load_person
from sync.person_state import StateRow, load_states
from sync.report.build import RecordLinks

SALES_STAGES = ("sal", "sql", "opportunity", "customer")


class Explainer:
    """The engines built once from config, as `sync.pipeline.Pipeline` builds them."""

    def __init__(self, config: HandoffConfig) -> None:
        from routing.sla.engine import SlaEngine

        self.config = config
        self.scoring = ScoringModel.from_config(config.scoring)
        self.lifecycle = LifecyclePolicy.from_config(config.lifecycle)
        self.sla = SlaEngine(config.sla)
        self.links = RecordLinks(config)
        self.custom = custom_fields(config)

    def explain(
        self,
        session: Session,
        key: str,
        as_of: datetime,
        *,
        person: PersonView | None = None,
        source: str = "store",
        notes: list[str] | None = None,
    ) -> Explanation:
        """`person`: a view pulled live from the CRMs; otherwise the store's."""
        owners = OwnerBook.load(session)
        person = person or load_person(session, key, self.config, owners)
        if person is None:
            raise LookupError(f"{key} has no active CRM record in the state store")
        state = load_states(session, [key]).get(key) or StateRow(key)
        if source == "store":
            _as_written(person, state, owners)
        score = self.scoring.score(person.contact, person.activities, as_of)
        fields = person.contact.fields
        name = " ".join(str(fields.get(k) or "") for k in ("first_name", "last_name")).strip()
        notes = list(notes or [])
        if state.computed_at is None:
            notes.append("not decided by a run yet: `handoff sync` decides and writes")
        elif state.score != score.total:
            notes.append(
                f"the last run ({state.computed_at:%Y-%m-%d %H:%M}Z) scored {state.score}; "
                f"at {as_of:%Y-%m-%d %H:%M}Z it is {score.total} (decay, or new signals)"
            )
        return Explanation(
            person=key,
            name=name or (person.contact.email or key),
            email=person.contact.email,
            title=_text(fields.get("title")),
            company=_text(fields.get("company")),
            as_of=as_of,
            source=source,
            records=[
                RecordRef(r.connection, r.object_type, r.crm_id, self.links.url(*_ref(r)))
                for r in person.records
            ],
            score=self._score(score, state),
            stage=self._stage(person, state, score, as_of),
            routing=explain_routing(session, self.config, person, owners, score, as_of),
            clocks=explain_clocks(session, self.sla, key, as_of),
            pending=pending_writes(session, person),
            notes=notes,
            custom_fields={name: _plain_value(fields.get(name)) for name in self.custom},
            custom_titles={name: field.title(name) for name, field in self.custom.items()},
        )

    # -- score ---------------------------------------------------------------------------------

    def _score(self, score: Score, state: StateRow) -> ScoreExplanation:
        cfg = self.config.scoring
        configured = self.scoring.rule_points()
        caps = {r.id: r.cap for r in cfg.behaviour if r.cap is not None}
        bar = cfg.mql
        mql_bar = f"{bar.threshold} points with fit >= {bar.min_fit}"
        if bar.or_fit_above is not None:
            mql_bar += f", or fit > {bar.or_fit_above} and behaviour > {bar.or_behaviour_above}"
        return ScoreExplanation(
            total=score.total,
            fit=score.fit,
            behaviour=score.behaviour,
            negative=score.negative,
            mql=score.mql,
            mql_bar=mql_bar + ", or a fast-lane trigger",
            fast_lane=score.fast_lane,
            fast_lane_reason=score.fast_lane_reason,
            disqualified=score.disqualified,
            disqualify_reason=score.disqualify_reason,
            outside_icp=score.outside_icp,
            track=str(score.track),
            summary=state.summary or score.summary,  # the line last written to the CRM
            model_version=score.model_version,
            last_signal_at=score.last_signal_at,
            caps={"fit": cfg.caps.fit, "behaviour": cfg.caps.behaviour},
            rules=[
                RulePoints(
                    item.rule_id,
                    item.label,
                    item.points,
                    item.category,
                    configured.get(item.rule_id),
                    caps.get(item.rule_id),
                )
                for item in score.reasons
            ],
            stored_total=state.score if state.computed_at is not None else None,
            stored_at=state.computed_at,
        )

    # -- lifecycle -----------------------------------------------------------------------------

    def _stage(
        self, person: PersonView, state: StateRow, score: Score, as_of: datetime
    ) -> StageExplanation:
        current = person.stage or state.stage or "lead"
        review = self.lifecycle.review(
            current,
            score,
            rejection_reason=person.contact.fields.get("rejection_reason"),
            stage_changed_at=state.stage_changed_at,
            now=as_of,
            spent_code=state.rejection_code,
        )
        moves = [StageMove(str(c.from_stage), str(c.to_stage), c.reason) for c in review.changes]
        flags = [f"{f.kind}: {f.detail}" for f in review.flags]
        decided = moves[-1].to_stage if moves else current
        return StageExplanation(
            current=current,
            decided=decided,
            owned_by=_owner_of(current),
            why=moves[-1].reason if moves else self._why_kept(current, score, state, as_of),
            changed_at=state.stage_changed_at,
            moves=moves,
            flags=flags,
        )

    def _why_kept(self, current: str, score: Score, state: StateRow, as_of: datetime) -> str:
        """Why the policy leaves the stage as it is (it decided no move)."""
        if current in SALES_STAGES:
            return (
                f"{current.upper()} is sales' stage: automation moves it only to carry out "
                "sales' rejection with a valid reason code"
            )
        if current == "disqualified":
            return "disqualified: automation leaves it (sales can re-open the lead)"
        if current == "recycled":
            cooldown = self.config.lifecycle.recycle_cooldown
            return (
                f"recycled to nurture: back to MQL once the score qualifies again after the "
                f"{cooldown.days}-day cooldown, on engagement newer than the recycle"
            )
        if current == "mql":
            since = f" since {state.stage_changed_at:%Y-%m-%d}" if state.stage_changed_at else ""
            qualifying = self.lifecycle.review(LifecycleStage.LEAD, score, now=as_of).changes
            if qualifying and qualifying[-1].to_stage is LifecycleStage.MQL:
                return f"MQL{since}: {qualifying[-1].reason}"
            return (
                f"MQL{since}; the score no longer qualifies ({score.total}), but automation "
                "never moves a stage back: sales accepts or rejects it"
            )
        if score.disqualified:
            return f"disqualified by scoring ({score.disqualify_reason}), but lifecycle.auto_disqualify is off"
        return f"score {score.total} (fit {score.fit}, behaviour {score.behaviour}) is below the MQL bar"


def _as_written(person: PersonView, state: StateRow, owners: OwnerBook) -> None:
    """Records unchanged since Handoff last decided hold what it wrote (owner, stage), though the
    store mirrors a write only when the CRM's answer dates it (HubSpot) or at the next pull."""
    decided = state.source_modified_at
    if decided is None or person.source_modified_at > decided:
        return
    if state.owner_email:
        person.owner_email = state.owner_email
        person.owner_active = owners.is_active(state.owner_email)
    person.stage = state.stage


def _owner_of(stage: str) -> str:
    try:
        canonical = LifecycleStage(stage)
    except ValueError:
        return "unknown"
    if canonical in AUTOMATION_OWNED or canonical is LifecycleStage.MQL:
        return "automation"
    if canonical is LifecycleStage.RECYCLED:
        return "nurture"
    if canonical is LifecycleStage.DISQUALIFIED:
        return "closed"
    return "sales"


def _ref(record: object) -> tuple[str, str, str]:
    return (record.connection, record.object_type, record.crm_id)  # type: ignore[attr-defined]


def _text(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def _plain_value(value: Any) -> Any:
    """A field value as JSON carries it (dates as ISO text)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value
