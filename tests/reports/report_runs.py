"""Reports of real pipeline runs on the in-memory CRM: a dry run, a live run, an SLA run."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sync"))
from pipeline_harness import CONFIG, NOW, make_crm, seed_people

from config.loader import parse_config
from config.model import HandoffConfig
from sync.pipeline import Pipeline, RunResult
from sync.report.build import build_report
from sync.store.engine import make_engine
from sync.store.schema import upgrade

PORTAL_ID = 24681357


def report_config(extra: str = "") -> HandoffConfig:
    """The harness config with a portal id, so rows link to their HubSpot record."""
    text = extra + CONFIG.replace(
        'hubspot: {access_token: "${TOKEN}"}',
        f'hubspot: {{access_token: "${{TOKEN}}", portal_id: {PORTAL_ID}}}',
    )
    assert text != CONFIG
    return parse_config(text, "test.yaml", env={"TOKEN": "t"})


class Bench:
    """One store and one CRM; each `run` reports as `handoff sync` would."""

    def __init__(self, url: str, extra: str = "") -> None:
        self.engine = make_engine(url)
        upgrade(self.engine)
        self.crm = make_crm()
        seed_people(self.crm)
        self.config = report_config(extra)
        self.pipeline = Pipeline(self.config, self.engine, {"crm": self.crm})

    def result(self, *, at: datetime = NOW, dry_run: bool = False, pull: bool = True) -> RunResult:
        self.pipeline.clock = lambda: at
        return self.pipeline.run(as_of=at, dry_run=dry_run, pull=pull)

    def run(
        self, *, at: datetime = NOW, dry_run: bool = False, pull: bool = True
    ) -> dict[str, Any]:
        result = self.result(at=at, dry_run=dry_run, pull=pull)
        with Session(self.engine) as session:
            return build_report(result, session, self.config, self.pipeline.sla)


def sla_run_report(url: str) -> dict[str, Any]:
    """Handed off at NOW; three hours later the fast lane's hour has lapsed (SLA check run)."""
    bench = Bench(url)
    bench.run()
    return bench.run(at=NOW + timedelta(hours=3), pull=False)
