"""The Pub/Sub API client (connectors/salesforce/cdc.py) against the sandbox org: change events
decoded with their topic's schema, a refused token and a void replay id as clear errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests
from simple_salesforce import Salesforce

from connectors.salesforce.cdc import (
    ChangeBatch,
    PubSubAuthError,
    PubSubClient,
    ReplayUnavailable,
    changed_names,
    tenant_of,
)
from sandbox.runtime import Sandbox
from sandbox.seed import generate_portal


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(generate_portal(2, 3, datetime.now(UTC)), hubspot=False) as running:
        yield running


def _client(sandbox: Sandbox, token: str | None = None) -> PubSubClient:
    info = sandbox.info
    assert info.salesforce_pubsub_endpoint and info.salesforce_session_id
    session = token or info.salesforce_session_id
    return PubSubClient(
        info.salesforce_pubsub_endpoint,
        token=lambda: session,
        instance_url=lambda: str(info.salesforce_instance_url),
        ca_file=info.ca_file,
        batch=5,
    )


def _sf(sandbox: Sandbox) -> Salesforce:
    info = sandbox.info
    http = requests.Session()
    http.verify, http.trust_env = str(info.ca_file), False
    return Salesforce(
        instance_url=info.salesforce_instance_url,
        session_id=info.salesforce_session_id,
        session=http,
    )


def _take(client: PubSubClient, topic: str, replay: bytes | None, n: int) -> list[ChangeBatch]:
    """Batches until `n` events came (a guard thread cancels a stream that never delivers)."""
    got: list[ChangeBatch] = []
    timer = threading.Timer(20, client.cancel)
    timer.start()
    try:
        for batch in client.subscribe(topic, replay):
            got.append(batch)
            if sum(len(b.events) for b in got) >= n:
                break
    finally:
        timer.cancel()
    return got


def test_events_are_decoded_with_their_schema_and_resume_after_a_replay_id(
    sandbox: Sandbox,
) -> None:
    sf = _sf(sandbox)
    client = _client(sandbox)
    lead = sf.Lead.create({"LastName": "Okafor", "Company": "Ledgerly"})
    sf.Lead.update(lead["id"], {"Title": "CFO"})
    first = _take(client, "/data/LeadChangeEvent", (0).to_bytes(8, "big"), 2)
    events = [e for b in first for e in b.events]
    assert [e.change_type for e in events] == ["CREATE", "UPDATE"]
    assert events[0].entity == "Lead" and events[0].record_ids[0][:15] == lead["id"][:15]
    assert "Title" in events[1].changed_fields and "Company" not in events[1].changed_fields
    sf.Lead.update(lead["id"], {"Title": "CEO"})
    rest = _take(client, "/data/LeadChangeEvent", events[-1].replay_id, 1)
    assert [e.change_type for b in rest for e in b.events] == ["UPDATE"]  # not the first two
    client.close()


def test_a_refused_token_is_an_auth_error_naming_the_fix(sandbox: Sandbox) -> None:
    client = _client(sandbox, token="00D000000000000!not-a-session")
    with pytest.raises(PubSubAuthError) as caught:
        _take(client, "/data/LeadChangeEvent", None, 1)
    message = str(caught.value)
    assert "refused the access token" in message and "salesforce.auth" in message
    assert "not-a-session" not in message  # the token is never echoed


def test_an_expired_replay_id_is_replay_unavailable(sandbox: Sandbox) -> None:
    _sf(sandbox).Lead.create({"LastName": "Old", "Company": "Acme"})
    assert sandbox.salesforce is not None
    sandbox.salesforce.change_events.expire_all()
    with pytest.raises(ReplayUnavailable, match="72-hour retention"):
        _take(_client(sandbox), "/data/LeadChangeEvent", (0).to_bytes(8, "big"), 1)


def test_changed_field_bitmaps_and_tenant_ids() -> None:
    names = ["ChangeEventHeader", "FirstName", "LastName", "Title"]
    assert changed_names(["0x0A"], names) == {"FirstName", "Title"}
    assert changed_names(["3-0x01", "0x04"], names) == {"LastName"}  # nested bitmaps skipped
    assert tenant_of("00D5g000000ABCD!AQ4Aq") == "00D5g000000ABCD"
    assert tenant_of("no-bang") == ""
