"""Run one peer process: its wall time and its own peak RSS (os.wait4's rusage of that child,
which covers the children it waited for; a peer's `python` is the process that pulls)."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Measured:
    returncode: int
    wall_seconds: float
    peak_rss_mb: float
    cpu_seconds: float  # user + system: near the wall time means the peer was CPU-bound
    started: float  # time.time() at start and end: the window its requests fall in
    ended: float
    stdout: Path
    stderr: Path


def run_measured(
    cmd: list[str], env: dict[str, str], out_dir: Path, label: str, timeout: float = 3600
) -> Measured:
    out_dir.mkdir(parents=True, exist_ok=True)
    stdout, stderr = out_dir / f"{label}.out", out_dir / f"{label}.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        started = time.time()
        tick = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, cwd=out_dir)
        deadline = tick + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        wall = time.perf_counter() - tick
        proc.returncode = os.waitstatus_to_exitcode(status)
    return Measured(
        returncode=proc.returncode,
        wall_seconds=round(wall, 2),
        peak_rss_mb=round(usage.ru_maxrss / 1024, 1),
        cpu_seconds=round(usage.ru_utime + usage.ru_stime, 2),
        started=started,
        ended=time.time(),
        stdout=stdout,
        stderr=stderr,
    )
