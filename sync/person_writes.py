"""What one decision plans into the outbox for a person's records: score fields, lifecycle stage
(or its mirror, where another system owns it), owner (or its mirror), and where the person's
records in several CRMs disagree. A part of the decision stage (sync/decide.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from scoring.lifecycle import (
    LifecycleDecision,
    PolicyFlag,
    StageChange,
    is_forward,
    is_regression,
    moves_owning_stage,
)
from sync.decision_tally import DecisionTally
from sync.outbox import OutboxPlanner
from sync.people import PersonView
from sync.reasons import ReasonPublisher, ScoreWords
from sync.store.tables import PersonRecord


class PersonWrites:
    """The decision stage's planning of one person's CRM writes."""

    engines: Any
    planner: OutboxPlanner
    tally: DecisionTally
    reasons: ReasonPublisher

    def _plan_owner(self, person: PersonView, owner_email: str) -> None:
        refused = self._write_owners(person, owner_email)
        if refused:  # routed, but the rep would never see it in the CRM: say so, never silence
            self._owner_not_written(
                person, "route_not_written", f"routed to {owner_email}", refused
            )

    def _write_owners(self, person: PersonView, owner_email: str) -> list[str]:
        """Plan the owner on every record; why not, when no record takes it (else [])."""
        refused = [
            why
            for record in person.write_targets()
            if (why := self._write_owner(record, owner_email, f"routed to {owner_email}"))
        ]
        targets = person.write_targets()
        if not targets:
            return ["no CRM record to write"]
        return refused if len(refused) == len(targets) else []

    def _owner_not_written(
        self, person: PersonView, flag: str, what: str, refused: list[str]
    ) -> None:
        self.tally.flags.append(
            {
                "person": person.key,
                "owner": person.owner_email,
                "flag": flag,
                "detail": f"{what}, but the owner stays: " + "; ".join(refused),
            }
        )

    def _write_owner(self, record: PersonRecord, owner_email: str, reason: str) -> str | None:
        """Plan the record's owner as the CRM user with this email (never a guess); why not,
        when the record keeps another owner."""
        owner_id = self.engines.owners.id_for(record.connection, owner_email)
        if owner_id is None:
            self.tally.unmatched_owners[(record.connection, owner_email)] += 1
            return f"{record.connection} has no user {owner_email}"
        self.planner.write_field(
            record.connection,
            record.object_type,
            record.crm_id,
            "owner_id",
            owner_id,
            record.fields.get("owner_id"),
            reason,
        )
        return self.planner.refused

    def _plan_person_writes(
        self,
        person: PersonView,
        score: Any,
        words: ScoreWords,
        review: LifecycleDecision,
        current: str,
        owner_email: str | None,
    ) -> None:
        for record in person.write_targets():
            self.planner.observe(
                record.connection, record.object_type, record.crm_id, record.fields
            )
            self._plan_scores(record, score, words)
            self._plan_stage(person, record, review.last, current)
        if owner_email and owner_email != person.owner_email:
            self._plan_owner(person, owner_email)
        elif owner_email:
            self._mirror_owner(person, owner_email)
        self._compare_systems(person)

    def carried_out(
        self, person: PersonView, review: LifecycleDecision, current: str
    ) -> LifecycleDecision:
        """The review as the owning system can carry it out: sales' verdict that its record cannot
        take (the stage is not managed there, or the config gives it no value for the stage) is
        not decided, so Handoff's state keeps the stage the CRM shows, and a flag says why."""
        change = review.last
        if change is None or not change.by_sales:
            return review
        owning = [r for r in person.write_targets() if r.connection == person.lifecycle_from]
        why = (
            self.planner.refusal(
                owning[0].connection,
                owning[0].object_type,
                "lifecycle_stage",
                str(change.to_stage),
            )
            if owning
            else f"no {person.lifecycle_from} record to write"
        )
        if why is None:
            return review
        flag = PolicyFlag(
            "rejection_not_written",
            f"{change.reason}, but the stage stays {current}: {why}",
        )
        return replace(review, changes=(), flags=(*review.flags, flag))

    def _plan_stage(
        self, person: PersonView, record: PersonRecord, change: StageChange | None, current: str
    ) -> None:
        """One lifecycle write a record at most. In the owning system automation moves its own
        stages, and a stage sales owns only to carry out sales' verdict (scoring.lifecycle
        `moves_owning_stage`); elsewhere the owning system's stage is mirrored, forward only."""
        stage = str(change.to_stage) if change is not None else current
        if record.connection == person.lifecycle_from:
            if change is None or not moves_owning_stage(current, change):
                return
            by_sales, clear_first = change.by_sales, is_regression(current, stage)
            reason = change.reason if by_sales else f"lifecycle {current} -> {stage}"
        elif is_forward(person.held(record, "lifecycle_stage"), stage):
            reason = f"lifecycle mirrored from {person.lifecycle_from}: {stage}"
            by_sales = clear_first = False
        else:
            return
        self.planner.write_field(
            record.connection,
            record.object_type,
            record.crm_id,
            "lifecycle_stage",
            stage,
            record.fields.get("lifecycle_stage"),
            reason,
            clear_first=clear_first,
            by_sales=by_sales,
        )

    def _plan_scores(self, record: PersonRecord, score: Any, words: ScoreWords) -> None:
        values = self.reasons.values(record.connection, record.fields, score, words)
        for name, value in values:
            self.planner.write_field(
                record.connection,
                record.object_type,
                record.crm_id,
                name,
                value,
                record.fields.get(name),
                "score",
            )

    def _mirror_owner(self, person: PersonView, owner_email: str) -> None:
        """Records in other systems follow the owner of the owning system (same email)."""
        for record in person.write_targets():
            current = self.engines.owners.email_for(
                record.connection, person.held(record, "owner_id")
            )
            if record.connection == person.owner_from or current == owner_email:
                continue
            if not self.planner.managed(record.connection, record.object_type, "owner_id"):
                continue
            self._write_owner(
                record, owner_email, f"owner mirrored from {person.owner_from}: {owner_email}"
            )

    def _compare_systems(self, person: PersonView) -> None:
        """One person in several CRMs: report where they disagree, and true duplicates."""
        seen: dict[tuple[str, str], int] = {}
        for record in person.records:
            slot = (record.connection, record.object_type)
            seen[slot] = seen.get(slot, 0) + 1
        for (connection, object_type), n in sorted(seen.items()):
            if n > 1:
                self.tally.duplicates.append(
                    {
                        "person": person.key,
                        "connection": connection,
                        "object": object_type,
                        "records": n,
                    }
                )
        targets = person.write_targets()
        if len(targets) < 2:
            return
        stages = {t.connection: t.fields.get("lifecycle_stage") for t in targets}
        owners = {
            t.connection: self.engines.owners.email_for(t.connection, t.fields.get("owner_id"))
            for t in targets
        }
        for name, values in (("lifecycle_stage", stages), ("owner", owners)):
            if len({v for v in values.values() if v not in (None, "")}) > 1:
                self.tally.disagreements.append(
                    {"person": person.key, "field": name, "values": values}
                )
