"""What the org holds now, as counts (for `handoff demo` and drills): the Salesforce side of
`HubSpotEmulator.summary`. Leads by `Status` (the lifecycle stage the example config maps), who
has an owner (a record owned by the integration user has none a rep holds), what Handoff scored,
and the tasks: open ones and Handoff's own (`Handoff_Task_Key__c`). Converted Leads are counted
as their Contacts."""

from __future__ import annotations

from collections import Counter

from sandbox.salesforce.org import SalesforceOrg


def org_summary(org: SalesforceOrg) -> dict[str, int]:
    counts: Counter[str] = Counter()
    with org.lock:
        for sobject, noun in (("Lead", "leads"), ("Contact", "contacts")):
            for record in org.live(sobject):
                if record.get("IsConverted"):
                    continue
                counts[noun] += 1
                if sobject == "Lead":
                    counts[f"{noun} in stage {record.get('Status') or '(none)'}"] += 1
                owner = record.get("OwnerId")
                counts[f"{noun} with an owner"] += bool(owner) and owner != org.api_user_id
                counts[f"{noun} scored by Handoff"] += record.get("Handoff_Score__c") is not None
        for task in org.live("Task"):
            counts["open tasks"] += not task.get("IsClosed")
            counts["tasks created by Handoff"] += bool(task.get("Handoff_Task_Key__c"))
    return dict(counts)
