"""`handoff sandbox serve --json` from the command line, used by a real client, stopped by SIGTERM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from hubspot import HubSpot
from simple_salesforce import Salesforce

from sandbox.serve_process import serve_process


def test_serve_prints_json_and_both_clients_work(tmp_path: Path) -> None:
    args = ["--contacts", "25", "--tier", "enterprise", "--ca-dir", str(tmp_path)]
    with serve_process(args, stop_seconds=30) as served:
        info = served.info
        assert set(info) == {"hubspot", "salesforce", "ca_file", "tls_names", "request_log"}
        client = HubSpot(
            access_token=info["hubspot"]["token"],
            host=info["hubspot"]["base_url"],
            ssl_ca_cert=info["ca_file"],
        )
        page = client.crm.contacts.basic_api.get_page(limit=100)
        assert len(page.results) == 25
        events = client.events.events_api.get_page(
            object_type="contact", object_id=int(page.results[0].id), _preload_content=False
        )
        assert events.status == 200  # an enterprise portal: the Events API answers
        session = requests.Session()
        session.trust_env = False  # the environment's CA bundle must not replace ours
        session.verify = info["ca_file"]
        sf = Salesforce(
            instance_url=info["salesforce"]["instance_url"],
            session_id=info["salesforce"]["session_id"],
            session=session,
        )
        people = (
            sf.query("SELECT Id FROM Lead")["totalSize"]
            + sf.query("SELECT Id FROM Contact")["totalSize"]
        )
        assert people == 25
    assert served.process.returncode == 0  # SIGTERM stops it cleanly


def test_serve_refuses_an_unknown_tier() -> None:
    from typer.testing import CliRunner

    from config.cli import app

    result = CliRunner().invoke(app, ["sandbox", "serve", "--tier", "gold", "--contacts", "0"])
    assert result.exit_code == 2
    assert "starter, professional or enterprise" in result.output


def test_serve_delivers_signed_webhooks_to_the_given_url(tmp_path: Path) -> None:
    import os
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from hubspot.crm.contacts import SimplePublicObjectInput
    from hubspot.utils.signature import Signature

    received: list[tuple[dict[str, str], bytes]] = []

    class Target(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    target = ThreadingHTTPServer(("127.0.0.1", 0), Target)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{target.server_address[1]}/webhooks/hubspot/hubspot"
    secret = "serve-webhook-secret-3"
    args = ["--contacts", "5", "--ca-dir", str(tmp_path), "--webhook-url", url]
    without = {k: v for k, v in os.environ.items() if k != "HUBSPOT_CLIENT_SECRET"}
    refused = pytest.raises(RuntimeError, match=r"exit 2\)(.|\n)*HUBSPOT_CLIENT_SECRET")
    with refused, serve_process(args, env=without, stop_seconds=30):
        pass
    env = {**os.environ, "HUBSPOT_CLIENT_SECRET": secret}
    try:
        with serve_process(args, env=env, stop_seconds=30) as sandbox:
            info = sandbox.info
            client = HubSpot(
                access_token=info["hubspot"]["token"],
                host=info["hubspot"]["base_url"],
                ssl_ca_cert=info["ca_file"],
            )
            contact = client.crm.contacts.basic_api.get_page(limit=1).results[0]
            client.crm.contacts.basic_api.update(
                contact.id,
                SimplePublicObjectInput(properties={"jobtitle": "Chief Revenue Officer"}),
            )
            deadline = time.monotonic() + 30  # a guard, not a timing
            while not received:
                assert time.monotonic() < deadline
                time.sleep(0.05)
    finally:
        target.shutdown()
    headers, body = received[0]
    assert Signature.is_valid(
        headers["x-hubspot-signature-v3"], secret, body.decode(), url, "POST", "v3",
        headers["x-hubspot-request-timestamp"],
    )  # fmt: skip
    assert json.loads(body)[0]["objectId"] == int(contact.id)
