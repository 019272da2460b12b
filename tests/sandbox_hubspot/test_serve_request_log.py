"""`handoff sandbox serve --hostname api.hubapi.com --port N --request-log FILE`: a third-party
client that hard-codes HubSpot's host verifies the sandbox's certificate under that name, and
every request it makes is in the log; unrouted paths answer HubSpot's 404 and charge no bucket."""

from __future__ import annotations

import json
from pathlib import Path

import urllib3
from typer.testing import CliRunner

from config.cli import app
from sandbox.serve_process import serve_process


def test_named_certificate_and_request_log(tmp_path: Path) -> None:
    log = tmp_path / "requests.jsonl"
    args = ["--limits", "--contacts", "5", "--ca-dir", str(tmp_path), "--hostname",
            "api.hubapi.com", "--hostname", "api.hubspot.test", "--port", "0", "--request-log",
            str(log)]  # fmt: skip
    with serve_process(args, stop_seconds=30) as served:
        info = served.info
        assert {"api.hubapi.com", "api.hubspot.test", "127.0.0.1"} <= set(info["tls_names"])
        assert info["request_log"] == str(log)
        port = served.hubspot_port
        # What a peer with a resolver override does: connect to loopback, verify HubSpot's name.
        pool = urllib3.HTTPSConnectionPool(
            "127.0.0.1", port, ca_certs=info["ca_file"], cert_reqs="CERT_REQUIRED",
            server_hostname="api.hubapi.com", assert_hostname="api.hubapi.com",
        )  # fmt: skip
        auth = {"Authorization": f"Bearer {info['hubspot']['token']}", "Host": "api.hubapi.com"}
        listed = pool.request("GET", "/crm/v3/objects/contacts?limit=2&hapikey=leaky", headers=auth)
        assert listed.status == 200
        remaining = int(listed.headers["X-HubSpot-RateLimit-Remaining"])
        unknown = pool.request("GET", "/crm/v9/not-an-api", headers=auth)
        assert unknown.status == 404
        body = json.loads(unknown.data)
        assert body["status"] == "error" and body["message"] == "resource not found"
        assert {"correlationId", "requestId"} <= set(body)
        searched = pool.request(
            "POST", "/crm/v3/objects/contacts/search", body=b'{"limit": 1}',
            headers={**auth, "Content-Type": "application/json"},
        )  # fmt: skip
        assert searched.status == 200
        again = pool.request("GET", "/crm/v3/objects/contacts?limit=1", headers=auth)
        # the unknown route and the search took nothing from the ten-second bucket
        assert int(again.headers["X-HubSpot-RateLimit-Remaining"]) == remaining - 1
    assert served.process.returncode == 0
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["method"], e["path"], e["status"], e["bucket"]) for e in lines] == [
        ("GET", "/crm/v3/objects/contacts", 200, "ten_secondly"),
        ("GET", "/crm/v9/not-an-api", 404, None),
        ("POST", "/crm/v3/objects/contacts/search", 200, "search"),
        ("GET", "/crm/v3/objects/contacts", 200, "ten_secondly"),
    ]
    first = lines[0]
    assert first["query"] == {"limit": ["2"], "hapikey": ["***"]}  # credentials never logged
    assert first["endpoint"] == "contacts.list" and first["crm"] == "hubspot"
    assert first["host"] == "api.hubapi.com"
    assert first["time"].endswith("Z") and first["duration_ms"] >= 0
    assert info["hubspot"]["token"] not in log.read_text()


def test_serve_refuses_a_bad_hostname_and_an_unwritable_log(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["sandbox", "serve", "--contacts", "0", "--hostname", "api hub"])
    assert bad.exit_code == 2 and "--hostname 'api hub'" in bad.output
    blocker = tmp_path / "file"
    blocker.write_text("")
    unwritable = runner.invoke(
        app, ["sandbox", "serve", "--contacts", "0", "--request-log", str(blocker / "log.jsonl")]
    )
    assert unwritable.exit_code == 2 and "--request-log" in unwritable.output
