"""`POST /services/oauth2/token`: the OAuth 2.0 flows a server-side connector uses.

Salesforce Help, "OAuth 2.0 Username-Password Flow", "OAuth 2.0 Client Credentials Flow" and
"OAuth 2.0 JWT Bearer Flow": a form-encoded POST answers
`{access_token, instance_url, id, token_type: "Bearer", issued_at, signature}`; a failed grant
answers 400 `{"error": "invalid_grant", "error_description": "authentication failure"}`. The JWT
assertion is parsed loosely (no signature check): it must be a JWT whose `sub` is a known User's
username or email, and whose `exp`, when present, has not passed.
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
_FAILURE = {"error": "invalid_grant", "error_description": "authentication failure"}


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

    def token(
        self, body: bytes, instance_url: str, now: datetime
    ) -> tuple[int, dict[str, Any], str | None]:
        """(status, payload, issued access token or None) for one token request."""
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        grant = form.get("grant_type", "")
        user_id: str | None = None
        if grant == "password":
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
        }
        return 200, payload, access_token

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
