"""Build the connector a `Connection` asks for."""

from __future__ import annotations

from config.connections import Connection
from connectors.base import CrmConnector
from connectors.errors import FatalError


def build_connector(connection: Connection) -> CrmConnector:
    """HubSpot or Salesforce adapter for this connection (the Salesforce one imported lazily)."""
    if connection.kind == "hubspot":
        from connectors.hubspot import HubSpotConnector

        return HubSpotConnector(connection)
    if connection.kind == "salesforce":
        from connectors.salesforce import SalesforceConnector

        settings = connection.salesforce
        if settings is not None and settings.account_engagement is not None:
            from connectors.salesforce.engagement import EngagedSalesforceConnector

            return EngagedSalesforceConnector(connection)
        return SalesforceConnector(connection)  # type: ignore[no-any-return]
    raise FatalError(  # pragma: no cover - Connection.kind is a closed Literal
        f"unknown connection kind '{connection.kind}': use hubspot or salesforce",
        connection=connection.name,
    )
