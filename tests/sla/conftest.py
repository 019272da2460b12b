"""SLA fixtures: a two-lane config on New York business hours, and the engine over it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml
from sqlalchemy.engine import Engine
from sqlmodel import Session

from config.sla import SlaConfig
from routing.sla import SlaEngine

SLA_YAML = """
calendars:
  ny: {timezone: America/New_York, hours: "09:00-17:00", holidays: {country: US, subdivision: NY}}
  always: {always_open: true}
default_calendar: ny
policies:
  fast:
    lane: fast
    first_touch: 1h
    touch: {kinds: [call, email, meeting], by: owner}
    cadence: {touches: 3, channels: 2, within: 5bd}
    ladder:
      - {at: 100%, action: task_owner}
      - {at: +15m, action: reassign_backup, notify_manager: true, webhook: true}
  mql:
    lane: mql
    first_touch: 24h
    touch: {kinds: [call, email], by: any_rep}
    ladder:
      - {at: 50%, action: remind_owner}
      - {at: 100%, action: task_owner}
      - {at: +1bd, action: flag}
  instant:
    lane: instant
    calendar: always
    first_touch: 5m
    ladder:
      - {at: 100%, action: notify_manager}
webhook_url: https://hooks.example.com/sla
"""


@pytest.fixture
def sla_config() -> SlaConfig:
    return SlaConfig.model_validate(yaml.safe_load(SLA_YAML))


@pytest.fixture
def sla(sla_config: SlaConfig) -> SlaEngine:
    return SlaEngine(sla_config)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine) as session:
        yield session
