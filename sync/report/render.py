"""Renderers for the run report: Markdown (terminal), CSV, JSON and a self-contained HTML page."""

from __future__ import annotations

import csv
import html
import io
import json
from pathlib import Path
from typing import Any

from config.secrets import redact, redact_deep
from sync.report.charts import bar_chart, funnel_chart


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, sort_keys=True) + "\n"


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


def to_markdown(report: dict[str, Any], max_rows: int = 50) -> str:
    run = report["run"]
    counts = report["counts"]
    mode = "dry run (nothing written)" if run["dry_run"] else "live run"
    out = [
        f"# Handoff report: {run['id']}",
        "",
        f"As of {run['as_of']} · {mode} · status {run['status']}",
        "",
    ]
    out += ["## Counts", ""]
    out += _table(
        ["what", "value"],
        [
            ["people pulled", ", ".join(f"{k}: {v}" for k, v in counts["pulled"].items()) or "0"],
            ["scored", counts["scored"]],
            ["changes planned", counts["planned"]],
            ["writes", ", ".join(f"{k}: {v}" for k, v in counts["writes"].items()) or "none"],
            [
                "stage changes",
                ", ".join(f"{k}: {v}" for k, v in counts["stage_changes"].items()) or "none",
            ],
            ["routed", ", ".join(f"{k}: {v}" for k, v in counts["routed"].items()) or "none"],
            [
                "SLA actions",
                ", ".join(f"{k}: {v}" for k, v in counts["sla_actions"].items()) or "none",
            ],
        ],
    )
    out += ["", "## Funnel", ""]
    out += _table(
        ["stage", "now", "reached", "conversion from previous"],
        [[f["stage"], f["count"], f["reached"], _pct(f["conversion"])] for f in report["funnel"]],
    )
    out += ["", "## Score distribution", ""]
    out += _table(["score", "people"], [[b["band"], b["count"]] for b in report["scores"]])
    out += ["", "## Assignments per rep", ""]
    out += _table(
        ["rep", "territory", "weight", "assigned", "share"],
        [
            [r["rep"], r["territory"], r["weight"], r["assigned"], _pct(r["share"])]
            for r in report["assignments"]["per_rep"]
        ],
    )
    out += ["", "## SLA (clocks started in the last 30 days)", ""]
    out += _sla_table(report["sla"])
    out += ["", "## Rejection reasons", ""]
    out += (
        _table(["reason", "count"], [[r["reason"], r["count"]] for r in report["rejections"]])
        if report["rejections"]
        else ["none"]
    )
    out += ["", "## Drift (changed in the CRM since Handoff wrote it)", ""]
    out += (
        _table(
            ["connection", "record", "field", "CRM value", "last written", "wanted", "policy"],
            [
                [
                    d["connection"],
                    d["record_id"],
                    d["field"],
                    d["crm_value"],
                    d["last_written"],
                    d["wanted"],
                    d["policy"],
                ]
                for d in report["drift"]
            ],
        )
        if report["drift"]
        else ["none"]
    )
    if report.get("disagreements"):
        out += ["", "## Where the CRMs disagree", ""]
        out += _table(
            ["person", "field", "values by system"],
            [
                [d["person"], d["field"], ", ".join(f"{k}: {v}" for k, v in d["values"].items())]
                for d in report["disagreements"]
            ],
        )
    if report.get("duplicates"):
        out += ["", "## Duplicates (reported, never merged by Handoff)", ""]
        out += _table(
            ["person", "connection", "object", "records"],
            [
                [d["person"], d["connection"], d["object"], d["records"]]
                for d in report["duplicates"]
            ],
        )
    if report["dead_letters"]:
        out += ["", "## Dead letters", ""]
        out += _table(
            ["connection", "record", "field", "error"],
            [
                [d["connection"], d["record"], d["field"], d["error"]]
                for d in report["dead_letters"]
            ],
        )
    rec = report["reconciliation"]
    out += ["", f"## Reconciliation ({len(rec)} changes)", ""]
    out += _table(
        [
            "connection",
            "record",
            "field",
            "CRM value",
            "Handoff value",
            "change",
            "reason",
            "status",
        ],
        [
            [
                r["connection"],
                r["record"],
                r["field"],
                r["crm_value"],
                r["handoff_value"],
                r["change"],
                r["reason"],
                r["status"],
            ]
            for r in rec[:max_rows]
        ],
    )
    if len(rec) > max_rows:
        out.append(f"… {len(rec) - max_rows} more in report.csv")
    if report["run"]["errors"]:
        out += ["", "## Errors", ""] + [f"- {e}" for e in report["run"]["errors"]]
    return "\n".join(out) + "\n"


def _minutes(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds / 60:.0f} min"


