"""HubSpot webhook v3 signatures and event parsing (connectors/hubspot/webhooks.py).

The expected signatures come from hubspot-api-client's own `Signature.get_signature` (HubSpot's
reference implementation of the v3 formula), not from the code under test."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hubspot.utils.signature import Signature

from connectors.hubspot.webhooks import (
    MalformedDelivery,
    SignatureRejected,
    parse_events,
    signature_uri,
    verify_v3,
)

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
NOW = datetime(2026, 12, 5, 0, 0, tzinfo=UTC)
URL = "https://handoff.example.com/webhooks/hubspot/hubspot"
BODY = json.dumps(
    [{"eventId": 1, "subscriptionId": 7, "portalId": 62515, "occurredAt": 1764892800000,
      "subscriptionType": "contact.creation", "attemptNumber": 0, "objectId": 123,
      "changeSource": "CRM", "changeFlag": "NEW", "appId": 54321}]
).encode()  # fmt: skip


def _headers(timestamp: datetime = NOW, uri: str = URL, secret: str = SECRET) -> dict[str, str]:
    ms = str(int(timestamp.timestamp() * 1000))
    signature = Signature.get_signature(secret, BODY.decode(), "v3", uri, "POST", ms)
    return {"x-hubspot-signature-v3": signature, "x-hubspot-request-timestamp": ms}


def test_a_delivery_signed_with_the_app_secret_passes() -> None:
    verify_v3(SECRET, method="POST", uri=URL, body=BODY, headers=_headers(), now=NOW)


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        (_headers(secret="another-apps-secret"), "does not match"),
        (_headers(timestamp=NOW - timedelta(minutes=5, seconds=1)), "older than 5 minutes"),
        ({}, "missing"),
        ({"x-hubspot-signature-v3": "x", "x-hubspot-request-timestamp": "soon"}, "milliseconds"),
    ],
)
def test_a_forged_stale_or_unsigned_delivery_is_rejected(headers: dict[str, str], why: str) -> None:
    with pytest.raises(SignatureRejected, match=why):
        verify_v3(SECRET, method="POST", uri=URL, body=BODY, headers=headers, now=NOW)


def test_a_changed_body_or_url_breaks_the_signature() -> None:
    headers = _headers()
    with pytest.raises(SignatureRejected):
        verify_v3(SECRET, method="POST", uri=URL, body=BODY + b" ", headers=headers, now=NOW)
    with pytest.raises(SignatureRejected):
        verify_v3(SECRET, method="POST", uri=URL + "x", body=BODY, headers=headers, now=NOW)


def test_the_uri_is_signed_with_hubspots_table_of_escapes_decoded() -> None:
    sent = "https://handoff.example.com/webhooks/hubspot/hubspot?a=%3A%2F%40%2c&b=%20"
    assert (
        signature_uri(sent) == "https://handoff.example.com/webhooks/hubspot/hubspot?a=:/@,&b=%20"
    )
    decoded = signature_uri(sent)  # HubSpot signs the decoded form
    verify_v3(SECRET, method="POST", uri=sent, body=BODY, headers=_headers(uri=decoded), now=NOW)


def test_events_are_parsed_with_a_redelivery_key() -> None:
    (event,) = parse_events(BODY)
    assert (event.subscription_type, event.object_id, event.decides_contact) == (
        "contact.creation", "123", True,
    )  # fmt: skip
    assert event.key == "1/7/123"
    merge = parse_events(
        b'[{"eventId": 2, "subscriptionType": "contact.merge", "occurredAt": 1, '
        b'"primaryObjectId": 9, "mergedObjectIds": [8]}]'
    )
    assert merge[0].object_id == "9" and merge[0].decides_contact
    deletion = parse_events(
        b'[{"eventId": 3, "subscriptionType": "contact.deletion", "occurredAt": 1, "objectId": 5}]'
    )
    assert not deletion[0].decides_contact
    generic = parse_events(
        b'[{"eventId": 4, "subscriptionType": "object.propertyChange", "objectTypeId": "0-1", '
        b'"occurredAt": 1, "objectId": 6, "propertyName": "jobtitle"}]'
    )
    assert generic[0].subscription_type == "contact.propertyChange" and generic[0].decides_contact
    deal = parse_events(
        b'[{"eventId": 5, "subscriptionType": "object.creation", "objectTypeId": "0-3", '
        b'"occurredAt": 1, "objectId": 7}]'
    )
    assert not deal[0].decides_contact


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"not json", "not JSON"),
        (b'{"eventId": 1}', "not a JSON array"),
        (b"[1]", "not an object"),
        (b'[{"eventId": 1, "subscriptionType": "contact.creation"}]', "occurredAt"),
        (json.dumps([{"eventId": 1}] * 101).encode(), "at most 100"),
    ],
)
def test_malformed_deliveries_name_the_problem(body: bytes, why: str) -> None:
    with pytest.raises(MalformedDelivery, match=why):
        parse_events(body)
