"""Record the request shapes of the Salesforce peers (Airbyte's `airbyte-source-salesforce`,
Singer's `tap-salesforce`) for tests/sandbox_salesforce/test_peer_request_replay_sf.py.

Serves the Salesforce sandbox in-process (seed 7, 200 contacts, RECORDED_AT) with a certificate
for login.salesforce.com and a `before_request` hook that keeps the first request of each shape
(method, path with record and job ids as `{id}`, query names, JSON body keys and the SOQL's
object), then runs each installed peer's check / discover / read of Lead, Contact, Account,
Task, Event and User through the resolver shim (bench/peerkit/shim.py), logging in with the
sandbox's connected app and refresh token. Writes the shapes, in the order first sent.

    .venv/bin/python -m bench.peerkit.record_salesforce   # peers installed under the cache
"""

from __future__ import annotations

import json
import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.peerkit.peer import CACHE
from bench.peerkit.shim import peer_environment, write_shim
from sandbox.runtime import Sandbox
from sandbox.seed import generate_portal
from sandbox.server import SandboxRequest

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "sandbox_salesforce" / "peer_requests_sf.json"
RECORDED_AT = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
HOSTS = ("login.salesforce.com",)
OBJECTS = ("Lead", "Contact", "Account", "Task", "Event", "User")
AIRBYTE = CACHE / "airbyte-source-salesforce" / "bin" / "source-salesforce"
TAP = CACHE / "tap-salesforce" / "bin" / "tap-salesforce"
_ID = re.compile(r"/[0-9a-zA-Z]{15}(?:[0-9a-zA-Z]{3})?(?=/|$)")
_FROM = re.compile(r"\bFROM\s+(\w+)", re.IGNORECASE)


def shape(request: SandboxRequest, peer: str) -> tuple[Any, ...]:
    path = _ID.sub("/{id}", request.path) if "/jobs/" in request.path else request.path
    body: Any = None
    if request.body and request.headers.get("content-type", "").startswith("application/json"):
        body = request.json()
    soql = (body or {}).get("query") if isinstance(body, dict) else request.param("q")
    found = _FROM.search(soql or "")
    keys = tuple(sorted(body)) if isinstance(body, dict) else ()
    return (peer, request.method, path, tuple(sorted(request.query)), keys, found and found[1])


def record() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    seen: set[tuple[Any, ...]] = set()
    current = {"peer": ""}

    def keep(request: SandboxRequest) -> None:
        key = shape(request, current["peer"])
        if key in seen:
            return
        seen.add(key)
        body = request.body.decode("utf-8", "replace") if request.body else None
        rows.append(
            {
                "peer": current["peer"],
                "method": request.method,
                "path": request.path,
                "query": request.query,
                "body": body,
                "headers": {
                    k: v for k, v in request.headers.items() if k in ("content-type", "accept")
                },
            }
        )

    portal = generate_portal(7, 200, RECORDED_AT)
    with Sandbox(portal, hubspot=False, hostnames=HOSTS) as box:
        box.server("salesforce").before_request.append(keep)
        info = box.info
        assert info.salesforce_instance_url and info.salesforce_refresh_token
        port = int(info.salesforce_instance_url.rsplit(":", 1)[1])
        work = Path("/tmp/handoff-sf-recording")
        env = peer_environment(write_shim(work / "shim"), port, str(info.ca_file))
        env["HANDOFF_PEER_HOSTS"] = ",".join(HOSTS)
        login = {
            "client_id": info.salesforce_client_id,
            "client_secret": info.salesforce_client_secret,
            "refresh_token": info.salesforce_refresh_token,
            "start_date": "2026-09-01T00:00:00Z",
            "is_sandbox": False,
        }
        if AIRBYTE.exists():
            current["peer"] = "airbyte"
            _airbyte(work, env, login)
        if TAP.exists():
            current["peer"] = "tap-salesforce"
            _tap(work, env, login)
    return rows


def _run(cmd: list[str], env: dict[str, str], out: Path) -> None:
    with out.open("w") as handle:
        subprocess.run(cmd, env=env, stdout=handle, stderr=subprocess.DEVNULL, check=True)


def _airbyte(work: Path, env: dict[str, str], login: dict[str, Any]) -> None:
    config = work / "airbyte.json"
    criteria = [{"criteria": "exacts", "value": name} for name in OBJECTS]
    config.write_text(json.dumps(login | {"streams_criteria": criteria}))
    _run([str(AIRBYTE), "check", "--config", str(config)], env, work / "ab-check.out")
    _run([str(AIRBYTE), "discover", "--config", str(config)], env, work / "ab-discover.out")
    messages = [
        json.loads(line)
        for line in (work / "ab-discover.out").read_text().splitlines()
        if line.startswith("{")
    ]
    catalog = next(m["catalog"] for m in messages if m.get("type") == "CATALOG")
    configured = [
        {
            "stream": s,
            "sync_mode": "incremental",
            "destination_sync_mode": "append",
            "cursor_field": s.get("default_cursor_field", []),
        }
        for s in catalog["streams"]
        if s["name"] in OBJECTS
    ]
    (work / "ab-catalog.json").write_text(json.dumps({"streams": configured}))
    read = [
        str(AIRBYTE),
        "read",
        "--config",
        str(config),
        "--catalog",
        str(work / "ab-catalog.json"),
    ]
    _run(read, env, work / "ab-read.out")


def _tap(work: Path, env: dict[str, str], login: dict[str, Any]) -> None:
    config = work / "tap.json"
    config.write_text(json.dumps(login | {"api_type": "REST", "select_fields_by_default": True}))
    _run([str(TAP), "--config", str(config), "--discover"], env, work / "tap-catalog.json")
    catalog = json.loads((work / "tap-catalog.json").read_text())
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] in OBJECTS
                entry["metadata"]["replication-key"] = "SystemModstamp"
                entry["metadata"]["replication-method"] = "INCREMENTAL"
    (work / "tap-selected.json").write_text(json.dumps(catalog))
    sync = [str(TAP), "--config", str(config), "--properties", str(work / "tap-selected.json")]
    _run(sync, env, work / "tap-read.out")


def main() -> None:
    rows = record()
    about = (
        "Distinct request shapes (method, path, query, body; Content-Type/Accept) that "
        "airbyte-source-salesforce 2.10.3 (check, discover, read) and tap-salesforce 2.8.1 "
        "(discover, REST sync) sent to the Salesforce sandbox seeded with generate_portal(7, 200, "
        "2026-11-02T15:00Z), logging in with the refresh token grant. Replayed by "
        "tests/sandbox_salesforce/test_peer_request_replay_sf.py; re-record with "
        "`python -m bench.peerkit.record_salesforce`."
    )
    OUT.write_text(json.dumps({"about": about, "requests": rows}, indent=1, sort_keys=True) + "\n")
    print(f"{len(rows)} request shapes -> {OUT}")


if __name__ == "__main__":
    main()
