"""A benchmark script run as CI's smoke tests run it: `python bench/<script> <args>` from the
checkout's root, in a process group of its own (600 s at most), expected to exit 0.

Whatever way the test ends (its own timeout, pytest-timeout's, a failure), the whole group is
killed: a speed benchmark's `handoff run` worker is the script's child, and killing only the
script left it running as an orphan, beside the rest of the suite."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 600  # seconds


def run_bench(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The finished run of bench/`script`; fails quoting the end of its output unless it exits 0."""
    with subprocess.Popen(
        [sys.executable, f"bench/{script}", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own group: the worker it starts goes with it
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=TIMEOUT)
        finally:
            with contextlib.suppress(ProcessLookupError):  # gone: every process of it exited
                os.killpg(process.pid, signal.SIGKILL)
    result = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result
