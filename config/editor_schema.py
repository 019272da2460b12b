"""The JSON Schema editors complete `handoff.yaml` with (`handoff config schema`, `handoff init`).

The validation schema of `HandoffConfig`, plus what only the loader knew: the canonical field
names a connection maps (each with what it means), the canonical objects, and the activity
sources of each CRM. Names are offered, not enforced, in the editor: the loader stays the judge
(`handoff config validate`), so its messages (with the closest name) are the ones people see.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from config.connections import CANONICAL_FIELDS

SCHEMA_FILE = Path(__file__).with_name("handoff.schema.json")
REGENERATE = "python -m config.editor_schema > config/handoff.schema.json"

CANONICAL_DESCRIPTIONS: dict[str, str] = {
    "email": "the person's email: identity across CRMs, free-mail and domain rules",
    "first_name": "first name (reports, tasks)",
    "last_name": "last name (reports, tasks)",
    "title": "job title: seniority and title rules (scoring.fit)",
    "company": "company name (reports, tasks)",
    "company_domain": "company web domain: named accounts, domain penalties, lead-to-account",
    "company_size": "employees (number or band): size bands in fit rules and territories",
    "industry": "industry: fit rules and territory matches",
    "country": "country: ICP and territory matches",
    "state": "state / province: territory matches",
    "region": "sales region: territory matches",
    "phone": "phone number (validated; a bad one can cost points)",
    "lifecycle_stage": "lifecycle stage (managed): map canonical stages under values",
    "lead_status": "sales' lead status: touches, rejections and recycle codes",
    "rejection_reason": "why sales rejected the lead (a reason code)",
    "owner_id": "record owner (managed): where routing writes the assigned rep",
    "unsubscribed": "opted out of email: an MQL blocker",
    "lead_source": "original source: behaviour and fit rules",
    "tech_stack": "technologies the company uses: fit rules",
    "score": "Handoff's total score (managed, a custom number property)",
    "score_fit": "the fit part of the score (managed)",
    "score_behaviour": "the behaviour part of the score (managed)",
    "score_reasons": "the reasons behind the score, one line each (managed)",
    "score_model": "the scoring model version that wrote the score (managed)",
    "score_breakdown": "points per rule and the model version, machine-readable JSON (managed)",
    "out_of_office": "the owner is out of office (routing skips them)",
    "external_id": "the person's id in another system: identity across CRMs",
    "account_id": "the person's account / company record: account owner routing",
    "is_converted": "Salesforce: the lead was converted",
    "converted_contact_id": "Salesforce: the contact a lead was converted to",
}

ACTIVITY_SOURCES = {
    "hubspot": [
        "calls",
        "emails",
        "meetings",
        "notes",
        "tasks",
        "form_submissions",
        "page_views",
        "email_events",
    ],
    "salesforce": ["Task", "Event", "CampaignMember"],
}


# Offered for completion, never enforced (a portal or org may have its own values):
# HubSpot's default `lifecyclestage` and `hs_lead_status` options, Salesforce's default Lead
# Status picklist (the sandbox serves the same: sandbox/hubspot/schema.py, sandbox/salesforce/).
CRM_LIFECYCLE_STAGES = [
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
]
LEAD_STATUSES = [
    "NEW",
    "OPEN",
    "IN_PROGRESS",
    "OPEN_DEAL",
    "UNQUALIFIED",
    "ATTEMPTED_TO_CONTACT",
    "CONNECTED",
    "BAD_TIMING",
    "Open - Not Contacted",
    "Working - Contacted",
    "Closed - Converted",
    "Closed - Not Converted",
]


def editor_schema() -> dict[str, Any]:
    from config.docs import config_schema

    schema = config_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "handoff.yaml"
    defs = schema["$defs"]
    fields = {
        name: {
            "$ref": "#/$defs/FieldMapping",
            "description": CANONICAL_DESCRIPTIONS.get(name, "a canonical field"),
        }
        for name in sorted(CANONICAL_FIELDS)
    }
    objects = defs["Connection"]["properties"]["objects"]
    objects["properties"] = {
        kind: {
            "type": "object",
            "description": f"canonical field -> the {kind}'s CRM property",
            "properties": fields,
            "additionalProperties": {"$ref": "#/$defs/FieldMapping"},
        }
        for kind in ("contact", "lead")
    }
    objects["propertyNames"] = {"enum": ["contact", "lead"]}
    source = defs["ActivityMapping"]["properties"]["source"]
    source["examples"] = [s for names in ACTIVITY_SOURCES.values() for s in names]
    _names_offered(defs, fields)
    _environment_anywhere(schema)
    return schema


def _names_offered(defs: dict[str, Any], fields: dict[str, Any]) -> None:
    """Closed lists the loader enforces (config/references.py), offered in the editor too."""
    from config.references import CLOCK_LANES
    from scoring.lifecycle import LifecycleStage

    stages = [s.value for s in LifecycleStage]
    policy = defs["SlaPolicy"]["properties"]
    policy["lane"]["enum"] = list(CLOCK_LANES)
    policy["stages"]["items"] = {"enum": stages}
    crm_stages = {"type": "string", "examples": CRM_LIFECYCLE_STAGES}
    fields["lifecycle_stage"] = {
        "allOf": [
            {"$ref": "#/$defs/FieldMapping"},
            {
                "properties": {
                    "values": {
                        "propertyNames": {"enum": stages},
                        "additionalProperties": crm_stages,
                    }
                }
            },
        ],
        "description": CANONICAL_DESCRIPTIONS["lifecycle_stage"],
    }
    lifecycle = defs["LifecycleConfig"]["properties"]
    for key in ("working_statuses", "accepted_statuses"):  # the CRM's values: offered, not closed
        lifecycle[key]["items"] = {"type": "string", "examples": LEAD_STATUSES}


ENVIRONMENT_VARIABLE = {
    "type": "string",
    "pattern": r"^\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}$",
    "description": "${NAME} or ${NAME:-default}: the value comes from the environment",
}
_META = ("description", "default", "title", "examples")


def _accepts(prop: dict[str, Any], defs: dict[str, Any]) -> set[str]:
    """What kinds of value a property schema takes: a JSON type, or 'closed' (an enum, a
    pattern or a format: a string the loader could not read `${NAME}` from)."""
    if "$ref" in prop:
        return _accepts(defs[prop["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in prop or "allOf" in prop:
        branches = prop.get("anyOf", prop.get("allOf", []))
        return set().union(*(_accepts(b, defs) for b in branches))
    if "enum" in prop or "const" in prop:
        return {"closed"}
    kind = prop.get("type")
    if kind == "string":
        return {"closed"} if ("pattern" in prop or "format" in prop) else {"string"}
    return {str(kind)} if kind else {"any"}


def _environment_anywhere(schema: dict[str, Any]) -> None:
    """The loader reads `${NAME}` in any value (config/loader.py): a number, a flag or an enum
    written as `${HUBSPOT_PORTAL_ID}` is valid, so the editor must not flag it."""
    defs = schema["$defs"]
    defs["EnvironmentVariable"] = ENVIRONMENT_VARIABLE
    scalars = {"integer", "number", "boolean", "null", "closed"}
    owners = [schema, *(d for d in defs.values() if d is not ENVIRONMENT_VARIABLE)]
    for owner in owners:
        for name, prop in list(owner.get("properties", {}).items()):
            kinds = _accepts(prop, defs)
            if kinds <= scalars and kinds - {"null"}:
                meta = {k: prop[k] for k in _META if k in prop}
                rest = {k: v for k, v in prop.items() if k not in _META}
                owner["properties"][name] = {
                    **meta,
                    "anyOf": [rest, {"$ref": "#/$defs/EnvironmentVariable"}],
                }


def render() -> str:
    return json.dumps(editor_schema(), indent=2, sort_keys=True) + "\n"


def main() -> None:
    import sys

    sys.stdout.write(render())


if __name__ == "__main__":
    main()
