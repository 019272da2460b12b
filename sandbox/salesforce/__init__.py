"""Local emulator of the Salesforce REST API (v59.0 surface used by Handoff), served over HTTPS by
`sandbox.server.SandboxServer` so the real simple-salesforce client can talk to it."""

from sandbox.salesforce.emulator import SalesforceEmulator

__all__ = ["SalesforceEmulator"]
