"""The guarded HTTP layer: retries, quota, daily budget, session refresh, usage counting."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import responses
from sf_fixtures import API, INSTANCE, SECRET, connection, make_connector, page

from connectors.errors import (
    AuthError,
    FatalError,
    QuotaExhaustedError,
    RetriableError,
    UnknownOutcomeError,
)
from connectors.factory import build_connector
from connectors.records import OutcomeStatus, TaskRequest
from connectors.salesforce.transport import endpoint_label

QUERY = f"{API}/query/"
OWNERS = page([{"Id": "005A", "Email": "a@x.test", "Name": "Ann", "IsActive": True}])
TOKEN_URL = f"{INSTANCE}/services/oauth2/token"


def test_endpoint_labels_name_the_salesforce_resource() -> None:
    assert endpoint_label(f"{API}/query/") == "query"
    assert endpoint_label(f"{INSTANCE}/services/data/v59.0/query/01gX-2000") == "query"
    assert endpoint_label(f"{API}/queryAll/") == "queryAll"
    assert endpoint_label(f"{API}/composite/sobjects") == "composite/sobjects"
    assert endpoint_label(f"{API}/sobjects/Lead/describe") == "describe"
    assert endpoint_label(TOKEN_URL) == "oauth2/token"


def test_session_ignores_environment_ca_bundle_and_trusts_the_configured_ca(
    tmp_path: Path,
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("dummy")
    conn = make_connector(connection(salesforce={"ca_file": str(ca)}))
    assert conn.session.trust_env is False
    assert conn.session.verify == str(ca)


def test_a_missing_ca_file_is_a_clear_config_error(tmp_path: Path) -> None:
    with pytest.raises(FatalError, match=r"salesforce\.ca_file .*does not exist"):
        build_connector(connection(salesforce={"ca_file": str(tmp_path / "nope.pem")}))


def test_5xx_on_a_read_is_retried_and_counted(mocked: responses.RequestsMock) -> None:
    mocked.get(QUERY, status=503, json=[{"errorCode": "SERVER_UNAVAILABLE", "message": "busy"}])
    mocked.get(QUERY, status=500, json=[{"errorCode": "UNKNOWN_EXCEPTION", "message": "x"}])
    mocked.get(QUERY, json=OWNERS)
    conn = make_connector()
    owners = conn.pull_owners()
    assert [o.id for o in owners] == ["005A"]
    assert conn.usage.calls["query"] == 3
    assert conn.usage.retries == 2


def test_429_is_retried_as_throttled(mocked: responses.RequestsMock) -> None:
    mocked.get(QUERY, status=429, headers={"Retry-After": "2"}, body="")
    mocked.get(QUERY, json=OWNERS)
    conn = make_connector()
    assert len(conn.pull_owners()) == 1
    assert conn.usage.throttled == 1


def test_retries_run_out_and_the_retriable_error_surfaces(mocked: responses.RequestsMock) -> None:
    mocked.get(QUERY, status=502, body="bad gateway")
    conn = make_connector()
    with pytest.raises(RetriableError):
        conn.pull_owners()
    assert conn.usage.calls["query"] == 6


def test_connection_reset_on_a_read_is_retried(mocked: responses.RequestsMock) -> None:
    mocked.get(QUERY, body=requests.ConnectionError("reset by peer"))
    mocked.get(QUERY, json=OWNERS)
    conn = make_connector()
    assert len(conn.pull_owners()) == 1
    assert conn.usage.retries == 1


def test_truncated_json_on_a_read_is_retried(mocked: responses.RequestsMock) -> None:
    mocked.get(QUERY, body='{"totalSize": 1, "done": tr', content_type="application/json")
    mocked.get(QUERY, json=OWNERS)
    conn = make_connector()
    assert len(conn.pull_owners()) == 1


def test_a_create_with_no_answer_is_never_resent_blindly(mocked: responses.RequestsMock) -> None:
    mocked.post(f"{API}/composite/sobjects", body=requests.ReadTimeout("read timed out"))
    conn = make_connector()
    with pytest.raises(UnknownOutcomeError):
        conn.session.request("POST", f"{API}/composite/sobjects", json={"records": []})
    assert conn.usage.calls["composite/sobjects"] == 1


def test_total_requests_limit_is_quota_exhausted_and_not_retried(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(
        QUERY,
        status=403,
        json=[{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}],
    )
    conn = make_connector()
    with pytest.raises(QuotaExhaustedError, match="resumes"):
        conn.pull_owners()
    assert conn.usage.calls["query"] == 1


def test_concurrency_limit_is_retried(mocked: responses.RequestsMock) -> None:
    mocked.get(
        QUERY,
        status=403,
        json=[
            {
                "message": "ConcurrentRequests (Concurrent API Requests) Limit exceeded.",
                "errorCode": "REQUEST_LIMIT_EXCEEDED",
            }
        ],
    )
    mocked.get(QUERY, json=OWNERS)
    conn = make_connector()
    assert len(conn.pull_owners()) == 1
    assert conn.usage.throttled == 1


def test_daily_budget_reserve_stops_before_the_next_call(mocked: responses.RequestsMock) -> None:
    mocked.get(QUERY, json=OWNERS, headers={"Sforce-Limit-Info": "api-usage=9950/10000"})
    conn = make_connector(connection(salesforce={"daily_budget_reserve": 0.01}))
    assert len(conn.pull_owners()) == 1  # the answer that reveals the budget is still used
    with pytest.raises(QuotaExhaustedError, match="9950 of 10000"):
        conn.pull_owners()
    assert conn.usage.calls["query"] == 1


def test_budget_above_the_reserve_keeps_going(mocked: responses.RequestsMock) -> None:
    mocked.get(QUERY, json=OWNERS, headers={"Sforce-Limit-Info": "api-usage=9000/10000"})
    conn = make_connector(connection(salesforce={"daily_budget_reserve": 0.05}))
    conn.pull_owners()
    conn.pull_owners()
    assert conn.usage.calls["query"] == 2


def test_expired_given_session_fails_loudly_with_the_fix_and_no_token(
    mocked: responses.RequestsMock,
) -> None:
    mocked.get(
        QUERY,
        status=401,
        json=[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
    )
    conn = make_connector()
    with pytest.raises(AuthError) as info:
        conn.pull_owners()
    assert "salesforce.session_id" in str(info.value)
    assert SECRET not in str(info.value)
    assert SECRET not in repr(info.value.args)


def password_connection() -> object:
    return connection(
        salesforce={
            "auth": "password",
            "session_id": None,
            "username": "int@example.test",
            "password": "pw",
            "security_token": "tok",
            "consumer_key": "ck",
            "consumer_secret": "cs",
        }
    )


def test_password_login_then_expired_session_is_refreshed_once(
    mocked: responses.RequestsMock,
) -> None:
    mocked.post(TOKEN_URL, json={"access_token": "first", "instance_url": INSTANCE})
    mocked.post(TOKEN_URL, json={"access_token": "second", "instance_url": INSTANCE})
    mocked.get(
        QUERY,
        status=401,
        json=[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
    )
    mocked.get(QUERY, json=OWNERS)
    conn = make_connector(password_connection())  # type: ignore[arg-type]
    assert len(conn.pull_owners()) == 1
    token_calls = [c for c in mocked.calls if c.request.url == TOKEN_URL]
    assert len(token_calls) == 2
    assert "password=pwtok" in str(token_calls[0].request.body)
    queries = [c for c in mocked.calls if str(c.request.url).startswith(QUERY)]
    assert queries[0].request.headers["Authorization"] == "Bearer first"
    assert queries[1].request.headers["Authorization"] == "Bearer second"
    assert conn.usage.calls["oauth2/token"] == 2


def test_revoked_credentials_fail_loudly_without_secrets(mocked: responses.RequestsMock) -> None:
    mocked.post(
        TOKEN_URL,
        status=400,
        json={"error": "invalid_grant", "error_description": "authentication failure"},
    )
    conn = make_connector(password_connection())  # type: ignore[arg-type]
    with pytest.raises(AuthError) as info:
        conn.pull_owners()
    message = str(info.value)
    assert "invalid_grant" in message and "Fix" in message
    assert "pwtok" not in message and "cs" not in message.split("Fix")[0]


def test_session_expiring_again_right_after_refresh_is_an_auth_error(
    mocked: responses.RequestsMock,
) -> None:
    mocked.post(TOKEN_URL, json={"access_token": "t", "instance_url": INSTANCE})
    mocked.get(
        QUERY,
        status=401,
        json=[{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}],
    )
    conn = make_connector(password_connection())  # type: ignore[arg-type]
    with pytest.raises(AuthError):
        conn.pull_owners()
    assert conn.usage.calls["query"] == 2  # one refresh, not a loop


def test_client_credentials_and_jwt_grants(mocked: responses.RequestsMock, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "key.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    mocked.post(TOKEN_URL, json={"access_token": "cc", "instance_url": INSTANCE})
    mocked.get(QUERY, json=OWNERS)
    cc = make_connector(
        connection(
            salesforce={
                "auth": "client_credentials",
                "session_id": None,
                "consumer_key": "ck",
                "consumer_secret": "cs",
            }
        )
    )
    cc.pull_owners()
    assert "grant_type=client_credentials" in str(mocked.calls[0].request.body)

    jwt_conn = make_connector(
        connection(
            salesforce={
                "auth": "jwt",
                "session_id": None,
                "username": "int@example.test",
                "consumer_key": "ck",
                "private_key_file": str(pem),
            }
        ),
        clock=lambda: datetime(2026, 1, 1, tzinfo=UTC),
    )
    jwt_conn.pull_owners()
    body = str(mocked.calls[2].request.body)
    assert "jwt-bearer" in body and "assertion=" in body


def test_a_create_timeout_then_lookup_finds_the_task_and_does_not_resend(
    mocked: responses.RequestsMock,
) -> None:
    mocked.post(f"{API}/composite/sobjects", body=requests.ReadTimeout("read timed out"))
    mocked.get(
        QUERY,
        json=page([{"Id": "00TX", "Handoff_Task_Key__c": "k1"}]),
    )
    conn = make_connector()
    task = TaskRequest(
        connection="sfdc",
        object_type="lead",
        record_id="00QA",
        owner_id="005A",
        subject="Call",
        body="b",
        due_at=datetime(2026, 1, 2, tzinfo=UTC),
        task_key="k1",
    )
    [outcome] = conn.create_tasks([task])
    assert outcome.status is OutcomeStatus.APPLIED
    assert outcome.crm_id == "00TX"
    assert conn.usage.calls["composite/sobjects"] == 1


SOAP_URL = "https://login.salesforce.com/services/Soap/u/59.0"
SOAP_OK = (
    '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
    'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns="urn:partner.soap.sforce.com"><soapenv:Body><loginResponse><result>'
    "<serverUrl>https://na1.salesforce.com/services/Soap/u/59.0/00D</serverUrl>"
    "<sessionId>SOAPSESSION</sessionId></result></loginResponse></soapenv:Body>"
    "</soapenv:Envelope>"
)
SOAP_FAULT = (
    '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
    'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:sf="urn:fault.partner.soap.sforce.com"><soapenv:Body><soapenv:Fault>'
    "<faultcode>sf:INVALID_LOGIN</faultcode><faultstring>INVALID_LOGIN</faultstring><detail>"
    "<sf:LoginFault><sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode><sf:exceptionMessage>"
    "Invalid username, password, security token; or user locked out.</sf:exceptionMessage>"
    "</sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
)


def soap_connection() -> object:
    return connection(
        salesforce={
            "auth": "password",
            "session_id": None,
            "instance_url": None,
            "username": "int@example.test",
            "password": "pw",
            "security_token": "tok",
        }
    )


def test_password_without_a_connected_app_uses_the_soap_login(
    mocked: responses.RequestsMock,
) -> None:
    mocked.post(SOAP_URL, body=SOAP_OK, content_type="text/xml")
    mocked.get("https://na1.salesforce.com/services/data/v59.0/query/", json=OWNERS)
    conn = make_connector(soap_connection())  # type: ignore[arg-type]
    assert len(conn.pull_owners()) == 1
    query = mocked.calls[1].request
    assert query.headers["Authorization"] == "Bearer SOAPSESSION"
    assert "Authorization" not in mocked.calls[0].request.headers
    assert conn.usage.calls["soap/login"] == 1


def test_a_refused_soap_login_is_an_auth_error_not_a_retry(
    mocked: responses.RequestsMock,
) -> None:
    mocked.post(SOAP_URL, status=500, body=SOAP_FAULT, content_type="text/xml")
    conn = make_connector(soap_connection())  # type: ignore[arg-type]
    with pytest.raises(AuthError, match="INVALID_LOGIN") as info:
        conn.pull_owners()
    assert "pwtok" not in str(info.value)
    assert conn.usage.calls["soap/login"] == 1
