"""HubSpot credentials: a private-app token, or an OAuth refresh token traded for access tokens.

Tokens live only here (as `SecretStr` until the moment a header is built). Nothing in this
module puts a token into a log line or an exception message.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from config.connections import HubSpotSettings
from config.secrets import register_secret
from connectors.errors import AuthError, ConnectorError, QuotaExhaustedError, RetriableError

FIX_TOKEN = (
    "create a new private-app token in HubSpot (Settings > Integrations > Private apps) and "
    "set connections[].hubspot.access_token"
)
FIX_OAUTH = (
    "the OAuth refresh token was refused (revoked or app uninstalled): reinstall the app and "
    "set connections[].hubspot.refresh_token"
)


class Credentials:
    """Hands out the current access token; refreshes it once on demand when OAuth is set up."""

    def __init__(
        self,
        settings: HubSpotSettings,
        connection: str,
        exchange: Callable[[dict[str, str]], Any] | None = None,
    ) -> None:
        self._settings = settings
        self._connection = connection
        self._exchange = exchange  # POST /oauth/v1/token with a form, returns the raw response
        self._lock = threading.Lock()
        token = settings.access_token
        self._token: str | None = token.get_secret_value() if token is not None else None
        self.refreshes = 0

    @property
    def can_refresh(self) -> bool:
        return self._settings.refresh_token is not None and self._exchange is not None

    def bind(self, exchange: Callable[[dict[str, str]], Any]) -> None:
        self._exchange = exchange

    def token(self) -> str:
        with self._lock:
            if self._token is None:
                self._refresh_locked()
            assert self._token is not None
            return self._token

    def refresh(self, stale: str | None = None) -> None:
        """Get a new access token (skipped when another thread already replaced `stale`)."""
        with self._lock:
            if stale is not None and self._token is not None and self._token != stale:
                return
            self._refresh_locked()

    def refused(self) -> AuthError:
        fix = FIX_OAUTH if self._settings.refresh_token is not None else FIX_TOKEN
        return AuthError(
            f"HubSpot refused the credentials (401): {fix}",
            connection=self._connection,
            status=401,
        )

    def _refresh_locked(self) -> None:
        settings = self._settings
        if settings.refresh_token is None or self._exchange is None:
            raise self.refused()
        assert settings.client_id is not None and settings.client_secret is not None
        try:
            response = self._exchange(
                {
                    "grant_type": "refresh_token",
                    "client_id": settings.client_id,
                    "client_secret": settings.client_secret.get_secret_value(),
                    "refresh_token": settings.refresh_token.get_secret_value(),
                }
            )
        except (RetriableError, QuotaExhaustedError, AuthError):
            raise
        except ConnectorError as exc:  # 400 BAD_REFRESH_TOKEN / BAD_CLIENT_ID
            raise AuthError(
                f"HubSpot refused the OAuth refresh ({exc.status}): {FIX_OAUTH}",
                connection=self._connection,
                status=exc.status,
            ) from None
        try:
            payload = json.loads(response.data)
            token = str(payload["access_token"])
        except (ValueError, KeyError, TypeError):
            raise AuthError(
                "HubSpot's token endpoint answered without an access_token: check "
                "connections[].hubspot.base_url points at HubSpot",
                connection=self._connection,
            ) from None
        register_secret(token)  # obtained at run time: redacted like a configured secret
        self._token = token
        self.refreshes += 1
