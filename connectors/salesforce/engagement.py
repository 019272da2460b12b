"""Web behaviour of Salesforce leads and contacts from Account Engagement (Pardot) API v5.

Salesforce itself keeps no page views, email opens or form fills; Account Engagement does, as
visitor activities of its prospects, each prospect synced to one Salesforce Lead or Contact.
With `salesforce.account_engagement.business_unit_id` set, the Salesforce connection reads them
as one ascending stream per run (the pipeline's `events` cursor, like HubSpot's web events):

    GET {base_url}/api/v5/objects/visitor-activities?fields=...&type=1,2,4,11
        &createdAtAfterOrEqualTo=<cursor - overlap>&orderBy=createdAt ASC&limit=1000
    Authorization: Bearer <the connection's Salesforce access token>
    Pardot-Business-Unit-Id: <business unit id>

then `nextPageToken` pages (sent with `fields` only). A token sequence that stops at Account
Engagement's 100,000-record ceiling (`Pardot-Warning: 203`) restarts from the last `createdAt`
read. Each activity names its person by `prospect.salesforceId` (key prefix 00Q: Lead, 003:
Contact); an activity of a prospect not synced to Salesforce is skipped.

| type | meaning | activity kind | canonical keys |
|---|---|---|---|
| 2 View with `visitorPageView` | tracked page view | page_view | url, page_title |
| 4 Success, `formId` / `formHandlerId` | form / form handler submission | form_submission | form_name (`details`), form_id |
| 11 Open | email open | email_open | email_subject (`details`) |
| 1 Click with `emailId` | email link click | email_click | email_subject (`details`) |

`campaign.name` feeds `campaign`; with `salesforce.campaign_stage_field` an activity's connected
Salesforce campaign (`campaign.salesforceId`: a form's, a tracked page's) gives `asset_stage`, one
Campaign query per page.
Every raw field stays reachable as `raw.<field>`. A business
unit that refuses (bad token, wrong business unit id or host, daily limit) or does not answer is a
warning in the run and its report (`warnings`), never a stopped run: Salesforce's own records are
pulled and decided as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import requests
import structlog

from config.connections import AccountEngagementSettings
from connectors import activity_keys as keys
from connectors.base import ApiUsage
from connectors.mapping import parse_timestamp
from connectors.records import Activity, ActivityKind, Actor
from connectors.salesforce.connector import WEB_BEHAVIOUR, SalesforceConnector

log = structlog.get_logger("handoff.salesforce.engagement")
PATH = "/api/v5/objects/visitor-activities"
FIELDS = (
    "id,type,typeName,details,createdAt,prospectId,prospect.salesforceId,formId,formHandlerId,"
    "emailId,visitorPageView.url,visitorPageView.title,campaign.name,campaign.salesforceId"
)
TYPES = "1,2,4,11"
_HINTS = {
    184: "Account Engagement does not accept the Salesforce access token: the connected app "
    "needs the pardot_api scope and the integration user must be synced to the business unit",
    181: "set salesforce.account_engagement.business_unit_id",
    182: "salesforce.account_engagement.business_unit_id is malformed (18 characters, 0Uv...)",
    201: "check salesforce.account_engagement.business_unit_id (Setup > Business Unit Setup) and "
    "base_url (pi.pardot.com for production, pi.demo.pardot.com for developer orgs/sandboxes)",
    122: "the business unit's daily API allocation is spent; it resets at midnight in the "
    "account's time zone",
    66: "more than five concurrent requests reached the business unit; the next run retries",
}
_SIGNALS: dict[int, tuple[ActivityKind, str, keys.Translation]] = {
    2: (
        ActivityKind.PAGE_VIEW,
        "web",
        {keys.URL: ("visitorPageView.url",), keys.PAGE_TITLE: ("visitorPageView.title",)},
    ),
    4: (
        ActivityKind.FORM_SUBMISSION,
        "form",
        {keys.FORM_NAME: ("details",), keys.FORM_ID: ("formId", "formHandlerId")},
    ),
    11: (ActivityKind.EMAIL_OPEN, "email", {keys.EMAIL_SUBJECT: ("details",)}),
    1: (ActivityKind.EMAIL_CLICK, "email", {keys.EMAIL_SUBJECT: ("details",)}),
}


class EngagementRefused(Exception):
    """Account Engagement answered with an error or not at all (a warning, not a failure)."""


@dataclass
class EngagementReader:
    settings: AccountEngagementSettings
    connection: str
    token: Callable[[bool], str]  # (renew) -> the Salesforce access token
    usage: ApiUsage
    ca_file: str | None = None
    timeout: float = 30.0
    warnings: list[str] = field(default_factory=list)
    skipped: int = 0  # activities of prospects not synced to a Salesforce lead or contact
    # Salesforce campaign ids -> their asset's funnel stage (`salesforce.campaign_stage_field`)
    stages: Callable[[set[str]], dict[str, str]] | None = None

    def activities(self, since: datetime | None) -> Iterator[Activity]:
        """Visitor activities at or after `since`, oldest first; a refusal ends the stream with
        a warning instead of an exception."""
        unit = self.settings.business_unit_id
        if unit is None:
            self.warnings.append(
                "Account Engagement is configured without a business unit id "
                "(salesforce.account_engagement.business_unit_id, e.g. ${PARDOT_BUSINESS_UNIT_ID}"
                " is empty): no page views, form fills or email engagement this run"
            )
            return
        with requests.Session() as http:
            http.trust_env = False  # the CA below, not REQUESTS_CA_BUNDLE or proxies
            http.verify = self.ca_file or True
            try:
                yield from self._stream(http, unit, since)
            except EngagementRefused as refused:
                self.warnings.append(
                    f"Account Engagement business unit {unit} at {self.settings.base_url}: "
                    f"{refused}; no web behaviour from it this run, the rest of the run continues"
                )
                log.warning("engagement.refused", connection=self.connection, reason=str(refused))

    def probe(self) -> str:
        """Whether the business unit answers a one-record read (`handoff crm setup --check`)."""
        unit = self.settings.business_unit_id
        if unit is None:
            return "not read: salesforce.account_engagement.business_unit_id is empty"
        with requests.Session() as http:
            http.trust_env = False
            http.verify = self.ca_file or True
            try:
                self._get(http, unit, {"fields": "id", "limit": "1"})
            except EngagementRefused as refused:
                return f"Account Engagement business unit {unit}: {refused}"
        return (
            f"Account Engagement visitor activities (business unit {unit} at "
            f"{self.settings.base_url}): page views, form and form-handler fills, email opens "
            "and clicks"
        )

    def _stream(
        self, http: requests.Session, unit: str, since: datetime | None
    ) -> Iterator[Activity]:
        start, seen_at_start = since, set[int]()
        while True:
            params = {"fields": FIELDS, "type": TYPES, "orderBy": "createdAt ASC"}
            params["limit"] = str(self.settings.page_size)
            if start is not None:
                params["createdAtAfterOrEqualTo"] = start.isoformat(timespec="seconds")
            last: datetime | None = None
            ids_at_last: set[int] = set()
            capped = False
            while True:
                body, warning = self._get(http, unit, params)
                page: list[Activity] = []
                for raw in body.get("values") or []:
                    if int(raw.get("id") or 0) in seen_at_start:
                        continue
                    try:
                        created = parse_timestamp(raw.get("createdAt"))
                    except (TypeError, ValueError):
                        self.skipped += 1  # no usable time: it cannot be placed in the stream
                        continue
                    if created != last:
                        last, ids_at_last = created, set()
                    ids_at_last.add(int(raw.get("id") or 0))
                    activity = self._activity(raw, created)
                    if activity is not None:
                        page.append(activity)
                yield from self._staged(page)
                token = body.get("nextPageToken")
                capped = warning.startswith("203")
                if not token:
                    break
                params = {"fields": FIELDS, "nextPageToken": str(token)}
            if not capped or last is None or last == start:
                return
            start, seen_at_start = last, ids_at_last  # past the 100,000-record token ceiling

    def _staged(self, page: list[Activity]) -> list[Activity]:
        """A page's form fills with their campaign's funnel stage (`asset_stage`), read from the
        connected Salesforce campaign in one query per page."""
        ids = {
            a.properties["raw.campaign.salesforceId"]
            for a in page
            if "raw.campaign.salesforceId" in a.properties and keys.ASSET_STAGE not in a.properties
        }
        if self.stages is None or not ids:
            return page
        stages = self.stages(ids)
        return [
            replace(a, properties={**a.properties, keys.ASSET_STAGE: stage})
            if (stage := stages.get(a.properties.get("raw.campaign.salesforceId", "")))
            else a
            for a in page
        ]

    def _get(
        self, http: requests.Session, unit: str, params: Mapping[str, str]
    ) -> tuple[dict[str, Any], str]:
        url = self.settings.base_url.rstrip("/") + PATH
        for renew in (False, True):
            headers = {
                "Authorization": f"Bearer {self.token(renew)}",
                "Pardot-Business-Unit-Id": unit,
            }
            try:
                response = http.get(url, params=params, headers=headers, timeout=self.timeout)
            except requests.RequestException as exc:
                raise EngagementRefused(f"did not answer ({type(exc).__name__})") from None
            self.usage.count("pardot.visitor_activities")
            if response.status_code == 200:
                try:
                    body = response.json()
                except ValueError:
                    raise EngagementRefused("answered with something that is not JSON") from None
                return body, response.headers.get("Pardot-Warning", "")
            code, message = _error(response)
            if code == 184 and not renew:
                continue  # an expired session: renew it once (when the auth mode can)
            hint = _HINTS.get(code or 0, "it is unavailable; the next run tries again")
            raise EngagementRefused(
                f"refused with HTTP {response.status_code} code {code}: {message} ({hint})"
            )
        raise AssertionError("unreachable")  # pragma: no cover

    def _activity(self, raw: Mapping[str, Any], created: datetime) -> Activity | None:
        signal = _SIGNALS.get(int(raw.get("type") or 0))
        person = (raw.get("prospect") or {}).get("salesforceId") or ""
        if signal is None or not str(person).startswith(("00Q", "003")):
            self.skipped += 1
            return None
        kind, channel, translation = signal
        flat = _flatten(raw)
        if kind is ActivityKind.PAGE_VIEW and not flat.get("visitorPageView.url"):
            return None  # a form or landing-page view, not a tracked page
        if kind is ActivityKind.EMAIL_CLICK and not flat.get("emailId"):
            return None  # a file or custom-redirect click
        properties = keys.translate(flat, {**translation, keys.CAMPAIGN: ("campaign.name",)})
        properties["source"] = "account_engagement"
        return Activity(
            connection=self.connection,
            id=f"pardot-{raw['id']}",
            contact_id=str(person),
            kind=kind,
            occurred_at=created,
            actor=Actor.CONTACT,
            channel=channel,
            properties=properties,
        )


def _flatten(raw: Mapping[str, Any]) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, value in raw.items():
        if isinstance(value, Mapping):
            out.update({f"{name}.{k}": v for k, v in value.items() if not isinstance(v, Mapping)})
        elif value is not None:
            out[name] = value
    return out


def _error(response: requests.Response) -> tuple[int | None, str]:
    try:
        body = response.json()
    except ValueError:
        return None, response.reason or "no error body"
    if isinstance(body, dict):
        code = body.get("code")
        return (int(code) if isinstance(code, int) else None), str(body.get("message") or "")
    return None, str(body)[:200]


class EngagedSalesforceConnector(SalesforceConnector):
    """The Salesforce connector plus Account Engagement's visitor activities as the run's web
    event stream (`connectors.base.ActivityStream`)."""

    streams_events = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = self.settings.account_engagement
        assert settings is not None
        self.engagement = EngagementReader(
            settings,
            self.name,
            self._access_token,
            self.usage,
            ca_file=str(self.settings.ca_file) if self.settings.ca_file else None,
            timeout=self.settings.timeout_seconds,
            stages=self.campaign_stages if self.settings.campaign_stage_field else None,
        )
        self.warnings = self.engagement.warnings

    def _access_token(self, renew: bool) -> str:
        self.sf  # noqa: B018 - logs in on first use
        if renew and self.tokens.can_refresh:
            self.tokens.refresh(self.session)
        return str(self.tokens.token or "")

    def pull_event_stream(self, since: datetime | None) -> Iterator[Activity]:
        return self.engagement.activities(since)

    def behaviour_sources(self) -> dict[str, str]:
        return {**super().behaviour_sources(), WEB_BEHAVIOUR: self.engagement.probe()}

    def _keep(self, activity: Activity) -> bool:
        """Salesforce's activities, except campaign responses mapped as form submissions when a
        business unit is set: Account Engagement records the fill itself (with the form's or form
        handler's name), and its completion action's `Responded` membership would count it twice."""
        return not (
            self.engagement.settings.business_unit_id is not None
            and activity.kind is ActivityKind.FORM_SUBMISSION
            and activity.properties.get("source") == "CampaignMember"
        )
