"""The sandbox's Pub/Sub API: Lead/Contact changes made through simple-salesforce arrive as Avro
change events over gRPC/TLS, with increasing replay ids, flow control, auth and replay errors as
Salesforce documents them."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import fastavro
import grpc
import pytest
import requests
from simple_salesforce import Salesforce

from connectors.salesforce.pubsub import pubsub_api_pb2 as pb
from connectors.salesforce.pubsub import pubsub_api_pb2_grpc as pb_grpc
from sandbox.runtime import Sandbox
from sandbox.seed import generate_portal


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(generate_portal(1, 3, datetime.now(UTC)), hubspot=False) as running:
        yield running


def _clients(sandbox: Sandbox) -> tuple[Any, Any, tuple[tuple[str, str], ...]]:
    info = sandbox.info
    assert info.salesforce_pubsub_endpoint and info.salesforce_session_id
    session = requests.Session()
    session.verify, session.trust_env = str(info.ca_file), False
    sf = Salesforce(
        instance_url=info.salesforce_instance_url,
        session_id=info.salesforce_session_id,
        session=session,
    )
    channel = grpc.secure_channel(
        info.salesforce_pubsub_endpoint,
        grpc.ssl_channel_credentials(info.ca_file.read_bytes()),
    )
    meta = (
        ("accesstoken", info.salesforce_session_id),
        ("instanceurl", str(info.salesforce_instance_url)),
        ("tenantid", info.salesforce_session_id.split("!")[0]),
    )
    return sf, pb_grpc.PubSubStub(channel), meta


def _decode(stub: Any, meta: Any, event: Any) -> dict[str, Any]:
    info = stub.GetSchema(pb.SchemaRequest(schema_id=event.event.schema_id), metadata=meta)
    schema = fastavro.parse_schema(json.loads(info.schema_json))
    record: dict[str, Any] = fastavro.schemaless_reader(io.BytesIO(event.event.payload), schema)
    return record


def _requests(first: Any, more: threading.Event) -> Iterator[Any]:
    yield first
    more.wait(10)  # keeps the stream open until the test is done


def test_changes_arrive_in_order_as_avro_with_increasing_replay_ids(sandbox: Sandbox) -> None:
    sf, stub, meta = _clients(sandbox)
    lead = sf.Lead.create({"LastName": "Okafor", "Company": "Ledgerly", "Email": "o@ledgerly.com"})
    sf.Lead.update(lead["id"], {"Title": "VP Finance"})
    contact = sf.Contact.create({"LastName": "Ng", "Email": "ng@acme.io"})
    sf.Lead.delete(lead["id"])
    done = threading.Event()
    first = pb.FetchRequest(
        topic_name="/data/LeadChangeEvent", replay_preset=pb.EARLIEST, num_requested=2
    )
    stream = stub.Subscribe(_requests(first, done), metadata=meta)
    got = []
    for response in stream:
        got += list(response.events)
        if len(got) >= 2:
            break
    done.set()
    assert len(got) == 2  # flow control: two asked, two sent (the delete waits)
    records = [_decode(stub, meta, e) for e in got]
    headers = [r["ChangeEventHeader"] for r in records]
    assert [h["changeType"] for h in headers] == ["CREATE", "UPDATE"]
    assert {h["entityName"] for h in headers} == {"Lead"}  # the Contact is another topic's
    assert headers[0]["recordIds"][0][:15] == lead["id"][:15]
    assert records[0]["Email"] == "o@ledgerly.com" and records[1]["Title"] == "VP Finance"
    assert records[1]["Email"] is None  # an update carries its changed fields only
    assert got[0].replay_id < got[1].replay_id
    assert contact["success"]

    # resuming after the first event's replay id gives the rest, the delete included
    done2 = threading.Event()
    resume = pb.FetchRequest(
        topic_name="/data/ChangeEvents",
        replay_preset=pb.CUSTOM,
        replay_id=got[0].replay_id,
        num_requested=10,
    )
    later = []
    for response in stub.Subscribe(_requests(resume, done2), metadata=meta):
        later += list(response.events)
        if len(later) >= 3:
            break
    done2.set()
    kinds = [_decode(stub, meta, e)["ChangeEventHeader"] for e in later]
    assert [(k["entityName"], k["changeType"]) for k in kinds] == [
        ("Lead", "UPDATE"),
        ("Contact", "CREATE"),
        ("Lead", "DELETE"),
    ]


def test_a_bad_token_is_unauthenticated_with_salesforces_error_code(sandbox: Sandbox) -> None:
    _, stub, meta = _clients(sandbox)
    bad = (("accesstoken", "00D000000000000!nope"), *meta[1:])
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetTopic(pb.TopicRequest(topic_name="/data/LeadChangeEvent"), metadata=bad)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    trailers = dict(caught.value.trailing_metadata())
    assert trailers["error-code"] == "sfdc.platform.eventbus.grpc.service.auth.error"


def test_an_expired_replay_id_is_refused_as_corrupted(sandbox: Sandbox) -> None:
    sf, stub, meta = _clients(sandbox)
    sf.Lead.create({"LastName": "Old", "Company": "Acme"})
    assert sandbox.salesforce is not None
    sandbox.salesforce.change_events.expire_all()  # 72 hours later
    first = pb.FetchRequest(
        topic_name="/data/LeadChangeEvent",
        replay_preset=pb.CUSTOM,
        replay_id=(0).to_bytes(8, "big"),
        num_requested=1,
    )
    with pytest.raises(grpc.RpcError) as caught:
        list(stub.Subscribe(iter([first]), metadata=meta))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    trailers = dict(caught.value.trailing_metadata())
    assert trailers["error-code"] == (
        "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"
    )


def test_rolled_back_changes_are_not_published(sandbox: Sandbox) -> None:
    sf, _, _ = _clients(sandbox)
    assert sandbox.salesforce is not None
    bus = sandbox.salesforce.change_events
    tip = bus.tip()
    records = [
        {"attributes": {"type": "Lead"}, "LastName": "Kept", "Company": "Acme"},
        {"attributes": {"type": "Lead"}, "Company": "No last name"},
    ]
    sf.restful("composite/sobjects", method="POST", json={"allOrNone": True, "records": records})
    with bus.changed:
        assert bus.after(tip, ("Lead",), 10) == []
