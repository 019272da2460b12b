"""Salesforce Change Data Capture through the Pub/Sub API: subscribe, decode, resume.

Contract (Salesforce's pubsub_api.proto, https://github.com/forcedotcom/pub-sub-api; Pub/Sub API
Developer Guide, https://developer.salesforce.com/docs/platform/pub-sub-api/):

- gRPC over TLS to `api.pubsub.salesforce.com:7443`; every call carries the metadata headers
  `accesstoken` (the OAuth access token / session id), `instanceurl` and `tenantid` (the org id:
  a session id's first 15 characters, before the `!`).
- `Subscribe` is a bidirectional stream: the first FetchRequest names the topic and where to
  start (LATEST, EARLIEST, or CUSTOM after a stored replay id); each FetchRequest asks for
  `num_requested` more events and the server sends no more than asked (flow control). Here the
  window stays `batch` events: each answered event is asked for again once handled.
- Each ConsumerEvent has an opaque `replay_id` and an Avro-encoded payload whose schema comes
  from `GetSchema(schema_id)` (cached by id: a schema id names one schema forever).
- A change event's `ChangeEventHeader` names `entityName`, `recordIds`, `changeType` (CREATE,
  UPDATE, DELETE, UNDELETE, GAP_*, GAP_OVERFLOW) and `changedFields`, hex bitmaps over the
  schema's field positions ("Event Deserialization Considerations"); the first bitmap covers the
  top-level fields and is decoded here to names.
- Errors carry a custom `error-code` trailer ("Handle Errors"):
  `sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted` (INVALID_ARGUMENT) is a
  replay id the bus cannot resume from, e.g. one older than the 72-hour retention window
  ("Event Message Durability"): `ReplayUnavailable`; `sfdc.platform.eventbus.grpc.service.auth.
  error` (UNAUTHENTICATED) is a token the service refused: `PubSubAuthError`.
"""

from __future__ import annotations

import io
import json
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fastavro
import grpc

from connectors.errors import AuthError, ConnectorError, RetriableError
from connectors.salesforce.pubsub import pubsub_api_pb2 as pb
from connectors.salesforce.pubsub import pubsub_api_pb2_grpc as pb_grpc

DEFAULT_ENDPOINT = "api.pubsub.salesforce.com:7443"
REPLAY_CORRUPTED = "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"
AUTH_ERROR = "sfdc.platform.eventbus.grpc.service.auth.error"
TOPICS = {
    "lead": "/data/LeadChangeEvent",
    "contact": "/data/ContactChangeEvent",
    "campaign_member": "/data/CampaignMemberChangeEvent",  # campaign responses: form fills
}
ALL_CHANGES = "/data/ChangeEvents"


class ReplayUnavailable(ConnectorError):
    """The stored replay id cannot be resumed from (expired or unknown): resubscribe LATEST and
    let the scheduled sync's cursor cover the gap."""


class PubSubAuthError(AuthError):
    """The Pub/Sub API refused the access token."""


@dataclass(frozen=True, slots=True)
class ChangeEvent:
    entity: str  # Lead, Contact
    change_type: str  # CREATE, UPDATE, DELETE, UNDELETE, GAP_*, GAP_OVERFLOW
    record_ids: tuple[str, ...]
    changed_fields: frozenset[str]
    commit_user: str
    committed_at: datetime
    replay_id: bytes
    event_id: str
    person_ids: tuple[str, ...] = ()  # a CampaignMember's LeadId/ContactId, when the event has them


@dataclass(frozen=True, slots=True)
class ChangeBatch:
    """One FetchResponse: its events (maybe none: a keepalive) and the latest replay id."""

    events: list[ChangeEvent]
    latest_replay_id: bytes


def tenant_of(token: str) -> str:
    """The org id a Salesforce session id starts with (its first 15 characters, before `!`)."""
    head, bang, _ = token.partition("!")
    return head if bang else ""


def changed_names(bitmaps: list[str], field_names: list[str]) -> frozenset[str]:
    """The top-level field names a `changedFields` list marks (its first, un-prefixed bitmap)."""
    for bitmap in bitmaps:
        if "-" in bitmap:
            continue  # a nested compound field's bitmap ("3-0x..."), not decoded
        try:
            bits = int(bitmap, 16)
        except ValueError:
            return frozenset()
        return frozenset(name for i, name in enumerate(field_names) if bits >> i & 1)
    return frozenset()


