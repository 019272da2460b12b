"""`POST /services/oauth2/token`: the OAuth 2.0 flows a server-side connector uses.

Salesforce Help, "OAuth 2.0 Username-Password Flow", "OAuth 2.0 Client Credentials Flow" and
"OAuth 2.0 JWT Bearer Flow": a form-encoded POST answers
`{access_token, instance_url, id, token_type: "Bearer", issued_at, signature}`; a failed grant
answers 400 `{"error": "invalid_grant", "error_description": "authentication failure"}`. The JWT
assertion is parsed loosely (no signature check): it must be a JWT whose `sub` is a known User's
username or email, and whose `exp`, when present, has not passed.

Refresh tokens (Salesforce Help, "OAuth 2.0 Refresh Token Flow for Renewed Sessions"; REST API
Developer Guide, "How Does the OAuth Refresh Token Fit Into the Authentication Flow?"):
`grant_type=refresh_token&refresh_token=...&client_id=...&client_secret=...`, the client's
credentials in the form or as HTTP Basic (`Authorization: Basic base64(id:secret)`). The answer
is the same body plus `scope`, without a new refresh token (no rotation). An unknown client id is
400 `{"error": "invalid_client_id", "error_description": "client identifier invalid"}`; a wrong
or missing secret (a connected app requires it by default) 400 `{"error": "invalid_client",
"error_description": "invalid client credentials"}`; an unknown, revoked or other client's refresh
token 400 `{"error": "invalid_grant", "error_description": "expired access/refresh token"}`
(Salesforce Help, "OAuth 2.0 Authorization Errors"). The web server flow that would hand out a
refresh token is not served: `issue_refresh_token` makes one (the sandbox prints one at start).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import jwt

from sandbox.salesforce.ids import derived_id
from sandbox.salesforce.org import SalesforceOrg

DEFAULT_CLIENT_ID = "handoff-sandbox-client"
DEFAULT_CLIENT_SECRET = "handoff-sandbox-secret"
DEFAULT_PASSWORD = "handoff-sandbox-password"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
REFRESH_SCOPE = "refresh_token api"
_FAILURE = {"error": "invalid_grant", "error_description": "authentication failure"}
_BAD_CLIENT_ID = {"error": "invalid_client_id", "error_description": "client identifier invalid"}
_BAD_CLIENT = {"error": "invalid_client", "error_description": "invalid client credentials"}
_BAD_REFRESH = {"error": "invalid_grant", "error_description": "expired access/refresh token"}


@dataclass
class OAuthIssuer:
    """Known connected-app clients and user passwords; issues session tokens."""

    org: SalesforceOrg
    clients: dict[str, str] = field(
        default_factory=lambda: {DEFAULT_CLIENT_ID: DEFAULT_CLIENT_SECRET}
    )
    passwords: dict[str, str] = field(default_factory=dict)  # username -> password
    default_password: str = DEFAULT_PASSWORD
    org_id: str = field(default_factory=lambda: derived_id("OrgId", "sandbox"))
    # refresh token -> (client id, user id): what the web server flow would have issued
    refresh_tokens: dict[str, tuple[str, str]] = field(default_factory=dict)

    def issue_refresh_token(self, client_id: str = DEFAULT_CLIENT_ID, user_id: str = "") -> str:
        """A refresh token for this client and user (default: the org's API user)."""
        token = f"5Aep861{secrets.token_urlsafe(64)}"
        self.refresh_tokens[token] = (client_id, user_id or self.org.api_user_id)
        return token

    def revoke_refresh_token(self, token: str) -> None:
        self.refresh_tokens.pop(token, None)

    def token(
        self, body: bytes, instance_url: str, now: datetime, authorization: str = ""
    ) -> tuple[int, dict[str, Any], str | None]:
        """(status, payload, issued access token or None) for one token request;
        `authorization` is the request's Authorization header (HTTP Basic client credentials)."""
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        grant = form.get("grant_type", "")
        user_id: str | None = None
        extra: dict[str, str] = {}
        if grant == "refresh_token":
            form |= _basic_client(authorization)
            refused = self._refresh_refused(form)
            if refused is not None:
                return 400, refused, None
            user_id = self.refresh_tokens[form["refresh_token"]][1]
            extra = {"scope": REFRESH_SCOPE}
        elif grant == "password":
            if self._client_ok(form):
                user_id = self._password_user(form.get("username", ""), form.get("password", ""))
        elif grant == "client_credentials":
            if self._client_ok(form):
                user_id = self.org.api_user_id
        elif grant == JWT_GRANT:
            user_id = self._jwt_user(form.get("assertion", ""), now)
        else:
            return (
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant type not supported",
                },
                None,
            )
        if user_id is None:
            return 400, dict(_FAILURE), None
        access_token = f"{self.org_id[:15]}!{secrets.token_urlsafe(48)}"
        issued_at = str(int(now.timestamp() * 1000))
        identity = f"{instance_url}/id/{self.org_id}/{user_id}"
        signature = base64.b64encode(
            hmac.new(
                self.clients.get(form.get("client_id", ""), DEFAULT_CLIENT_SECRET).encode(),
                (identity + issued_at).encode(),
                hashlib.sha256,
            ).digest()
        ).decode()
        payload = {
            "access_token": access_token,
            "instance_url": instance_url,
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": signature,
        } | extra
        return 200, payload, access_token

    def _refresh_refused(self, form: dict[str, str]) -> dict[str, str] | None:
        client_id = form.get("client_id", "")
        if client_id not in self.clients:
            return dict(_BAD_CLIENT_ID)
        if not self._client_ok(form):
            return dict(_BAD_CLIENT)
        held = self.refresh_tokens.get(form.get("refresh_token", ""))
        if held is None or held[0] != client_id:
            return dict(_BAD_REFRESH)
        user = self.org.records["User"].get(held[1])
        if user is not None and not user.get("IsActive", True):
            return {"error": "inactive_user", "error_description": "user is inactive"}
        return None

    def _client_ok(self, form: dict[str, str]) -> bool:
        client_id = form.get("client_id", "")
        return client_id in self.clients and hmac.compare_digest(
            self.clients[client_id], form.get("client_secret", "")
        )

    def _user(self, name: str) -> dict[str, Any] | None:
        wanted = name.lower()
        for user in self.org.records["User"].values():
            if wanted in (str(user["Username"]).lower(), str(user["Email"]).lower()):
                return user
        return None

    def _password_user(self, username: str, password: str) -> str | None:
        user = self._user(username)
        if user is None or not user["IsActive"]:
            return None
        expected = self.passwords.get(user["Username"], self.default_password)
        return str(user["Id"]) if hmac.compare_digest(expected, password) else None

    def _jwt_user(self, assertion: str, now: datetime) -> str | None:
        try:
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None
        exp = claims.get("exp")
        if isinstance(exp, int | float) and exp < now.timestamp():
            return None
        user = self._user(str(claims.get("sub", "")))
        return str(user["Id"]) if user is not None and user["IsActive"] else None


def _basic_client(authorization: str) -> dict[str, str]:
    """client_id / client_secret from an HTTP Basic Authorization header, if one is given."""
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return {}
    try:
        client_id, _, secret = base64.b64decode(encoded.strip()).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return {}
    return {"client_id": client_id, "client_secret": secret}
