"""`handoff sandbox serve --json` in a process of its own, for the benchmarks and tests that keep
the sandbox's memory, CPU and lifetime apart from theirs: started, awaited until it prints its one
JSON line (`SandboxInfo.as_json`: base URLs, tokens, the CA file), stopped by SIGTERM (killed when
it has not stopped within `stop_seconds`: a large portal can take a while, and a benchmark must
never lose its figures to it). What the server says on stderr is kept in a temporary file and
quoted when it does not start."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class ServedSandbox:
    info: dict[str, Any]  # the JSON line `handoff sandbox serve --json` printed
    process: subprocess.Popen[str]

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def ca_file(self) -> str:
        return str(self.info["ca_file"])

    @property
    def hubspot_port(self) -> int:
        return int(urlsplit(self.info["hubspot"]["base_url"]).port or 443)


def serve_command(args: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "config.cli", "sandbox", "serve", "--json", *args]


@contextmanager
def serve_process(
    args: Sequence[str],
    *,
    cwd: Path = ROOT,
    env: Mapping[str, str] | None = None,
    stop_seconds: float = 120,
) -> Iterator[ServedSandbox]:
    """The sandbox served with `args` (after `--json`) from the checkout at `cwd` (another
    worktree's, to try its routes); the process's return code is set once the block is left."""
    command = serve_command(args)
    with tempfile.TemporaryFile("w+") as errors:
        proc = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=errors, text=True
        )
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line:
                proc.wait(timeout=stop_seconds)
                errors.seek(0)
                raise RuntimeError(
                    f"the sandbox did not start (exit {proc.returncode}): {' '.join(command)}\n"
                    + errors.read()[-4000:]
                )
            yield ServedSandbox(json.loads(line), proc)
        finally:
            stop(proc, stop_seconds)


def stop(proc: subprocess.Popen[str], seconds: float) -> None:
    """SIGTERM, then SIGKILL if it has not ended within `seconds`."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
