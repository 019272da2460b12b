"""The change rows past the report model's head are streamed from the run's ledger into
report.json, report.csv and the store's compressed parts (sync/report/rows.py): a secret value in
one of them is redacted there too, and every format agrees with the whole report as one JSON text.

The store's parts are compressed bytes, which the store's statement hook (it redacts strings)
cannot see into; the rows read back from the ledger are what a caller of the report model gets:
neither has the final pass over the rendered files behind it."""

from __future__ import annotations

import csv
import io
import json
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from config.secrets import redact_deep, register_secret
from sync.ledger import RunLedger
from sync.pipeline import RunResult
from sync.planned_change import PlannedChange
from sync.report.build import build_report
from sync.report.change_row import RecordLinks
from sync.report.early_rows import EarlyRows
from sync.report.files import save_report, stored_report
from sync.report.render import (
    csv_values,
    replaced,
    streamed_lists,
    to_csv,
    to_json,
    write_reports,
)
from sync.report.rows import HEAD, StreamedRows
from sync.report.snapshot import StoreView
from sync.store.engine import make_engine
from sync.store.schema import upgrade
from sync.store.tables import RunReportRows
from tests.reports.report_runs import report_config

SECRET = "pat-na1-5f0e3c1d-9a7b-4c2e-8d6f-0123456789ab"
ROWS = 2 * HEAD + 137
FORMATS = ["md", "json", "html", "csv"]


def _changes() -> list[PlannedChange]:
    """Field changes of many records; some values nested, some text holding the secret (bare,
    in an error, in a nested value), past the head and in it."""
    changes = []
    for i in range(ROWS):
        value: Any = f'value {i} "quoted" é\nline <b>'
        if i % 97 == 5:
            value = {"options": [1, 2.5, None, "a\nb"], "nested": {"on": True}}
        if i % 211 == 9:
            value = {"token": SECRET}
        reason = f"the CRM echoed {SECRET} back" if i % 173 == 3 else "score changed"
        error = f"400: Invalid input JSON for {SECRET}" if i % 389 == 1 else None
        changes.append(
            PlannedChange(
                f"key-{i:05d}",
                "hubspot",
                "contact",
                str(500_000 + i // 4),
                "field",
                f"field_{i % 4}",
                value,
                None if i % 3 else 1.5,
                reason,
                "applied",
                error,
            )
        )
    return changes


def _named(ledger: RunLedger, changes: list[PlannedChange]) -> None:
    """Name every other record, as the decide stage does (non-ASCII names; one company holds
    the secret)."""
    ids = sorted({c.record_id for c in changes})[::2]
    ledger.name(
        [
            ("hubspot", i, f"p{i}", f"Zoë Ångström {i}", f"zoe{i}@example.com", "Ærø AS")
            if n % 7
            else ("hubspot", i, f"p{i}", "Zoë", "zoe@example.com", f"Acme {SECRET}")
            for n, i in enumerate(ids)
        ]
    )


def _report(
    tmp_path: Path, *, named: bool = False, early: bool = False
) -> tuple[dict[str, Any], Any]:
    """The report of a run's ledger; `named`: its records named as decided; `early`: the rows of
    written changes of named records made as their writes land (sync/report/early_rows.py)."""
    ledger = RunLedger(str(tmp_path))
    changes = _changes()
    if named:
        _named(ledger, changes)
    ledger.plan(changes)
    if early:
        ledger.early = EarlyRows(str(tmp_path), RecordLinks(report_config()), csv_values)
    for change in changes:
        ledger.write([change])
    result = RunResult(
        run_id="20261206T050000Z-live-hubspot-1",
        as_of=datetime(2026, 12, 6, 5, 0, tzinfo=UTC),
        dry_run=False,
        ledger=ledger,
    )
    empty = {"by_lane": {}, "by_territory": {}, "by_rep": {}, "cadence": {}}
    result.store = StoreView(sla={"overall": {"judged": 0, "pending": 0}, **empty})
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    upgrade(engine)
    with Session(engine) as session:
        sla: Any = None  # the store view is given: no SLA metrics are read
        report = redact_deep(build_report(result, session, report_config(), sla))
    return report, engine


def _whole(report: dict[str, Any]) -> dict[str, Any]:
    """The report with every streamed list read into a plain list."""
    return replaced(report, {path: list(rows) for path, rows in streamed_lists(report)})


@pytest.mark.parametrize("early", [False, True], ids=["made at the report", "made early"])
def test_a_secret_in_a_streamed_row_is_redacted_everywhere_it_goes(
    tmp_path: Path, early: bool
) -> None:
    register_secret(SECRET)
    report, engine = _report(tmp_path, named=early, early=early)
    rows = report["reconciliation"]
    assert isinstance(rows, StreamedRows) and len(rows) == ROWS and len(rows.head) == HEAD
    # the rows as the report model gives them, the tail read back from the ledger
    every_row = json.dumps(list(rows))
    assert SECRET not in every_row
    tail = json.dumps(list(rows.tail()))
    assert "the CRM echoed *** back" in tail and "Invalid input JSON for ***" in tail
    assert '"token": "***"' in tail  # inside a nested value
    # the store's compressed parts
    save_report(engine, report)
    with Session(engine) as session:
        parts = session.exec(select(RunReportRows.data)).all()
    assert parts
    unpacked = "".join(zlib.decompress(data).decode("utf-8") for data in parts)
    assert SECRET not in unpacked and "***" in unpacked
    # the files, of the run's report and of the one the store kept
    saved = stored_report(engine, report["run"]["id"])
    assert saved is not None
    for name, source in (("run", report), ("saved", saved)):
        written = write_reports(source, tmp_path / name, FORMATS)
        for path in written.values():
            assert SECRET not in path.read_text(encoding="utf-8"), path


def test_rows_made_as_writes_land_are_the_rows_made_at_the_report(tmp_path: Path) -> None:
    """The control: the same ledger, its records named the same, every row made at the report."""
    register_secret(SECRET)
    for name in ("control", "early"):
        (tmp_path / name).mkdir()
    control, _ = _report(tmp_path / "control", named=True)
    report, engine = _report(tmp_path / "early", named=True, early=True)
    assert report["reconciliation"].head == control["reconciliation"].head
    assert to_json(report) == to_json(control)
    assert to_csv(report) == to_csv(control)
    assert "Zoë Ångström" in to_csv(report) and SECRET not in to_csv(report)
    assert report["counts"] == control["counts"]
    save_report(engine, report)
    saved = stored_report(engine, report["run"]["id"])
    assert saved is not None and to_csv(saved) == to_csv(control)


@pytest.mark.parametrize("early", [False, True], ids=["made at the report", "made early"])
def test_every_format_agrees_with_the_whole_report(tmp_path: Path, early: bool) -> None:
    report, engine = _report(tmp_path, named=early, early=early)
    whole = _whole(report)
    assert to_json(report) == json.dumps(whole, indent=2, sort_keys=True) + "\n"
    assert json.loads(to_json(report))["reconciliation"] == whole["reconciliation"]
    lines = list(csv.DictReader(io.StringIO(to_csv(report))))
    assert len(lines) == ROWS
    assert [line["record"] for line in lines] == [r["record"] for r in whole["reconciliation"]]
    save_report(engine, report)
    saved = stored_report(engine, report["run"]["id"])
    assert saved is not None
    assert to_json(saved) == to_json(report)
    assert to_csv(saved) == to_csv(report)
