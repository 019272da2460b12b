"""Changes made through the CRMs' own APIs between a full and an incremental sync, as users
would (job titles), paced under the portal's limits (this helper is not Handoff)."""

from __future__ import annotations

import time
from typing import Any

PRO_BURST = 190 / 10.0  # calls per second, HubSpot Professional


def make_changes(info: dict[str, Any], count: int, crm: str) -> int:
    """Change `count` people's job titles through the CRM's own API, as users would."""
    if crm == "salesforce":
        return make_salesforce_changes(info, count)
    return make_hubspot_changes(info, count)


def make_salesforce_changes(info: dict[str, Any], count: int) -> int:
    """sObject Collections PATCH of Lead titles, 200 a call."""
    import requests
    from simple_salesforce import Salesforce

    session = requests.Session()
    session.trust_env = False
    session.verify = info["ca_file"]
    sf = Salesforce(
        instance_url=info["salesforce"]["instance_url"],
        session_id=info["salesforce"]["session_id"],
        session=session,
        version="59.0",
    )
    ids = [
        r["Id"]
        for r in sf.query_all_iter(f"SELECT Id FROM Lead WHERE IsConverted = false LIMIT {count}")
    ]
    calls = 0
    for start in range(0, len(ids), 200):
        records = [
            {"attributes": {"type": "Lead"}, "id": i, "Title": "VP of Revenue Operations"}
            for i in ids[start : start + 200]
        ]
        sf.restful(
            "composite/sobjects", method="PATCH", json={"allOrNone": False, "records": records}
        )
        calls += 1
    return calls


def make_hubspot_changes(info: dict[str, Any], count: int) -> int:
    """Change `count` contacts' job titles through the HubSpot API (batch update, 100 a call)."""
    from hubspot import HubSpot

    client = HubSpot(
        access_token=info["hubspot"]["token"],
        host=info["hubspot"]["base_url"],
        ssl_ca_cert=info["ca_file"],
    )
    ids: list[str] = []
    after = None
    while len(ids) < count:
        page = client.crm.contacts.basic_api.get_page(limit=100, after=after)
        time.sleep(1 / PRO_BURST)  # this helper stays under the limit too (it is not Handoff)
        ids += [c.id for c in page.results]
        if not page.paging:
            break
        after = page.paging.next.after
    calls = 0
    for start in range(0, min(count, len(ids)), 100):
        inputs = [
            {"id": i, "properties": {"jobtitle": "VP of Revenue Operations"}}
            for i in ids[start : min(start + 100, count)]
        ]
        client.crm.contacts.batch_api.update({"inputs": inputs})
        calls += 1
        time.sleep(1 / PRO_BURST)
    return calls
