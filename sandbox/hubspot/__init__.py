"""Local HubSpot CRM v3 emulator: `HubSpotEmulator(portal, token=...)`, served by SandboxServer."""

from sandbox.hubspot.emulator import HubSpotEmulator

__all__ = ["HubSpotEmulator"]
