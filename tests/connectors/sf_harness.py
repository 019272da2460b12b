"""Builds a real `SalesforceConnector` against the Salesforce emulator over loopback HTTPS.

The shared contract suite and the Salesforce e2e tests call
`build_salesforce_connector(portal) -> (connector, emulator, stop)`: the emulator serves `portal`
on `https://127.0.0.1:<port>` with a throwaway CA, the connector talks to it through the real
simple-salesforce client, and `stop()` closes both.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from config.connections import Connection
from connectors.base import ApiUsage
from connectors.http_policy import retrying
from connectors.salesforce import SalesforceConnector
from sandbox.portal import Portal
from sandbox.salesforce.emulator import SalesforceEmulator
from sandbox.salesforce.oauth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PASSWORD
from sandbox.server import Handler, SandboxCA, SandboxServer

SESSION_ID = "00Dsandbox!HARNESS-SESSION"
INTEGRATION_USER = "integration@handoff.sandbox"

LEAD_STATUS_VALUES = {
    "new": "Open - Not Contacted",
    "working": "Working - Contacted",
    "mql": "MQL",
    "sql": "SQL",
    "recycled": "Nurture",
    "disqualified": "Disqualified",
}

OBJECTS: dict[str, Any] = {
    "lead": {
        "email": {"property": "Email"},
        "first_name": {"property": "FirstName"},
        "last_name": {"property": "LastName"},
        "title": {"property": "Title"},
        "company": {"property": "Company"},
        "country": {"property": "Country"},
        "company_size": {"property": "NumberOfEmployees", "type": "integer"},
        "lead_status": {
            "property": "Status",
            "type": "enum",
            "managed": True,
            "values": LEAD_STATUS_VALUES,
        },
        "owner_id": {"property": "OwnerId", "managed": True},
        "unsubscribed": {"property": "HasOptedOutOfEmail", "type": "boolean"},
        "score": {"property": "Handoff_Score__c", "type": "number", "managed": True},
        "score_reasons": {"property": "Handoff_Score_Reasons__c", "managed": True},
    },
    "contact": {
        "email": {"property": "Email"},
        "first_name": {"property": "FirstName"},
        "last_name": {"property": "LastName"},
        "title": {"property": "Title"},
        "account_id": {"property": "AccountId"},
        "owner_id": {"property": "OwnerId", "managed": True},
        "unsubscribed": {"property": "HasOptedOutOfEmail", "type": "boolean"},
        "score": {"property": "Handoff_Score__c", "type": "number", "managed": True},
        "score_reasons": {"property": "Handoff_Score_Reasons__c", "managed": True},
    },
}

ACTIVITIES: list[dict[str, Any]] = [
    {"source": "Task", "kind": "call", "when": {"TaskSubtype": "Call"}},
    {"source": "Task", "kind": "email", "when": {"TaskSubtype": "Email"}},
    {"source": "Event", "kind": "meeting"},
    {"source": "CampaignMember", "kind": "webinar_attended", "when": {"Status": "Attended"}},
    {"source": "CampaignMember", "kind": "webinar_registered", "when": {"Status": "Registered"}},
    {"source": "CampaignMember", "kind": "form_submission", "when": {"Status": "Responded"}},
]


def sandbox_connection(
    base_url: str,
    ca_file: str,
    *,
    auth: str = "session",
    objects: dict[str, Any] | None = None,
    overlap: timedelta = timedelta(minutes=5),
    **settings: Any,
) -> Connection:
    salesforce: dict[str, Any] = {"instance_url": base_url, "ca_file": ca_file, "auth": auth}
    if auth == "session":
        salesforce["session_id"] = SESSION_ID
    elif auth == "password":
        salesforce |= {
            "username": INTEGRATION_USER,
            "password": DEFAULT_PASSWORD,
            "security_token": "",
            "consumer_key": DEFAULT_CLIENT_ID,
            "consumer_secret": DEFAULT_CLIENT_SECRET,
        }
    elif auth == "client_credentials":
        salesforce |= {"consumer_key": DEFAULT_CLIENT_ID, "consumer_secret": DEFAULT_CLIENT_SECRET}
    elif auth == "jwt":
        key_file = Path(ca_file).parent / "connected-app-key.pem"
        _write_private_key(key_file)
        salesforce |= {
            "username": INTEGRATION_USER,
            "consumer_key": DEFAULT_CLIENT_ID,
            "private_key_file": str(key_file),
        }
    salesforce |= settings
    return Connection.model_validate(
        {
            "name": "salesforce",
            "kind": "salesforce",
            "salesforce": salesforce,
            "objects": objects or OBJECTS,
            "activities": ACTIVITIES,
            "overlap": overlap,
        }
    )


def _write_private_key(path: Path) -> None:
    """An RSA key for the JWT bearer flow (the emulator does not check the signature)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def fast_policy(usage: ApiUsage) -> Any:
    """The one retry policy with its waits capped small (tests must not sleep for long)."""
    return retrying(usage=usage, max_wait=0.05, initial_wait=0.01)


def build_salesforce_connector(
    portal: Portal,
    *,
    auth: str = "session",
    objects: dict[str, Any] | None = None,
    emulator_options: dict[str, Any] | None = None,
    connector_options: dict[str, Any] | None = None,
    handler_wrapper: Callable[[Handler], Handler] | None = None,
    **settings: Any,
) -> tuple[SalesforceConnector, SalesforceEmulator, Callable[[], None]]:
    """A connector wired to a fresh emulator serving `portal`; call the third item to stop.

    `handler_wrapper` may wrap the emulator's handler (e.g. to lose one answer on the wire).
    """
    emulator = SalesforceEmulator(portal, session_id=SESSION_ID, **(emulator_options or {}))
    ca = SandboxCA()
    handler: Handler = emulator.handle
    if handler_wrapper is not None:
        handler = handler_wrapper(handler)
    server = SandboxServer(handler, ca).start()
    connection = sandbox_connection(
        server.base_url, str(ca.ca_file), auth=auth, objects=objects, **settings
    )
    options: dict[str, Any] = {"policy": fast_policy}
    options |= connector_options or {}
    connector = SalesforceConnector(connection, **options)

    def stop() -> None:
        connector.close()
        server.stop()

    return connector, emulator, stop
