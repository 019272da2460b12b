"""HubSpot's association type ids: the HUBSPOT_DEFINED id of each (from, to) object pair, the pair
of each id, and the primary contact-to-company label (1; company-to-contact primary is 2)."""

from __future__ import annotations

# crm-api-notes §2, `hubspot/crm/association_type.py`: HUBSPOT_DEFINED type ids per pair.
ASSOCIATION_TYPE_IDS: dict[tuple[str, str], int] = {
    ("tasks", "contacts"): 204,
    ("contacts", "tasks"): 203,
    ("notes", "contacts"): 202,
    ("contacts", "notes"): 201,
    ("meetings", "contacts"): 200,
    ("contacts", "meetings"): 199,
    ("emails", "contacts"): 198,
    ("contacts", "emails"): 197,
    ("calls", "contacts"): 194,
    ("contacts", "calls"): 193,
    ("contacts", "companies"): 279,
    ("companies", "contacts"): 280,
    ("tasks", "companies"): 192,
    # deals and tickets (HubSpot's association type id table, "Associations v4" guide)
    ("deals", "contacts"): 3,
    ("contacts", "deals"): 4,
    ("deals", "companies"): 341,
    ("companies", "deals"): 342,
    ("tickets", "contacts"): 16,
    ("contacts", "tickets"): 15,
    ("calls", "deals"): 206,
    ("deals", "calls"): 205,
    ("emails", "deals"): 210,
    ("deals", "emails"): 209,
    ("meetings", "deals"): 212,
    ("deals", "meetings"): 211,
    ("notes", "deals"): 214,
    ("deals", "notes"): 213,
    ("tasks", "deals"): 216,
    ("deals", "tasks"): 215,
    ("communications", "contacts"): 82,
    ("contacts", "communications"): 81,
}
PAIR_OF_TYPE_ID = {type_id: pair for pair, type_id in ASSOCIATION_TYPE_IDS.items()}
PRIMARY_CONTACT_TO_COMPANY = 1
