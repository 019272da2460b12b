"""End-to-end stack: the real pipeline, the real CRM client libraries, the sandbox over HTTPS."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from config.loader import load_config
from config.model import HandoffConfig
from connectors.factory import build_connector
from sandbox.portal import Portal
from sandbox.runtime import Sandbox
from sandbox.seed import generate_portal
from sync.demo import example_config, sandbox_environment
from sync.pipeline import Pipeline
from sync.store.engine import make_engine
from sync.store.schema import upgrade

SEED_NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


@dataclass
class Stack:
    sandbox: Sandbox
    config: HandoffConfig
    engine: Engine
    directory: Path

    def pipeline(self) -> Pipeline:
        connectors = {c.name: build_connector(c) for c in self.config.connections}
        return Pipeline(self.config, self.engine, connectors)


def build_stack(
    crm: str, tmp_path: Path, store_url: str, contacts: int = 120, portal: Portal | None = None
) -> Iterator[Stack]:
    portal = portal or generate_portal(11, contacts, SEED_NOW)
    sandbox = Sandbox(
        portal,
        hubspot=crm in ("hubspot", "both"),
        salesforce=crm in ("salesforce", "both"),
        ca_directory=tmp_path / "ca",
    )
    with sandbox, sandbox_environment(sandbox.info, tmp_path):
        config = load_config(example_config(crm))
        config = config.model_copy(
            update={"state": config.state.model_copy(update={"url": store_url})}
        )
        engine = make_engine(store_url)
        upgrade(engine)
        yield Stack(sandbox, config, engine, tmp_path)
        engine.dispose()


@contextmanager
def speed_worker(crm: str, directory: Path, command: str = "run") -> Iterator[tuple[Sandbox, Any]]:
    """The demo portal (3 companies, 60 people) in a sandbox of `crm` alone, and a worker's
    runtime on it (the speed-to-lead config, an SQLite store in `directory`) after its first
    sync: the people, owners and territories are in the store."""
    from sync.runtime import Runtime
    from sync.speed_config import speed_to_lead_config

    portal = generate_portal(3, 60, SEED_NOW)
    sandbox = Sandbox(
        portal,
        hubspot=crm == "hubspot",
        salesforce=crm == "salesforce",
        ca_directory=directory / "ca",
    )
    with sandbox, sandbox_environment(sandbox.info, directory):
        config = directory / "handoff.yaml"
        config.write_text(
            speed_to_lead_config(crm, state_url=f"sqlite:///{directory / 'state.db'}")
        )
        runtime = Runtime(str(config), command, log_level="error")
        try:
            runtime.run()
            yield sandbox, runtime
        finally:
            runtime.close()
