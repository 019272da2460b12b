"""The seeded sandbox in its own process, its certificate valid for HubSpot's API host names and
every request it answers written to a JSON-lines request log (`handoff sandbox serve
--hostname ... --request-log FILE`). Until that command has those options, the same is done
here through the sandbox's Python API (`python -m bench.peerkit.sandbox_proc`)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
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
            return [json.loads(line) for line in handle.read().splitlines() if line.strip()]


def _cli_has_request_log() -> bool:
    out = subprocess.run(
        [sys.executable, "-m", "config.cli", "sandbox", "serve", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return "--request-log" in out and "--hostname" in out


@contextmanager
def sandbox(
    contacts: int, limits: bool, directory: Path, seed: int = 7
) -> Iterator[SandboxProcess]:
    log = directory / "requests.jsonl"
    common = ["--json", "--seed", str(seed), "--contacts", str(contacts)]
    common += ["--limits"] if limits else []
    if _cli_has_request_log():
        cmd = [sys.executable, "-m", "config.cli", "sandbox", "serve", *common]
        for host in HUBSPOT_HOSTS:
            cmd += ["--hostname", host]
        cmd += ["--request-log", str(log)]
    else:
        cmd = [sys.executable, "-m", "bench.peerkit.sandbox_proc", *common, "--log", str(log)]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
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


def _serve_fallback(argv: list[str]) -> None:
    """The sandbox with a request log, through its Python API (see the module's docstring)."""
    import argparse
    import signal

    import sandbox.server as server_module
    from sandbox.runtime import Sandbox
    from sandbox.seed import generate_portal

    parser = argparse.ArgumentParser()
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--contacts", type=int, default=5000)
    parser.add_argument("--limits", action="store_true")
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args(argv)

    real_issue = server_module.trustme.CA.issue_cert

    def issue_cert(self: Any, *names: str, **kw: Any) -> Any:
        return real_issue(self, *names, *HUBSPOT_HOSTS, **kw)

    server_module.trustme.CA.issue_cert = issue_cert  # type: ignore[method-assign]
    portal = generate_portal(args.seed, args.contacts, datetime.now(UTC).replace(microsecond=0))
    box = Sandbox(portal, limits_enabled=args.limits, salesforce=False).start()
    handle = args.log.open("a", buffering=1)
    lock = threading.Lock()
    local = threading.local()

    def before(request: Any) -> None:
        local.started = time.perf_counter()
        local.arrived = datetime.now(UTC)

    def after(request: Any, response: Any) -> None:
        record = {
            "time": local.arrived.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "method": request.method,
            "path": request.path,
            "status": response.status,
            "duration_ms": round((time.perf_counter() - local.started) * 1000, 3),
        }
        with lock:
            handle.write(json.dumps(record) + "\n")

    server = box.server("hubspot")
    server.before_request.append(before)  # type: ignore[arg-type]
    server.after_request.append(after)
    print(json.dumps(box.info.as_json()), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    box.stop()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    _serve_fallback(sys.argv[1:])
