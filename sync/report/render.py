"""Renderers for the run report: Markdown (terminal), CSV, JSON and a self-contained HTML page."""

from __future__ import annotations

import csv
import io
import itertools
import json
import operator
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from config.secrets import redact, redact_deep
from sync.report.page import minutes as _minutes
from sync.report.page import pct as _pct
from sync.report.page import status_label, to_html, who
from sync.report.rows import StreamedRows, row_text

ROWS_KEY = "reconciliation"
CHUNK_ROWS = 1000  # rows per piece of streamed text


def streamed_lists(report: dict[str, Any]) -> list[tuple[tuple[str, ...], StreamedRows]]:
    """Where the report's streamed row lists are: (path of keys, rows)."""
    found: list[tuple[tuple[str, ...], StreamedRows]] = []

    def walk(value: Any, path: tuple[str, ...]) -> None:
        if isinstance(value, StreamedRows):
            found.append((path, value))
        elif isinstance(value, dict) and len(path) < 3:
            for key, inner in value.items():
                walk(inner, (*path, str(key)))

    walk(report, ())
    return found


def replaced(report: dict[str, Any], values: dict[tuple[str, ...], Any]) -> dict[str, Any]:
    """A shallow copy of the report with the values at these paths replaced."""

    def at(value: Any, path: tuple[str, ...]) -> Any:
        if path in values:
            return values[path]
        if isinstance(value, dict) and any(p[: len(path)] == path for p in values):
            return {k: at(v, (*path, str(k))) for k, v in value.items()}
        return value

    out: dict[str, Any] = at(report, ())
    return out


def _json_rows(rows: StreamedRows, depth: int) -> Iterator[str]:
    """A list of rows as `json.dumps(..., indent=2)` writes it `depth` levels deep: each row's
    text (`row_text`; the ledger keeps the tail's so) indented by one `replace`."""
    if not rows:
        yield "[]"
        return
    pad = "  " * (depth + 1)
    deeper = "\n" + pad
    texts = itertools.chain(
        (row_text(row).replace("\n", deeper) for row in rows.head), rows.tail_texts(deeper)
    )
    piece = ["["]
    for n, text in enumerate(texts):
        piece.append(("," if n else "") + deeper + text)
        if len(piece) >= CHUNK_ROWS:
            yield "".join(piece)
            piece = []
    yield "".join(piece) + "\n" + "  " * depth + "]"


def json_text(report: dict[str, Any]) -> Iterator[str]:
    """report.json in pieces, its row lists streamed: the same text as
    `json.dumps(report, indent=2, sort_keys=True)` with every row in place."""
    lists = streamed_lists(report)
    marks = {path: f"\u0000rows{n}\u0000" for n, (path, _) in enumerate(lists)}
    text = json.dumps(replaced(report, marks), indent=2, sort_keys=True)
    spots = sorted((text.index(json.dumps(marks[path])), path, rows) for path, rows in lists)
    position = 0
    for at, path, rows in spots:
        yield text[position:at]
        yield from _json_rows(rows, len(path))
        position = at + len(json.dumps(marks[path]))
    yield text[position:] + "\n"


def to_json(report: dict[str, Any]) -> str:
    return "".join(json_text(report))


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return lines


def _joined(counts: dict[str, Any], empty: str = "none") -> str:
    return ", ".join(f"{k}: {v}" for k, v in counts.items()) or empty


