"""A PostgreSQL server of the test's own (initdb + pg_ctl on a free port), to restart at will
without touching the shared server other suites use."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def server_binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivatePostgres:
    def __init__(self, bindir: Path, data: Path, port: int) -> None:
        self.bindir, self.data, self.port = bindir, data, port
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if os.geteuid() == 0:  # the server refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.data / "server.log"), "-w", "-o",
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.data} -c fsync=off",
            "start",
        )  # fmt: skip

    def restart(self) -> None:
        """Fast restart: every open connection is cut, as when the server is restarted."""
        self._run(  # -l again: without it the new server keeps our output pipe open
            "pg_ctl", "-D", str(self.data), "-l", str(self.data / "server.log"), "-m", "fast",
            "-w", "restart",
        )  # fmt: skip

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """initdb in a fresh directory under the system temp dir (the server's own user must reach
    it: pytest's tmp_path is private to root), started on a free port, removed afterwards."""
    bindir = server_binaries()
    if bindir is None:
        raise RuntimeError("no PostgreSQL server binaries (pg_ctl, initdb) on this machine")
    home = Path(tempfile.mkdtemp(prefix="handoff-pg-"))
    data = home / "pgdata"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(home, "postgres")
        shutil.chown(data, "postgres")
    server = PrivatePostgres(bindir, data, _free_port())
    try:
        server._run("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
        server.start()
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(home, ignore_errors=True)
