"""The HTML report: one self-contained page rendered from Jinja2 templates (autoescaped).

The templates live in `sync/report/templates/` (package data). The page makes no network request:
charts are inline SVG, the row filter a few lines of inline script.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from sync.report.charts import bar_chart, funnel_chart

HTML_ROWS = 500  # rows of the changes table on the page; report.csv has them all
HTML_LIST_ROWS = 200  # rows of the drift, disagreement, flag and dead-letter tables


def pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def minutes(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds / 60:.0f} min"


def status_label(status: str | None) -> str:
    """What a row's status says to a person (a dry run's rows: 'would write')."""
    return {"would_write": "would write"}.get(str(status), str(status or ""))


def who(row: dict[str, Any]) -> str:
    return str(row.get("name") or row.get("email") or row.get("person") or "")


def value(cell: Any) -> str:
    return "" if cell is None else str(cell)


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("sync.report", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(pct=pct, minutes=minutes, label=status_label, who=who, value=value)
    return env


def to_html(report: dict[str, Any]) -> str:
    rows = report["reconciliation"]
    per_rep = report["assignments"]["per_rep"]
    sla = report["sla"]
    charts = {
        "funnel": funnel_chart([(f["stage"], f["reached"]) for f in report["funnel"]]),
        "scores": bar_chart(
            "Score distribution", [(b["band"], b["count"]) for b in report["scores"]]
        ),
        "reps": bar_chart(
            "Assignments per rep (last 30 days)",
            [(r["rep"].split("@")[0], r["assigned_30d"]) for r in per_rep],
        ),
        "sla": bar_chart(
            "SLA compliance by lane (%)",
            [
                (lane, round(100 * float(s["compliance"]), 1))
                for lane, s in sorted(sla.get("by_lane", {}).items())
                if s.get("compliance") is not None
            ],
        ),
        "rejections": bar_chart(
            "Rejection reasons", [(r["reason"], r["count"]) for r in report["rejections"]]
        ),
    }
    template = environment().get_template("report.html.j2")
    return template.render(
        report=report,
        run=report["run"],
        counts=report["counts"],
        sla=sla,
        rows=rows[:HTML_ROWS],
        total_rows=len(rows),
        list_rows=HTML_LIST_ROWS,
        charts={name: Markup(svg) for name, svg in charts.items()},  # charts escape their text
    )
