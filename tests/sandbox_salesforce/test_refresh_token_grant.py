"""The OAuth 2.0 refresh token flow (what Airbyte's and Singer's Salesforce connectors log in
with): a refresh token renews a usable session; Salesforce's documented errors otherwise."""

from __future__ import annotations

import base64

import requests

from sandbox.salesforce.oauth import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from tests.sandbox_salesforce.conftest import SalesforceSandbox


def _token(
    box: SalesforceSandbox, headers: dict[str, str] | None = None, **form: str
) -> requests.Response:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(box.server.ca.ca_file)
    return session.post(
        f"{box.server.base_url}/services/oauth2/token", data=form, headers=headers or {}
    )


def test_a_refresh_token_renews_a_usable_session(sandbox: SalesforceSandbox) -> None:
    refresh = sandbox.emulator.oauth.issue_refresh_token()
    client = {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}
    answer = _token(sandbox, grant_type="refresh_token", refresh_token=refresh, **client)
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {
        "access_token",
        "instance_url",
        "id",
        "token_type",
        "issued_at",
        "signature",
        "scope",
    }
    assert body["token_type"] == "Bearer" and body["instance_url"] == sandbox.server.base_url
    assert sandbox.client(body["access_token"]).query("SELECT COUNT() FROM Lead")["totalSize"] == 30

    # the client's credentials may come as HTTP Basic instead of form fields
    basic = base64.b64encode(f"{DEFAULT_CLIENT_ID}:{DEFAULT_CLIENT_SECRET}".encode()).decode()
    again = _token(
        sandbox,
        headers={"Authorization": f"Basic {basic}"},
        grant_type="refresh_token",
        refresh_token=refresh,
    )
    assert again.status_code == 200 and again.json()["access_token"] != body["access_token"]


def test_refresh_token_errors_are_salesforces(sandbox: SalesforceSandbox) -> None:
    refresh = sandbox.emulator.oauth.issue_refresh_token()
    ok_client = {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}
    cases = [
        (
            {"client_id": "nobody", "client_secret": "x", "refresh_token": refresh},
            {"error": "invalid_client_id", "error_description": "client identifier invalid"},
        ),
        (
            {"client_id": DEFAULT_CLIENT_ID, "client_secret": "wrong", "refresh_token": refresh},
            {"error": "invalid_client", "error_description": "invalid client credentials"},
        ),
        (
            {**ok_client, "refresh_token": "5Aep861-not-issued"},
            {"error": "invalid_grant", "error_description": "expired access/refresh token"},
        ),
    ]
    for form, error in cases:
        answer = _token(sandbox, grant_type="refresh_token", **form)
        assert (answer.status_code, answer.json()) == (400, error)
    sandbox.emulator.oauth.revoke_refresh_token(refresh)
    revoked = _token(sandbox, grant_type="refresh_token", refresh_token=refresh, **ok_client)
    assert revoked.status_code == 400 and revoked.json()["error"] == "invalid_grant"
