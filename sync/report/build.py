"""The run report as plain, deterministic data (sorted, UTC, no random ids).

Every renderer (Markdown, CSV, JSON, HTML) reads this one structure; its JSON form is versioned
(`schema: handoff.report/v2`) and documented in docs/reports.md. A dry run's report is built the
same way: its writer recorded what it would write, and the store view was read before rollback.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from config.model import HandoffConfig
from routing.sla.engine import SlaEngine
from sync.ledger_notes import sorted_notes
from sync.pipeline import RunResult
from sync.report.change_row import RecordLinks, change_row
from sync.report.change_row import iso as _iso
from sync.report.change_row import plain as _plain
from sync.report.early_rows import EarlyRows, stage_move
from sync.report.render import csv_values
from sync.report.rows import PAGE, StreamedRows, built_rows
from sync.report.snapshot import Person, StoreView, read_store

SCHEMA = "handoff.report/v2"
FUNNEL = ("subscriber", "lead", "mql", "sal", "sql", "opportunity", "customer")
SCORE_BANDS = ((0, 20), (20, 40), (40, 60), (60, 80), (80, 101))
KEPT = ("existing_owner", "held", "unassigned")  # routing rules that give no new owner


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


@dataclass
class RowCounts:
    """What the report counts over its rows, in one streamed pass (the rows stay on disk)."""

    rows: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_field: Counter[str] = field(default_factory=Counter)
    stage_writes: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, row: dict[str, Any]) -> None:
        self.add_made(row["status"], row["field"], row["connection"], stage_move(row))

    def add_made(
        self, status: str, field: str, connection: str, move: str | None, n: int = 1
    ) -> None:
        """`n` rows alike (made as their writes landed: counted by the ledger)."""
        self.rows += n
        self.by_status[status] += n
        self.by_field[field] += n
        if move is not None:  # lifecycle writes by connection and move
            self.stage_writes.setdefault(connection, Counter())[move] += n

    def stage_moves(self) -> dict[str, dict[str, int]]:
        return {name: dict(sorted(c.items())) for name, c in sorted(self.stage_writes.items())}


def _rows(result: RunResult, links: RecordLinks) -> tuple[StreamedRows, RowCounts]:
    """Every change this run wrote (or would write), and every one it planned but could not:
    made (or read back where made as its write landed) and counted in one pass over the run's
    ledger."""
    counts = RowCounts()
    early = result.ledger.early if isinstance(result.ledger.early, EarlyRows) else None

    def counted() -> Iterator[dict[str, Any] | tuple[str, str]]:
        page: list[tuple[Any, ...]] = []
        for change in result.ledger.rows(read_made=early is not None):
            page.append(change)
            if len(page) >= PAGE:
                yield from made(page)
                page = []
        yield from made(page)
        if early is not None:
            for status, field_, connection, move, n in result.ledger.made_counts():
                counts.add_made(status, field_, connection, move, n)

    def made(page: list[tuple[Any, ...]]) -> Iterator[dict[str, Any] | tuple[str, str]]:
        kept = iter(early.read([c[15:19] for c in page if c[15] is not None]) if early else ())
        for change in page:
            if early is not None and change[15] is not None:
                yield next(kept)
            else:
                row = change_row(change[:15], links)
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
