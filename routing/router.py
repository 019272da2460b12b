"""The router: existing owner -> account owner -> territory round robin -> fallback.

`Router.route` decides one lead's owner and, when it assigns one, records the assignment and
advances the territory's persisted rotation in the caller's session, after locking the rotation
row (`SELECT ... FOR UPDATE` on PostgreSQL, the database write lock on SQLite). The caller
commits, so the rotation and the assignment land in one transaction. No CRM calls here: the
pipeline writes the owner back.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from functools import partial

from sqlmodel import Session

from config.routing import Rep, RoutingConfig, Territory
from routing import ledger
from routing.availability import Lane, day_start, out_of_office, skip_reason
from routing.decision import RoutingDecision, RoutingLead, Rule
from routing.directory import OwnerDirectory
from routing.rotation import next_pick
from routing.territory import by_rank, field_names, first_match


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _skips(skipped: list[tuple[str, str]]) -> str:
    return ", ".join(f"{email} skipped: {why}" for email, why in skipped)


def _by_fields(territory: Territory, lead: RoutingLead) -> str:
    """ " (employee band large)": the field values that put the lead in the territory."""
    if not territory.match.fields:
        return ""
    return " " + lead.place.describe(list(territory.match.fields))


def _lower(email: str | None) -> str | None:
    return email.strip().lower() if email and email.strip() else None


class Router:
    def __init__(self, config: RoutingConfig, directory: OwnerDirectory) -> None:
        self.config = config
        self.directory = directory
        self._ranked = by_rank(config.territories)
        self._field_names = field_names(config.territories)
        self._weights = {t.name: [(r.email, r.weight) for r in t.reps] for t in config.territories}

    def route(
        self,
        session: Session,
        lead: RoutingLead,
        now: datetime,
        *,
        exclude: frozenset[str] = frozenset(),
        lane: Lane = "fast",
    ) -> RoutingDecision:
        """Decide `lead`'s owner; record it in `session` when a new owner is chosen. A decision
        already recorded under `lead.decision_key` is returned as it was (never made twice)."""
        if now.tzinfo is None:
            raise ValueError("Router.route needs a tz-aware `now`")
        if (earlier := _recorded(session, lead)) is not None:
            return earlier
        if lane == "nurture" and not lead.is_mql:
            return RoutingDecision(None, None, "held", "nurture lead: routed when it becomes MQL")
        excluded = frozenset(e.strip().lower() for e in exclude)
        notes: list[str] = []
        current = _lower(lead.current_owner_email)
        if current is not None and current in excluded:
            notes.append(f"reassigned from {current}")
        elif current is not None and self.config.keep_existing_owner:
            if self.directory.is_active(current):
                # the lead's territory all the same: its SLA clock keeps the territory's
                # business hours (a demo request from a lead owned already: sync/decide.py)
                territory = first_match(self._ranked, lead.place)
                return RoutingDecision(
                    current,
                    territory.name if territory is not None else None,
                    "existing_owner",
                    f"existing owner {current} kept",
                )
            notes.append(f"existing owner {current} inactive")
        return self._assign(session, lead, now, lane, notes, excluded)

    def _assign(
        self,
        session: Session,
        lead: RoutingLead,
        now: datetime,
        lane: Lane,
        notes: list[str],
        excluded: frozenset[str],
    ) -> RoutingDecision:
        """Account owner -> territory round robin -> fallback."""
        account_owner = _lower(lead.account_owner_email)
        account = lead.account_label or lead.place.company_domain or "the account"
        if self.config.account_owner_first and account_owner is None and lead.account_note:
            notes.append(lead.account_note)
        if self.config.account_owner_first and account_owner is not None:
            if account_owner in excluded:
                notes.append(f"account owner {account_owner} of {account} excluded")
            elif not self.directory.is_active(account_owner):
                notes.append(f"account owner {account_owner} of {account} inactive")
            else:
                return self._record(
                    session,
                    lead,
                    now,
                    lane,
                    notes,
                    account_owner,
                    None,
                    "account_owner",
                    f"account owner of {account}",
                )
        territory = first_match(self._ranked, lead.place)
        if territory is None:
            return self._fall_back(
                session,
                lead,
                now,
                lane,
                notes,
                None,
                excluded,
                f"no territory matches {lead.place.describe(self._field_names)}",
                [],
            )
        return self._round_robin(session, lead, now, lane, notes, territory, excluded)

    def escalate(
        self,
        session: Session,
        lead: RoutingLead,
        now: datetime,
        *,
        previous_owner: str,
        lane: Lane = "fast",
    ) -> RoutingDecision:
        """An SLA escalation: the territory's backup, then its manager, then the usual rules.

        The previous owner is excluded throughout; `lead.current_owner_email` is ignored.
        """
        if now.tzinfo is None:
            raise ValueError("Router.escalate needs a tz-aware `now`")
        if (earlier := _recorded(session, lead)) is not None:
            return earlier
        previous = previous_owner.strip().lower()
        lead = replace(lead, current_owner_email=previous)
        excluded = frozenset({previous})
        territory = first_match(self._ranked, lead.place)
        notes = [f"escalated from {previous}"]
        if territory is not None:
            for role in ("backup", "manager"):
                email = getattr(territory, role)
                if email is None or email in excluded:
                    continue
                why = self._unavailable(territory, email, now)
                if why is None:
                    return self._record(
                        session,
                        lead,
                        now,
                        lane,
                        notes,
                        email,
                        territory.name,
                        "escalation",
                        f"{territory.name} {role} {email}",
                    )
                notes.append(f"{role} {email} skipped: {why}")
        return self._assign(session, lead, now, lane, notes, excluded)

    # -- the round robin ------------------------------------------------------------------------

    def _round_robin(
        self,
        session: Session,
        lead: RoutingLead,
        now: datetime,
        lane: Lane,
        notes: list[str],
        territory: Territory,
        excluded: frozenset[str],
    ) -> RoutingDecision:
        if not territory.reps:
            return self._fall_back(
                session,
                lead,
                now,
                lane,
                notes,
                territory,
                excluded,
                f"{territory.name} has no reps",
                [],
            )
        rotation = ledger.lock_rotation(session, territory.name)
        skipped: list[tuple[str, str]] = []
        eligible: set[str] = set()
        for rep in territory.reps:
            why = skip_reason(
                rep,
                self.directory.status(rep.email),
                now,
                lane,
                excluded=rep.email in excluded,
                assigned_today=partial(self._assigned_today, session, rep, now),
                open_leads=partial(self._open_leads, session, rep.email),
            )
            if why is None:
                eligible.add(rep.email)
            else:
                skipped.append((rep.email, why))
        pick = next_pick(
            self._weights[territory.name],
            rotation.current_weights,
            eligible,
            make_up_skipped=self.config.make_up_skipped,
        )
        if pick is None:
            return self._fall_back(
                session,
                lead,
                now,
                lane,
                notes,
                territory,
                excluded,
                f"nobody in {territory.name} can take it",
                skipped,
            )
        rotation.turn += 1
        rotation.current_weights = pick.state
        rotation.updated_at = now
        position = next(i for i, r in enumerate(territory.reps, 1) if r.email == pick.email)
        reason = (
            f"{territory.name}{_by_fields(territory, lead)} round robin, "
            f"{_ordinal(position)} of {len(territory.reps)}"
        )
        if skipped:
            reason += ", " + _skips(skipped)
        return self._record(
            session,
            lead,
            now,
            lane,
            notes,
            pick.email,
            territory.name,
            "round_robin",
            reason,
            skipped=skipped,
            slot=rotation.turn,
        )

    def _fall_back(
        self,
        session: Session,
        lead: RoutingLead,
        now: datetime,
        lane: Lane,
        notes: list[str],
        territory: Territory | None,
        excluded: frozenset[str],
        why: str,
        skipped: list[tuple[str, str]],
    ) -> RoutingDecision:
        candidates: list[tuple[str, str]] = []
        if territory is not None:
            if territory.fallback:
                candidates.append((territory.fallback, f"{territory.name} fallback"))
            if territory.manager:
                candidates.append((territory.manager, f"{territory.name} manager"))
        if self.config.fallback is not None:
            candidates.append((self.config.fallback.owner, "fallback queue"))
        if skipped:
            why += " (" + ", ".join(f"{email}: {reason}" for email, reason in skipped) + ")"
        refused: list[str] = []
        for email, role in candidates:
            if email in excluded:
                refused.append(f"{role} {email} excluded")
            elif not self.directory.is_active(email):
                refused.append(f"{role} {email} inactive in the CRM")
            else:
                return self._record(
                    session,
                    lead,
                    now,
                    lane,
                    notes + refused,
                    email,
                    territory.name if territory else None,
                    "fallback",
                    f"fallback to {email} ({role}): {why}",
                    skipped=skipped,
                )
        refused = refused or ["no fallback owner configured"]
        reason = "; ".join([*notes, f"unassigned: {why}", *refused])
        return RoutingDecision(
            None, territory.name if territory else None, "unassigned", reason, skipped
        )

    # -- availability outside the rotation ------------------------------------------------------

    def _unavailable(self, territory: Territory, email: str, now: datetime) -> str | None:
        status = self.directory.status(email)
        if status is None:
            return "not a CRM owner"
        if not status.active:
            return "inactive in the CRM"
        rep = territory.rep(email)
        if (rep is not None and out_of_office(rep, status, now)) or status.out_of_office:
            return "out of office"
        return None

    # -- persistence ----------------------------------------------------------------------------

    def _assigned_today(self, session: Session, rep: Rep, now: datetime) -> int:
        return ledger.assignments_since(session, rep.email, day_start(rep, now))

    def _open_leads(self, session: Session, email: str) -> int:
        status = self.directory.status(email)
        snapshot = status.open_leads if status is not None else 0
        return snapshot + ledger.assignments_since(session, email, self.directory.as_of)

    def _record(
        self,
        session: Session,
        lead: RoutingLead,
        now: datetime,
        lane: Lane,
        notes: list[str],
        owner: str,
        territory: str | None,
        rule: Rule,
        reason: str,
        *,
        skipped: list[tuple[str, str]] | None = None,
        slot: int | None = None,
    ) -> RoutingDecision:
        full_reason = "; ".join([*notes, reason])
        ledger.record(
            session,
            lead_key=lead.key,
            owner_email=owner,
            previous_owner_email=_lower(lead.current_owner_email),
            rule=rule,
            territory=territory,
            turn=slot,
            lane=lane,
            reason=full_reason,
            assigned_at=now,
            decision_key=lead.decision_key,
            source_owner_email=_lower(lead.source_owner_email),
        )
        return RoutingDecision(owner, territory, rule, full_reason, skipped or [], slot)


def _recorded(session: Session, lead: RoutingLead) -> RoutingDecision | None:
    """The decision recorded under the lead's decision key, when an earlier run made it."""
    if lead.decision_key is None or lead.decision_unrecorded:
        return None
    row = ledger.decided(session, lead.decision_key)
    if row is None:
        return None
    rule: Rule = row.rule  # type: ignore[assignment]
    return RoutingDecision(row.owner_email, row.territory, rule, row.reason, [], row.turn)
