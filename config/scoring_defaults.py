"""The worked default scoring model of the domain notes, as plain data (the same shape as the
`scoring:` section of handoff.yaml). `config.scoring` validates it into the config defaults."""

from __future__ import annotations

from typing import Any

FREE_MAIL = [
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "hotmail.com", "outlook.com",
    "live.com", "msn.com", "aol.com", "icloud.com", "me.com", "mail.com", "gmx.com", "gmx.de",
    "web.de", "proton.me", "protonmail.com", "yandex.com", "yandex.ru", "zoho.com", "qq.com",
    "163.com",
]  # fmt: skip

ACADEMIC_SUFFIXES = [
    ".edu", ".ac.uk", ".edu.au", ".ac.nz", ".ac.jp", ".edu.cn", ".ac.in", ".edu.in", ".ac.za",
    ".edu.sg", ".ac.kr", ".edu.br", ".ac.at", ".ac.il",
]  # fmt: skip

SENIORITY_LEVELS: list[dict[str, Any]] = [
    {"name": "C-suite", "points": 20,
     "pattern": r"\b(chief|ceo|cto|cfo|coo|cmo|cro|cio|(?<!vice )(?<!vice-)president|founder)\b"},
    {"name": "VP", "points": 15, "pattern": r"\b(vp|svp|evp|vice[- ]president|head of)\b"},
    {"name": "Director", "points": 10, "pattern": r"\bdirector\b"},
    {"name": "Manager", "points": 5, "pattern": r"\b(manager|lead)\b"},
]  # fmt: skip

FIT_RULES: list[dict[str, Any]] = [
    {"id": "size_sweet_spot", "label": "{value}-person company", "field": "company_size",
     "at_least": 50, "below": 500, "points": 15},
    {"id": "size_upper_mid", "label": "{value}-person company", "field": "company_size",
     "at_least": 500, "below": 2000, "points": 10},
    {"id": "industry_match", "label": "{value}", "field": "industry", "points": 15,
     "in": ["software", "saas", "computer software", "internet", "information technology",
            "information technology and services", "technology", "financial services",
            "fintech"]},
    {"id": "supported_region", "label": "Supported region", "field": "country", "points": 10,
     "in": ["us", "usa", "united states", "ca", "canada", "gb", "uk", "united kingdom", "ie",
            "ireland", "de", "germany", "fr", "france", "nl", "netherlands", "au", "australia"]},
    {"id": "tech_stack", "label": "Compatible stack", "field": "tech_stack", "points": 5,
     "in": ["hubspot", "salesforce", "segment", "snowflake"]},
]  # fmt: skip

HIGH_INTENT_FORMS = r"demo|pricing|quote|contact[ _-]?sales|talk to sales"


def _page(*urls: str) -> dict[str, Any]:
    return {"kinds": ["page_view"], "url_contains": list(urls)}


def _asset(stage: str) -> dict[str, Any]:
    return {"kinds": ["form_submission", "page_view"], "asset_stages": [stage]}


def _kind(kind: str) -> dict[str, Any]:
    return {"kinds": [kind]}


BEHAVIOUR_RULES: list[dict[str, Any]] = [
    {"id": "pricing_visit", "label": "Visited pricing {count}x", "match": _page("/pricing"),
     "points": 20, "cap": 25},
    {"id": "pricing_repeat", "label": "Pricing 2+ times in 7 days", "match": _page("/pricing"),
     "points": 10, "min_count": 2, "window": "7d"},
    {"id": "high_intent_form", "label": "High-intent form: {assets}", "points": 20, "cap": 25,
     "match": {"kinds": ["form_submission"], "form_name_regex": HIGH_INTENT_FORMS}},
    {"id": "webinar_attended", "label": "Attended webinar {count}x: {assets}",
     "match": _kind("webinar_attended"), "points": 15, "cap": 20},
    {"id": "webinar_registered", "label": "Registered for webinar{s}: {assets}",
     "match": _kind("webinar_registered"), "points": 2, "cap": 4},
    {"id": "bottom_funnel", "label": "Bottom-funnel content {count}x: {assets}", "match": _asset("bottom"),
     "points": 12, "cap": 24},
    {"id": "middle_funnel", "label": "Mid-funnel content {count}x: {assets}", "match": _asset("middle"),
     "points": 5, "cap": 10},
    {"id": "top_funnel", "label": "Top-funnel content {count}x: {assets}", "match": _asset("top"),
     "points": 1, "cap": 5},
    {"id": "email_opens", "label": "3+ emails opened in 7 days", "match": _kind("email_open"),
     "points": 8, "min_count": 3, "window": "7d"},
    {"id": "email_click", "label": "Clicked {count} email{s}: {assets}", "match": _kind("email_click"),
     "points": 3, "cap": 9},
    {"id": "return_visits", "label": "Back on the site 3+ days in 7", "match": _kind("page_view"),
     "points": 12, "min_count": 3, "window": "7d", "distinct_days": True},
    {"id": "trial_milestone", "label": "Trial milestone {count}x: {assets}",
     "match": _kind("trial_milestone"), "points": 15, "cap": 30},
]  # fmt: skip


def _form(regex: str) -> dict[str, Any]:
    return {"kinds": ["form_submission"], "form_name_regex": regex}


FAST_LANE_TRIGGERS: list[dict[str, Any]] = [
    {"id": "demo_request", "label": "Requested a demo", "match": _form("demo")},
    {"id": "pricing_inquiry", "label": "Pricing inquiry", "match": _form("pricing|quote")},
    {"id": "contact_sales", "label": "Contact-sales form",
     "match": _form("contact[ _-]?sales|talk to sales")},
    {"id": "referral", "label": "Inbound referral", "field": "lead_source",
     "values": ["referral", "partner referral", "customer referral"]},
    {"id": "trial_usage", "label": "Trial usage milestone", "match": _kind("trial_milestone")},
]  # fmt: skip

REJECTION_CODES: dict[str, str] = {
    "not_icp": "disqualify",
    "no_budget": "recycle",
    "bad_timing": "recycle",
    "duplicate": "disqualify",
    "student": "disqualify",
    "competitor": "disqualify",
    "existing_customer": "disqualify",
    "out_of_territory": "recycle",
}
