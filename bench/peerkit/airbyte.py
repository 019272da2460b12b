"""Airbyte's HubSpot source (PyPI `airbyte-source-hubspot`, the Airbyte protocol on stdout).

`discover` gives the catalog; a run reads the benchmark's streams (incremental where the source
supports it) with the per-stream state the previous run emitted. The CDK reads every stream even
when one fails and says so per stream (STREAM_STATUS COMPLETE / INCOMPLETE, ERROR traces)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bench.peerkit.measure import run_measured
from bench.peerkit.peer import Peer, PeerRun, last_error


class AirbyteHubSpot(Peer):
    name = "airbyte"
    package = "airbyte-source-hubspot"
    executable = "source-hubspot"
    streams = (
        "contacts",
        "companies",
        "owners",
        "engagements_calls",
        "engagements_emails",
        "engagements_meetings",
        "engagements_notes",
        "engagements_tasks",
        "forms",
        "form_submissions",
    )

    def config(self, token: str, start_date: str) -> dict[str, Any]:
        return {
            "credentials": {"credentials_title": "Private App Credentials", "access_token": token},
            "start_date": start_date,
        }

    def _command(self, verb: str, work: Path) -> list[str]:
        return [self.binary, verb, "--config", str(self.config_file(work))]

    def discover(self, env: dict[str, str], work: Path) -> tuple[bool, str]:
        m = run_measured(self._command("discover", work), env, work, "discover", timeout=600)
        catalog = None
        errors: list[str] = []
        for message in _messages(m.stdout):
            if message.get("type") == "CATALOG":
                catalog = message["catalog"]
            elif message.get("type") == "TRACE" and message["trace"].get("type") == "ERROR":
                errors.append(message["trace"]["error"].get("message", ""))
        if catalog is None or m.returncode != 0:
            return False, (errors[-1] if errors else last_error(m.stderr))[:300]
        configured = []
        for stream in catalog["streams"]:
            if stream["name"] not in self.streams:
                continue
            incremental = "incremental" in stream.get("supported_sync_modes", [])
            configured.append(
                {
                    "stream": stream,
                    "sync_mode": "incremental" if incremental else "full_refresh",
                    "destination_sync_mode": "append",
                    "cursor_field": stream.get("default_cursor_field", []) if incremental else [],
                }
            )
        (work / "catalog.json").write_text(json.dumps({"streams": configured}))
        return True, ""

    def read(self, env: dict[str, str], work: Path, label: str) -> PeerRun:
        catalog = json.loads((work / "catalog.json").read_text())
        configured = [s["stream"]["name"] for s in catalog["streams"]]
        run = PeerRun(
            streams={
                s: ("not run" if s in configured else "failed: not in the discovered catalog")
                for s in self.streams
            }
        )
        cmd = [*self._command("read", work), "--catalog", str(work / "catalog.json")]
        state_file = work / "state.json"
        if state_file.exists():
            cmd += ["--state", str(state_file)]
        m = run_measured(cmd, env, work, label)
        run.add(m)
        states: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for message in _messages(m.stdout):
            kind = message.get("type")
            if kind == "RECORD":
                stream = message["record"]["stream"]
                run.records[stream] = run.records.get(stream, 0) + 1
            elif kind == "STATE":
                state = message["state"]
                key = state.get("stream", {}).get("stream_descriptor", {}).get("name", "_global")
                states[key] = state
            elif kind == "TRACE":
                trace = message["trace"]
                if trace.get("type") == "STREAM_STATUS":
                    status = trace["stream_status"]
                    name = status["stream_descriptor"]["name"]
                    if status["status"] == "COMPLETE":
                        run.streams[name] = "ok"
                    elif status["status"] == "INCOMPLETE":
                        run.streams[name] = "failed: " + errors.get(name, "stream incomplete")
                elif trace.get("type") == "ERROR":
                    error = trace["error"]
                    name = (error.get("stream_descriptor") or {}).get("name", "")
                    errors[name] = (error.get("message") or "")[:300]
        if states:
            state_file.write_text(json.dumps(list(states.values())))
        if m.returncode != 0:  # a crash before a stream said how it ended
            for name, verdict in run.streams.items():
                if verdict == "not run":
                    run.streams[name] = "failed: " + (errors.get(name) or last_error(m.stderr))
        return run


def _messages(path: Path) -> Any:
    with path.open("rb") as handle:
        for line in handle:
            if line.startswith(b"{"):
                try:
                    yield json.loads(line)
                except ValueError:
                    continue
