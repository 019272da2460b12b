"""The single worker's heartbeat beats on `monitoring.heartbeat_every` while a job runs long
(a full sync of a big portal): its health does not hang on the job finishing."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from config.loader import parse_config
from sync.worker import Heartbeat, Worker

CONFIG = """
version: 1
connections:
  - name: hubspot
    kind: hubspot
    hubspot: {access_token: "${HANDOFF_TEST_TOKEN:-pat-na1-test}"}
    objects: {contact: {email: {property: email}}}
monitoring: {heartbeat_every: 0.2s, heartbeat_max_age: 2s}
"""


def test_the_worker_beats_while_a_long_job_runs(tmp_path: Path) -> None:
    config = parse_config(CONFIG, env={})
    started, release = threading.Event(), threading.Event()

    def run_job(kind: str) -> None:  # the first sync runs until the test lets it go
        started.set()
        release.wait(timeout=30)

    heartbeat = tmp_path / "heartbeat"
    worker = Worker(config, run_job, heartbeat=Heartbeat(heartbeat))
    worker.start()
    try:
        assert started.wait(timeout=30)
        beats: set[str] = set()
        until = time.monotonic() + 2.5  # beyond heartbeat_max_age, the job still running
        while time.monotonic() < until:
            beats.add(heartbeat.read_text().splitlines()[0])
            assert time.time() - heartbeat.stat().st_mtime < 2.0  # never stale
            time.sleep(0.05)
        assert len(beats) >= 4
    finally:
        release.set()
        worker.stop()
