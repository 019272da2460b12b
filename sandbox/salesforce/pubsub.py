"""The Salesforce Pub/Sub API emulator: gRPC over TLS (the sandbox CA), serving the org's change
events (sandbox/salesforce/change_events.py) to subscribers.

Contract (Salesforce's pubsub_api.proto, https://github.com/forcedotcom/pub-sub-api, and the
Pub/Sub API Developer Guide at https://developer.salesforce.com/docs/platform/pub-sub-api/):

- Each call carries `accesstoken`, `instanceurl` and `tenantid` metadata. A missing, wrong or
  expired token fails with UNAUTHENTICATED and the trailer
  `error-code: sfdc.platform.eventbus.grpc.service.auth.error` ("Handle Errors", error codes).
- `GetTopic(topic_name)` -> TopicInfo with the topic's current schema id; `GetSchema(schema_id)`
  -> the Avro schema JSON. Topics: `/data/<Entity>ChangeEvent` and `/data/ChangeEvents`.
- `Subscribe` is a bidirectional stream. The first FetchRequest names the topic and where to
  start (replay_preset LATEST, EARLIEST or CUSTOM after replay_id); every FetchRequest adds
  num_requested to what the server may send, and the server never sends more (flow control).
  With nothing to send, the server answers an empty FetchResponse with the latest replay id
  (a keepalive, within 270 s on Salesforce; `keepalive_seconds` here).
- A CUSTOM replay id that is not valid, e.g. older than the 72-hour retention window, fails
  with INVALID_ARGUMENT and `error-code: sfdc.platform.eventbus.grpc.subscription.fetch.
  replayid.corrupted` ("Retry Long-Lived RPC Calls After an Error Occurs").
- A later FetchRequest naming another topic fails with INVALID_ARGUMENT (the proto's comment).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from functools import partial
from typing import Any

import grpc

from connectors.salesforce.pubsub import pubsub_api_pb2 as pb
from connectors.salesforce.pubsub import pubsub_api_pb2_grpc as pb_grpc
from sandbox.salesforce.change_events import (
    ChangeEventBus,
    replay_bytes,
    replay_sequence,
    topic_entities,
)

AUTH_ERROR = "sfdc.platform.eventbus.grpc.service.auth.error"
REPLAY_CORRUPTED = "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"
TOPIC_ERROR = "sfdc.platform.eventbus.grpc.subscription.topic.invalid"
MAX_BATCH = 100  # events in one FetchResponse


def _abort(context: grpc.ServicerContext, status: grpc.StatusCode, code: str, text: str) -> Any:
    rpc_id = secrets.token_hex(8)
    context.set_trailing_metadata((("error-code", code), ("rpc-id", rpc_id)))
    context.abort(status, f"{text} rpcId: {rpc_id}")


class PubSubService(pb_grpc.PubSubServicer):
    """GetTopic, GetSchema and Subscribe over one org's change event bus."""

    def __init__(
        self,
        bus: ChangeEventBus,
        session_valid: Callable[[str], bool],
        *,
        tenant_id: str,
        keepalive_seconds: float = 270.0,
    ) -> None:
        self.bus = bus
        self.session_valid = session_valid
        self.tenant_id = tenant_id
        self.keepalive_seconds = keepalive_seconds
        self.subscribes = 0  # Subscribe calls accepted (tests)

    def _authenticate(self, context: grpc.ServicerContext) -> None:
        meta = {k: v for k, v in context.invocation_metadata()}
        token = str(meta.get("accesstoken") or "")
        tenant = str(meta.get("tenantid") or "")
        if not token or not self.session_valid(token):
            _abort(
                context,
                grpc.StatusCode.UNAUTHENTICATED,
                AUTH_ERROR,
                "An authentication exception occurred. Provide valid authentication via "
                "metadata headers (accesstoken, instanceurl, tenantid).",
            )
        if tenant[:15] != self.tenant_id[:15]:
            _abort(
                context,
                grpc.StatusCode.UNAUTHENTICATED,
                AUTH_ERROR,
                "The tenantid metadata header does not name the org the access token is for.",
            )

    def _entities(self, topic: str, context: grpc.ServicerContext) -> tuple[str, ...]:
        entities = topic_entities(topic)
        if entities is None:
            _abort(
                context,
                grpc.StatusCode.NOT_FOUND,
                TOPIC_ERROR,
                f"Topic {topic} not found or not selected for Change Data Capture.",
            )
        assert entities is not None
        return entities

    def GetTopic(self, request: pb.TopicRequest, context: grpc.ServicerContext) -> pb.TopicInfo:
        self._authenticate(context)
        entities = self._entities(request.topic_name, context)
        with self.bus.org.lock:
            schema = self.bus.schema_for(entities[0])
        return pb.TopicInfo(
            topic_name=request.topic_name,
            tenant_guid=self.tenant_id,
            can_publish=False,
            can_subscribe=True,
            schema_id=schema.schema_id,
            rpc_id=secrets.token_hex(8),
        )

    def GetSchema(self, request: pb.SchemaRequest, context: grpc.ServicerContext) -> pb.SchemaInfo:
        self._authenticate(context)
        schema = self.bus.schema(request.schema_id)
        if schema is None:
            _abort(
                context,
                grpc.StatusCode.NOT_FOUND,
                "sfdc.platform.eventbus.grpc.schema.not.found",
                f"Schema {request.schema_id} not found.",
            )
        assert schema is not None
        return pb.SchemaInfo(
            schema_json=schema.schema_json, schema_id=schema.schema_id, rpc_id=secrets.token_hex(8)
        )

    def _start(self, first: pb.FetchRequest, context: grpc.ServicerContext) -> int:
        if first.replay_preset == pb.EARLIEST:
            return self.bus.earliest()
        if first.replay_preset == pb.CUSTOM:
            sequence = replay_sequence(first.replay_id)
            if sequence is None or not self.bus.valid_position(sequence):
                _abort(
                    context,
                    grpc.StatusCode.INVALID_ARGUMENT,
                    REPLAY_CORRUPTED,
                    "The Replay ID validation failed. Ensure that the Replay ID is valid: it can "
                    "be outside the 72-hour retention window.",
                )
            assert sequence is not None
            return sequence
        return self.bus.tip()

    def _ready(self, flow: dict[str, int], position: int, entities: tuple[str, ...]) -> bool:
        return bool(
            flow["closed"]
            or flow["wrong_topic"]
            or (flow["requested"] and self.bus.after(position, entities, 1))
        )

    def Subscribe(
        self, request_iterator: Iterator[pb.FetchRequest], context: grpc.ServicerContext
    ) -> Iterator[pb.FetchResponse]:
        self._authenticate(context)
        first = next(request_iterator, None)
        if first is None:
            return
        topic = first.topic_name
        entities = self._entities(topic, context)
        position = self._start(first, context)
        self.subscribes += 1
        flow = {"requested": max(0, first.num_requested), "closed": 0, "wrong_topic": 0}
        changed = self.bus.changed

        def read_requests() -> None:
            try:
                for request in request_iterator:
                    with changed:
                        if request.topic_name and request.topic_name != topic:
                            flow["wrong_topic"] = 1
                        flow["requested"] += max(0, request.num_requested)
                        changed.notify_all()
            except grpc.RpcError:
                pass
            finally:
                with changed:
                    flow["closed"] = 1
                    changed.notify_all()

        threading.Thread(target=read_requests, name="pubsub-requests", daemon=True).start()
        last_sent = time.monotonic()
        while context.is_active():
            with changed:
                changed.wait_for(partial(self._ready, flow, position, entities), timeout=0.25)
                if flow["closed"]:
                    return
                if flow["wrong_topic"]:
                    _abort(
                        context,
                        grpc.StatusCode.INVALID_ARGUMENT,
                        TOPIC_ERROR,
                        f"A FetchRequest named another topic than {topic}.",
                    )
                limit = min(flow["requested"], MAX_BATCH)
                events = self.bus.after(position, entities, limit) if limit else []
                flow["requested"] -= len(events)
                pending = flow["requested"]
                waiting = bool(self.bus.after(position, entities, 1))
                tip = self.bus.tip()
            if events:
                position = events[-1].sequence
                last_sent = time.monotonic()
                yield pb.FetchResponse(
                    events=[
                        pb.ConsumerEvent(
                            event=pb.ProducerEvent(
                                id=e.event_id, schema_id=e.schema_id, payload=e.payload
                            ),
                            replay_id=replay_bytes(e.sequence),
                        )
                        for e in events
                    ],
                    latest_replay_id=replay_bytes(position),
                    rpc_id=secrets.token_hex(8),
                    pending_num_requested=pending,
                )
            elif time.monotonic() - last_sent >= self.keepalive_seconds:
                if not waiting:  # nothing of this topic is held back: skip the other topics'
                    position = max(position, tip)
                last_sent = time.monotonic()
                yield pb.FetchResponse(
                    latest_replay_id=replay_bytes(position),
                    rpc_id=secrets.token_hex(8),
                    pending_num_requested=pending,
                )


class PubSubServer:
    """The Pub/Sub API on 127.0.0.1:<port>, TLS with the sandbox CA's certificate."""

    def __init__(
        self,
        service: PubSubService,
        key_pem: bytes,
        chain_pem: bytes,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.service = service
        self.host = host
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        pb_grpc.add_PubSubServicer_to_server(service, self._server)
        credentials = grpc.ssl_server_credentials([(key_pem, chain_pem)])
        self.port = self._server.add_secure_port(f"{host}:{port}", credentials)

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> PubSubServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(grace=0.5).wait(5)
