"""The seeded sandbox in its own process (`handoff sandbox serve --hostname api.hubapi.com
--request-log FILE`): its certificate valid for HubSpot's API host names, every request it
answers a JSON line in the request log (method, path, query, status, time, duration)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.peerkit.shim import HUBSPOT_HOSTS

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class SandboxProcess:
    info: dict[str, Any]
    request_log: Path
    pid: int

    @property
    def port(self) -> int:
        return int(self.info["hubspot"]["base_url"].rsplit(":", 1)[1])

    @property
    def ca_file(self) -> str:
        return str(self.info["ca_file"])

    @property
    def token(self) -> str:
        return str(self.info["hubspot"]["token"])

    def mark(self) -> int:
        """The log's current end: a run's requests are the lines after its mark."""
        return self.request_log.stat().st_size if self.request_log.exists() else 0

    def requests_since(self, mark: int) -> list[dict[str, Any]]:
        time.sleep(0.2)  # the last answer's line is written just after it is sent
        with self.request_log.open("rb") as handle:
            handle.seek(mark)
            lines = [json.loads(line) for line in handle.read().splitlines() if line.strip()]
        return [r for r in lines if r.get("crm", "hubspot") == "hubspot"]


@contextmanager
def sandbox(
    contacts: int, limits: bool, directory: Path, seed: int = 7, root: Path = ROOT
) -> Iterator[SandboxProcess]:
    """`root`: the checkout whose sandbox serves (another worktree's, to try its routes)."""
    log = directory / "requests.jsonl"
    common = ["--json", "--crm", "hubspot", "--seed", str(seed), "--contacts", str(contacts)]
    common += ["--limits"] if limits else []
    cmd = [sys.executable, "-m", "config.cli", "sandbox", "serve", *common]
    for host in HUBSPOT_HOSTS:
        cmd += ["--hostname", host]
    cmd += ["--request-log", str(log)]
    proc = subprocess.Popen(
        cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the sandbox did not start: {' '.join(cmd)}")
        yield SandboxProcess(json.loads(line), log, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
