"""The HubSpot adapter: `HubSpotConnector(connection)` implements `connectors.base.CrmConnector`."""

from connectors.hubspot.connector import HubSpotConnector

__all__ = ["HubSpotConnector"]
