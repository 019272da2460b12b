"""Canonical activity properties: the one vocabulary scoring rules read.

Every adapter translates its CRM's activity properties into these keys, so a rule written once
(`url_contains`, `form_name_regex`, `asset_stages`, `properties: {member_status: attended}`)
works unchanged on every CRM. docs/activity-properties.md lists, per CRM and source, which raw
property feeds which key.

Raw CRM properties stay reachable under an explicit prefix, `raw.<CRM name>` (e.g.
`raw.hs_url`, `raw.hs_page_content_type`, `raw.Status`), for an admin whose rule needs one the
canonical set does not carry: `properties: {raw.hs_page_content_type: LANDING_PAGE}`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

URL = "url"
PAGE_TITLE = "page_title"
FORM_NAME = "form_name"
FORM_ID = "form_id"
CAMPAIGN = "campaign"
CAMPAIGN_TYPE = "campaign_type"
MEMBER_STATUS = "member_status"
WEBINAR_NAME = "webinar_name"
ASSET_STAGE = "asset_stage"
EMAIL_SUBJECT = "email_subject"
SUBJECT = "subject"
MILESTONE = "milestone"

CANONICAL_KEYS: dict[str, str] = {
    URL: "the page the contact was on (a page view's URL; a form's page URL)",
    PAGE_TITLE: "the viewed page's title",
    FORM_NAME: "the form's name (e.g. 'Request a demo')",
    FORM_ID: "the CRM's id of the form",
    CAMPAIGN: "the marketing campaign's name (an email's campaign, a Salesforce campaign)",
    CAMPAIGN_TYPE: "the campaign's type (Webinar, Web, Email, Event ...)",
    MEMBER_STATUS: "a campaign member's status, lower case (registered, attended, responded)",
    WEBINAR_NAME: "the webinar's name",
    ASSET_STAGE: "funnel stage of the page or asset: top, middle, bottom",
    EMAIL_SUBJECT: "a marketing or one-to-one email's subject line",
    SUBJECT: "a rep touch's title or subject (call, meeting, task)",
    MILESTONE: "a product trial milestone's name",
}
RAW_PREFIX = "raw."
# The id prefix of an activity known from its record alone until the CRM's activity read brings
# the canonical one (a HubSpot form submission from the contact's conversion properties:
# connectors/hubspot/conversions.py; the store keeps one of the two: sync/store/conversions.py).
STAND_IN = "recent-conversion:"

# Values compared case-insensitively anyway, but stored lower case so reports read alike.
_LOWERED = frozenset({ASSET_STAGE, MEMBER_STATUS})

# A translation: canonical key -> the raw property names that feed it, first non-empty wins.
Translation = Mapping[str, Sequence[str]]


def raw_key(name: str) -> str:
    """The prefixed name a raw CRM property is reachable under: `raw.hs_url`."""
    return RAW_PREFIX + name


def translate(raw: Mapping[str, object], translation: Translation) -> dict[str, str]:
    """Canonical properties from a CRM record's raw ones.

    Every non-empty raw property is kept as `raw.<name>`; each canonical key takes the first
    non-empty raw property its translation names. A raw property already named after a
    canonical key (e.g. a custom event property `asset_stage`) feeds that key when the
    translation gives it nothing."""
    out: dict[str, str] = {}
    for name, value in raw.items():
        if value is None or value == "":
            continue
        out[RAW_PREFIX + name] = value if isinstance(value, str) else str(value)
    for key, names in translation.items():
        for name in names:
            value = out.get(RAW_PREFIX + name)
            if value:
                out[key] = value.strip().lower() if key in _LOWERED else value
                break
    for key in CANONICAL_KEYS:
        if key in out:
            continue
        value = out.get(RAW_PREFIX + key)
        if value:
            out[key] = value.strip().lower() if key in _LOWERED else value
    return out


def stage_by_url(
    props: dict[str, str], stages: Mapping[str, Sequence[str]]
) -> dict[str, str] | None:
    """`props` with an `asset_stage` taken from its `url` by `stages` (stage -> lower-case URL
    parts, first match wins), or None when it has a stage already, no url or no match."""
    if not stages or ASSET_STAGE in props:
        return None
    url = props.get(URL)
    if not url:
        return None
    lowered = url.lower()
    for stage, needles in stages.items():
        if any(n in lowered for n in needles):
            return {**props, ASSET_STAGE: stage}
    return None


def property_name_problem(name: str) -> str | None:
    """Why `name` cannot appear in a rule's `properties:` filter, or None when it can."""
    if name in CANONICAL_KEYS:
        return None
    if name.startswith(RAW_PREFIX) and len(name) > len(RAW_PREFIX):
        return None
    return (
        f"activity property {name!r} is neither a canonical key ({', '.join(CANONICAL_KEYS)}) "
        f"nor a raw CRM property: write {RAW_PREFIX}{name} to match the CRM's own property, "
        "or use the canonical key (see docs/activity-properties.md)"
    )
