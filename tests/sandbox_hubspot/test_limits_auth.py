"""Auth (401), rate limits (429 bodies and headers), injected faults, OAuth refresh, the log."""

from __future__ import annotations

import json
import threading

import hubspot
import pytest
import urllib3
from hubspot.crm.contacts import (
    ApiException,
    BatchInputSimplePublicObjectBatchInput,
    PublicObjectSearchRequest,
)
from hubspot.crm.contacts.exceptions import ServiceException, UnauthorizedException

from sandbox.faults import Faults
from sandbox.server import SandboxRequest
from tests.sandbox_hubspot.conftest import TOKEN


def _client(server, sandbox_ca, token):
    return hubspot.HubSpot(
        access_token=token, host=server.base_url, ssl_ca_cert=str(sandbox_ca.ca_file)
    )


@pytest.mark.parametrize("how", ["unknown", "expired", "revoked"])
def test_bad_tokens_get_401_invalid_authentication(emulator, server, sandbox_ca, how):
    token = "pat-other"
    if how != "unknown":
        emulator.allow_token(token)
        (emulator.expire_token if how == "expired" else emulator.revoke_token)(token)
    with pytest.raises(UnauthorizedException) as caught:
        _client(server, sandbox_ca, token).crm.contacts.basic_api.get_page()
    body = json.loads(caught.value.body)
    assert body["category"] == "INVALID_AUTHENTICATION" and body["status"] == "error"
    assert body["correlationId"]
    assert emulator.log.total("contacts.list", 401) == 1


def test_rate_headers_on_list_but_not_on_search(client, emulator):
    _, status, headers = client.crm.contacts.basic_api.get_page_with_http_info(limit=1)
    assert status == 200
    assert headers["X-HubSpot-RateLimit-Max"] == "190"
    assert headers["X-HubSpot-RateLimit-Remaining"] == "189"
    assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
    assert headers["X-HubSpot-RateLimit-Daily"] == "625000"
    assert headers["X-HubSpot-RateLimit-Daily-Remaining"] == "624999"
    _, _, search_headers = client.crm.contacts.search_api.do_search_with_http_info(
        PublicObjectSearchRequest(limit=1)
    )
    assert "X-HubSpot-RateLimit-Max" not in search_headers


def test_ten_second_burst_429_then_recovers(client, emulator, clock):
    emulator.tier = "starter"
    for _ in range(100):
        client.crm.contacts.basic_api.get_page(limit=1)
    with pytest.raises(ApiException) as caught:
        client.crm.contacts.basic_api.get_page(limit=1)
    body = json.loads(caught.value.body)
    assert caught.value.status == 429
    assert body["policyName"] == "TEN_SECONDLY_ROLLING" and body["errorType"] == "RATE_LIMIT"
    assert {"status", "message", "correlationId", "requestId"} <= set(body)
    assert caught.value.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    clock.advance(10)
    assert client.crm.contacts.basic_api.get_page(limit=1).results


def test_daily_cap(client, emulator):
    emulator.daily_limit = 3
    for _ in range(3):
        client.crm.contacts.basic_api.get_page(limit=1)
    with pytest.raises(ApiException) as caught:
        client.crm.contacts.basic_api.get_page(limit=1)
    assert json.loads(caught.value.body)["policyName"] == "DAILY"


def test_limits_off_never_throttles(client, emulator):
    emulator.limits_enabled = False
    emulator.tier = "free"
    for _ in range(110):
        client.crm.contacts.basic_api.get_page(limit=1)
    assert emulator.log.total("contacts.list", 200) == 110


def test_injected_throttle_has_retry_after(client, emulator):
    emulator.faults = Faults(throttle_rate=1.0, retry_after_seconds=(0.0, 0.0))
    with pytest.raises(ApiException) as caught:
        client.crm.contacts.basic_api.get_page()
    assert caught.value.status == 429 and caught.value.headers["Retry-After"] == "0"
    # urllib3's default Retry honours Retry-After on a 429 GET: 1 try + 3 retries reach us.
    assert emulator.log.total("contacts.list", 429) == 4


