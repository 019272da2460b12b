"""Demo requests as the end-to-end tests make them: the demo's VP of Sales at a 450-person company
(sync/demo_live.py's DEMO_FIELDS) submitting a HubSpot form through the sandbox's Forms API, or
created as a Salesforce Lead through simple-salesforce. Each test names who the person is."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
from hubspot import HubSpot

from sandbox.runtime import SandboxInfo
from sync.demo_live import DEMO_FIELDS


def hubspot_form(api: HubSpot, name: str = "Demo request") -> str:
    """The id of the portal's form called `name` (read through hubspot-api-client)."""
    forms = api.marketing.forms.forms_api.get_page(limit=100).results
    return str(next(f.id for f in forms if f.name == name))


def submit_form(
    info: SandboxInfo,
    form: str,
    email: str,
    *,
    context: Mapping[str, str] | None = None,
    **fields: str,
) -> None:
    """Submit `form` as `email` (DEMO_FIELDS, `fields` over them) through the Forms API; 200."""
    values = {"email": email, **DEMO_FIELDS, **fields}
    body: dict[str, Any] = {
        "fields": [{"objectTypeId": "0-1", "name": k, "value": v} for k, v in values.items()]
    }
    if context is not None:
        body["context"] = dict(context)
    answer = requests.post(
        f"{info.hubspot_base_url}/submissions/v3/integration/submit/{info.hubspot_portal_id}/{form}",
        json=body,
        verify=str(info.ca_file),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text


def salesforce_lead(api: Any, email: str, **fields: Any) -> str:
    """A Lead for the demo's VP (`fields` over them) through simple-salesforce; its id."""
    values = {
        "FirstName": DEMO_FIELDS["firstname"],
        "LastName": DEMO_FIELDS["lastname"],
        "Email": email,
        "Company": DEMO_FIELDS["company"],
        "Title": DEMO_FIELDS["jobtitle"],
        "NumberOfEmployees": int(DEMO_FIELDS["numemployees"]),
        "Country": DEMO_FIELDS["country"],
        "State": DEMO_FIELDS["state"],
        **fields,
    }
    return str(api.Lead.create(values)["id"])
