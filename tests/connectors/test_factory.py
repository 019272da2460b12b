"""build_connector picks the adapter from the connection's kind."""

from __future__ import annotations

from hs_harness import hubspot_connection

from config.connections import Connection
from connectors.base import CrmConnector, FieldSetup
from connectors.factory import build_connector
from connectors.hubspot import HubSpotConnector


def test_hubspot_connection_builds_the_hubspot_adapter(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    connector = build_connector(hubspot_connection("https://127.0.0.1:9", str(ca)))
    assert isinstance(connector, HubSpotConnector)
    assert isinstance(connector, CrmConnector) and isinstance(connector, FieldSetup)
    assert connector.object_types() == ["contact"]
    assert connector.usage.total == 0  # building makes no calls


def test_salesforce_connection_builds_the_salesforce_adapter(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from connectors.salesforce import SalesforceConnector

    ca = tmp_path / "ca.pem"
    ca.write_text("")
    connection = Connection.model_validate(
        {
            "name": "salesforce",
            "kind": "salesforce",
            "salesforce": {
                "instance_url": "https://127.0.0.1:9",
                "session_id": "00Dx!session",
                "ca_file": str(ca),
            },
            "objects": {"lead": {"email": {"property": "Email"}}},
        }
    )
    connector = build_connector(connection)
    assert isinstance(connector, SalesforceConnector)
    connector.close()
