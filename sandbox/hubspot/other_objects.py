"""Standard object types a Professional portal has that Handoff neither reads nor writes: deals,
tickets, communications, products, line items, quotes, postal mail, goal targets, leads, deal
splits, feedback submissions. The sandbox serves them (properties, empty object lists, search, batch read,
associations) so third-party connectors, which read every standard object, run on it.

Object type ids: HubSpot's "Understanding the CRM" guide, object type id table (deals 0-3,
tickets 0-5, products 0-7, line items 0-8, quotes 0-14, communications 0-18, goal targets 0-74,
postal mail 0-116, leads 0-136, feedback submissions 0-19; read-only in HubSpot). Properties: a few each guide names (plain data here; schema.py
turns them into definitions beside the owner, id and date properties every object has).
"""

from __future__ import annotations

OTHER_TYPES = (
    "deals",
    "tickets",
    "communications",
    "products",
    "line_items",
    "quotes",
    "postal_mail",
    "goal_targets",
    "leads",
    "deal_splits",
    "feedback_submissions",
)
OTHER_ALIASES = {
    **{name: name for name in OTHER_TYPES},
    "deal": "deals",
    "ticket": "tickets",
    "communication": "communications",
    "product": "products",
    "line_item": "line_items",
    "quote": "quotes",
    "goal_target": "goal_targets",
    "lead": "leads",
    "deal_split": "deal_splits",
    "0-3": "deals",
    "0-5": "tickets",
    "0-7": "products",
    "0-8": "line_items",
    "0-14": "quotes",
    "0-18": "communications",
    "0-74": "goal_targets",
    "0-116": "postal_mail",
    "0-136": "leads",
    "0-19": "feedback_submissions",
    "feedback_submission": "feedback_submissions",
}
_NONE: tuple[str, ...] = ()
# type -> [(property name, type, enumeration options)]
OTHER_PROPERTIES: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    "deals": [
        ("dealname", "string", _NONE),
        ("pipeline", "enumeration", ("default",)),
        ("dealstage", "enumeration", ("appointmentscheduled", "qualifiedtobuy",
         "presentationscheduled", "decisionmakerboughtin", "contractsent", "closedwon",
         "closedlost")),
        ("dealtype", "enumeration", ("newbusiness", "existingbusiness")),
        ("amount", "number", _NONE),
        ("closedate", "datetime", _NONE),
        ("description", "string", _NONE),
    ],
    "tickets": [
        ("subject", "string", _NONE),
        ("content", "string", _NONE),
        ("hs_pipeline", "enumeration", ("0",)),
        ("hs_pipeline_stage", "enumeration", ("1", "2", "3", "4")),
        ("hs_ticket_category", "enumeration", ("PRODUCT_ISSUE", "BILLING_ISSUE", "FEATURE_REQUEST",
         "GENERAL_INQUIRY")),
        ("hs_ticket_priority", "enumeration", ("LOW", "MEDIUM", "HIGH", "URGENT")),
    ],
    "communications": [
        ("hs_communication_channel_type", "enumeration", ("WHATS_APP", "LINKEDIN_MESSAGE", "SMS")),
        ("hs_communication_logged_from", "enumeration", ("CRM",)),
        ("hs_communication_body", "string", _NONE),
    ],
    "products": [("name", "string", _NONE), ("price", "number", _NONE),
                 ("description", "string", _NONE), ("hs_sku", "string", _NONE)],
    "line_items": [("name", "string", _NONE), ("quantity", "number", _NONE),
                   ("price", "number", _NONE), ("hs_product_id", "string", _NONE)],
    "quotes": [("hs_title", "string", _NONE), ("hs_expiration_date", "datetime", _NONE),
               ("hs_status", "string", _NONE)],
    "postal_mail": [("hs_postal_mail_body", "string", _NONE), ("hs_timestamp", "datetime", _NONE)],
    "goal_targets": [("hs_goal_name", "string", _NONE), ("hs_target_amount", "number", _NONE),
                     ("hs_start_datetime", "datetime", _NONE), ("hs_end_datetime", "datetime", _NONE)],
    "leads": [("hs_lead_name", "string", _NONE), ("hs_pipeline", "string", _NONE),
              ("hs_pipeline_stage", "string", _NONE)],
    "deal_splits": [("hs_split_percentage", "number", _NONE)],
    "feedback_submissions": [("hs_survey_name", "string", _NONE), ("hs_response", "string", _NONE)],
}  # fmt: skip
# Guide "Search": properties returned when a request names none.
OTHER_DEFAULTS: dict[str, tuple[str, ...]] = {
    "deals": ("amount", "closedate", "createdate", "dealname", "dealstage",
              "hs_lastmodifieddate", "hs_object_id", "pipeline"),
    "tickets": ("content", "createdate", "hs_lastmodifieddate", "hs_object_id", "hs_pipeline",
                "hs_pipeline_stage", "hs_ticket_category", "hs_ticket_priority", "subject"),
    "products": ("createdate", "description", "hs_lastmodifieddate", "hs_object_id", "name",
                 "price"),
    "line_items": ("createdate", "hs_lastmodifieddate", "hs_object_id", "name", "price",
                   "quantity"),
}  # fmt: skip
