"""Malformed requests get a 4xx HubSpot error naming the problem, never an emulator crash."""

from __future__ import annotations

import itertools
import json

import pytest

from sandbox.server import SandboxRequest
from tests.sandbox_hubspot.conftest import TOKEN

BODIES = [
    b"",
    b"not json",
    b"[]",
    b'"x"',
    b'{"inputs": "x"}',
    b'{"inputs": ["x", 1, null]}',
    b'{"inputs": [{"id": "1001", "properties": ["a"]}]}',
    b'{"filterGroups": ["x"]}',
    b'{"filterGroups": [{"filters": [1]}]}',
    b'{"sorts": [1]}',
    b'{"limit": "x"}',
    b'{"properties": {"nope": 1}}',
    b'{"properties": {"hs_timestamp": "1"}, "associations": [{"to": {"id": "1001"},'
    b' "types": [{"associationTypeId": "abc"}]}]}',
    b'{"filterGroups": [{"filters": [{"propertyName": "createdate", "operator": "GT",'
    b' "value": "soon"}]}]}',
]
ENDPOINTS = [
    ("POST", "/crm/v3/objects/contacts/search"),
    ("POST", "/crm/v3/objects/contacts/batch/update"),
    ("POST", "/crm/v3/objects/contacts/batch/read"),
    ("POST", "/crm/v3/objects/contacts/batch/upsert"),
    ("POST", "/crm/v3/objects/tasks"),
    ("PATCH", "/crm/v3/objects/contacts/1001"),
    ("POST", "/crm/v3/objects/contacts/merge"),
    ("POST", "/crm/v3/properties/contacts"),
    ("POST", "/crm/v4/associations/contacts/tasks/batch/read"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_malformed_bodies_are_client_errors(emulator, method, path):
    for body in BODIES:
        response = emulator.handle(
            SandboxRequest(method, path, {}, {"authorization": f"Bearer {TOKEN}"}, body)
        )
        assert response.status < 500, (body, response.body)
        if response.status >= 400:
            payload = json.loads(response.body)
            assert payload["status"] == "error" and payload["message"]


@pytest.mark.parametrize(
    ("path", "query"),
    list(
        itertools.product(
            ["/crm/v3/objects/contacts", "/events/v3/events", "/crm/v3/owners"],
            [{"limit": ["x"]}, {"after": ["abc"]}, {"occurredAfter": ["x"]}, {"sort": ["UP"]}],
        )
    ),
)
def test_malformed_query_parameters_are_client_errors(emulator, path, query):
    response = emulator.handle(
        SandboxRequest("GET", path, query, {"authorization": f"Bearer {TOKEN}"})
    )
    assert response.status < 500, response.body
