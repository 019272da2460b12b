"""`handoff sandbox serve` stopped by SIGTERM while clients hold keep-alive connections to both
emulators: it exits 0, its HTTPS and Pub/Sub ports refuse connections, and a new sandbox serves on
the same HTTPS ports at once (the first one's sockets are closed, not left to the kernel); the
temporary directory of a CA file it made itself is removed."""

from __future__ import annotations

import signal
import socket
import subprocess
from pathlib import Path

import pytest
import requests
from hubspot import HubSpot
from simple_salesforce import Salesforce

from sandbox.serve_process import serve_process

EXIT_GUARD = 120.0  # a guard against a hung process, not a timing


def _session(ca_file: str) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # the environment's CA bundle must not replace ours
    session.verify = ca_file
    return session


def _refused(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


def _people(info: dict, session: requests.Session) -> int:  # type: ignore[type-arg]
    sf = Salesforce(
        instance_url=info["salesforce"]["instance_url"],
        session_id=info["salesforce"]["session_id"],
        session=session,
    )
    leads = sf.query("SELECT Id FROM Lead")["totalSize"]
    return int(leads + sf.query("SELECT Id FROM Contact")["totalSize"])


def test_sigterm_stops_serve_with_status_0_and_releases_its_ports(tmp_path: Path) -> None:
    args = ["--contacts", "2000", "--activity-scale", "0.2", "--ca-dir", str(tmp_path)]
    with serve_process(args, stop_seconds=EXIT_GUARD) as served:
        info = served.info
        hubspot = HubSpot(
            access_token=info["hubspot"]["token"],
            host=info["hubspot"]["base_url"],
            ssl_ca_cert=info["ca_file"],
        )
        assert len(hubspot.crm.contacts.basic_api.get_page(limit=10).results) == 10
        session = _session(info["ca_file"])
        assert _people(info, session) == 2000  # the session's connection stays open
        served.process.send_signal(signal.SIGTERM)
        try:
            code = served.process.wait(timeout=EXIT_GUARD)
        except subprocess.TimeoutExpired:
            pytest.fail(f"handoff sandbox serve still running {EXIT_GUARD:.0f} s after SIGTERM")
        assert code == 0
        session.close()
    hubspot_port = served.hubspot_port
    salesforce_port = int(info["salesforce"]["instance_url"].rsplit(":", 1)[1])
    pubsub_host, pubsub_port = info["salesforce"]["pubsub_endpoint"].rsplit(":", 1)
    assert _refused("127.0.0.1", hubspot_port)
    assert _refused("127.0.0.1", salesforce_port)
    assert _refused(pubsub_host, int(pubsub_port))

    same_ports = [
        "--contacts", "5", "--port", str(hubspot_port), "--salesforce-port", str(salesforce_port)
    ]  # fmt: skip
    with serve_process(same_ports, stop_seconds=EXIT_GUARD) as again:
        assert again.hubspot_port == hubspot_port
        assert _people(again.info, _session(again.info["ca_file"])) == 5
        ca_directory = Path(again.ca_file).parent
        assert ca_directory.is_dir()
    assert again.process.returncode == 0  # the block stopped it with SIGTERM
    assert not ca_directory.exists()
