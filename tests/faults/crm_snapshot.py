"""What the CRMs hold, read through their own client libraries (hubspot-api-client,
simple-salesforce) over HTTPS: every person's owner (as an email), stage, score fields, and
every task Handoff created (by person, task key, owner and subject)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import requests
from hubspot import HubSpot
from simple_salesforce import Salesforce

from sandbox.runtime import Sandbox


def read_hubspot(sandbox: Sandbox, crm: dict[str, dict[str, Any]], tasks: Counter[Any]) -> None:
    info = sandbox.info
    client = HubSpot(
        access_token=info.hubspot_token, host=info.hubspot_base_url, ssl_ca_cert=str(info.ca_file)
    )
    owners = {str(o.id): o.email for o in client.crm.owners.owners_api.get_page(limit=500).results}
    props = [
        "email", "hubspot_owner_id", "lifecyclestage", "handoff_score", "handoff_score_fit",
        "handoff_score_behaviour", "handoff_score_reasons",
    ]  # fmt: skip
    emails: dict[str, str] = {}
    after = None
    while True:
        page = client.crm.contacts.basic_api.get_page(limit=100, properties=props, after=after)
        for contact in page.results:
            p = contact.properties
            emails[str(contact.id)] = p.get("email") or contact.id
            crm[f"hubspot:{emails[str(contact.id)]}"] = {
                "owner": owners.get(p.get("hubspot_owner_id") or ""),
                "stage": p.get("lifecyclestage"),
                "score": p.get("handoff_score"),
                "fit": p.get("handoff_score_fit"),
                "behaviour": p.get("handoff_score_behaviour"),
                "reasons": p.get("handoff_score_reasons"),
            }
        if page.paging is None or page.paging.next is None:
            break
        after = page.paging.next.after
    task_props = ["handoff_task_key", "hubspot_owner_id", "hs_task_subject"]
    after = None
    while True:
        page = client.crm.objects.tasks.basic_api.get_page(
            limit=100, properties=task_props, associations=["contacts"], after=after
        )
        for task in page.results:
            p = task.properties
            if not p.get("handoff_task_key"):
                continue
            links = (task.associations or {}).get("contacts")
            who = ",".join(sorted(emails.get(str(link.id), str(link.id)) for link in links.results)) if links else ""  # fmt: skip
            owner = owners.get(p.get("hubspot_owner_id") or "") or ""
            tasks[
                ("hubspot", who, p["handoff_task_key"], owner, p.get("hs_task_subject") or "")
            ] += 1
        if page.paging is None or page.paging.next is None:
            break
        after = page.paging.next.after


def read_salesforce(sandbox: Sandbox, crm: dict[str, dict[str, Any]], tasks: Counter[Any]) -> None:
    info = sandbox.info
    session = requests.Session()
    session.trust_env = False
    session.verify = str(info.ca_file)
    client: Any = Salesforce(
        instance_url=info.salesforce_instance_url,
        session_id=info.salesforce_session_id,
        session=session,
    )
    rows = client.query_all("SELECT Id, Email, UserType FROM User")["records"]
    # a record owned by the integration user has no rep yet: no owner, as in HubSpot
    users = {u["Id"]: u["Email"] for u in rows if u["UserType"] != "AutomatedProcess"}
    who: dict[str, str] = {}
    for sobject, stage in (("Lead", "Status"), ("Contact", None)):
        names = ["Id", "Email", "OwnerId", "Handoff_Score__c", "Handoff_Score_Fit__c",
                 "Handoff_Score_Behaviour__c", "Handoff_Score_Reasons__c"]  # fmt: skip
        if stage:
            names.append(stage)
        for row in client.query_all(f"SELECT {', '.join(names)} FROM {sobject}")["records"]:
            who[row["Id"]] = row["Email"] or row["Id"]
            crm[f"salesforce:{who[row['Id']]}"] = {
                "object": sobject,
                "owner": users.get(row["OwnerId"] or ""),
                "stage": row.get(stage) if stage else None,
                "score": row.get("Handoff_Score__c"),
                "fit": row.get("Handoff_Score_Fit__c"),
                "behaviour": row.get("Handoff_Score_Behaviour__c"),
                "reasons": row.get("Handoff_Score_Reasons__c"),
            }
    soql = "SELECT WhoId, OwnerId, Subject, Handoff_Task_Key__c FROM Task"
    for row in client.query_all(soql)["records"]:
        if row.get("Handoff_Task_Key__c"):
            key = ("salesforce", who.get(row["WhoId"] or "", str(row["WhoId"])),
                   row["Handoff_Task_Key__c"], users.get(row["OwnerId"] or "") or "",
                   row.get("Subject") or "")  # fmt: skip
            tasks[key] += 1
