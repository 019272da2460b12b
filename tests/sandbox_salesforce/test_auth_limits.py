"""Sessions, OAuth, the daily API allocation, Sforce-Limit-Info and injected faults."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import jwt
import pytest
import requests
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceRefusedRequest,
)

from sandbox.faults import Faults
from sandbox.salesforce.oauth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PASSWORD
from tests.sandbox_salesforce.conftest import SID, SalesforceClient, SalesforceSandbox, first_error


def test_wrong_session_is_401_invalid_session_id(sandbox: SalesforceSandbox) -> None:
    with pytest.raises(SalesforceExpiredSession) as caught:
        sandbox.client("not-a-session").query("SELECT Id FROM Lead LIMIT 1")
    assert caught.value.content == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    assert sandbox.emulator.api_usage == 0  # rejected calls do not count
    assert sandbox.emulator.log.total("query", 401) == 1


def test_revoked_and_expired_sessions(sandbox: SalesforceSandbox, sf: SalesforceClient) -> None:
    sf.query("SELECT Id FROM Lead LIMIT 1")
    sandbox.emulator.revoke_session(SID)
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Lead LIMIT 1")
    sandbox.emulator.add_session(SID)
    sandbox.emulator.session_ttl = timedelta(hours=2)
    sandbox.clock.advance(hours=3)
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM Lead LIMIT 1")


def test_limit_info_header_parsed_and_daily_allocation_enforced(
    start_sandbox: Callable[..., SalesforceSandbox],
) -> None:
    box = start_sandbox(daily_allocation=3)
    sf = box.client()
    sf.query("SELECT Id FROM Lead LIMIT 1")
    assert sf.api_usage["api-usage"].used == 1 and sf.api_usage["api-usage"].total == 3
    limits = sf.limits()
    assert limits["DailyApiRequests"] == {"Max": 3, "Remaining": 1}
    sf.query("SELECT Id FROM Lead LIMIT 1")
    with pytest.raises(SalesforceRefusedRequest) as caught:
        sf.query("SELECT Id FROM Lead LIMIT 1")
    assert caught.value.status == 403
    assert caught.value.content == [
        {"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}
    ]
    box.emulator.set_api_usage(0)
    assert sf.query("SELECT COUNT() FROM Lead")["totalSize"] == 30


def test_limits_off_still_reports_usage(start_sandbox: Callable[..., SalesforceSandbox]) -> None:
    box = start_sandbox(daily_allocation=1, limits_enabled=False)
    sf = box.client()
    for _ in range(3):
        sf.query("SELECT Id FROM Lead LIMIT 1")
    assert sf.api_usage["api-usage"].used == 3


def test_faults_throttle_error_and_malformed(
    start_sandbox: Callable[..., SalesforceSandbox],
) -> None:
    box = start_sandbox(faults=Faults(throttle_rate=1.0))
    sf = box.client()
    with pytest.raises(SalesforceRefusedRequest) as throttled:
        sf.query("SELECT Id FROM Lead LIMIT 1")
    assert first_error(throttled)["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    assert "Concurrent" in first_error(throttled)["message"]
    with pytest.raises(SalesforceGeneralError) as busy:
        sf.query("SELECT Id FROM Lead LIMIT 1")
    assert busy.value.status == 503
    box.emulator.faults = Faults(error_rate=1.0)
    with pytest.raises(SalesforceGeneralError) as error:
        sf.query("SELECT Id FROM Lead LIMIT 1")
    assert error.value.status in (500, 503) and first_error(error)["errorCode"]
    box.emulator.faults = Faults(malformed_rate=1.0)
    response = sf.session.get(
        f"{box.server.base_url}/services/data/v59.0/query/",
        params={"q": "SELECT Id FROM Lead LIMIT 1"},
        headers={"Authorization": f"Bearer {SID}"},
    )
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()
    box.emulator.faults = Faults(reset_rate=1.0)
    with pytest.raises(requests.ConnectionError):
        sf.query("SELECT Id FROM Lead LIMIT 1")
    assert box.emulator.log.total("fault.reset") == 1


def _token(box: SalesforceSandbox, **form: str) -> requests.Response:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(box.server.ca.ca_file)
    return session.post(f"{box.server.base_url}/services/oauth2/token", data=form)


def test_oauth_flows_issue_usable_sessions(sandbox: SalesforceSandbox) -> None:
    client = {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}
    password = _token(
        sandbox,
        grant_type="password",
        username="ana.ruiz@example.com",
        password=DEFAULT_PASSWORD,
        **client,
    )
    assert password.status_code == 200
    body = password.json()
    assert body["token_type"] == "Bearer" and body["instance_url"] == sandbox.server.base_url
    assert set(body) >= {"access_token", "id", "issued_at", "signature"}
    assert sandbox.client(body["access_token"]).query("SELECT COUNT() FROM Lead")["totalSize"] == 30

    credentials = _token(sandbox, grant_type="client_credentials", **client)
    assert credentials.status_code == 200
    assertion = jwt.encode(
        {
            "iss": DEFAULT_CLIENT_ID,
            "sub": "ben.okafor@example.com",
            "aud": "https://login.salesforce.com",
        },
        "any-key-the-sandbox-does-not-verify",
        algorithm="HS256",
    )
    bearer = _token(
        sandbox, grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer", assertion=assertion
    )
    assert bearer.status_code == 200

    for bad in (
        {
            "grant_type": "password",
            "username": "ana.ruiz@example.com",
            "password": "wrong",
            **client,
        },
        {"grant_type": "client_credentials", "client_id": DEFAULT_CLIENT_ID, "client_secret": "x"},
        {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "not.a.jwt"},
        {
            "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": jwt.encode({"sub": "nobody@example.com"}, "k" * 32, algorithm="HS256"),
        },
    ):
        failed = _token(sandbox, **bad)
        assert failed.status_code == 400
        assert failed.json() == {
            "error": "invalid_grant",
            "error_description": "authentication failure",
        }
