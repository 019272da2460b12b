"""What one demo run did, in the domain's words, read from the state store it left behind.

Who became MQL (and who took the fast lane), which rep got which leads and by which routing rule,
the tasks the SLA ladder created and the leads it reassigned, and one person to explain. The
counts come from the store's decisions of that run (stage changes, the assignment ledger, the
outbox items written), never from a CRM's raw values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from routing.tables import Assignment
from sync.explain.render import RULE_WORDS, stage_word
from sync.store.tables import OutboxItem, OwnerRecord, PersonRecord, PersonState, RunRecord


@dataclass(frozen=True)
class RepShare:
    email: str
    name: str
    leads: int
    rules: dict[str, int]  # routing rule -> leads

    def line(self) -> str:
        why = ", ".join(f"{n} by {RULE_WORDS.get(rule, rule)}" for rule, n in self.rules.items())
        return f"{self.name or self.email} <{self.email}>: {self.leads} ({why})"


@dataclass(frozen=True)
class Example:
    """One person handed to a rep in the run: who, to whom, why."""

    email: str
    name: str
    title: str
    company: str
    owner: str
    rule: str
    route: str
    score: int
    reasons: str
    lane: str


@dataclass
class RunStory:
    run_id: str
    as_of: datetime
    scored: int = 0
    became_mql: int = 0
    fast_lane: int = 0
    reps: list[RepShare] = field(default_factory=list)
    tasks: Counter[str] = field(default_factory=Counter)  # owner name -> tasks created
    reassigned: int = 0
    example: Example | None = None

    @property
    def handed(self) -> int:
        return sum(rep.leads for rep in self.reps)

    def lines(self) -> list[str]:
        out = [
            f"{self.scored} people scored; {self.became_mql} became {stage_word('mql')}, "
            f"{self.fast_lane} of the leads handed to reps took the fast lane "
            "(a demo request, a contact-sales form or a referral)"
        ]
        if self.reps:
            out.append(f"{self.handed} leads handed to {len(self.reps)} reps:")
            out += [f"  {rep.line()}" for rep in self.reps]
        if self.tasks:
            total = sum(self.tasks.values())
            who = ", ".join(f"{name} {n}" for name, n in self.tasks.most_common())
            out.append(
                f"{total} follow-up tasks created for owners whose leads nobody touched: {who}"
            )
        if self.reassigned:
            out.append(f"{self.reassigned} leads reassigned to a backup rep (the SLA lapsed)")
        return out


def read_story(engine: Engine, run_id: str) -> RunStory:
    with Session(engine) as session:
        run = session.get(RunRecord, run_id)
        if run is None:
            raise LookupError(f"no run {run_id} in the state store")
        story = RunStory(run_id, run.as_of, scored=int(run.counts.get("scored", 0)))
        names = {
            (o.connection, o.crm_id): o.name or o.email or o.crm_id
            for o in session.exec(select(OwnerRecord)).all()
        }
        by_email = {
            o.email: o.name for o in session.exec(select(OwnerRecord)).all() if o.email and o.name
        }
        story.became_mql = len(
            session.exec(
                select(PersonState.person_key).where(
                    col(PersonState.stage) == "mql", col(PersonState.stage_changed_at) == run.as_of
                )
            ).all()
        )
        handed = session.exec(
            select(Assignment)
            .where(col(Assignment.assigned_at) == run.as_of)
            .order_by(col(Assignment.lead_key))
        ).all()
        story.fast_lane = sum(1 for a in handed if a.lane == "fast" and a.rule != "escalation")
        story.reassigned = sum(1 for a in handed if a.rule == "escalation")
        shares: dict[str, Counter[str]] = {}
        for a in handed:
            shares.setdefault(a.owner_email, Counter())[a.rule] += 1
        story.reps = sorted(
            (
                RepShare(email, by_email.get(email, ""), sum(c.values()), dict(c.most_common()))
                for email, c in shares.items()
            ),
            key=lambda r: (-r.leads, r.email),
        )
        for item in session.exec(
            select(OutboxItem).where(
                col(OutboxItem.run_id) == run_id,
                col(OutboxItem.kind) == "task",
                col(OutboxItem.status) == "applied",
            )
        ).all():
            owner = str(item.payload.get("owner_id", ""))
            story.tasks[names.get((item.connection, owner), owner)] += 1
        story.example = _example(session, handed, by_email)
    return story


def _example(
    session: Session, handed: Sequence[Assignment], names: dict[str, str]
) -> Example | None:
    """A person routed by the territory round robin (the path with the most to explain)."""
    preferred = sorted(
        (a for a in handed if a.rule != "escalation"),
        key=lambda a: (a.rule != "round_robin", a.lane != "fast", a.lead_key),
    )
    for a in preferred:
        record = session.exec(
            select(PersonRecord).where(
                col(PersonRecord.person_key) == a.lead_key, col(PersonRecord.status) == "active"
            )
        ).first()
        state = session.get(PersonState, a.lead_key)
        if record is None or state is None or not record.email:
            continue
        f = record.fields
        name = " ".join(str(f.get(k) or "") for k in ("first_name", "last_name")).strip()
        return Example(
            email=record.email,
            name=name or record.email,
            title=str(f.get("title") or ""),
            company=str(f.get("company") or ""),
            owner=names.get(a.owner_email, a.owner_email),
            rule=a.rule,
            route=a.reason,
            score=state.score,
            reasons=state.summary,
            lane=a.lane,
        )
    return None
