"""Operating Handoff: metrics and health over HTTP, alerts, `handoff status`, `handoff outbox`."""
