"""Shared ground for fault drills: a seeded sandbox, a config pointed at it, a state store."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from config.loader import load_config
from config.model import HandoffConfig
from connectors.factory import build_connector
from sandbox.runtime import Sandbox
from sandbox.seed import generate_portal
from sync.demo import example_config, sandbox_environment
from sync.pipeline import Pipeline
from sync.store.engine import make_engine
from sync.store.schema import upgrade
from sync.store.tables import OutboxItem

SEED_NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Drill:
    sandbox: Sandbox
    env: dict[str, str]
    config_path: Path
    directory: Path
    store_url: str

    def config(self) -> HandoffConfig:
        config = load_config(self.config_path)
        return config.model_copy(
            update={"state": config.state.model_copy(update={"url": self.store_url})}
        )

    def engine(self) -> Engine:
        engine = make_engine(self.store_url)
        upgrade(engine)
        return engine

    def pipeline(self, only: str | None = None) -> Pipeline:
        config = self.config()
        connectors = {
            c.name: build_connector(c) for c in config.connections if only in (None, c.name)
        }
        return Pipeline(config, self.engine(), connectors)

    def sync_process(self, *args: str) -> subprocess.Popen[str]:
        """`handoff sync` as its own process (so it can be killed with SIGKILL)."""
        env = {**os.environ, **self.env, "HANDOFF_STATE_URL": self.store_url}
        return subprocess.Popen(
            [sys.executable, "-m", "config.cli", "sync", "-c", str(self.config_path), *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def open_items(self) -> list[OutboxItem]:
        with Session(make_engine(self.store_url)) as session:
            return list(
                session.exec(
                    select(OutboxItem).where(
                        OutboxItem.status.in_(("pending", "sending", "rejected"))
                    )  # type: ignore[attr-defined]
                )
            )

    def hubspot_tasks(self) -> Counter[str]:
        hubspot = self.sandbox.hubspot
        assert hubspot is not None
        return Counter(
            o.value("handoff_task_key") or ""
            for o in hubspot.store.objects["tasks"].values()
            if o.value("handoff_task_key")
        )


@contextmanager
def drill(
    tmp_path: Path, store_url: str, crm: str = "hubspot", contacts: int = 120
) -> Iterator[Drill]:
    portal = generate_portal(3, contacts, SEED_NOW)
    sandbox = Sandbox(
        portal,
        hubspot=crm in ("hubspot", "both"),
        salesforce=crm in ("salesforce", "both"),
        ca_directory=tmp_path / "ca",
    )
    with sandbox, sandbox_environment(sandbox.info, tmp_path) as env:
        yield Drill(sandbox, dict(env), example_config(crm), tmp_path, store_url)
