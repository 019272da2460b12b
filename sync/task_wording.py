"""SLA tasks a rep acts on: who, at which company, why now, and by when in the rep's hours.

The SLA engine decides *that* a task is due (routing/sla/ladder.py); this module words it for the
person at hand, from what the decision stage knows: the person's name, title and company, the
signal that made them sales-ready (the fast-lane trigger, or the MQL score with its reasons),
and the deadline in the clock's business calendar (the territory's time zone): "due by 11:00 EST
Thu 19 Nov". No internal keys (person keys, task keys, clock ids) appear in either text.

Subjects fit HubSpot's `hs_task_subject` and Salesforce's Task `Subject` (255 characters, cut
at a word boundary); bodies go to `hs_task_body` / `Description`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from connectors.records import Actor
from routing.sla.actions import CreateTask, NotifyManager
from routing.sla.calendar import BusinessCalendar
from routing.sla.tables import SlaClock
from scoring.score import clip
from scoring.wording import asset_name
from sync.people import PersonView
from sync.person_state import StateRow

SUBJECT_LIMIT = 255
BODY_LIMIT = 32_000  # Salesforce Task Description holds 32,000 characters
_LANES = {"fast": "fast lane", "mql": "MQL"}


@dataclass(frozen=True, slots=True)
class TaskText:
    subject: str
    body: str


def deadline(at: datetime, calendar: BusinessCalendar | None) -> str:
    """ "11:00 EST Thu 19 Nov": the time in the calendar's zone (UTC without a calendar)."""
    local = calendar.local(at) if calendar is not None else at
    return f"{local:%H:%M %Z %a} {local.day} {local:%b}"


class PersonWords:
    """What a task says about one person."""

    def __init__(self, person: PersonView, state: StateRow | None) -> None:
        f = person.contact.fields
        name = " ".join(str(f.get(k) or "").strip() for k in ("first_name", "last_name")).strip()
        self.email = person.contact.email or str(f.get("email") or "")
        self.name = name or self.email or "this lead"
        self.title = str(f.get("title") or "").strip()
        self.company = str(f.get("company") or "").strip()
        self.person = person
        self.state = state

    @property
    def short(self) -> str:
        """ "Dana Fox (VP of Marketing, Northwave)" """
        extra = ", ".join(x for x in (self.title, self.company) if x)
        return f"{self.name} ({extra})" if extra else self.name

    @property
    def who(self) -> str:
        """ "Dana Fox, VP of Marketing at Northwave <dana.fox@northwave.com>" """
        text = self.name
        if self.title and self.company:
            text += f", {self.title} at {self.company}"
        elif self.title or self.company:
            text += f", {self.title or self.company}"
        if self.email and self.email != self.name:
            text += f" <{self.email}>"
        return text

    def why_now(self, calendar: BusinessCalendar | None) -> str:
        """The signal that made them sales-ready, and their latest action."""
        state = self.state
        line = state.summary if state is not None else ""
        first = line.split(" · ", 1)[0] if line else ""
        if first.startswith("Fast lane: "):
            why = first.removeprefix("Fast lane: ") + " (fast lane)"
        elif state is not None and state.mql:
            why = f"became an MQL at score {state.score}"
        else:
            why = f"score {state.score}" if state is not None else "handed to sales"
        latest = self._latest(calendar)
        return f"{why}; latest: {latest}" if latest else why

    def _latest(self, calendar: BusinessCalendar | None) -> str:
        own = [a for a in self.person.activities if a.actor is Actor.CONTACT]
        if not own:
            return ""
        last = max(own, key=lambda a: a.occurred_at)
        what = str(last.kind).replace("_", " ")
        name = asset_name(last)
        named = f"{what} '{name}'" if name else what
        return f"{named} at {deadline(last.occurred_at, calendar)}"


def owner_task(
    action: CreateTask,
    clock: SlaClock | None,
    words: PersonWords,
    calendar: BusinessCalendar | None,
) -> TaskText:
    """The owner's reminder or breach task."""
    due = deadline(action.due_at, calendar)
    breached = not action.subject.startswith("Reminder")  # the ladder's remind_owner rung
    if breached:
        subject = f"SLA breached: contact {words.short} now, due by {due}"
    else:
        subject = f"Reminder: contact {words.short}, first touch due by {due}"
    lines = [f"Who: {words.who}", f"Why now: {words.why_now(calendar)}"]
    if clock is not None:
        lane = _LANES.get(clock.lane, clock.lane)
        where = f", territory {clock.territory}" if clock.territory else ""
        was = "was due" if breached else "due"
        lines.append(
            f"Assigned to you at {deadline(clock.started_at, calendar)} ({lane}{where}); "
            f"first touch {was} by {deadline(clock.due_at, calendar)}."
        )
    lines.append(f"Do: call or email {words.name} by {due}.")
    return _text(subject, lines, words)


def manager_task(
    action: NotifyManager,
    clock: SlaClock | None,
    words: PersonWords,
    calendar: BusinessCalendar | None,
    *,
    names: Mapping[str, str],
    manager: str | None,
    new_owner: str | None,
) -> TaskText:
    """The manager's escalation: what lapsed, who was told, what happened to the lead."""
    owner = _rep(action.owner_email, names)
    was_due = deadline(clock.due_at if clock is not None else action.due_at, calendar)
    if new_owner:
        subject = (
            f"SLA escalation, reassigned: {words.short} to {names.get(new_owner, new_owner)}; "
            f"{names.get(action.owner_email, action.owner_email)} missed first touch"
        )
    else:
        subject = (
            f"SLA escalation: {names.get(action.owner_email, action.owner_email)} has not "
            f"contacted {words.short}"
        )
    told = [f"{_rep(manager, names)} (this task)" if manager else "you (this task)"]
    if action.webhook_url:
        told.append("the team channel (webhook)")
    if new_owner:
        told.append(f"{_rep(new_owner, names)} (the new owner)")
    lines = [
        f"What lapsed: first touch on {words.name} was due by {was_due}; {owner} made no "
        "call, email or meeting.",
        f"Who was told: {', '.join(told)}.",
    ]
    if new_owner:
        lines.append(f"Reassigned to {_rep(new_owner, names)}, whose first-touch clock starts now.")
    else:
        by = deadline(action.due_at, calendar)
        lines.append(f"The lead stays with {owner}: follow up with them by {by}.")
    lines += [f"Who: {words.who}", f"Why now: {words.why_now(calendar)}"]
    return _text(subject, lines, words)


def _rep(email: str | None, names: Mapping[str, str]) -> str:
    if not email:
        return "the owner"
    name = names.get(email.lower())
    return f"{name} <{email}>" if name else email


def _text(subject: str, lines: list[str], words: PersonWords) -> TaskText:
    reasons = words.state.summary if words.state is not None else ""
    if reasons:
        lines.append(f"Why this lead: {reasons}")
    return TaskText(clip(subject, SUBJECT_LIMIT), clip("\n".join(lines), BODY_LIMIT))
