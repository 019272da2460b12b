"""The run report as plain, deterministic data (sorted, UTC, no random ids).

Every renderer (Markdown, CSV, JSON, HTML) reads this one structure; its JSON form is versioned
(`schema: handoff.report/v1`) and documented in docs/reports.md.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from config.model import HandoffConfig
from routing.sla.engine import SlaEngine
from sync.pipeline import RunResult
from sync.store.tables import OutboxItem, PersonState

SCHEMA = "handoff.report/v1"
FUNNEL = ("subscriber", "lead", "mql", "sal", "sql", "opportunity", "customer")
SCORE_BANDS = ((0, 20), (20, 40), (40, 60), (60, 80), (80, 101))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, timedelta):
        return round(value.total_seconds(), 1)
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(getattr(value, k)) for k in sorted(value.__dataclass_fields__)}
    return value


def build_report(
    result: RunResult, session: Session, config: HandoffConfig, sla: SlaEngine
) -> dict[str, Any]:
    tally = result.tally
    states = session.exec(select(PersonState)).all()
    stages = Counter(s.stage for s in states)
    funnel = []
    previous = None
    for stage in FUNNEL:
        reached = sum(n for st, n in stages.items() if st in FUNNEL[FUNNEL.index(stage) :])
        rate: float | None = round(reached / previous, 4) if previous else None
        funnel.append(
            {"stage": stage, "count": stages.get(stage, 0), "reached": reached, "conversion": rate}
        )
        previous = reached
    bands = [
        {"band": f"{lo}-{min(hi, 100)}", "count": sum(1 for s in states if lo <= s.score < hi)}
        for lo, hi in SCORE_BANDS
    ]
    weights = {
        rep.email: {"territory": t.name, "weight": rep.weight}
        for t in config.routing.territories
        for rep in t.reps
    }
    per_rep = Counter(a["owner"] for a in (tally.assignments if tally else []) if a["owner"])
    total_rr = sum(per_rep.values()) or 1
    reps = [
        {
            "rep": email,
            "territory": weights.get(email, {}).get("territory"),
            "weight": weights.get(email, {}).get("weight"),
            "assigned": per_rep.get(email, 0),
            "share": round(per_rep.get(email, 0) / total_rr, 4),
        }
        for email in sorted(set(weights) | set(per_rep))
    ]
    dead = session.exec(select(OutboxItem).where(OutboxItem.status == "dead")).all()
    reconciliation = [
        {
            "connection": i.connection,
            "object": i.object_type,
            "record": i.record_id,
            "field": i.field,
            "crm_value": _plain(i.previous),
            "handoff_value": _plain(i.value),
            "change": {"task": "create task", "webhook": "notify"}.get(i.kind, "update"),
            "reason": i.reason,
            "status": i.status,
        }
        for i in sorted(
            result.writes.items or result.planned,
            key=lambda i: (i.connection, i.record_id, i.field, i.key),
        )
    ]
    drift = [
        _plain(d) for d in sorted(result.drifts, key=lambda d: (d.connection, d.record_id, d.field))
    ]
    since = result.as_of - timedelta(days=30)
    report = {
        "schema": SCHEMA,
        "run": {
            "id": result.run_id,
            "as_of": _iso(result.as_of),
            "dry_run": result.dry_run,
            "status": result.status,
            "api_calls": _plain(result.api_calls),
            "errors": sorted(result.errors),
        },
        "counts": {
            "pulled": {name: p.people for name, p in sorted(result.pulls.items())},
            "scored": tally.scored if tally else 0,
            "planned": len(result.planned),
            "writes": dict(sorted(result.writes.counts.items())),
            "stage_changes": dict(sorted(tally.stage_changes.items())) if tally else {},
            "routed": dict(sorted(tally.routed.items())) if tally else {},
            "sla_actions": dict(sorted(tally.sla_actions.items())) if tally else {},
        },
        "funnel": funnel,
        "scores": bands,
        "assignments": {
            "per_rep": reps,
            "decisions": sorted(
                (_plain(a) for a in (tally.assignments if tally else [])), key=lambda a: a["person"]
            ),
        },
        "sla": _plain(sla.metrics(session, since, result.as_of)),
        "rejections": [
            {"reason": reason or "(no reason code)", "count": n}
            for reason, n in sorted((tally.rejections if tally else Counter()).items())
        ],
        "drift": drift,
        "dead_letters": [
            {
                "key": d.key,
                "connection": d.connection,
                "record": d.record_id,
                "field": d.field,
                "error": d.last_error,
            }
            for d in sorted(dead, key=lambda d: d.key)
        ],
        "reconciliation": reconciliation,
        "duplicates": sorted(
            (_plain(d) for d in (tally.duplicates if tally else [])),
            key=lambda d: (d["person"], d["connection"]),
        ),
        "disagreements": sorted(
            (_plain(d) for d in (tally.disagreements if tally else [])),
            key=lambda d: (d["person"], d["field"]),
        ),
        "flags": sorted(
            (_plain(f) for f in (tally.flags if tally else [])), key=lambda f: f["person"]
        ),
    }
    return report
