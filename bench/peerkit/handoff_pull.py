"""Handoff's pull as a peer: one process per run (its own peak RSS), the example HubSpot (or,
with `--crm salesforce`, Salesforce: `--base-url` the instance URL, `--token` the session id)
config pointed at the sandbox, mirroring contacts, their activities and the owners into an SQLite state
store that persists between runs (so the second run is incremental). Prints one JSON line:
records by stream, calls by endpoint as the connector counted them, 429s seen.

    python -m bench.peerkit.handoff_pull --base-url URL --token T --ca-file F --db FILE
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from config.loader import load_config
    from connectors.factory import build_connector
    from sync.demo import example_config, sandbox_environment
    from sync.pull import PullStage
    from sync.store.engine import make_engine
    from sync.store.schema import upgrade

    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--ca-file", required=True)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--crm", choices=("hubspot", "salesforce"), default="hubspot")
    parser.add_argument("--business-unit", default="", help="Account Engagement's (Salesforce)")
    parser.add_argument(
        "--sources",
        help="comma-separated activity sources to keep from the example config (e.g. "
        "calls,emails,meetings: the engagements the peers read too); default: all of them",
    )
    args = parser.parse_args()
    info = (
        SimpleNamespace(
            ca_file=args.ca_file,
            salesforce_instance_url=args.base_url,
            salesforce_session_id=args.token,
            pardot_business_unit_id=args.business_unit,
        )
        if args.crm == "salesforce"
        else SimpleNamespace(
            ca_file=args.ca_file, hubspot_base_url=args.base_url, hubspot_token=args.token
        )
    )
    with sandbox_environment(info, args.db.parent):
        config = load_config(example_config(args.crm))
        config = config.model_copy(
            update={"state": config.state.model_copy(update={"url": f"sqlite:///{args.db}"})}
        )
        if args.sources:
            keep = set(args.sources.split(","))
            connection = config.connections[0]
            kept = [a for a in connection.activities if a.source in keep]
            config = config.model_copy(
                update={"connections": [connection.model_copy(update={"activities": kept})]}
            )
        engine = make_engine(config.state.url)
        upgrade(engine)
        connector = build_connector(config.connections[0])
        now = datetime.now(UTC)
        result = PullStage(engine, connector).run(until=now, now=now)
    warnings = list(getattr(connector, "warnings", []) or [])
    print(
        json.dumps(
            {
                "records": {
                    "contacts": result.people,
                    "activities": result.activities,
                    "owners": result.owners,
                    # the primary companies read for the account fields (the peers count the
                    # companies they read as a stream of records too)
                    "companies": getattr(connector, "companies_read", 0),
                },
                "unchanged": result.unchanged,
                "calls": dict(connector.usage.calls),
                "throttled": connector.usage.throttled,
                "warnings": warnings,
            }
        )
    )


if __name__ == "__main__":
    main()
