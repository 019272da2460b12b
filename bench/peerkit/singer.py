"""Meltano's HubSpot tap (PyPI `meltano-tap-hubspot`, a Singer tap on the Meltano SDK).

Discovery writes the catalog; a run selects the benchmark's streams in it and reads with the
state the previous run emitted. The SDK stops the whole tap at a stream's first error, so a
failed stream is noted (the one whose "Beginning sync" came last) and the streams after it are
read by a second process from the state so far: every stream gets its own verdict."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from bench.peerkit.measure import run_measured
from bench.peerkit.peer import Peer, PeerRun, last_error

BEGIN = re.compile(r"Beginning sync of '([^']+)'")


class MeltanoHubSpot(Peer):
    name = "meltano"
    package = "meltano-tap-hubspot"
    executable = "tap-hubspot"
    # contacts, companies, owners and the engagements Handoff reads (it has no forms stream)
    streams = ("contacts", "companies", "owners", "calls", "emails", "meetings", "notes", "tasks")

    def config(self, token: str, start_date: str) -> dict[str, Any]:
        return {"access_token": token, "start_date": start_date}

    def discover(self, env: dict[str, str], work: Path) -> tuple[bool, str]:
        m = run_measured(
            [self.binary, "--config", str(self.config_file(work)), "--discover"],
            env,
            work,
            "discover",
            timeout=600,
        )
        if m.returncode != 0:
            return False, last_error(m.stderr)
        catalog = json.loads(m.stdout.read_text())
        for entry in catalog["streams"]:
            chosen = entry["tap_stream_id"] in self.streams
            for meta in entry.get("metadata", []):
                if meta.get("breadcrumb") == []:
                    meta["metadata"]["selected"] = chosen
        (work / "catalog.json").write_text(json.dumps(catalog))
        return True, ""

    def read(self, env: dict[str, str], work: Path, label: str) -> PeerRun:
        run = PeerRun(streams={s: "not run" for s in self.streams})
        pending = [s for s in self.streams]
        attempt = 0
        while pending:
            attempt += 1
            self._select(work, pending)
            cmd = [self.binary, "--config", str(self.config_file(work))]
            cmd += ["--catalog", str(work / "catalog.json")]
            state_file = work / "state.json"
            if state_file.exists():
                cmd += ["--state", str(state_file)]
            m = run_measured(cmd, env, work, f"{label}-{attempt}")
            run.add(m)
            begun = self._scan(m.stdout, m.stderr, run, state_file)
            done = begun[:-1] if m.returncode != 0 else begun
            for s in done:
                run.streams[s] = "ok"
            if m.returncode == 0:
                for s in pending:
                    run.streams[s] = "ok"
                break
            failed = begun[-1] if begun else pending[0]
            run.streams[failed] = "failed: " + last_error(m.stderr)
            pending = [s for s in pending if s not in done and s != failed]
        return run

    def _select(self, work: Path, pending: list[str]) -> None:
        catalog = json.loads((work / "catalog.json").read_text())
        for entry in catalog["streams"]:
            for meta in entry.get("metadata", []):
                if meta.get("breadcrumb") == []:
                    meta["metadata"]["selected"] = entry["tap_stream_id"] in pending
        (work / "catalog.json").write_text(json.dumps(catalog))

    def _scan(self, stdout: Path, stderr: Path, run: PeerRun, state_file: Path) -> list[str]:
        state: Any = None
        with stdout.open("rb") as handle:
            for line in handle:
                if line.startswith(b'{"type":"RECORD"') or b'"type": "RECORD"' in line[:40]:
                    stream = json.loads(line)["stream"]
                    run.records[stream] = run.records.get(stream, 0) + 1
                elif b'"STATE"' in line[:40]:
                    state = json.loads(line)["value"]
        if state is not None:
            state_file.write_text(json.dumps(state))
        return list(dict.fromkeys(BEGIN.findall(stderr.read_text(errors="replace"))))
