"""Run reports on disk: every run writes its folder, and only the newest `reports.keep` stay."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from sync.report.files import OutdatedReport, load_report, stored_report, write_run_reports
from sync.store.tables import RunReport
from tests.reports.report_runs import NOW, Bench


def test_old_run_reports_are_pruned_to_reports_keep(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    (reports / "notes").mkdir(parents=True)  # not a run report: never touched
    bench = Bench(f"sqlite:///{tmp_path / 'h.db'}", f"reports: {{directory: {reports}, keep: 3}}\n")
    written = []
    for minute in range(6):  # a worker's minutely SLA checks
        result = bench.result(at=NOW + timedelta(minutes=minute), pull=minute == 0)
        written.append(write_run_reports(result, bench.engine, bench.config, bench.pipeline.sla))
    kept = sorted(p.name for p in reports.iterdir() if p.is_dir())
    assert kept == sorted([*(p.name for p in written[-3:]), "notes"])
    latest = load_report(reports)
    assert latest["run"]["id"] == written[-1].name
    with Session(bench.engine) as session:  # the store keeps as many
        stored = sorted(session.exec(select(RunReport.run_id)).all())
    assert stored == sorted(p.name for p in written[-3:])
    newest = stored_report(bench.engine)
    assert newest is not None and newest["run"]["id"] == written[-1].name
    assert json.loads((reports / "latest.json").read_text())["run_id"] == written[-1].name


def test_each_run_reports_its_own_api_calls(tmp_path: Path) -> None:
    """The worker keeps its connectors: a later run must not add the earlier runs' calls."""
    bench = Bench(f"sqlite:///{tmp_path / 'h.db'}")
    first = bench.result()
    again = bench.result(at=NOW + timedelta(minutes=5))
    assert first.api_calls["crm"]["contacts.batch_update"] >= 1
    assert "contacts.batch_update" not in again.api_calls["crm"]  # nothing left to write
    total = sum(first.api_calls["crm"].values()) + sum(again.api_calls["crm"].values())
    assert total == sum(bench.crm.usage.calls.values())


def test_a_report_from_an_older_handoff_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "reports" / "20261101T000000Z-live-crm-1"
    folder.mkdir(parents=True)
    (folder / "report.json").write_text(
        json.dumps({"schema": "handoff.report/v1", "run": {"id": folder.name}})
    )
    with pytest.raises(OutdatedReport, match=r"handoff.report/v1, written by an older Handoff"):
        load_report(tmp_path / "reports", folder.name)
