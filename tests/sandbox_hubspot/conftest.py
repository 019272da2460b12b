"""A HubSpot emulator served over HTTPS and the real hubspot-api-client pointed at it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import hubspot
import pytest
import urllib3

from sandbox.hubspot import HubSpotEmulator
from sandbox.seed import generate_portal
from sandbox.server import SandboxCA, SandboxRequest, SandboxResponse, SandboxServer

TOKEN = "pat-sandbox-test"
NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


@dataclass
class FakeClock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Holder:
    emulator: HubSpotEmulator | None = None

    def handle(self, request: SandboxRequest) -> SandboxResponse:
        assert self.emulator is not None
        return self.emulator.handle(request)


@dataclass
class Raw:
    """urllib3 against the sandbox for endpoints the SDK does not wrap (events, oauth)."""

    base_url: str
    ca_file: str
    pool: urllib3.PoolManager = field(init=False)

    def __post_init__(self) -> None:
        self.pool = urllib3.PoolManager(ca_certs=self.ca_file, cert_reqs="CERT_REQUIRED")

    def get(self, path: str, params: dict[str, Any] | None = None, token: str = TOKEN):
        url = self.base_url + path + ("?" + urlencode(params, doseq=True) if params else "")
        return self.pool.request(
            "GET", url, headers={"Authorization": f"Bearer {token}"}, retries=False
        )

    def post_form(self, path: str, form: dict[str, str]):
        return self.pool.request(
            "POST",
            self.base_url + path,
            body=urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            retries=False,
        )

    @staticmethod
    def json(response: Any) -> Any:
        return json.loads(response.data)


@pytest.fixture(scope="session")
def sandbox_ca() -> SandboxCA:
    return SandboxCA()


@pytest.fixture(scope="session")
def holder(sandbox_ca: SandboxCA) -> Iterator[tuple[Holder, SandboxServer]]:
    slot = Holder()
    with SandboxServer(slot.handle, sandbox_ca) as server:
        yield slot, server


@pytest.fixture(scope="session")
def seeded_portal():
    return generate_portal(11, 120, NOW)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator(holder, seeded_portal, clock) -> HubSpotEmulator:
    slot, _ = holder
    slot.emulator = HubSpotEmulator(seeded_portal, token=TOKEN, clock=clock)
    return slot.emulator


@pytest.fixture
def server(holder) -> SandboxServer:
    return holder[1]


@pytest.fixture
def client(emulator, server, sandbox_ca) -> hubspot.HubSpot:
    return hubspot.HubSpot(
        access_token=TOKEN, host=server.base_url, ssl_ca_cert=str(sandbox_ca.ca_file)
    )


@pytest.fixture
def raw(emulator, server, sandbox_ca) -> Raw:
    return Raw(server.base_url, str(sandbox_ca.ca_file))
