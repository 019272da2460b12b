"""`handoff sandbox serve --crm hubspot`: the HubSpot portal alone (no Salesforce org is built),
used by the real client; an unknown --crm is refused."""

from __future__ import annotations

from pathlib import Path

from hubspot import HubSpot

from sandbox.serve_process import serve_process


def test_serve_hubspot_alone(tmp_path: Path) -> None:
    args = ["--contacts", "30", "--crm", "hubspot", "--ca-dir", str(tmp_path)]
    with serve_process(args, stop_seconds=30) as served:
        info = served.info
        assert info["salesforce"]["instance_url"] is None
        assert info["salesforce"]["session_id"] is None
        client = HubSpot(
            access_token=info["hubspot"]["token"],
            host=info["hubspot"]["base_url"],
            ssl_ca_cert=served.ca_file,
        )
        assert len(client.crm.contacts.basic_api.get_page(limit=100).results) == 30
    assert served.process.returncode == 0


def test_serve_refuses_an_unknown_crm() -> None:
    from typer.testing import CliRunner

    from config.cli import app

    result = CliRunner().invoke(app, ["sandbox", "serve", "--crm", "pipedrive", "--contacts", "0"])
    assert result.exit_code == 2
    assert "hubspot, salesforce or both" in result.output
