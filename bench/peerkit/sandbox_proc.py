"""The seeded sandbox in its own process (`handoff sandbox serve --hostname api.hubapi.com
--request-log FILE`): its certificate valid for the CRM's API host names (HubSpot's, or
Salesforce's login host with `crm="salesforce"`), every request it answers a JSON line in the
request log (method, path, query, status, time, duration)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.peerkit.shim import HUBSPOT_HOSTS, SALESFORCE_HOSTS
from sandbox.serve_process import ServedSandbox, serve_process

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class SandboxProcess(ServedSandbox):
    request_log: Path
    crm: str = "hubspot"

    @property
    def port(self) -> int:
        if self.crm == "salesforce":
            return int(self.info["salesforce"]["instance_url"].rsplit(":", 1)[1])
        return self.hubspot_port

    @property
    def hosts(self) -> tuple[str, ...]:
        return SALESFORCE_HOSTS if self.crm == "salesforce" else HUBSPOT_HOSTS

    @property
    def token(self) -> str:
        if self.crm == "salesforce":
            return str(self.info["salesforce"]["session_id"])
        return str(self.info["hubspot"]["token"])

    def mark(self) -> int:
        """The log's current end: a run's requests are the lines after its mark."""
        return self.request_log.stat().st_size if self.request_log.exists() else 0

    def requests_since(self, mark: int) -> list[dict[str, Any]]:
        time.sleep(0.2)  # the last answer's line is written just after it is sent
        with self.request_log.open("rb") as handle:
            handle.seek(mark)
            lines = [json.loads(line) for line in handle.read().splitlines() if line.strip()]
        return [r for r in lines if r.get("crm", "hubspot") == self.crm]


@contextmanager
def sandbox(
    contacts: int,
    limits: bool,
    directory: Path,
    seed: int = 7,
    root: Path = ROOT,
    crm: str = "hubspot",
) -> Iterator[SandboxProcess]:
    """`root`: the checkout whose sandbox serves (another worktree's, to try its routes)."""
    log = directory / "requests.jsonl"
    args = ["--crm", crm, "--seed", str(seed), "--contacts", str(contacts)]
    args += ["--limits"] if limits else []
    for host in SALESFORCE_HOSTS if crm == "salesforce" else HUBSPOT_HOSTS:
        args += ["--hostname", host]
    args += ["--request-log", str(log)]
    with serve_process(args, cwd=root) as served:
        yield SandboxProcess(served.info, served.process, log, crm)
