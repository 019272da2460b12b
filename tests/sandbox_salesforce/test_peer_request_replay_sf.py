"""Third-party Salesforce connectors' requests, replayed: every distinct request Airbyte's
airbyte-source-salesforce (check, discover, a read through Bulk API 2.0 query jobs) and Singer's
tap-salesforce (discover, a REST sync) sent to the sandbox (peer_requests_sf.json, recorded
unshimmed by bench/peerkit/record_salesforce.py) is sent again with plain `requests`, logging in
with the refresh token grant as they do, and must get a success in Salesforce's shape. A route
or grant the sandbox stops serving fails here without the connectors installed."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
import requests

from sandbox.runtime import Sandbox
from sandbox.seed import generate_portal

RECORDED_AT = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
RECORDING = json.loads(Path(__file__).with_name("peer_requests_sf.json").read_text())
REQUESTS: list[dict[str, Any]] = RECORDING["requests"]
_JOB = re.compile(r"(/jobs/query/)([0-9a-zA-Z]{15,18})")


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    portal = generate_portal(7, 200, RECORDED_AT)
    box = Sandbox(portal, hubspot=False, ca_directory=tmp_path_factory.mktemp("ca"))
    with box:
        yield box


def _check(row: dict[str, Any], answer: requests.Response) -> None:
    path, method = row["path"], row["method"]
    assert answer.status_code < 400, (method, path, answer.status_code, answer.text[:300])
    if path.endswith("/oauth2/token"):
        assert {"access_token", "instance_url", "id", "token_type"} <= set(answer.json())
    elif path.endswith("/sobjects"):
        assert {"Lead", "Contact", "Task"} <= {o["name"] for o in answer.json()["sobjects"]}
    elif path.endswith("/describe"):
        names = {f["name"] for f in answer.json()["fields"]}
        assert {"Id", "SystemModstamp"} <= names, path
    elif path.endswith("/results"):
        assert answer.headers["Content-Type"].startswith("text/csv")
        assert "Sforce-Locator" in answer.headers
        header = next(csv.reader(io.StringIO(answer.text)))
        assert "Id" in header
    elif path.endswith("/jobs/query") and method == "POST":
        assert answer.json()["state"] == "UploadComplete"
    elif "/jobs/query/" in path and method == "GET":
        assert answer.json()["state"] == "JobComplete"
    elif path.endswith("/queryAll") or path.endswith("/query"):
        assert {"totalSize", "done", "records"} <= set(answer.json())


def test_every_recorded_salesforce_peer_request_succeeds(org: Sandbox) -> None:
    info = org.info
    assert info.salesforce_instance_url and info.salesforce_refresh_token
    http = requests.Session()
    http.trust_env = False
    http.verify = str(info.ca_file)
    token = ""
    last_job = ""
    peers = set()
    for row in REQUESTS:
        peers.add(row["peer"])
        path, body = row["path"], row["body"]
        headers = dict(row["headers"])
        if path.endswith("/oauth2/token"):
            form = dict(parse_qsl(body or ""))
            form["refresh_token"] = info.salesforce_refresh_token
            body = urlencode(form)
        else:
            headers["Authorization"] = f"Bearer {token}"
        path = _JOB.sub(rf"\g<1>{last_job}", path)
        answer = http.request(
            row["method"],
            info.salesforce_instance_url + path,
            params=[(k, v) for k, values in row["query"].items() for v in values],
            data=body.encode() if body else None,
            headers=headers,
        )
        _check(row, answer)
        if path.endswith("/oauth2/token"):
            token = answer.json()["access_token"]
        elif path.endswith("/jobs/query") and row["method"] == "POST":
            last_job = answer.json()["id"]
    assert peers == {"airbyte", "tap-salesforce"}