def _listing(title: str, headers: list[str], rows: list[list[Any]], max_rows: int) -> list[str]:
    out = ["", f"## {title} ({len(rows)})", ""]
    if not rows:
        return [*out, "none"]
    out += _table(headers, rows[:max_rows])
    if len(rows) > max_rows:
        out.append(f"… {len(rows) - max_rows} more in report.json")
    return out


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
    stage_writes = "; ".join(
        f"{name} {_joined(moves)}" for name, moves in counts["stage_writes"].items()
    )
    out += _table(
        ["what", "value"],
        [
            ["people pulled", _joined(counts["pulled"], "0")],
            ["scored", counts["scored"]],
            ["changes planned", counts["planned"]],
            [
                "changes by status",
                _joined({status_label(k): v for k, v in counts["by_status"].items()}),
            ],
            ["changes by field", _joined(counts["by_field"])],
            ["stage moves decided", _joined(counts["stage_decisions"])],
            ["stage writes", stage_writes or "none"],
            ["owners assigned", _joined(counts["routed"])],
            ["SLA actions", _joined(counts["sla_actions"])],
            [
                "API calls (this run)",
                _joined({k: sum(v.values()) for k, v in run["api_calls"].items()}, "0"),
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
        ["rep", "territory", "weight", "this run", "share", "last 30 days", "open leads"],
        [
            [
                r["rep"],
                r["territory"],
                r["weight"],
                r["assigned"],
                _pct(r["share"]),
                r["assigned_30d"],
                r["open"],
            ]
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
    out += _listing(
        "Drift: changed in the CRM since Handoff wrote it",
        [
            "person",
            "connection",
            "record",
            "field",
            "CRM value",
            "last written",
            "wanted",
            "policy",
        ],
        [
            [
                who(d),
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
        max_rows,
    )
    out += _listing(
        "Where the CRMs disagree",
        ["person", "field", "values by system"],
        [[who(d), d["field"], _joined(d["values"])] for d in report["disagreements"]],
        max_rows,
    )
    out += _listing(
        "Flags",
        ["person", "flag", "detail"],
        [[who(f), f["flag"], f["detail"]] for f in report["flags"]],
        max_rows,
    )
    if report["duplicates"]:
        out += _listing(
            "Duplicates (reported, never merged by Handoff)",
            ["person", "connection", "object", "records"],
            [[who(d), d["connection"], d["object"], d["records"]] for d in report["duplicates"]],
            max_rows,
        )
    out += _listing(
        "Dead letters",
        ["person", "connection", "record", "field", "attempts", "error"],
        [
            [who(d), d["connection"], d["record"], d["field"], d["attempts"], d["error"]]
            for d in report["dead_letters"]
        ],
        max_rows,
    )
    rec = report["reconciliation"]
    out += ["", f"## Changes ({len(rec)})", ""]
    out += _table(
        ["person", "company", "record", "field", "CRM value", "Handoff value", "reason", "status"],
        [
            [
                who(r),
                r["company"],
                f"{r['connection']} {r['record']}",
                r["field"],
                r["crm_value"],
                r["handoff_value"],
                r["reason"],
                status_label(r["status"]),
            ]
            for r in rec[:max_rows]
        ],
    )
    if len(rec) > max_rows:
        out.append(f"… {len(rec) - max_rows} more in report.csv")
    if report["run"].get("warnings"):
        out += ["", "## Warnings", ""] + [f"- {w}" for w in report["run"]["warnings"]]
    if report["run"]["errors"]:
        out += ["", "## Errors", ""] + [f"- {e}" for e in report["run"]["errors"]]
    return "\n".join(out) + "\n"


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


CSV_FIELDS = [
    "name",
    "email",
    "company",
    "person",
    "connection",
    "object",
    "record",
    "link",
    "field",
    "crm_value",
    "handoff_value",
    "change",
    "reason",
    "status",
    "error",
]
_STATUS_AT = CSV_FIELDS.index("status")


def csv_text(report: dict[str, Any]) -> Iterator[str]:
    """report.csv in pieces: one row per change Handoff made (or would make), with who it is
    for, streamed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    rows = report[ROWS_KEY]
    kept = rows.tail_csv() if isinstance(rows, StreamedRows) else None
    for n, row in enumerate(rows.head if kept is not None else rows, 1):
        writer.writerow(csv_values(row))
        if n % CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
    if kept is not None:  # the lines written as the rows were made
        yield from kept


_CSV_VALUES = operator.itemgetter(*CSV_FIELDS)


def csv_values(row: dict[str, Any]) -> list[Any]:
    """A change row's report.csv values, in CSV_FIELDS' order (a field it lacks: empty)."""
    try:
        values = list(_CSV_VALUES(row))
    except KeyError:
        values = [row.get(k) for k in CSV_FIELDS]
    values[_STATUS_AT] = status_label(row["status"])
    return values


def to_csv(report: dict[str, Any]) -> str:
    return "".join(csv_text(report))


def _whole(render: Callable[[dict[str, Any]], str]) -> Callable[[dict[str, Any]], Iterator[str]]:
    return lambda report: iter([render(report)])


RENDERERS: dict[str, Callable[[dict[str, Any]], Iterator[str]]] = {
    "md": _whole(to_markdown),
    "csv": csv_text,
    "json": json_text,
    "html": _whole(to_html),
}
FILENAMES = {"md": "report.md", "csv": "report.csv", "json": "report.json", "html": "report.html"}


def write_reports(report: dict[str, Any], directory: Path, formats: list[str]) -> dict[str, Path]:
    """Each format rendered to its file, with every configured secret value redacted (in the data
    before rendering, and in the rendered text: whatever put it there). The change rows are
    streamed into report.json and report.csv, a piece at a time."""
    directory.mkdir(parents=True, exist_ok=True)
    report = redact_deep(report)
    written = {}
    for fmt in formats:
        path = directory / FILENAMES[fmt]
        with path.open("w", encoding="utf-8") as out:
            for piece in RENDERERS[fmt](report):
                out.write(redact(piece))
        written[fmt] = path
    return written
