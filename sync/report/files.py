"""Where reports live: `<reports.directory>/<run id>/report.*`, plus `latest.json` naming the last run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from config.model import HandoffConfig
from routing.sla.engine import SlaEngine
from sync.pipeline import RunResult
from sync.report.build import build_report
from sync.report.render import write_reports


def write_run_reports(
    result: RunResult, engine: Engine, config: HandoffConfig, sla: SlaEngine
) -> Path:
    with Session(engine) as session:
        report = build_report(result, session, config, sla)
    base = Path(config.reports.directory)
    folder = base / result.run_id
    write_reports(report, folder, sorted(set(config.reports.formats) | {"json", "md"}))
    (base / "latest.json").write_text(
        json.dumps({"run_id": result.run_id}) + "\n", encoding="utf-8"
    )
    return folder


def load_report(directory: Path, run_id: str | None = None) -> dict[str, Any]:
    base = Path(directory)
    if run_id is None:
        latest = base / "latest.json"
        if not latest.exists():
            raise FileNotFoundError(
                f"no report yet in {base}: run `handoff sync` (or `handoff sync --dry-run`) first"
            )
        run_id = json.loads(latest.read_text(encoding="utf-8"))["run_id"]
    path = base / str(run_id) / "report.json"
    if not path.exists():
        raise FileNotFoundError(f"no report for run {run_id} in {base}")
    report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return report


def render_saved(report: dict[str, Any], directory: Path, formats: list[str]) -> dict[str, Path]:
    folder = Path(directory) / report["run"]["id"]
    written = write_reports(report, folder, sorted(set(formats) | {"json"}))
    return {fmt: path for fmt, path in written.items() if fmt in formats}
