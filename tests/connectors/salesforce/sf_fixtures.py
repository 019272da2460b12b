"""Helpers for the Salesforce adapter's unit tests (HTTP intercepted with `responses`)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

from config.connections import Connection
from connectors.http_policy import retrying
from connectors.salesforce import SalesforceConnector

INSTANCE = "https://sf.example.test"
API = f"{INSTANCE}/services/data/v59.0"
SECRET = "00Dsecret!SESSIONTOKEN"


def connection(**overrides: Any) -> Connection:
    salesforce: dict[str, Any] = {
        "auth": "session",
        "instance_url": INSTANCE,
        "session_id": SECRET,
    }
    salesforce.update(overrides.pop("salesforce", {}))
    data: dict[str, Any] = {
        "name": "sfdc",
        "kind": "salesforce",
        "salesforce": salesforce,
        "objects": {
            "lead": {
                "email": {"property": "Email"},
                "company": {"property": "Company"},
                "lead_status": {
                    "property": "Status",
                    "type": "enum",
                    "managed": True,
                    "values": {"new": "Open - Not Contacted", "mql": "MQL", "sql": "SQL"},
                },
                "owner_id": {"property": "OwnerId", "managed": True},
                "score": {"property": "Handoff_Score__c", "type": "number", "managed": True},
            },
            "contact": {
                "email": {"property": "Email"},
                "owner_id": {"property": "OwnerId", "managed": True},
                "score": {"property": "Handoff_Score__c", "type": "number", "managed": True},
            },
        },
        "activities": [
            {"source": "Task", "kind": "call", "when": {"TaskSubtype": "Call"}},
            {"source": "Event", "kind": "meeting"},
            {
                "source": "CampaignMember",
                "kind": "webinar_attended",
                "when": {"Status": "Attended"},
            },
            {
                "source": "CampaignMember",
                "kind": "webinar_registered",
                "when": {"Status": "Registered"},
            },
        ],
        "overlap": "5m",
    }
    data.update(overrides)
    return Connection.model_validate(data)


def no_sleep_policy(usage: Any) -> Any:
    return retrying(usage=usage, sleep=lambda _seconds: None)


def make_connector(conn: Connection | None = None, **kwargs: Any) -> SalesforceConnector:
    # mocked HTTP: no describe calls for accounts (tests/e2e/test_account_owners.py covers them)
    conn = conn or connection(accounts={"enabled": False})
    return SalesforceConnector(conn, policy=no_sleep_policy, **kwargs)


def soql_of(call: Any) -> str:
    """The SOQL text of an intercepted query call."""
    return parse_qs(urlsplit(call.request.url).query)["q"][0]


def body_of(call: Any) -> Any:
    return json.loads(call.request.body)


def page(records: list[dict[str, Any]], next_url: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"totalSize": len(records), "done": next_url is None, "records": records}
    if next_url:
        body["nextRecordsUrl"] = next_url
    return body
