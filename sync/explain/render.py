"""`handoff explain` as text a rep or an admin reads, and as JSON: both from one `Explanation`."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sync.explain.model import ClockExplanation, Explanation, RoutingExplanation

STAGE_WORDS = {
    "subscriber": "subscriber",
    "lead": "lead",
    "mql": "MQL",
    "sal": "SAL",
    "sql": "SQL",
    "opportunity": "opportunity",
    "customer": "customer",
    "recycled": "recycled (nurture)",
    "disqualified": "disqualified",
}
RULE_WORDS = {
    "existing_owner": "existing owner",
    "account_owner": "account owner",
    "round_robin": "territory round robin",
    "fallback": "fallback",
    "escalation": "SLA escalation",
    "held": "held",
    "unassigned": "unassigned",
}

RUNG_WORDS = {
    "remind_owner": "reminder to the owner",
    "task_owner": "task for the owner",
    "reassign_backup": "reassign to the backup rep",
    "notify_manager": "notify the manager",
    "flag": "flag in the report",
}


def stage_word(stage: str) -> str:
    return STAGE_WORDS.get(stage, stage)


def to_json(explanation: Explanation) -> str:
    return json.dumps(
        explanation.as_dict(), indent=2, sort_keys=True, default=str, ensure_ascii=False
    )


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M}Z" if value else "-"


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "blank"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def to_text(e: Explanation) -> str:
    lines: list[str] = []
    who = e.name + (f" <{e.email}>" if e.email and e.email != e.name else "")
    role = " at ".join(x for x in (e.title, e.company) if x)
    lines.append(who + (f" · {role}" if role else ""))
    source = "pulled live from the CRM" if e.source == "live" else "from the state store"
    lines.append(f"  as of {_when(e.as_of)} ({source}); person {e.person}")
    for record in e.records:
        link = f"  {record.url}" if record.url else ""
        lines.append(f"  {record.connection} {record.object_type} {record.crm_id}{link}")
    if e.custom_fields:
        shown = (
            f"{e.custom_titles.get(name, name)} {_shown(value)}"
            for name, value in e.custom_fields.items()
        )
        lines.append("  custom fields: " + " · ".join(shown))
    lines += [f"  note: {note}" for note in e.notes]
    lines += ["", *_score(e), "", *_stage(e), "", *_routing(e.routing), "", *_sla(e.clocks)]
    lines += ["", *_pending(e)]
    return "\n".join(lines) + "\n"


def _score(e: Explanation) -> list[str]:
    s = e.score
    verdict = "MQL" if s.mql else "not MQL"
    if s.fast_lane:
        verdict += f", fast lane: {s.fast_lane_reason}"
    if s.disqualified:
        verdict += f", disqualified: {s.disqualify_reason}"
    lines = [
        f"Score {s.total} = fit {s.fit} + behaviour {s.behaviour} + penalties {s.negative}"
        f"  ({verdict}; the bar: {s.mql_bar})",
        f"  caps: fit {s.caps['fit']}, behaviour {s.caps['behaviour']}; model {s.model_version}; "
        f"last signal {_when(s.last_signal_at)}",
    ]
    if s.outside_icp:
        lines.append("  outside the ICP: the total is held at the ICP ceiling")
    for rule in s.rules:
        limits = []
        if rule.configured is not None:
            limits.append(f"{rule.configured:+d} each" if rule.cap else f"{rule.configured:+d}")
        if rule.cap is not None:
            limits.append(f"cap {rule.cap}")
        extra = f"  [{', '.join(limits)}]" if limits else ""
        lines.append(
            f"  {rule.points:+4d}  {rule.category:<10} {rule.label}  ({rule.rule_id}){extra}"
        )
    if not s.rules:
        lines.append("  no fit or intent signals yet")
    lines.append(f"  reason line in the CRM: {s.summary}")
    return lines


def _stage(e: Explanation) -> list[str]:
    st = e.stage
    if st.moves:
        head = f"Stage: {stage_word(st.current)} -> {stage_word(st.decided)}"
    else:
        head = f"Stage: {stage_word(st.current)} (no change)"
    lines = [f"{head}  [{st.owned_by} owns this stage]", f"  why: {st.why}"]
    if st.changed_at:
        lines.append(f"  stage set {_when(st.changed_at)}")
    lines += [f"  flag: {flag}" for flag in st.flags]
    return lines


def _routing(r: RoutingExplanation) -> list[str]:
    owner = r.owner or "nobody"
    if r.owner and not r.owner_active:
        owner += " (inactive)"
    lines = [f"Owner: {owner}"]
    if r.company_domain:
        lines.append(f"  account owner of {r.company_domain}: {r.account_owner or 'none'}")
    if r.territory:
        lines.append(
            f"  territory: {r.territory} {r.place}; its round robin has made {r.rotation_turn} "
            "assignments"
        )
        for rep in r.reps:
            state = f"skipped: {rep.skipped}" if rep.skipped else "available"
            lines.append(f"    {rep.position}. {rep.email} (weight {rep.weight}) {state}")
    else:
        lines.append(f"  territory: none matches {r.place}")
    if r.router is not None:
        d = r.router
        turn = f", turn {d.turn}" if d.turn else ""
        lines.append(
            f"  the router now ({d.lane} lane): {RULE_WORDS.get(d.rule, d.rule)} -> "
            f"{d.owner or 'nobody'}{turn}: {d.reason}"
        )
    for a in r.assignments:
        turn = f", turn {a.turn}" if a.turn else ""
        lines.append(
            f"  assigned {_when(a.assigned_at)} to {a.owner} by "
            f"{RULE_WORDS.get(a.rule, a.rule)}{turn}: {a.reason}"
        )
    if not r.assignments:
        lines.append("  no assignment recorded")
    return lines


def _sla(clocks: list[ClockExplanation]) -> list[str]:
    if not clocks:
        return ["SLA: no clock (a clock starts when a lead is handed to a rep)"]
    lines = ["SLA:"]
    for c in clocks:
        lines.append(
            f"  {c.lane} lane, {c.owner}: started {_when(c.started_at)}, first-touch deadline "
            f"{_when(c.due_at)} ({c.policy} policy, {c.calendar} calendar): {_clock_state(c)}"
        )
        for rung in c.rungs:
            mark = "fired" if rung.fired else "due"
            lines.append(
                f"    rung {rung.at:>5}: {RUNG_WORDS.get(rung.action, rung.action)}, {mark} {_when(rung.due_at)}"
            )
        if c.next_rung is not None:
            lines.append(
                f"    next rung: {RUNG_WORDS.get(c.next_rung.action, c.next_rung.action)} at "
                f"{_when(c.next_rung.due_at)} "
                f"({c.next_rung.at})"
            )
    return lines


def _clock_state(c: ClockExplanation) -> str:
    if c.state == "touched":
        return f"touched {_when(c.first_touch_at)} by {c.first_touch_by or '?'}"
    if c.state == "ended":
        return f"ended {_when(c.ended_at)} ({c.end_reason or '?'})"
    return "breached, not touched yet" if c.state == "breached" else "running"


def _pending(e: Explanation) -> list[str]:
    if not e.pending:
        return ["Pending writes: none (the CRM holds what Handoff decided)"]
    lines = [f"Pending writes: {len(e.pending)}"]
    for p in e.pending:
        what = f"task '{p.field}'" if p.kind == "task" else f"{p.field} = {_short(p.value)}"
        error = f" (last error: {p.last_error})" if p.last_error else ""
        lines.append(
            f"  {p.status:<8} {p.connection} {p.object_type} {p.record_id}: {what}  ({p.reason}){error}"
        )
    return lines


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 60 else text[:59] + "…"
