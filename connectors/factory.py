"""Build the connector a `Connection` asks for."""

from __future__ import annotations

from pathlib import Path

from config.connections import Connection
from config.paths import missing_file
from connectors.base import CrmConnector
from connectors.errors import FatalError


def build_connector(connection: Connection, config: Path | str | None = None) -> CrmConnector:
    """HubSpot or Salesforce adapter for this connection (the Salesforce one imported lazily);
    `config`, the config file, names where a relative path would find its file (config/paths)."""
    settings = connection.hubspot or connection.salesforce
    ca_file = settings.ca_file if settings else None
    missing = missing_file(f"{connection.kind}.ca_file", ca_file, config)
    if missing:  # else the first call fails as an unreachable server
        raise FatalError(
            f"{missing}: point it at the PEM bundle of the CA that signed the server's "
            "certificate (for the sandbox: its sandbox-ca.pem)",
            connection=connection.name,
        )
    if connection.kind == "hubspot":
        from connectors.hubspot import HubSpotConnector

        return HubSpotConnector(connection)
    if connection.kind == "salesforce":
        from connectors.salesforce import SalesforceConnector

        if connection.salesforce and connection.salesforce.account_engagement is not None:
            from connectors.salesforce.engagement import EngagedSalesforceConnector

            return EngagedSalesforceConnector(connection)
        return SalesforceConnector(connection)  # type: ignore[no-any-return]
    raise FatalError(  # pragma: no cover - Connection.kind is a closed Literal
        f"unknown connection kind '{connection.kind}': use hubspot or salesforce",
        connection=connection.name,
    )
