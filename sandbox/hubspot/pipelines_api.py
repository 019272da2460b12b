"""Pipelines: `GET /crm/v3/pipelines/{deals,tickets}` (spec CRM Pipelines v3) and the legacy
`GET /crm-pipelines/v1/pipelines/{deals,tickets}` some connectors still read.

A new portal has one pipeline per object: the default sales pipeline ("default", stages
appointmentscheduled ... closedwon/closedlost with their probabilities) and the default support
pipeline ("0", stages 1-4), as HubSpot's "Pipelines" guide describes them. v3 shapes: `{results:
[Pipeline]}`, `Pipeline {id, label, displayOrder, stages[], createdAt, updatedAt, archived}`,
`PipelineStage {id, label, displayOrder, metadata, createdAt, updatedAt, archived,
writePermissions}` (metadata values are strings). v1 shapes use `pipelineId`/`stageId`, epoch-ms
stamps, `active` and `objectType: DEAL|TICKET`.
"""

from __future__ import annotations

from typing import Any

from sandbox.hubspot.context import Ctx
from sandbox.hubspot.schema import iso_of_ms
from sandbox.hubspot.wire import ApiError
from sandbox.server import SandboxRequest

PORTAL_CREATED_MS = 1_577_836_800_000  # 2020-01-01: before any seeded record
# object type -> (pipeline id, label, [(stage id, label, metadata)])
DEFAULT_PIPELINES: dict[str, tuple[str, str, list[tuple[str, str, dict[str, str]]]]] = {
    "deals": (
        "default",
        "Sales Pipeline",
        [
            ("appointmentscheduled", "Appointment Scheduled", {"isClosed": "false", "probability": "0.2"}),
            ("qualifiedtobuy", "Qualified To Buy", {"isClosed": "false", "probability": "0.4"}),
            ("presentationscheduled", "Presentation Scheduled", {"isClosed": "false", "probability": "0.6"}),
            ("decisionmakerboughtin", "Decision Maker Bought-In", {"isClosed": "false", "probability": "0.8"}),
            ("contractsent", "Contract Sent", {"isClosed": "false", "probability": "0.9"}),
            ("closedwon", "Closed Won", {"isClosed": "true", "probability": "1.0"}),
            ("closedlost", "Closed Lost", {"isClosed": "true", "probability": "0.0"}),
        ],
    ),
    "tickets": (
        "0",
        "Support Pipeline",
        [
            ("1", "New", {"ticketState": "OPEN", "isClosed": "false"}),
            ("2", "Waiting on contact", {"ticketState": "OPEN", "isClosed": "false"}),
            ("3", "Waiting on us", {"ticketState": "OPEN", "isClosed": "false"}),
            ("4", "Closed", {"ticketState": "CLOSED", "isClosed": "true"}),
        ],
    ),
}  # fmt: skip
_ALIASES = {"deals": "deals", "deal": "deals", "0-3": "deals", "tickets": "tickets",
            "ticket": "tickets", "0-5": "tickets"}  # fmt: skip


def _pipeline_type(raw: str) -> str:
    found = _ALIASES.get(raw)
    if found is None:
        raise ApiError(404, "OBJECT_NOT_FOUND", f"Unable to infer object type from: {raw}")
    return found


def list_pipelines(ctx: Ctx, req: SandboxRequest, object_type: str) -> tuple[int, Any]:
    ident, label, stages = DEFAULT_PIPELINES[_pipeline_type(object_type)]
    stamp = iso_of_ms(PORTAL_CREATED_MS)
    pipeline = {
        "id": ident,
        "label": label,
        "displayOrder": 0,
        "stages": [
            {
                "id": stage_id,
                "label": stage_label,
                "displayOrder": order,
                "metadata": metadata,
                "createdAt": stamp,
                "updatedAt": stamp,
                "archived": False,
                "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
            }
            for order, (stage_id, stage_label, metadata) in enumerate(stages)
        ],
        "createdAt": stamp,
        "updatedAt": stamp,
        "archived": False,
    }
    return 200, {"results": [pipeline]}


def list_pipelines_v1(ctx: Ctx, req: SandboxRequest, object_type: str) -> tuple[int, Any]:
    kind = _pipeline_type(object_type)
    ident, label, stages = DEFAULT_PIPELINES[kind]
    pipeline = {
        "pipelineId": ident,
        "objectType": "DEAL" if kind == "deals" else "TICKET",
        "objectTypeId": "0-3" if kind == "deals" else "0-5",
        "label": label,
        "displayOrder": 0,
        "active": True,
        "default": True,
        "stages": [
            {
                "stageId": stage_id,
                "label": stage_label,
                "displayOrder": order,
                "active": True,
                "metadata": metadata,
                "createdAt": PORTAL_CREATED_MS,
                "updatedAt": PORTAL_CREATED_MS,
            }
            for order, (stage_id, stage_label, metadata) in enumerate(stages)
        ],
        "createdAt": PORTAL_CREATED_MS,
        "updatedAt": PORTAL_CREATED_MS,
    }
    return 200, {"results": [pipeline]}
