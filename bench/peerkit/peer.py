"""What every peer shares: its venv under the cache directory, its config file, and a run's
figures (records by stream, each stream's verdict, the processes' wall time and peak RSS)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.peerkit.measure import Measured

CACHE = Path(os.environ.get("HANDOFF_PEERS_CACHE", Path.home() / ".cache" / "handoff-peers"))


@dataclass
class PeerRun:
    streams: dict[str, str] = field(default_factory=dict)  # stream -> "ok" / "failed: ..." / ...
    records: dict[str, int] = field(default_factory=dict)
    processes: list[Measured] = field(default_factory=list)

    def add(self, m: Measured) -> None:
        self.processes.append(m)

    @property
    def wall_seconds(self) -> float:
        return round(sum(p.wall_seconds for p in self.processes), 2)

    @property
    def cpu_seconds(self) -> float:
        return round(sum(p.cpu_seconds for p in self.processes), 2)

    @property
    def peak_rss_mb(self) -> float:
        return max((p.peak_rss_mb for p in self.processes), default=0.0)

    @property
    def windows(self) -> list[tuple[float, float]]:
        return [(p.started, p.ended) for p in self.processes]


class Peer:
    name = ""
    package = ""
    executable = ""
    streams: tuple[str, ...] = ()
    python = "python3.11"  # the peers' releases support 3.10-3.11 at least

    @property
    def venv(self) -> Path:
        return CACHE / self.package

    @property
    def binary(self) -> str:
        return str(self.venv / "bin" / self.executable)

    def install(self) -> None:
        """Its own venv, once (the cache is kept between benchmark runs)."""
        if Path(self.binary).exists():
            return
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"installing {self.package} into {self.venv}", file=sys.stderr)
        subprocess.run([self.python, "-m", "venv", str(self.venv)], check=True)
        subprocess.run([str(self.venv / "bin" / "pip"), "install", "-q", self.package], check=True)

    def version(self) -> str:
        out = subprocess.run(
            [str(self.venv / "bin" / "pip"), "show", self.package],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        return next(
            (line.split()[-1] for line in out.splitlines() if line.startswith("Version")), "?"
        )

    def config(self, token: str, start_date: str) -> dict[str, Any]:
        raise NotImplementedError

    def config_file(self, work: Path) -> Path:
        return work / "config.json"

    def write_config(self, work: Path, token: str, start_date: str) -> None:
        work.mkdir(parents=True, exist_ok=True)
        self.config_file(work).write_text(json.dumps(self.config(token, start_date)))

    def discover(self, env: dict[str, str], work: Path) -> tuple[bool, str]:
        raise NotImplementedError

    def read(self, env: dict[str, str], work: Path, label: str) -> PeerRun:
        raise NotImplementedError


def last_error(stderr: Path, limit: int = 300) -> str:
    """The most telling line of a failed peer's log: the last one naming an error."""
    lines = [
        line.strip() for line in stderr.read_text(errors="replace").splitlines() if line.strip()
    ]
    errors = [
        line
        for line in lines
        if any(w in line for w in ("Error", "error", "404", "Exception", "failed"))
    ]
    text = (errors or lines or ["(no output)"])[-1]
    return text[:limit]
