"""SLA engine: business-time clocks for lead follow-up, an escalation ladder, and metrics.

How the pipeline drives it (one session per run; the caller commits):

    sla = SlaEngine(config.sla)
    sla.start_clock(session, lead_key=..., owner_email=..., lane="fast", territory=...,
                    started_at=assigned_at, stage=None, context=score_reasons)   # at handoff
    sla.record_touches(session, [Touch.from_activity(a, lead_key=..., rep_email=...)])
    sla.stop_clocks(session, lead_key, "converted" | "disqualified" | "deleted", at)
    sla.merge(session, loser_key, survivor_key, at)
    for action in sla.evaluate(session, now):   # every schedules.sla_every
        CreateTask / NotifyManager -> TaskRequest with action.task_key (created at most once)
        Reassign -> the router picks a backup; then start_clock(...) for the new owner
        Flag -> reports
    session.commit()   # the engine's rung rows and the outbox rows together
    sla.metrics(session, since, until) -> SlaMetrics
"""

from routing.sla.actions import CreateTask, Flag, NotifyManager, Reassign, SlaAction, Touch
from routing.sla.calendar import BusinessCalendar
from routing.sla.engine import SlaEngine
from routing.sla.metrics import CadenceStats, ComplianceStats, SlaMetrics

__all__ = [
    "BusinessCalendar",
    "CadenceStats",
    "ComplianceStats",
    "CreateTask",
    "Flag",
    "NotifyManager",
    "Reassign",
    "SlaAction",
    "SlaEngine",
    "SlaMetrics",
    "Touch",
]