class PubSubClient:
    """One channel to the Pub/Sub API for one org; `token` is read at each call (a refreshed
    session is picked up on the next subscribe)."""

    def __init__(
        self,
        endpoint: str,
        *,
        token: Callable[[], str],
        instance_url: Callable[[], str],
        ca_file: Path | None = None,
        connection: str = "salesforce",
        batch: int = 100,
    ) -> None:
        self.endpoint = endpoint
        self.connection = connection
        self.batch = batch
        self._token = token
        self._instance_url = instance_url
        root = ca_file.read_bytes() if ca_file is not None else None
        self._channel = grpc.secure_channel(endpoint, grpc.ssl_channel_credentials(root))
        self._stub = pb_grpc.PubSubStub(self._channel)
        self._schemas: dict[str, tuple[Any, list[str]]] = {}  # schema id -> (parsed, field names)
        self._requests: queue.Queue[pb.FetchRequest | None] | None = None
        self._call: Any = None
        self._cancelled = threading.Event()

    def close(self) -> None:
        self.cancel()
        self._channel.close()

    def cancel(self) -> None:
        """End the current subscription and any later one (for stopping: `subscribe` returns at
        once from now on)."""
        self._cancelled.set()
        if self._requests is not None:
            self._requests.put(None)
        call = self._call
        if call is not None:
            call.cancel()

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        token = self._token()
        return (
            ("accesstoken", token),
            ("instanceurl", self._instance_url()),
            ("tenantid", tenant_of(token)),
        )

    def _translate(self, exc: grpc.RpcError, doing: str) -> ConnectorError:
        code = exc.code() if hasattr(exc, "code") else None
        trailers = dict(exc.trailing_metadata() or ()) if hasattr(exc, "trailing_metadata") else {}
        error_code = str(trailers.get("error-code") or "")
        details = exc.details() if hasattr(exc, "details") else str(exc)
        where = f"the Pub/Sub API at {self.endpoint}"
        if error_code == REPLAY_CORRUPTED:
            return ReplayUnavailable(
                f"{where} cannot resume {doing} from the stored replay id ({error_code}): it is "
                "older than the 72-hour retention window or unknown",
                connection=self.connection,
            )
        if error_code == AUTH_ERROR or code == grpc.StatusCode.UNAUTHENTICATED:
            return PubSubAuthError(
                f"{where} refused the access token ({error_code or code}): check the "
                f"connection's Salesforce credentials (salesforce.auth) and that the integration "
                "user has the API Enabled and View All Data (or the objects') permissions",
                connection=self.connection,
                status=401,
            )
        if code in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND):
            return ConnectorError(
                f"{where} refused {doing} ({code.name}: {details}): select the objects for "
                "Change Data Capture in Setup > Integrations > Change Data Capture",
                connection=self.connection,
            )
        return RetriableError(
            f"{where}: {doing} ended ({code.name if code else 'error'}: {details})",
            connection=self.connection,
        )

    def _schema(self, schema_id: str) -> tuple[Any, list[str]]:
        cached = self._schemas.get(schema_id)
        if cached is None:
            try:
                info = self._stub.GetSchema(
                    pb.SchemaRequest(schema_id=schema_id), metadata=self._metadata(), timeout=30
                )
            except grpc.RpcError as exc:
                raise self._translate(exc, f"reading schema {schema_id}") from None
            body = json.loads(info.schema_json)
            cached = (fastavro.parse_schema(body), [f["name"] for f in body.get("fields", [])])
            self._schemas[schema_id] = cached
        return cached

    def decode(self, event: Any) -> ChangeEvent:
        """A ConsumerEvent's Avro payload as a change event."""
        parsed, names = self._schema(event.event.schema_id)
        record = fastavro.schemaless_reader(io.BytesIO(event.event.payload), parsed)
        assert isinstance(record, dict)
        header = record.get("ChangeEventHeader") or {}
        committed = header.get("commitTimestamp")
        return ChangeEvent(
            entity=str(header.get("entityName") or ""),
            change_type=str(header.get("changeType") or ""),
            record_ids=tuple(str(i) for i in header.get("recordIds") or ()),
            changed_fields=changed_names(list(header.get("changedFields") or ()), names),
            commit_user=str(header.get("commitUser") or ""),
            committed_at=(
                datetime.fromtimestamp(committed / 1000, tz=UTC)
                if isinstance(committed, int)
                else datetime.now(UTC)
            ),
            replay_id=bytes(event.replay_id),
            event_id=str(event.event.id),
            person_ids=tuple(str(record[k]) for k in ("LeadId", "ContactId") if record.get(k)),
        )

    def subscribe(self, topic: str, replay_id: bytes | None) -> Iterator[ChangeBatch]:
        """The topic's change events after `replay_id` (None: from now), batch by batch; the
        next batch is asked for when the caller takes it (so a slow caller holds the stream)."""
        requests: queue.Queue[pb.FetchRequest | None] = queue.Queue()
        self._requests = requests
        preset = pb.CUSTOM if replay_id else pb.LATEST
        requests.put(
            pb.FetchRequest(
                topic_name=topic,
                replay_preset=preset,
                replay_id=replay_id or b"",
                num_requested=self.batch,
            )
        )

        def outgoing() -> Iterator[pb.FetchRequest]:
            while True:
                item = requests.get()
                if item is None:
                    return
                yield item

        if self._cancelled.is_set():
            return
        call = self._stub.Subscribe(outgoing(), metadata=self._metadata())
        self._call = call
        if self._cancelled.is_set():  # cancelled while the call was being made
            call.cancel()
        try:
            for response in call:
                events = [self.decode(e) for e in response.events]
                yield ChangeBatch(events, bytes(response.latest_replay_id))
                if response.events:  # handled: ask for as many again
                    requests.put(pb.FetchRequest(num_requested=len(response.events)))
        except grpc.RpcError as exc:
            if exc.code() == grpc.StatusCode.CANCELLED:
                return
            raise self._translate(exc, f"the {topic} subscription") from None
        finally:
            requests.put(None)
            call.cancel()
