"""HubSpot app webhooks: the v3 request signature and the events a delivery carries.

Signature (HubSpot, "Validating requests", v3:
https://developers.hubspot.com/docs/apps/legacy-apps/authentication/validating-requests and the
changelog "Introducing version 3 of Webhook signatures"): reject a request whose
`X-HubSpot-Request-Timestamp` (epoch ms) is older than 5 minutes; otherwise
`X-HubSpot-Signature-v3` must equal base64(HMAC-SHA256(client secret, method + URI + body +
timestamp)), the string UTF-8 encoded. The URI is the full URL HubSpot called (scheme, host, path,
query) with the percent-escapes of HubSpot's table decoded (`%3A` `:`, `%2F` `/`, `%3F` `?`,
`%40` `@`, `%21` `!`, `%24` `$`, `%27` `'`, `%28` `(`, `%29` `)`, `%2A` `*`, `%2C` `,`,
`%3B` `;`); behind a TLS-terminating proxy it is the public https URL, not the one the proxy
forwards to. Compared in constant time (`hmac.compare_digest`).

A delivery's body is a JSON array of up to 100 events (HubSpot "Webhooks API": `eventId`,
`subscriptionId`, `portalId`, `appId`, `occurredAt` ms, `subscriptionType`, `attemptNumber`,
`objectId`, `changeSource`; `propertyName`/`propertyValue` on property changes; `primaryObjectId`,
`mergedObjectIds`, `newObjectId` on merges; `fromObjectId`/`toObjectId` on association changes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MAX_AGE_MS = 5 * 60 * 1000
MAX_EVENTS = 100
SIGNATURE_HEADER = "x-hubspot-signature-v3"
TIMESTAMP_HEADER = "x-hubspot-request-timestamp"
DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
CONTACT_TYPE_ID = "0-1"  # generic `object.*` subscriptions name the object type by id
# Events that say a contact is new or changed: its decision may change, decide it now.
CONTACT_CHANGES = ("contact.creation", "contact.propertyChange", "contact.restore")
# Events the scheduled sync settles (it reads merges and deletions with their history).
CONTACT_ENDINGS = ("contact.deletion", "contact.privacyDeletion")


class SignatureRejected(Exception):
    """A delivery that is not HubSpot's (or is too old): answered 401, nothing done."""


class MalformedDelivery(ValueError):
    """A signed body that is not HubSpot's event array: answered 400."""


def signature_uri(url: str) -> str:
    """The URI as HubSpot signs it: its table of percent-escapes decoded (either case)."""
    out = url
    for escaped, plain in DECODED.items():
        out = out.replace(escaped, plain).replace(escaped.lower(), plain)
    return out


def expected_signature(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    source = method.upper().encode() + signature_uri(uri).encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode("utf-8"), source, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_v3(
    secret: str,
    *,
    method: str,
    uri: str,
    body: bytes,
    headers: dict[str, str],
    now: datetime | None = None,
) -> None:
    """Raise SignatureRejected unless the request is HubSpot's, signed within 5 minutes.
    `headers` keys are lower case."""
    signature = headers.get(SIGNATURE_HEADER)
    timestamp = headers.get(TIMESTAMP_HEADER)
    if not signature or not timestamp:
        raise SignatureRejected(f"missing {SIGNATURE_HEADER} or {TIMESTAMP_HEADER}")
    try:
        sent_ms = int(timestamp)
    except ValueError:
        raise SignatureRejected(f"{TIMESTAMP_HEADER} is not epoch milliseconds") from None
    now_ms = int((now or datetime.now(UTC)).timestamp() * 1000)
    if now_ms - sent_ms > MAX_AGE_MS:
        raise SignatureRejected("timestamp older than 5 minutes (a replay, or a skewed clock)")
    wanted = expected_signature(secret, method, uri, body, timestamp)
    if not hmac.compare_digest(wanted.encode(), signature.strip().encode()):
        raise SignatureRejected("signature does not match (check the app's client secret)")


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    event_id: str
    subscription_type: str
    object_id: str
    occurred_at: datetime
    attempt: int = 0
    property_name: str | None = None
    change_source: str | None = None
    subscription_id: str = ""

    @property
    def key(self) -> str:
        """What a redelivery repeats: HubSpot documents `eventId` as not guaranteed unique on
        its own, so it is kept with the subscription and the object it is about."""
        return f"{self.event_id}/{self.subscription_id}/{self.object_id}"

    @property
    def decides_contact(self) -> bool:
        """Whether this event asks for the contact's decision now (the fast path)."""
        return (
            self.subscription_type in CONTACT_CHANGES or self.subscription_type == "contact.merge"
        )


def parse_events(body: bytes) -> list[WebhookEvent]:
    """The delivery's events; MalformedDelivery names what is wrong."""
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MalformedDelivery("body is not JSON: HubSpot sends a JSON array of events") from None
    if not isinstance(raw, list):
        raise MalformedDelivery("body is not a JSON array of events")
    if len(raw) > MAX_EVENTS:
        raise MalformedDelivery(f"{len(raw)} events in one delivery: HubSpot sends at most 100")
    return [_event(item, n) for n, item in enumerate(raw)]


def _event(item: Any, n: int) -> WebhookEvent:
    if not isinstance(item, dict):
        raise MalformedDelivery(f"event [{n}] is not an object")
    missing = [k for k in ("eventId", "subscriptionType", "occurredAt") if item.get(k) is None]
    kind = str(item.get("subscriptionType"))
    if kind.startswith("object.") and str(item.get("objectTypeId")) == CONTACT_TYPE_ID:
        kind = "contact." + kind.removeprefix("object.")  # the generic format, for contacts
    # a merge names its survivor; every other contact event its object
    object_id = item.get("primaryObjectId") if kind == "contact.merge" else item.get("objectId")
    if object_id is None:
        missing.append("primaryObjectId" if kind == "contact.merge" else "objectId")
    if missing:
        raise MalformedDelivery(f"event [{n}] has no {', '.join(missing)}")
    try:
        occurred = datetime.fromtimestamp(int(item["occurredAt"]) / 1000, tz=UTC)
        attempt = int(item.get("attemptNumber") or 0)
    except (TypeError, ValueError, OverflowError):
        raise MalformedDelivery(f"event [{n}]: occurredAt is not epoch milliseconds") from None
    return WebhookEvent(
        event_id=str(item["eventId"]),
        subscription_type=kind,
        object_id=str(object_id),
        occurred_at=occurred,
        attempt=attempt,
        property_name=item.get("propertyName"),
        change_source=item.get("changeSource"),
        subscription_id=str(item.get("subscriptionId") or ""),
    )
