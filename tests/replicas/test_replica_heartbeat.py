"""A replica's heartbeat beats on a timer of its own: an idle replica (no job comes its way) stays
healthy and ready over HTTP across several heartbeat intervals; a stopped one goes stale."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from procrastinate import App, PsycopgConnector

from config.loader import parse_config
from config.model import HandoffConfig
from sync.ops.service import Operations
from sync.ops.status import gather, render
from sync.replicas import conninfo, ensure_queue_schema, work
from sync.store.engine import make_engine
from sync.store.schema import upgrade
from sync.store.types import utc_now
from sync.worker import Heartbeat

pytestmark = pytest.mark.postgres
EVERY = 0.2  # seconds between beats
MAX_AGE = 2.0  # a heartbeat older than this is stale (10 beats: room for a loaded machine)

CONFIG = """
version: 1
state: {url: "%s"}
connections:
  - name: hubspot
    kind: hubspot
    hubspot: {access_token: "${HANDOFF_TEST_TOKEN:-pat-na1-test}"}
    objects: {contact: {email: {property: email}}}
monitoring: {heartbeat_every: %ss, heartbeat_max_age: %ss}
"""


def _get(address: str, path: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://{address}{path}", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@contextlib.contextmanager
def idle_replica(config: HandoffConfig, heartbeat: Path) -> Iterator[Callable[[], None]]:
    """A replica worker with no job to run, beating `heartbeat`; call what it yields to stop it
    (as SIGTERM would: the worker's task ends)."""
    app = App(connector=PsycopgConnector(conninfo=conninfo(config.state.url)))
    ensure_queue_schema(app, config.state.url)
    loop = asyncio.new_event_loop()
    beating = work(
        app,
        stalled_after=30.0,
        heartbeat=Heartbeat(heartbeat),
        beat_every=config.monitoring.heartbeat_every.total_seconds(),
        install_signal_handlers=False,  # not the main thread: the test stops it instead
    )
    task = loop.create_task(beating)

    def run() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield lambda: loop.call_soon_threadsafe(task.cancel) and None
    finally:
        loop.call_soon_threadsafe(task.cancel)
        thread.join(timeout=30)
        loop.close()


def test_an_idle_replica_stays_ready_and_a_stopped_one_goes_stale(
    tmp_path: Path, pg_url: str
) -> None:
    config = parse_config(CONFIG % (pg_url, EVERY, MAX_AGE), env={})
    engine = make_engine(pg_url)
    upgrade(engine)
    heartbeat = tmp_path / "heartbeat"
    ops = Operations(config, engine, lambda: {}, heartbeat=heartbeat, listen="127.0.0.1:0")
    assert ops.address is not None
    try:
        with idle_replica(config, heartbeat) as stop_replica:
            deadline = time.monotonic() + 30
            while not heartbeat.exists():
                assert time.monotonic() < deadline, "the replica never beat"
                time.sleep(0.05)
            beats: set[str] = set()
            watched_until = time.monotonic() + 3 * MAX_AGE  # three times the stale limit
            while time.monotonic() < watched_until:  # no job runs: only the timer beats
                assert _get(ops.address, "/healthz")[0] == 200
                status, body = _get(ops.address, "/readyz")
                assert status == 200, body
                beats.add(heartbeat.read_text().splitlines()[0])
                time.sleep(EVERY / 2)
            # it beat all along, not once (readyz held for 3x the stale limit: the beats were fresh)
            assert len(beats) >= 3
            shown = render(gather(engine, config, heartbeat, utc_now(), 1))
            assert "Heartbeat: " in shown and "STALE" not in shown
            stop_replica()
            deadline = time.monotonic() + 10 * MAX_AGE
            while _get(ops.address, "/healthz")[0] == 200:  # stale once past max age
                assert time.monotonic() < deadline, "a stopped replica still looks alive"
                time.sleep(EVERY / 2)
            status, body = _get(ops.address, "/readyz")
            assert status == 503 and "last heartbeat" in str(body["checks"]), body  # type: ignore[index]
            shown = render(gather(engine, config, heartbeat, utc_now(), 1))
            assert "STALE, older than monitoring.heartbeat_max_age (2s)" in shown
    finally:
        ops.close()
        engine.dispose()
