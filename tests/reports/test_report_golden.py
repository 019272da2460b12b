"""Reports are deterministic (sorted, UTC, ids from the run's instant): golden files hold them.

Regenerate after an intended change with HANDOFF_UPDATE_GOLDEN=1 pytest tests/reports."""

from __future__ import annotations

import os
from pathlib import Path

from sync.report.render import to_csv, to_json, to_markdown
from tests.reports.report_runs import Bench

GOLDEN = Path(__file__).parent / "golden"


def _report(url: str) -> dict:  # type: ignore[type-arg]
    return Bench(url).run()


def test_reports_match_golden_files(sqlite_url: str) -> None:
    report = _report(sqlite_url)
    rendered = {
        "report.json": to_json(report),
        "report.md": to_markdown(report),
        "report.csv": to_csv(report),
    }
    for name, text in rendered.items():
        path = GOLDEN / name
        if os.environ.get("HANDOFF_UPDATE_GOLDEN"):
            path.write_text(text)
        assert path.read_text() == text, f"{name} changed: review, then HANDOFF_UPDATE_GOLDEN=1"


def test_same_inputs_same_report_on_both_stores(sqlite_url: str, pg_url: str) -> None:
    assert to_json(_report(sqlite_url)) == to_json(_report(pg_url))
