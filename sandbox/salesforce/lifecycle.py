"""Record lifecycle changes tests drive directly: lead conversion and merges.

Lead conversion (Lead object reference; "Convert Leads" help): the Lead keeps existing with
IsConverted = true, ConvertedDate, ConvertedContactId, ConvertedAccountId and the converted Status;
a Contact is created (and an Account unless one is given); open activities move to the Contact.
Merge (SOAP `merge()` / Apex `Database.merge`): losers are deleted with MasterRecordId set to the
master, and their activities and campaign memberships move to the master.
"""

from __future__ import annotations

from datetime import datetime

from sandbox.salesforce.errors import RecordError
from sandbox.salesforce.org import SalesforceOrg
from sandbox.salesforce.predicates import Record

CONVERTED_STATUS = "Closed - Converted"
_COPIED = (
    "FirstName",
    "LastName",
    "Email",
    "Phone",
    "Title",
    "OwnerId",
    "LeadSource",
    "HasOptedOutOfEmail",
    "DoNotCall",
    "LastActivityDate",
)


def convert_lead(
    org: SalesforceOrg,
    lead_id: str,
    *,
    account_id: str | None = None,
    converted_status: str = CONVERTED_STATUS,
) -> str:
    """Convert a Lead; returns the new Contact's id."""
    with org.lock:
        lead = org.get("Lead", lead_id)
        if lead is None or lead.get("IsDeleted"):
            raise KeyError(f"no live Lead {lead_id}")
        if lead["IsConverted"]:
            raise RecordError("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")
        at = org.now()
        if account_id is None:
            account = org.insert(
                "Account",
                {
                    "Name": lead["Company"],
                    "Website": lead.get("Website"),
                    "Industry": lead.get("Industry"),
                    "NumberOfEmployees": lead.get("NumberOfEmployees"),
                    "BillingCountry": lead.get("Country"),
                    "BillingState": lead.get("State"),
                    "OwnerId": lead["OwnerId"],
                },
                at=at,
            )
            account_id = account["Id"]
        values = {name: lead.get(name) for name in _COPIED}
        values |= {
            "AccountId": account_id,
            "MailingCountry": lead.get("Country"),
            "MailingState": lead.get("State"),
        }
        contact_schema = org.schema["Contact"]
        for spec in org.schema["Lead"].fields.values():
            if spec.custom and contact_schema.get(spec.name) is not None:
                values[spec.name] = lead.get(spec.name)
        contact = org.insert("Contact", values, at=at)
        lead.update(
            IsConverted=True,
            ConvertedDate=at.date(),
            ConvertedContactId=contact["Id"],
            ConvertedAccountId=account_id,
        )
        if converted_status in org.schema["Lead"].fields["status"].picklist:
            lead["Status"] = converted_status
        org.touch(lead, at)
        _move_related(org, lead["Id"], contact["Id"], at, contact=True)
        return str(contact["Id"])


def merge(org: SalesforceOrg, sobject: str, master_id: str, loser_ids: list[str]) -> None:
    """Merge losers into the master: losers deleted with MasterRecordId, children re-parented."""
    with org.lock:
        master = org.get(sobject, master_id)
        if master is None or master.get("IsDeleted"):
            raise KeyError(f"no live {sobject} {master_id}")
        at = org.now()
        for loser_id in loser_ids:
            loser = org.get(sobject, loser_id)
            if loser is None or loser.get("IsDeleted") or loser["Id"] == master["Id"]:
                raise KeyError(f"no live {sobject} {loser_id} to merge")
            loser["MasterRecordId"] = master["Id"]
            org.mark_deleted(sobject, loser, at)
            _move_related(org, loser["Id"], master["Id"], at, contact=sobject == "Contact")
        org.touch(master, at)


def _move_related(
    org: SalesforceOrg, old_id: str, new_id: str, at: datetime, *, contact: bool
) -> None:
    for sobject in ("Task", "Event"):
        for record in org.live(sobject):
            if record["WhoId"] == old_id:
                record["WhoId"] = new_id
                org.touch(record, at)
    for member in org.live("CampaignMember"):
        if old_id in (member["LeadId"], member["ContactId"]):
            key = "ContactId" if contact else "LeadId"
            member[key] = new_id
            org.derive("CampaignMember", member)
            org.touch(member, at)


def person(org: SalesforceOrg, record_id: str) -> Record:
    found = org.find(record_id)
    if found is None or found[0] not in ("Lead", "Contact"):
        raise KeyError(f"no Lead or Contact {record_id}")
    return found[1]
