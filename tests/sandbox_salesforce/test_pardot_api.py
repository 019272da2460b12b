"""The Account Engagement (Pardot) API v5 emulator over the real HTTP path: a requests session
(trust_env off, the sandbox CA), the Salesforce session as bearer token, the business unit
header, `fields`, `limit`, `nextPageToken` paging and the `{"code", "message"}` errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import requests

from sandbox.portal import PortalActivity
from sandbox.salesforce.ids import derived_id
from tests.sandbox_salesforce.conftest import NOW, SID, SalesforceSandbox, make_portal

PATH = "/api/v5/objects/visitor-activities"
FIELDS = "id,type,details,createdAt,prospect.salesforceId,visitorPageView.url"


def http(box: SalesforceSandbox) -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    session.verify = str(box.server.ca.ca_file)
    return session


def get(
    box: SalesforceSandbox,
    params: dict[str, str],
    *,
    token: str | None = SID,
    unit: str | None = "0Uv5g000000SANDBOX",
) -> requests.Response:
    headers = {}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if unit is not None:
        headers["Pardot-Business-Unit-Id"] = unit
    return http(box).get(box.server.base_url + PATH, params=params, headers=headers, timeout=10)


def busy_portal(views: int) -> Any:
    portal = make_portal(leads=3, contacts=1)
    for n in range(views):
        portal.activities.append(
            PortalActivity(
                f"v{n}", "p1", "page_view", NOW - timedelta(minutes=n + 1), None, {"url": f"/p{n}"}
            )
        )
    return portal


def test_visitor_activities_link_to_the_salesforce_lead(sandbox: SalesforceSandbox) -> None:
    response = get(sandbox, {"fields": FIELDS + ",formId,typeName"})
    assert response.status_code == 200
    values = response.json()["values"]
    view = next(v for v in values if v["type"] == 2)
    form = next(v for v in values if v["type"] == 4)
    assert view["visitorPageView"] == {"url": "/pricing"}
    assert view["prospect"]["salesforceId"] == derived_id("Lead", "p2")
    assert (form["details"], form["typeName"]) == ("Demo Request", "Success")
    assert isinstance(form["formId"], int)
    assert not any(v["type"] in (24, 25) for v in values)  # webinars live in CampaignMember


@pytest.mark.parametrize(
    ("token", "unit", "status", "code"),
    [
        ("not-a-session", "0Uv5g000000SANDBOX", 401, 184),
        (None, "0Uv5g000000SANDBOX", 401, 184),
        (SID, None, 400, 181),
        (SID, "0Uv-bad", 400, 182),
        (SID, "0Uv5g000000OTHERBU", 403, 201),
    ],
)
def test_auth_and_business_unit_refusals(
    sandbox: SalesforceSandbox, token: str | None, unit: str | None, status: int, code: int
) -> None:
    response = get(sandbox, {"fields": FIELDS}, token=token, unit=unit)
    assert response.status_code == status
    body = response.json()
    assert body["code"] == code and body["message"]


def test_fields_are_required_and_checked(sandbox: SalesforceSandbox) -> None:
    missing = get(sandbox, {})
    assert (missing.status_code, missing.json()["code"]) == (400, 13)
    unknown = get(sandbox, {"fields": "id,hs_url"})
    assert (unknown.status_code, unknown.json()["code"]) == (400, 180)
    too_many = get(sandbox, {"fields": "id", "limit": "1001"})
    assert (too_many.status_code, too_many.json()["code"]) == (400, 23)


def test_pages_by_token_in_created_order_and_filters(
    start_sandbox: Callable[..., SalesforceSandbox],
) -> None:
    box = start_sandbox(busy_portal(450))
    params = {"fields": "id,createdAt", "limit": "200", "orderBy": "createdAt ASC", "type": "2"}
    first = get(box, params).json()
    assert len(first["values"]) == 200 and first["nextPageUrl"].endswith(first["nextPageToken"])
    mixed = get(box, {"nextPageToken": first["nextPageToken"], "limit": "5"})
    assert (mixed.status_code, mixed.json()["code"]) == (400, 5)  # only `fields` may come along
    seen = list(first["values"])
    token = first["nextPageToken"]
    while token:
        page = get(box, {"nextPageToken": token, "fields": "id,createdAt"}).json()
        seen += page["values"]
        token = page.get("nextPageToken")
    assert len(seen) == 451  # 450 views + the fixture's /pricing view
    assert [v["createdAt"] for v in seen] == sorted(v["createdAt"] for v in seen)
    since = (NOW - timedelta(minutes=10)).isoformat()
    recent = get(box, {"fields": "id", "type": "2", "createdAtAfterOrEqualTo": since}).json()
    assert len(recent["values"]) == 10
    invalid = get(box, {"nextPageToken": "nope", "fields": "id"})
    assert (invalid.status_code, invalid.json()["code"]) == (400, 211)


def test_a_token_expires_after_four_hours_and_the_record_ceiling_warns(
    start_sandbox: Callable[..., SalesforceSandbox],
) -> None:
    box = start_sandbox(busy_portal(30))
    token = get(box, {"fields": "id", "limit": "10"}).json()["nextPageToken"]
    box.clock.advance(hours=4, seconds=1)
    box.emulator.add_session(SID)  # the Salesforce session itself is still good
    expired = get(box, {"nextPageToken": token, "fields": "id"})
    assert (expired.status_code, expired.json()["code"]) == (400, 210)
    box.emulator.pardot.token_record_cap = 20
    page = get(box, {"fields": "id", "limit": "20"})
    assert "nextPageToken" not in page.json()
    assert page.headers["Pardot-Warning"].startswith("203;")


def test_daily_allocation_and_a_business_unit_that_is_down(sandbox: SalesforceSandbox) -> None:
    pardot = sandbox.emulator.pardot
    pardot.daily_limit = pardot.usage + 1
    assert get(sandbox, {"fields": "id"}).status_code == 200
    spent = get(sandbox, {"fields": "id"})
    assert spent.json()["code"] == 122
    pardot.down = True
    down = get(sandbox, {"fields": "id"})
    assert (down.status_code, down.json()["code"]) == (503, 183)
