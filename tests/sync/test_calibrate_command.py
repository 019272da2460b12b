"""`handoff calibrate` reads outcomes from the store and proposes, never applies, new weights."""

from __future__ import annotations

from pathlib import Path

import pytest
from pipeline_harness import CONFIG, NOW, make_config, make_crm, seed_people
from typer.testing import CliRunner

from config.cli import app
from sync.pipeline import Pipeline
from sync.store.engine import make_engine
from sync.store.schema import upgrade


def test_calibrate_reports_from_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'h.db'}"
    engine = make_engine(url)
    upgrade(engine)
    crm = make_crm()
    seed_people(crm)
    Pipeline(make_config(), engine, {"crm": crm}, clock=lambda: NOW).run()
    config = tmp_path / "handoff.yaml"
    config.write_text(CONFIG + f"state: {{url: '{url}'}}\n")
    before = config.read_text()
    monkeypatch.setenv("TOKEN", "t")
    result = CliRunner().invoke(app, ["calibrate", "-c", str(config)])
    assert result.exit_code == 0, result.output
    assert "3 scored contacts, 2 MQLs" in result.output
    assert "Signal lift" in result.output
    assert config.read_text() == before  # it never changes the config itself
