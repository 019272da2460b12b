"""Getting a Salesforce bearer token: a given session, or an OAuth 2.0 grant we can repeat.

- `auth: session`: `instance_url` + `session_id` as given; it cannot be renewed, so an expired
  session fails loudly with the fix.
- `auth: password`: OAuth username-password grant (password + security token appended) with
  the connected app's `consumer_key`/`consumer_secret`; without them, simple-salesforce's SOAP
  login (which builds `https://{domain}.salesforce.com` itself).
- `auth: jwt`: OAuth JWT bearer grant, an RS256 assertion signed with `private_key_file`.
- `auth: client_credentials`: OAuth client-credentials grant against `instance_url`.

simple-salesforce's own login only builds `https://{domain}.salesforce.com` URLs, so the token
is fetched here (through the guarded session, to `{instance_url or login host}/services/oauth2/
token`) and handed to `Salesforce(instance_url=..., session_id=..., session=...)`.
Nothing here ever puts a token or secret into a message.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import jwt
from simple_salesforce.exceptions import SalesforceAuthenticationFailed
from simple_salesforce.login import SalesforceLogin

from config.connections import SalesforceSettings
from config.paths import where
from config.secrets import register_secret
from connectors.errors import AuthError, FatalError
from connectors.salesforce.transport import GuardedSession, TokenSource

_SESSION_FIX = (
    "Fix: put a fresh session id in salesforce.session_id, or switch salesforce.auth to "
    "password, jwt or client_credentials so Handoff can log in again by itself."
)


class GivenSession(TokenSource):
    """`auth: session`: a session id from the config; not renewable."""

    def __init__(self, settings: SalesforceSettings) -> None:
        assert settings.session_id is not None and settings.instance_url is not None
        self.token = settings.session_id.get_secret_value()
        self.instance_url = settings.instance_url.rstrip("/")
        self.can_refresh = False
        self.expired_fix = _SESSION_FIX


class OAuthGrant(TokenSource):
    """An OAuth 2.0 grant posted to the token endpoint; repeatable, so sessions can renew."""

    def __init__(
        self,
        settings: SalesforceSettings,
        *,
        connection: str,
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.connection = connection
        self.clock = clock
        self.login_url = (
            settings.instance_url or f"https://{settings.domain}.salesforce.com"
        ).rstrip("/")
        self.instance_url = settings.instance_url.rstrip("/") if settings.instance_url else ""
        self.can_refresh = True
        self.token = ""

    def _form(self) -> dict[str, str]:
        s = self.settings
        secret = s.consumer_secret.get_secret_value() if s.consumer_secret else None
        if s.auth == "password":
            assert s.username and s.password is not None and s.security_token is not None
            form = {
                "grant_type": "password",
                "username": s.username,
                "password": s.password.get_secret_value() + s.security_token.get_secret_value(),
            }
            if s.consumer_key:
                form["client_id"] = s.consumer_key
            if secret:
                form["client_secret"] = secret
            return form
        if s.auth == "client_credentials":
            assert s.consumer_key and secret
            return {
                "grant_type": "client_credentials",
                "client_id": s.consumer_key,
                "client_secret": secret,
            }
        if s.auth == "jwt":
            return {
                "grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": self._assertion(),
            }
        raise FatalError(f"salesforce.auth '{s.auth}' cannot log in", connection=self.connection)

    def _assertion(self) -> str:
        s = self.settings
        assert s.private_key_file is not None
        try:
            key = s.private_key_file.read_text()
        except OSError as exc:
            raise FatalError(
                f"salesforce.private_key_file {where(s.private_key_file)}: cannot read it "
                f"({exc.strerror}); point it at the PEM key of the connected app's certificate",
                connection=self.connection,
            ) from None
        audience = f"https://{'test' if s.domain == 'test' else 'login'}.salesforce.com"
        claims = {
            "iss": s.consumer_key,
            "sub": s.username,
            "aud": audience,
            "exp": int((self.clock() + timedelta(minutes=3)).timestamp()),
        }
        try:
            return jwt.encode(claims, key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise FatalError(
                f"salesforce.private_key_file {s.private_key_file}: not a usable RSA private key "
                f"({type(exc).__name__}); use the PEM key matching the connected app's certificate",
                connection=self.connection,
            ) from None

    def _soap_login(self, session: GuardedSession) -> None:
        """`auth: password` without a connected app: simple-salesforce's SOAP login."""
        s = self.settings
        assert s.username and s.password is not None and s.security_token is not None
        try:
            token, instance = SalesforceLogin(
                username=s.username,
                password=s.password.get_secret_value(),
                security_token=s.security_token.get_secret_value(),
                domain=s.domain,
                sf_version=s.api_version,
                session=session,
            )
        except SalesforceAuthenticationFailed as exc:
            raise AuthError(
                f"Salesforce login (password, SOAP login at {s.domain}.salesforce.com) refused: "
                f"{exc.code}: {str(exc.message)[:200]}. Fix: check salesforce.username, "
                "password and security_token (a reset password issues a new security token), "
                "or set consumer_key/consumer_secret to log in through a connected app.",
                connection=self.connection,
            ) from None
        self.token = token
        self.instance_url = f"https://{instance}"

    def refresh(self, session: GuardedSession) -> None:
        if self.settings.auth == "password" and not self.settings.consumer_key:
            self._soap_login(session)
            return
        response = session.token_request(f"{self.login_url}/services/oauth2/token", self._form())
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
            error = body.get("error", "") if isinstance(body, dict) else ""
            description = body.get("error_description", "") if isinstance(body, dict) else ""
            raise AuthError(
                f"Salesforce login ({self.settings.auth}) refused: HTTP {response.status_code} "
                f"{error} {description}".rstrip()
                + ". Fix: check the credentials under salesforce: in the config (a revoked or "
                "rotated password/security token, consumer key or certificate must be replaced) "
                "and that the connected app allows this user.",
                connection=self.connection,
                status=response.status_code,
            )
        self.token = str(body["access_token"])
        register_secret(self.token)  # obtained at run time: redacted like a configured secret
        if body.get("instance_url") and not self.instance_url:
            self.instance_url = str(body["instance_url"]).rstrip("/")
        if not self.instance_url:
            self.instance_url = self.login_url


def token_source(
    settings: SalesforceSettings, *, connection: str, clock: Callable[[], datetime]
) -> GivenSession | OAuthGrant:
    if settings.auth == "session":
        return GivenSession(settings)
    return OAuthGrant(settings, connection=connection, clock=clock)
