"""Both emulators running together on loopback: what `handoff sandbox serve` and `handoff demo` start."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sandbox.portal import Portal
from sandbox.request_journal import RequestJournal
from sandbox.server import SandboxCA, SandboxServer

if TYPE_CHECKING:
    from sandbox.salesforce.pubsub import PubSubServer


@dataclass(frozen=True)
class SandboxInfo:
    ca_file: Path
    hubspot_base_url: str | None = None
    hubspot_token: str | None = None
    hubspot_portal_id: int | None = None  # the account id in HubSpot's record URLs
    salesforce_instance_url: str | None = None
    salesforce_session_id: str | None = None
    pardot_business_unit_id: str | None = None  # Account Engagement v5, on the Salesforce host
    salesforce_pubsub_endpoint: str | None = None  # the Pub/Sub API (gRPC, TLS): host:port
    # a connected app's credentials and a refresh token for its API user (third-party clients)
    salesforce_client_id: str | None = None
    salesforce_client_secret: str | None = None
    salesforce_refresh_token: str | None = None
    tls_names: tuple[str, ...] = ()  # the names the server certificate is valid for
    request_log: Path | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "hubspot": {
                "base_url": self.hubspot_base_url,
                "token": self.hubspot_token,
                "portal_id": self.hubspot_portal_id,
            },
            "salesforce": {
                "instance_url": self.salesforce_instance_url,
                "session_id": self.salesforce_session_id,
                "pubsub_endpoint": self.salesforce_pubsub_endpoint,
                "client_id": self.salesforce_client_id,
                "client_secret": self.salesforce_client_secret,
                "refresh_token": self.salesforce_refresh_token,
                "account_engagement": {
                    "base_url": self.salesforce_instance_url,
                    "business_unit_id": self.pardot_business_unit_id,
                },
            },
            "ca_file": str(self.ca_file),
            "tls_names": list(self.tls_names),
            "request_log": str(self.request_log) if self.request_log else None,
        }


class Sandbox:
    """A HubSpot portal and a Salesforce org serving the same seeded people, over HTTPS."""

    def __init__(
        self,
        portal: Portal,
        *,
        hubspot: bool = True,
        salesforce: bool = True,
        limits_enabled: bool = False,
        ca_directory: Path | None = None,
        host: str = "127.0.0.1",
        hubspot_port: int = 0,
        salesforce_port: int = 0,
        hubspot_tier: str | None = None,
        pubsub_port: int = 0,
        hostnames: tuple[str, ...] = (),
        request_log: Path | None = None,
    ) -> None:
        from sandbox.hubspot import HubSpotEmulator
        from sandbox.salesforce import SalesforceEmulator
        from sandbox.salesforce.ids import derived_id
        from sandbox.salesforce.oauth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
        from sandbox.salesforce.pubsub import PubSubServer, PubSubService

        self.ca = SandboxCA(ca_directory, hostnames=hostnames)
        self.journal = RequestJournal(request_log) if request_log is not None else None
        self.hubspot_token = "pat-sandbox-" + secrets.token_hex(12)
        # a Salesforce session id starts with its org's id (the Pub/Sub API's tenantid)
        org_id = derived_id("OrgId", "sandbox")
        self.salesforce_session = f"{org_id[:15]}!" + secrets.token_hex(16)
        self.hubspot = (
            HubSpotEmulator(
                portal, token=self.hubspot_token, limits_enabled=limits_enabled, tier=hubspot_tier
            )
            if hubspot
            else None
        )
        self.salesforce = (
            SalesforceEmulator(
                portal, session_id=self.salesforce_session, limits_enabled=limits_enabled
            )
            if salesforce
            else None
        )
        self.salesforce_refresh_token = (
            self.salesforce.oauth.issue_refresh_token() if self.salesforce else None
        )
        self.salesforce_client = (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
        self._servers: dict[str, SandboxServer] = {}
        if self.hubspot is not None:
            self._servers["hubspot"] = SandboxServer(
                self.hubspot.handle, self.ca, host, hubspot_port, self.journal, "hubspot"
            )
        self.pubsub: PubSubServer | None = None
        if self.salesforce is not None:
            self._servers["salesforce"] = SandboxServer(
                self.salesforce.handle, self.ca, host, salesforce_port, self.journal, "salesforce"
            )
            self.pubsub = PubSubServer(
                PubSubService(
                    self.salesforce.change_events,
                    self.salesforce.session_valid,
                    tenant_id=self.salesforce.oauth.org_id,
                ),
                *self.ca.key_and_chain(),
                host=host,
                port=pubsub_port,
            )

    def start(self) -> Sandbox:
        for server in self._servers.values():
            server.start()
        if self.pubsub is not None:
            self.pubsub.start()
        return self

    def stop(self) -> None:
        if self.hubspot is not None:
            self.hubspot.disable_webhooks()
        for server in self._servers.values():
            server.stop()
        if self.pubsub is not None:
            self.pubsub.stop()
        if self.journal is not None:
            self.journal.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def server(self, name: str) -> SandboxServer:
        """The server of "hubspot" or "salesforce" (for request hooks in fault drills)."""
        return self._servers[name]

    @property
    def info(self) -> SandboxInfo:
        hs = self._servers.get("hubspot")
        sf = self._servers.get("salesforce")
        return SandboxInfo(
            ca_file=self.ca.ca_file,
            hubspot_base_url=hs.base_url if hs else None,
            hubspot_token=self.hubspot_token if hs else None,
            hubspot_portal_id=self.hubspot.portal_id if hs and self.hubspot else None,
            salesforce_instance_url=sf.base_url if sf else None,
            salesforce_session_id=self.salesforce_session if sf else None,
            salesforce_pubsub_endpoint=self.pubsub.endpoint if sf and self.pubsub else None,
            salesforce_client_id=self.salesforce_client[0] if sf else None,
            salesforce_client_secret=self.salesforce_client[1] if sf else None,
            salesforce_refresh_token=self.salesforce_refresh_token if sf else None,
            pardot_business_unit_id=(
                self.salesforce.pardot.business_unit_id if sf and self.salesforce else None
            ),
            tls_names=self.ca.hostnames,
            request_log=self.journal.path if self.journal else None,
        )
