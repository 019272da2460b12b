"""The run report as plain, deterministic data (sorted, UTC, no random ids).

Every renderer (Markdown, CSV, JSON, HTML) reads this one structure; its JSON form is versioned
(`schema: handoff.report/v2`) and documented in docs/reports.md. A dry run's report is built the
same way: its writer recorded what it would write, and the store view was read before rollback.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from config.model import HandoffConfig
from routing.sla.engine import SlaEngine
from sync.ledger_notes import sorted_notes
from sync.pipeline import RunResult
from sync.report.render import csv_values
from sync.report.rows import StreamedRows, built_rows
from sync.report.snapshot import Person, StoreView, read_store

SCHEMA = "handoff.report/v2"
FUNNEL = ("subscriber", "lead", "mql", "sal", "sql", "opportunity", "customer")
SCORE_BANDS = ((0, 20), (20, 40), (40, 60), (60, 80), (80, 101))
CHANGE = {"task": "create task", "webhook": "notify"}
SF_OBJECTS = {"lead": "Lead", "contact": "Contact"}
KEPT = ("existing_owner", "held", "unassigned")  # routing rules that give no new owner


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


_SCALARS = frozenset({str, int, bool, type(None)})  # as they are in a report


def _plain(value: Any) -> Any:
    if type(value) in _SCALARS:
        return value
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


class RecordLinks:
    """The URL of a record in its CRM: HubSpot needs the portal id, Salesforce the instance."""

    def __init__(self, config: HandoffConfig) -> None:
        self.hubspot: dict[str, int] = {}
        self.salesforce: dict[str, str] = {}
        for c in config.connections:
            if c.kind == "hubspot" and c.hubspot is not None and c.hubspot.portal_id:
                self.hubspot[c.name] = c.hubspot.portal_id
            if c.kind == "salesforce" and c.salesforce is not None and c.salesforce.instance_url:
                self.salesforce[c.name] = c.salesforce.instance_url.rstrip("/")

    def url(self, connection: str, object_type: str, record_id: str) -> str | None:
        if connection in self.hubspot and object_type == "contact":
            return f"https://app.hubspot.com/contacts/{self.hubspot[connection]}/record/0-1/{record_id}"
        if connection in self.salesforce and object_type in SF_OBJECTS:
            base = self.salesforce[connection]
            return f"{base}/lightning/r/{SF_OBJECTS[object_type]}/{record_id}/view"
        return None


def _who(person: Person | None) -> dict[str, Any]:
    if person is None:
        return {"person": None, "name": None, "email": None, "company": None}
    return {
        "person": person.key,
        "name": person.name or None,
        "email": person.email or None,
        "company": person.company or None,
    }


def _named(row: dict[str, Any], who: Any) -> dict[str, Any]:
    """A decision row keyed by person, with the person's name, email and company."""
    name, email, company = who if who is not None else (None, None, None)
    return _plain({**row, "name": name or None, "email": email or None, "company": company or None})


def _noted(result: RunResult, kind: str) -> StreamedRows:
    """A decision list of the run (assignments, flags ...) from its ledger, sorted by person."""
    if result.tally is None:
        return StreamedRows([], 0, lambda: iter(()))
    rows = (_named(row, who) for row, who in sorted_notes(result.ledger, kind))
    return built_rows(result.ledger.directory, rows)


def _row(change: tuple[Any, ...], links: RecordLinks) -> dict[str, Any]:
    """One change of the run's ledger as a report row, with who its record is."""
    connection, record_id, field, _key, object_type, kind, value, previous, reason = change[:9]
    status, error, person, name, email, company = change[9:]
    return {
        "person": person,
        "name": (name or None) if person else None,
        "email": (email or None) if person else None,
        "company": (company or None) if person else None,
        "connection": connection,
        "object": object_type,
        "record": record_id,
        "link": links.url(connection, object_type, record_id),
        "field": field,
        "crm_value": _plain(previous),
        "handoff_value": _plain(value),
        "change": CHANGE.get(kind, "update"),
        "reason": reason,
        "status": status,
        "error": error,
    }


@dataclass
class RowCounts:
    """What the report counts over its rows, in one streamed pass (the rows stay on disk)."""

    rows: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_field: Counter[str] = field(default_factory=Counter)
    stage_writes: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, row: dict[str, Any]) -> None:
        self.rows += 1
        self.by_status[row["status"]] += 1
        self.by_field[row["field"]] += 1
        if row["field"] == "lifecycle_stage":  # lifecycle writes by connection and move
            move = f"{row['crm_value'] or '(none)'}->{row['handoff_value']}"
            self.stage_writes.setdefault(row["connection"], Counter())[move] += 1

    def stage_moves(self) -> dict[str, dict[str, int]]:
        return {name: dict(sorted(c.items())) for name, c in sorted(self.stage_writes.items())}