def _sla_table(sla: dict[str, Any]) -> list[str]:
    rows = []
    groups = [("all", {"": sla.get("overall", {})})] + [
        (name, sla.get(f"by_{name}", {})) for name in ("lane", "territory", "rep")
    ]
    for group, stats in groups:
        for key, s in sorted(stats.items()):
            rows.append(
                [
                    f"{group} {key}".strip(),
                    s.get("judged", 0),
                    _pct(s.get("compliance")),
                    s.get("breached", 0),
                    s.get("escalations", 0),
                    _minutes(s.get("median_first_touch")),
                    _minutes(s.get("p90_first_touch")),
                    s.get("pending", 0),
                ]
            )
    cadence = sla.get("cadence", {})
    table = _table(
        [
            "scope",
            "judged",
            "compliance",
            "breaches",
            "escalations",
            "median first touch",
            "p90",
            "pending",
        ],
        rows,
    )
    note = (
        f"Follow-up cadence: {cadence.get('met', 0)} met, {cadence.get('lapsed', 0)} lapsed, "
        f"{cadence.get('touches_per_lead') or 0} touches per lead."
    )
    return [*table, "", note]


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def to_csv(report: dict[str, Any]) -> str:
    """The reconciliation: one row per change Handoff made (or would make)."""
    buffer = io.StringIO()
    fields = [
        "connection",
        "object",
        "record",
        "field",
        "crm_value",
        "handoff_value",
        "change",
        "reason",
        "status",
    ]
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in report["reconciliation"]:
        writer.writerow({k: row.get(k) for k in fields})
    return buffer.getvalue()


def to_html(report: dict[str, Any]) -> str:
    run = report["run"]
    e = html.escape
    funnel = funnel_chart([(f["stage"], f["reached"]) for f in report["funnel"]])
    scores = bar_chart("Score distribution", [(b["band"], b["count"]) for b in report["scores"]])
    reps = bar_chart(
        "Assignments per rep",
        [(r["rep"].split("@")[0], r["assigned"]) for r in report["assignments"]["per_rep"]],
    )
    rejections = bar_chart(
        "Rejection reasons", [(r["reason"], r["count"]) for r in report["rejections"]]
    )
    sla_rows = report["sla"].get("by_lane", []) if isinstance(report["sla"], dict) else []
    sla = bar_chart(
        "SLA compliance by lane (%)",
        [
            (str(r.get("key", r.get("lane", "?"))), round(100 * float(r.get("compliance") or 0), 1))
            for r in sla_rows
        ]
        if isinstance(sla_rows, list)
        else [],
    )
    drift = bar_chart("Drift by field", _count(report["drift"], "field"))
    rec_rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{e(str(r.get(k) if r.get(k) is not None else ''))}</td>"
            for k in (
                "connection",
                "record",
                "field",
                "crm_value",
                "handoff_value",
                "reason",
                "status",
            )
        )
        + "</tr>"
        for r in report["reconciliation"][:500]
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Handoff report {e(run["id"])}</title>
<style>
body{{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}}
header{{background:#14213d;color:#fff;padding:16px 24px}} header p{{margin:4px 0 0;opacity:.8}}
main{{max-width:1200px;margin:0 auto;padding:16px 24px;display:grid;grid-template-columns:repeat(auto-fit,minmax(360px,1fr));gap:16px}}
section{{background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 2px rgba(0,0,0,.08)}}
section.wide{{grid-column:1/-1}} h2{{font-size:15px;margin:0 0 8px}}
table{{border-collapse:collapse;width:100%;font-size:12px}} td,th{{border-bottom:1px solid #e5e7eb;padding:4px 6px;text-align:left;vertical-align:top}}
svg text{{font-size:11px;fill:#374151}}
</style></head><body>
<header><h1 style="margin:0;font-size:20px">Handoff report</h1>
<p>{e(run["id"])} · as of {e(str(run["as_of"]))} · {"dry run: nothing written" if run["dry_run"] else "live run"} · status {e(run["status"])}</p></header>
<main>
<section><h2>Funnel</h2>{funnel}</section>
<section><h2>Score distribution</h2>{scores}</section>
<section><h2>Assignments per rep</h2>{reps}</section>
<section><h2>SLA compliance</h2>{sla}</section>
<section><h2>Rejection reasons</h2>{rejections}</section>
<section><h2>Drift</h2>{drift}</section>
<section class="wide"><h2>Reconciliation ({len(report["reconciliation"])} changes)</h2>
<table><thead><tr><th>connection</th><th>record</th><th>field</th><th>CRM value</th><th>Handoff value</th><th>reason</th><th>status</th></tr></thead>
<tbody>{rec_rows}</tbody></table></section>
</main></body></html>
"""


def _count(rows: list[dict[str, Any]], key: str) -> list[tuple[str, float]]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[str(row.get(key))] = counts.get(str(row.get(key)), 0) + 1
    return sorted(counts.items())


RENDERERS = {"md": to_markdown, "csv": to_csv, "json": to_json, "html": to_html}
FILENAMES = {"md": "report.md", "csv": "report.csv", "json": "report.json", "html": "report.html"}


def write_reports(report: dict[str, Any], directory: Path, formats: list[str]) -> dict[str, Path]:
    """Each format rendered to its file, with every configured secret value redacted (in the data
    before rendering, and in the rendered text: whatever put it there)."""
    directory.mkdir(parents=True, exist_ok=True)
    report = redact_deep(report)
    written = {}
    for fmt in formats:
        path = directory / FILENAMES[fmt]
        path.write_text(redact(RENDERERS[fmt](report)), encoding="utf-8")
        written[fmt] = path
    return written
