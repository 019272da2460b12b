"""The sandbox app's webhooks: contact events delivered to a target URL as HubSpot sends them.

HubSpot's contract (Webhooks API guide; "Validating requests" v3; the webhooks retry notes):
- a POST of a JSON array of events, at most 100 a request, each `{eventId, subscriptionId,
  portalId, appId, occurredAt, subscriptionType, attemptNumber, objectId, changeSource,
  changeFlag?, propertyName?, propertyValue?}` (merges: `primaryObjectId`, `mergedObjectIds`,
  `newObjectId`);
- signed: `X-HubSpot-Signature-v3` = base64(HMAC-SHA256(app secret, method + URI + body +
  timestamp)), `X-HubSpot-Request-Timestamp` = epoch ms of the send (wall time, not the portal's
  clock); a retry is signed afresh;
- a delivery that fails (no connection, no answer within 5 s, or an error status other than
  400/401/403/404/405, which are not retried) is retried up to 10 times over about a day with
  exponential backoff and `attemptNumber` counting up; 429 waits at least its Retry-After.
  `retry_base_seconds` (84 s by default: 84 x (2^10 - 1) s is about 24 h) compresses the schedule
  for tests.

Events come from the portal store's changes (`PortalStore.observer`): creations, changes of the
subscribed properties, deletions and merges of contacts, from fixtures, API calls and form
submissions alike.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import itertools
import json
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from sandbox.hubspot.store import HsObject

MAX_BATCH = 100
RETRIES = 10
NOT_RETRIED = frozenset({400, 401, 403, 404, 405})
DEFAULT_RETRY_BASE = 84.0
TIMEOUT_SECONDS = 5.0
# What Handoff's admin guide subscribes (docs/speed-to-lead.md): properties its decisions read.
DEFAULT_PROPERTIES = frozenset(
    {
        "email",
        "jobtitle",
        "company",
        "numemployees",
        "industry",
        "country",
        "state",
        "hs_email_optout",
        "hs_lead_status",
        "recent_conversion_date",
        "num_conversion_events",
    }
)
SUBSCRIPTION_IDS = {
    "contact.creation": 1,
    "contact.propertyChange": 2,
    "contact.deletion": 3,
    "contact.merge": 4,
}


def sign_v3(secret: str, method: str, url: str, body: bytes, timestamp: str) -> str:
    """HubSpot's v3 signature over the URL exactly as called (nothing percent-encoded in the
    sandbox's target paths, so the decode table changes nothing)."""
    source = method.encode() + url.encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), source, hashlib.sha256).digest()).decode()


@dataclass
class Delivery:
    """One batch as sent, and what the target answered (tests read these)."""

    body: bytes
    attempt: int
    status: int  # 0: no connection or no answer in time
    events: int


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    events: list[dict[str, Any]] = field(compare=False)
    attempt: int = field(compare=False, default=0)


