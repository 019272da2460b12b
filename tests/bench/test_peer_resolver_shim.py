"""bench/peers.py points third-party connectors at the sandbox without editing /etc/hosts: the
`sitecustomize.py` it puts on a peer's PYTHONPATH resolves api.hubapi.com to the sandbox's port,
and the sandbox's CA is trusted, also by clients that call `Session.send` (which skips
REQUESTS_CA_BUNDLE; the Meltano SDK does). TLS still checks the name the client asked for."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.peerkit.shim import HUBSPOT_HOSTS, peer_environment, write_shim
from sandbox.runtime import Sandbox
from sandbox.seed import generate_portal

CLIENT = """
import json, sys, requests
url = "https://api.hubapi.com/crm/v3/owners"
headers = {"Authorization": "Bearer " + sys.argv[1]}
plain = requests.get(url, headers=headers, timeout=10)
session = requests.Session()  # as the Meltano SDK does: prepare, then send
sent = session.send(session.prepare_request(requests.Request("GET", url, headers=headers)))
print(json.dumps([plain.status_code, sent.status_code, len(plain.json()["results"])]))
"""


@pytest.fixture
def hubspot(tmp_path: Path) -> Iterator[Sandbox]:
    portal = generate_portal(7, 20, datetime.now(UTC).replace(microsecond=0))
    box = Sandbox(
        portal, salesforce=False, hostnames=HUBSPOT_HOSTS, request_log=tmp_path / "log.jsonl"
    )
    with box:
        yield box


def test_peer_interpreter_reaches_the_sandbox_as_api_hubapi_com(
    hubspot: Sandbox, tmp_path: Path
) -> None:
    info = hubspot.info
    assert info.hubspot_base_url and info.hubspot_token
    port = int(info.hubspot_base_url.rsplit(":", 1)[1])
    env = peer_environment(write_shim(tmp_path / "shim"), port, str(info.ca_file))
    done = subprocess.run(
        [sys.executable, "-c", CLIENT, info.hubspot_token],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    plain, sent, owners = json.loads(done.stdout)
    assert (plain, sent) == (200, 200) and owners > 0
    logged = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [(r["host"], r["path"], r["status"]) for r in logged] == [
        ("api.hubapi.com", "/crm/v3/owners", 200)
    ] * 2


def test_without_the_sandbox_ca_the_name_is_not_trusted(hubspot: Sandbox, tmp_path: Path) -> None:
    info = hubspot.info
    assert info.hubspot_base_url and info.hubspot_token
    port = int(info.hubspot_base_url.rsplit(":", 1)[1])
    env = peer_environment(write_shim(tmp_path / "shim"), port, str(info.ca_file))
    for name in ("HANDOFF_PEER_CA", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
        env.pop(name)
    done = subprocess.run(
        [sys.executable, "-c", CLIENT, info.hubspot_token],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0 and "CERTIFICATE_VERIFY_FAILED" in done.stderr
