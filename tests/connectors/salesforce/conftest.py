"""Fixtures for the Salesforce adapter's unit tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses
from sf_fixtures import make_connector
from sf_world import Clock, portal

from connectors.salesforce import SalesforceConnector
from sandbox.salesforce.emulator import SalesforceEmulator
from tests.connectors.sf_harness import build_salesforce_connector


@pytest.fixture
def mocked() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def connector() -> Iterator[SalesforceConnector]:
    conn = make_connector()
    yield conn
    conn.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sf(clock: Clock) -> Iterator[tuple[SalesforceConnector, SalesforceEmulator]]:
    connector, emulator, stop = build_salesforce_connector(
        portal(),
        emulator_options={"clock": clock},
        connector_options={"page_size": 200},
    )
    yield connector, emulator
    stop()