class WebhookApp:
    """The sandbox's HubSpot app: its subscriptions, its secret and its delivery thread."""

    def __init__(
        self,
        target_url: str,
        secret: str,
        *,
        portal_id: int,
        app_id: int = 424242,
        properties: frozenset[str] = DEFAULT_PROPERTIES,
        retry_base_seconds: float = DEFAULT_RETRY_BASE,
        linger_seconds: float = 0.05,
        verify: str | bool = True,
    ) -> None:
        self.target_url = target_url
        self.secret = secret
        self.portal_id = portal_id
        self.app_id = app_id
        self.properties = properties
        self.retry_base_seconds = retry_base_seconds
        self.linger_seconds = linger_seconds
        self.paused = False  # tests: hold deliveries (events queue up)
        self.deliveries: list[Delivery] = []
        self._verify = verify
        self._session = requests.Session()
        self._pending: list[dict[str, Any]] = []
        self._due: list[_Due] = []
        self._ids = itertools.count(1)
        self._seq = itertools.count()
        self._rng = random.Random(7)
        self._cv = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="hubspot-webhooks", daemon=True)
        self._thread.start()

    # -- events from the store (called under the emulator's lock: never blocks) ---------------
    def observe(self, kind: str, obj: HsObject, info: dict[str, str], now_ms: int) -> None:
        if obj.object_type != "contacts":
            return
        events: list[dict[str, Any]] = []
        base = {
            "objectId": obj.id,
            "occurredAt": now_ms,
            "changeSource": info.get("_source", "API"),
        }
        if kind == "contact.creation":
            events.append({**base, "subscriptionType": kind, "changeFlag": "NEW"})
        elif kind == "contact.propertyChange":
            for name, value in sorted(info.items()):
                if name in self.properties:
                    events.append(
                        {**base, "subscriptionType": kind, "propertyName": name,
                         "propertyValue": value}
                    )  # fmt: skip
        elif kind == "contact.deletion":
            events.append({**base, "subscriptionType": kind, "changeFlag": "DELETED"})
        elif kind == "contact.merge":
            merged = [int(v) for v in info.get("mergedObjectIds", "").split(";") if v]
            events.append(
                {**base, "subscriptionType": kind, "primaryObjectId": obj.id,
                 "mergedObjectIds": merged, "newObjectId": obj.id, "changeFlag": "MERGED"}
            )  # fmt: skip
        if not events:
            return
        with self._cv:
            for event in events:
                event |= {
                    "eventId": next(self._ids),
                    "subscriptionId": SUBSCRIPTION_IDS.get(event["subscriptionType"], 9),
                    "portalId": self.portal_id,
                    "appId": self.app_id,
                }
                self._pending.append(event)
            self._cv.notify()

    # -- sending --------------------------------------------------------------------------------
    def post(
        self,
        body: bytes,
        *,
        timestamp_ms: int | None = None,
        secret: str | None = None,
        url: str | None = None,
    ) -> int:
        """POST one signed body to the target; its status (0: no connection / no answer).
        Tests use it to replay a delivery, sign with a wrong secret or an old timestamp."""
        target = url or self.target_url
        timestamp = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
        headers = {
            "Content-Type": "application/json",
            "X-HubSpot-Signature-v3": sign_v3(
                secret or self.secret, "POST", target, body, timestamp
            ),
            "X-HubSpot-Request-Timestamp": timestamp,
        }
        try:
            answer = self._session.post(
                target, data=body, headers=headers, timeout=TIMEOUT_SECONDS, verify=self._verify
            )
        except requests.RequestException:
            return 0
        return answer.status_code

    def close(self) -> None:
        with self._cv:
            self._stopped = True
            self._cv.notify()
        self._thread.join(timeout=10)
        self._session.close()

    def idle(self) -> bool:
        """Nothing pending or waiting for a retry."""
        with self._cv:
            return not self._pending and not self._due

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stopped and (self.paused or not self._ready()):
                    self._cv.wait(timeout=self._wait())
                if self._stopped:
                    return
                due = self._take()
            if due is not None:
                self._send(due)

    def _ready(self) -> bool:
        return bool(self._pending) or bool(self._due and self._due[0].at <= time.monotonic())

    def _wait(self) -> float:
        if self._due:
            return max(0.01, min(1.0, self._due[0].at - time.monotonic()))
        return 1.0

    def _take(self) -> _Due | None:
        if self._due and self._due[0].at <= time.monotonic():
            return heapq.heappop(self._due)
        if self._pending:
            self._cv.wait(timeout=self.linger_seconds)  # let a burst fill the batch
            batch, self._pending = self._pending[:MAX_BATCH], self._pending[MAX_BATCH:]
            return _Due(time.monotonic(), next(self._seq), batch, 0)
        return None

    def _send(self, due: _Due) -> None:
        events = [{**e, "attemptNumber": due.attempt} for e in due.events]
        body = json.dumps(events, separators=(",", ":")).encode()
        status = self.post(body)
        self.deliveries.append(Delivery(body, due.attempt, status, len(events)))
        if 200 <= status < 300 or status in NOT_RETRIED or due.attempt >= RETRIES:
            return
        delay = self.retry_base_seconds * 2**due.attempt * self._rng.uniform(0.9, 1.1)
        with self._cv:
            heapq.heappush(
                self._due,
                _Due(time.monotonic() + delay, next(self._seq), due.events, due.attempt + 1),
            )
            self._cv.notify()


def observer_for(app: WebhookApp, clock_ms: Any) -> Any:
    """The PortalStore observer feeding this app."""

    def observe(kind: str, obj: HsObject, info: dict[str, str]) -> None:
        app.observe(kind, obj, info, clock_ms())

    return observe