def _rows(result: RunResult, links: RecordLinks) -> tuple[StreamedRows, RowCounts]:
    """Every change this run wrote (or would write), and every one it planned but could not:
    made and counted in one pass over the run's ledger."""
    counts = RowCounts()

    def counted() -> Iterator[dict[str, Any]]:
        for change in result.ledger.rows():
            row = _row(change, links)
            counts.add(row)
            yield row

    return built_rows(result.ledger.directory, counted(), csv_values), counts


def _funnel(stages: dict[str, int]) -> list[dict[str, Any]]:
    funnel = []
    previous = None
    for i, stage in enumerate(FUNNEL):
        reached = sum(n for st, n in stages.items() if st in FUNNEL[i:])
        rate: float | None = round(reached / previous, 4) if previous else None
        funnel.append(
            {"stage": stage, "count": stages.get(stage, 0), "reached": reached, "conversion": rate}
        )
        previous = reached
    return funnel


def _reps(config: HandoffConfig, result: RunResult, view: StoreView) -> list[dict[str, Any]]:
    weights = {
        rep.email: {"territory": t.name, "weight": rep.weight}
        for t in config.routing.territories
        for rep in t.reps
    }
    assignments = result.tally.assignments if result.tally else []
    per_rep = Counter(  # new owners only: a kept owner is no assignment
        a["owner"] for a in assignments if a["owner"] and a["rule"] not in KEPT
    )
    total = sum(per_rep.values())
    return [
        {
            "rep": email,
            "territory": weights.get(email, {}).get("territory"),
            "weight": weights.get(email, {}).get("weight"),
            "assigned": per_rep.get(email, 0),
            "share": round(per_rep.get(email, 0) / total, 4) if total else 0.0,
            "assigned_30d": view.assigned_window.get(email, 0),
            "open": view.open_leads.get(email, 0),
        }
        for email in sorted(set(weights) | set(per_rep) | set(view.assigned_window))
    ]


def build_report(
    result: RunResult, session: Session, config: HandoffConfig, sla: SlaEngine
) -> dict[str, Any]:
    tally = result.tally
    view: StoreView = result.store or read_store(session, config, sla, result)
    links = RecordLinks(config)
    rows, row_counts = _rows(result, links)
    sla_plain = _plain(view.sla)
    sla_plain["until"] = _iso(result.as_of)  # the window is [since, as_of]
    bands = [
        {
            "band": f"{lo}-{min(hi, 100)}",
            "count": sum(n for score, n in view.scores.items() if lo <= score < hi),
        }
        for lo, hi in SCORE_BANDS
    ]
    report = {
        "schema": SCHEMA,
        "run": {
            "id": result.run_id,
            "as_of": _iso(result.as_of),
            "dry_run": result.dry_run,
            "status": result.status,
            "api_calls": _plain(result.api_calls),
            "api_calls_total": sum(sum(c.values()) for c in result.api_calls.values()),
            "errors": sorted(result.errors),
            "warnings": sorted(result.warnings),
        },
        "counts": {
            "pulled": {name: p.people for name, p in sorted(result.pulls.items())},
            "scored": tally.scored if tally else 0,
            "planned": len(result.planned),
            "rows": row_counts.rows,
            "writes": dict(sorted(result.writes.counts.items())),
            "by_status": dict(sorted(row_counts.by_status.items())),
            "by_field": dict(sorted(row_counts.by_field.items())),
            "stage_decisions": dict(sorted(tally.stage_changes.items())) if tally else {},
            "stage_writes": row_counts.stage_moves(),
            "routed": dict(sorted(tally.routed.items())) if tally else {},
            "sla_actions": dict(sorted(tally.sla_actions.items())) if tally else {},
        },
        "funnel": _funnel(view.stages),
        "scores": bands,
        "assignments": {
            "per_rep": _reps(config, result, view),
            "decisions": _noted(result, "assignments"),
        },
        "sla": sla_plain,
        "rejections": [
            {"reason": reason or "(no reason code)", "count": n}
            for reason, n in sorted((tally.rejections if tally else Counter()).items())
        ],
        "drift": [
            {
                **_plain(d),
                **_who(view.records.get((d.connection, d.record_id))),
                "link": links.url(d.connection, d.object_type, d.record_id),
            }
            for d in sorted(result.drifts, key=lambda d: (d.connection, d.record_id, d.field))
        ],
        "dead_letters": [
            {
                **_who(view.records.get((d.connection, d.record_id))),
                "key": d.key,
                "connection": d.connection,
                "record": d.record_id,
                "link": links.url(d.connection, d.object_type, d.record_id),
                "field": d.field,
                "attempts": d.attempts,
                "error": d.last_error,
            }
            for d in view.dead
        ],
        "reconciliation": rows,
        "duplicates": _noted(result, "duplicates"),
        "disagreements": _noted(result, "disagreements"),
        "flags": _noted(result, "flags"),
    }
    return report
