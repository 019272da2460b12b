"""`handoff crm setup` creates the custom properties Handoff writes, through hubspot-api-client."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from config.cli import app
from sandbox.hubspot import HubSpotEmulator
from sandbox.seed import generate_portal
from sandbox.server import SandboxCA, SandboxServer
from sync.demo import example_config

TOKEN = "pat-setup-test"


def test_setup_lists_then_creates_missing_properties(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator = HubSpotEmulator(
        generate_portal(1, 5, datetime(2026, 11, 20, tzinfo=UTC)),
        token=TOKEN,
        limits_enabled=False,
        custom_properties=False,
    )
    ca = SandboxCA(tmp_path / "ca")
    with SandboxServer(emulator.handle, ca) as server:
        monkeypatch.setenv("HUBSPOT_TOKEN", TOKEN)
        monkeypatch.setenv("HUBSPOT_BASE_URL", server.base_url)
        monkeypatch.setenv("HANDOFF_CA_FILE", str(ca.ca_file))
        runner = CliRunner()
        config = str(example_config("hubspot"))
        check = runner.invoke(app, ["crm", "setup", "--check", "-c", config])
        assert check.exit_code == 1
        assert "handoff_score" in check.output
        created = runner.invoke(app, ["crm", "setup", "-c", config])
        assert created.exit_code == 0, created.output
        assert "created" in created.output
        again = runner.invoke(app, ["crm", "setup", "--check", "-c", config])
        assert again.exit_code == 0
        assert "every field Handoff writes exists" in again.output
        assert emulator.log.total("properties.create") >= 4


@pytest.mark.parametrize("tier", ["professional", "enterprise"])
def test_setup_check_says_which_behaviour_sources_the_token_can_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tier: str
) -> None:
    emulator = HubSpotEmulator(
        generate_portal(1, 5, datetime(2026, 11, 20, tzinfo=UTC)),
        token=TOKEN,
        limits_enabled=False,
        tier=tier,
    )
    ca = SandboxCA(tmp_path / "ca")
    with SandboxServer(emulator.handle, ca) as server:
        monkeypatch.setenv("HUBSPOT_TOKEN", TOKEN)
        monkeypatch.setenv("HUBSPOT_BASE_URL", server.base_url)
        monkeypatch.setenv("HANDOFF_CA_FILE", str(ca.ca_file))
        monkeypatch.setenv("COLUMNS", "400")  # one source a line
        check = CliRunner().invoke(
            app, ["crm", "setup", "--check", "-c", str(example_config("hubspot"))]
        )
    assert check.exit_code == 0, check.output
    lines = {line.split(": ", 2)[1]: line for line in check.output.splitlines() if ": " in line}
    assert "readable: Forms API" in lines["form_submissions"]
    if tier == "enterprise":
        assert "readable: Events API" in lines["page_views"]
        assert "set tier: enterprise" in lines["page_views"]  # the example config says professional
    else:
        assert "hs_analytics_last_url history" in lines["page_views"]
        assert "MISSING_SCOPES" in lines["page_views"]
        assert "hs_email_last_open_date" in lines["email_events"]
        assert "readable: Marketing Events API" in lines["webinars"]
        assert "unavailable" in lines["custom events (trial milestones)"]
