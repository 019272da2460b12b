"""Salesforce's Pub/Sub API contract: pubsub_api.proto (a subset) and its generated modules."""
