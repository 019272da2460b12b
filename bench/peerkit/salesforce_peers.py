"""The Salesforce peers: Airbyte's `airbyte-source-salesforce` (the Airbyte protocol; reads
through Bulk API 2.0 query jobs) and Singer's `tap-salesforce` (`api_type: REST`, `queryAll`
pages). Both log in with the OAuth 2.0 refresh token grant, with the connected app and refresh
token `handoff sandbox serve` prints, at login.salesforce.com (resolved to the sandbox by the
shim). Streams: the people (Lead, Contact), their accounts, activities (Task, Event) and users."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.peerkit.airbyte import AirbyteHubSpot
from bench.peerkit.measure import run_measured
from bench.peerkit.peer import Peer, PeerRun, last_error

SOBJECTS = ("Lead", "Contact", "Account", "Task", "Event", "User")


def _login(box_info: dict[str, Any], start_date: str) -> dict[str, Any]:
    sf = box_info["salesforce"]
    return {
        "client_id": sf["client_id"],
        "client_secret": sf["client_secret"],
        "refresh_token": sf["refresh_token"],
        "start_date": start_date,
        "is_sandbox": False,
    }


class AirbyteSalesforce(AirbyteHubSpot):
    name = "airbyte"
    package = "airbyte-source-salesforce"
    executable = "source-salesforce"
    streams = SOBJECTS

    def __init__(self, box_info: dict[str, Any]) -> None:
        self.box_info = box_info

    def config(self, token: str, start_date: str) -> dict[str, Any]:
        criteria = [{"criteria": "exacts", "value": name} for name in SOBJECTS]
        return _login(self.box_info, start_date) | {"streams_criteria": criteria}


class SingerSalesforce(Peer):
    """Singer taps have no per-stream status: a run that exits 0 read every selected stream."""

    name = "singer"
    package = "tap-salesforce"
    executable = "tap-salesforce"
    streams = SOBJECTS

    def __init__(self, box_info: dict[str, Any]) -> None:
        self.box_info = box_info

    def config(self, token: str, start_date: str) -> dict[str, Any]:
        extra = {"api_type": "REST", "select_fields_by_default": True}
        return _login(self.box_info, start_date) | extra

    def discover(self, env: dict[str, str], work: Path) -> tuple[bool, str]:
        cmd = [self.binary, "--config", str(self.config_file(work)), "--discover"]
        m = run_measured(cmd, env, work, "discover", timeout=600)
        if m.returncode != 0:
            return False, last_error(m.stderr)
        catalog = json.loads(m.stdout.read_text())
        for entry in catalog["streams"]:
            for meta in entry.get("metadata", []):
                if meta.get("breadcrumb") == []:
                    meta["metadata"]["selected"] = entry["tap_stream_id"] in self.streams
                    # without a replication method its state keeps no bookmark (build_state)
                    meta["metadata"]["replication-key"] = "SystemModstamp"
                    meta["metadata"]["replication-method"] = "INCREMENTAL"
        (work / "catalog.json").write_text(json.dumps(catalog))
        return True, ""

    def read(self, env: dict[str, str], work: Path, label: str) -> PeerRun:
        run = PeerRun(streams=dict.fromkeys(self.streams, "not run"))
        # tap-salesforce takes its catalog as --properties (the older Singer flag)
        cmd = [self.binary, "--config", str(self.config_file(work))]
        cmd += ["--properties", str(work / "catalog.json")]
        state_file = work / "state.json"
        if state_file.exists():
            cmd += ["--state", str(state_file)]
        m = run_measured(cmd, env, work, label)
        run.add(m)
        state: Any = None
        with m.stdout.open("rb") as handle:
            for line in handle:
                if not line.startswith(b"{"):
                    continue
                message = json.loads(line)
                if message.get("type") == "RECORD":
                    stream = message["stream"]
                    run.records[stream] = run.records.get(stream, 0) + 1
                elif message.get("type") == "STATE":
                    state = message["value"]
        if state is not None:
            state_file.write_text(json.dumps(state))
        verdict = "ok" if m.returncode == 0 else "failed: " + last_error(m.stderr)
        run.streams = dict.fromkeys(self.streams, verdict)
        return run
