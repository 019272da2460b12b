"""The Salesforce adapter: Leads, Contacts, activities, Users, field writes and Tasks."""

from connectors.salesforce.connector import SalesforceConnector
from connectors.salesforce.schema import MissingField

__all__ = ["MissingField", "SalesforceConnector"]
