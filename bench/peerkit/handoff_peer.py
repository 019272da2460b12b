"""Handoff's own pull in the peers' harness: `bench.peerkit.handoff_pull` in a process of its
own, its state store kept in the peer's work directory between runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from bench.peerkit.measure import run_measured
from bench.peerkit.peer import Peer, PeerRun, last_error

ROOT = Path(__file__).resolve().parents[2]


class HandoffPull(Peer):
    name = "handoff"
    package = "handoff (this checkout)"
    streams = ("contacts", "activities", "owners", "companies")

    def __init__(
        self,
        base_url: str,
        ca_file: str,
        name: str = "handoff",
        sources: str = "",
        crm: str = "hubspot",
        business_unit: str = "",
    ) -> None:
        self.crm = crm
        self.business_unit = business_unit
        self.name = name
        self.sources = sources  # activity sources kept from the example config ("": all)
        self.base_url = base_url
        self.ca_file = ca_file
        self.token = ""

    def install(self) -> None:
        return

    def version(self) -> str:
        from importlib.metadata import version

        return version("handoff-revops")

    def config(self, token: str, start_date: str) -> dict[str, Any]:
        self.token = token
        return {"token": token}

    def discover(self, env: dict[str, str], work: Path) -> tuple[bool, str]:
        return True, ""  # Handoff's properties are its config's; it has no discovery step

    def read(self, env: dict[str, str], work: Path, label: str) -> PeerRun:
        cmd = [sys.executable, "-m", "bench.peerkit.handoff_pull", "--base-url", self.base_url]
        cmd += ["--token", self.token, "--ca-file", self.ca_file, "--db", str(work / "state.db")]
        cmd += ["--sources", self.sources] if self.sources else []
        if self.crm != "hubspot":
            cmd += ["--crm", self.crm, "--business-unit", self.business_unit]
        env = {k: v for k, v in env.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(ROOT)}
        m = run_measured(cmd, env, work, label)
        run = PeerRun(streams=dict.fromkeys(self.streams, "not run"))
        run.add(m)
        if m.returncode != 0:
            problem = "failed: " + last_error(m.stderr)
            run.streams = dict.fromkeys(self.streams, problem)
            return run
        lines = m.stdout.read_text().strip().splitlines()
        out = json.loads(lines[-1])
        run.records = out["records"]
        warned = "; ".join(out.get("warnings", []))
        run.streams = dict.fromkeys(self.streams, "ok")
        if warned:
            run.streams["activities"] = "ok (warnings: " + warned[:200] + ")"
        return run
