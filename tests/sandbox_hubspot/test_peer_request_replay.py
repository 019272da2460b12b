"""Third-party connectors' requests, replayed: every distinct request Airbyte's and Meltano's
HubSpot connectors sent to the sandbox (peer_requests.json: their check, discovery and every
stream's reads, recorded unshimmed) is sent again with plain `requests` and must get a success
in HubSpot's shape for that API. A route the sandbox stops serving, or a shape it breaks, fails
here without the peers installed (bench/peers.py runs the peers themselves)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from sandbox.hubspot import HubSpotEmulator
from sandbox.seed import generate_portal
from sandbox.server import SandboxCA, SandboxServer

TOKEN = "pat-sandbox-peer-replay"
RECORDED_AT = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
RECORDING = json.loads((Path(__file__).with_name("peer_requests.json")).read_text())
REQUESTS: list[dict[str, Any]] = RECORDING["requests"]


def _object(row: dict[str, Any]) -> None:
    """Spec `SimplePublicObject`: id, properties (string values or null), createdAt, updatedAt,
    archived."""
    assert {"id", "properties", "createdAt", "updatedAt", "archived"} <= set(row), row
    assert all(v is None or isinstance(v, str) for v in row["properties"].values())
    for name, versions in row.get("propertiesWithHistory", {}).items():
        for version in versions:  # spec `ValueWithTimestamp`
            assert {"value", "timestamp", "sourceType"} <= set(version), (name, version)


def _paging(body: dict[str, Any]) -> None:
    if "paging" in body:
        assert body["paging"]["next"]["after"], body["paging"]


def objects_page(body: Any) -> None:
    assert isinstance(body["results"], list)
    for row in body["results"]:
        _object(row)
    _paging(body)


def search_page(body: Any) -> None:
    assert isinstance(body["total"], int)
    objects_page(body)


def properties_v3(body: Any) -> None:
    assert body["results"], "a standard object has properties"
    for prop in body["results"]:
        assert {"name", "label", "type", "fieldType", "groupName", "options"} <= set(prop)


def properties_v2(body: Any) -> None:
    assert isinstance(body, list) and body, "v2 answers a bare, non-empty array"
    for prop in body:
        assert {"name", "label", "type", "fieldType", "groupName", "options"} <= set(prop)
        assert isinstance(prop["name"], str)


def results(*keys: str) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        assert isinstance(body["results"], list)
        for row in body["results"]:
            assert set(keys) <= set(row), row
        _paging(body)

    return check


def legacy_page(collection: str) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        assert isinstance(body[collection], list)
        assert isinstance(body["hasMore"], bool)
        assert "offset" in body

    return check


def keyed(collection: str, *keys: str) -> Callable[[Any], None]:
    def check(body: Any) -> None:
        assert isinstance(body[collection], list)
        assert set(keys) <= set(body), body

    return check


def association_batch(body: Any) -> None:
    assert body["status"] == "COMPLETE"
    for row in body["results"]:
        assert {"from", "to"} <= set(row)
    for error in body.get("errors", []):
        assert {"status", "category", "message"} <= set(error)


# path pattern -> HubSpot's shape for that API (sandbox/hubspot/routes.py serves them)
SHAPES: list[tuple[str, str, Callable[[Any], None]]] = [
    ("POST", r"^/crm/v3/objects/[^/]+/search$", search_page),
    ("GET", r"^/crm/v3/objects/[^/]+$", objects_page),
    ("GET", r"^/crm/v3/properties/[^/]+$", properties_v3),
    ("GET", r"^/properties/v2/[^/]+/properties$", properties_v2),
    ("GET", r"^/crm/v3/schemas$", results("id", "name")),
    ("GET", r"^/crm/v3/owners$", results("id", "email", "firstName", "lastName", "archived")),
    ("GET", r"^/settings/v3/users$", results("id", "email", "roleIds", "superAdmin")),
    ("GET", r"^/settings/v3/users/teams$", results("id", "name", "userIds")),
    ("GET", r"^/crm/v3/pipelines/[^/]+$", results("id", "label", "stages", "displayOrder")),
    ("GET", r"^/crm-pipelines/v1/pipelines/[^/]+$", results("pipelineId", "label", "stages")),
    ("GET", r"^/marketing/v3/forms$", results("id", "name", "createdAt", "updatedAt")),
    ("GET", r"^/form-integrations/v1/submissions/forms/[^/]+$", results("submittedAt", "values")),
    ("POST", r"^/crm/v3/lists/search$", keyed("lists", "hasMore", "offset", "total")),
    ("GET", r"^/email/public/v1/events$", legacy_page("events")),
    ("GET", r"^/email/public/v1/subscriptions/timeline$", legacy_page("timeline")),
    ("GET", r"^/email/public/v1/subscriptions$", keyed("subscriptionDefinitions")),
    ("GET", r"^/email/public/v1/campaigns(/by-id)?$", legacy_page("campaigns")),
    ("GET", r"^/engagements/v1/engagements/paged$", legacy_page("results")),
    ("GET", r"^/marketing-emails/v1/emails/with-statistics$", keyed("objects", "total")),
    ("GET", r"^/automation/v3/workflows$", keyed("workflows")),
    ("POST", r"^/crm/v4/associations/[^/]+/[^/]+/batch/read$", association_batch),
]


def shape_for(method: str, path: str) -> Callable[[Any], None]:
    for shape_method, pattern, check in SHAPES:
        if shape_method == method and re.match(pattern, path):
            return check
    raise AssertionError(f"no HubSpot shape known for {method} {path}: add one to SHAPES")


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, str]]:
    emulator = HubSpotEmulator(
        generate_portal(7, 200, RECORDED_AT),
        token=TOKEN,
        limits_enabled=False,
        clock=lambda: RECORDED_AT,
    )
    ca = SandboxCA()
    with SandboxServer(emulator.handle, ca) as server:
        yield server.base_url, str(ca.ca_file)


def _label(row: dict[str, Any]) -> str:
    return f"{row['peer']}:{row['method']} {row['path']}?{'&'.join(sorted(row['query']))}"


def test_the_recording_covers_both_peers_and_what_issue_22_saw_fail() -> None:
    paths = {(r["peer"], r["method"], r["path"]) for r in REQUESTS}
    for peer, method, path in [
        ("airbyte", "GET", "/properties/v2/contact/properties"),
        ("airbyte", "GET", "/crm/v3/schemas"),
        ("airbyte", "POST", "/crm/v4/associations/calls/deals/batch/read"),
        ("meltano", "GET", "/crm/v3/properties/deals"),
        ("meltano", "GET", "/crm/v3/properties/communications"),
        ("meltano", "POST", "/crm/v3/objects/deals/search"),
        ("meltano", "POST", "/crm/v3/objects/communications/search"),
        ("meltano", "GET", "/crm/v3/objects/tickets"),
        ("meltano", "GET", "/settings/v3/users"),
        ("meltano", "GET", "/crm-pipelines/v1/pipelines/deals"),
        ("airbyte", "GET", "/marketing/v3/forms"),
        ("airbyte", "POST", "/crm/v3/lists/search"),
        ("airbyte", "GET", "/email/public/v1/events"),
        ("airbyte", "GET", "/email/public/v1/subscriptions/timeline"),
        ("airbyte", "GET", "/engagements/v1/engagements/paged"),
        ("airbyte", "GET", "/crm/v3/objects/contacts"),  # with propertiesWithHistory
    ]:
        assert (peer, method, path) in paths, (peer, method, path)


@pytest.mark.parametrize("row", REQUESTS, ids=_label)
def test_peer_request_gets_hubspots_answer(served: tuple[str, str], row: dict[str, Any]) -> None:
    base_url, ca_file = served
    headers = {**row["headers"], "Authorization": f"Bearer {TOKEN}"}
    response = requests.request(
        row["method"],
        base_url + row["path"],
        params=row["query"],
        json=row["body"] if row["body"] is not None else None,
        headers=headers,
        verify=ca_file,
        timeout=30,
    )
    assert response.status_code in (200, 207), (response.status_code, response.text[:500])
    assert response.headers["Content-Type"].startswith("application/json")
    shape_for(row["method"], row["path"])(response.json())


def test_history_comes_back_for_the_properties_asked(served: tuple[str, str]) -> None:
    """Airbyte's contacts_property_history: `propertiesWithHistory` on the object list answers
    every asked property's versions, newest first, at most 50 records a page."""
    base_url, ca_file = served
    response = requests.get(
        base_url + "/crm/v3/objects/contacts",
        params={"limit": 100, "propertiesWithHistory": "email,hs_analytics_last_url"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        verify=ca_file,
        timeout=30,
    )
    body = response.json()
    assert response.status_code == 200 and len(body["results"]) == 50
    histories = [r["propertiesWithHistory"] for r in body["results"]]
    assert all(set(h) == {"email", "hs_analytics_last_url"} for h in histories)
    visited = [h["hs_analytics_last_url"] for h in histories if len(h["hs_analytics_last_url"]) > 1]
    assert visited, "seeded page views leave a URL history"
    stamps = [v["timestamp"] for v in visited[0]]
    assert stamps == sorted(stamps, reverse=True)