def test_injected_server_error_is_5xx_json(client, emulator):
    emulator.faults = Faults(error_rate=1.0)
    with pytest.raises(ServiceException) as caught:
        client.crm.contacts.basic_api.get_page()
    assert caught.value.status in (500, 502, 503)
    assert json.loads(caught.value.body)["status"] == "error"


def test_injected_malformed_body_breaks_json(emulator):
    emulator.faults = Faults(malformed_rate=1.0)
    response = emulator.handle(_get("/crm/v3/objects/contacts"))
    assert response.status == 200
    with pytest.raises(ValueError):
        json.loads(response.body)


def test_injected_reset_and_timeout(emulator, raw):
    emulator.faults = Faults(reset_rate=1.0)
    assert emulator.handle(_get("/crm/v3/objects/contacts")).reset is True
    with pytest.raises(urllib3.exceptions.HTTPError):
        raw.get("/crm/v3/objects/contacts")
    emulator.faults = Faults(timeout_rate=1.0, timeout_seconds=7.0)
    assert emulator.handle(_get("/crm/v3/objects/contacts")).hang_seconds == 7.0


def test_oauth_refresh_issues_a_token_that_expires(emulator, raw, server, sandbox_ca, clock):
    emulator.register_oauth_app("cid", "secret", "refresh-1", ttl_seconds=60)
    refused = raw.post_form(
        "/oauth/v1/token",
        {
            "grant_type": "refresh_token",
            "client_id": "cid",
            "client_secret": "secret",
            "refresh_token": "nope",
        },
    )
    assert refused.status == 400 and raw.json(refused)["status"] == "BAD_REFRESH_TOKEN"
    issued = raw.json(
        raw.post_form(
            "/oauth/v1/token",
            {
                "grant_type": "refresh_token",
                "client_id": "cid",
                "client_secret": "secret",
                "refresh_token": "refresh-1",
            },
        )
    )
    assert issued["expires_in"] == 60 and issued["refresh_token"] == "refresh-1"
    oauth_client = _client(server, sandbox_ca, issued["access_token"])
    assert oauth_client.crm.contacts.basic_api.get_page(limit=1).results
    clock.advance(61)
    with pytest.raises(UnauthorizedException):
        oauth_client.crm.contacts.basic_api.get_page(limit=1)


def test_log_counts_by_endpoint_label(client, emulator):
    client.crm.contacts.basic_api.get_page(limit=1)
    client.crm.contacts.search_api.do_search(PublicObjectSearchRequest(limit=1))
    client.crm.owners.owners_api.get_page()
    with pytest.raises(ApiException):
        client.crm.contacts.basic_api.get_by_id("1")
    assert emulator.log.by_endpoint() == {
        "contacts.get": 1,
        "contacts.list": 1,
        "contacts.search": 1,
        "owners.list": 1,
    }
    assert emulator.log.total("contacts.get", 404) == 1


def test_concurrent_batch_updates_all_land(emulator, server, sandbox_ca):
    emulator.limits_enabled = False
    ids = [emulator.contact_id(f"p{n}") for n in range(1, 41)]
    errors: list[BaseException] = []

    def worker(chunk: list[str], value: str) -> None:
        try:
            client = _client(server, sandbox_ca, TOKEN)
            client.crm.contacts.batch_api.update(
                BatchInputSimplePublicObjectBatchInput(
                    inputs=[{"id": i, "properties": {"handoff_score": value}} for i in chunk]
                )
            )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(ids[n::8], str(n))) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert all(emulator.contact(i)["handoff_score"] == str(n % 8) for n, i in enumerate(ids))


def _get(path: str) -> SandboxRequest:
    return SandboxRequest("GET", path, {}, {"authorization": f"Bearer {TOKEN}"})
