"""One person across CRMs: records are matched by normalised email (or a configured id)."""

from __future__ import annotations

from connectors.records import Contact


def normalise_email(email: str | None) -> str | None:
    if not email:
        return None
    value = email.strip().lower()
    return value if "@" in value else None


def person_key(contact: Contact) -> str:
    """The key that joins a HubSpot contact, a Salesforce lead and contact for the same person.

    A configured external id (e.g. the Salesforce id stored on the HubSpot contact) wins; then the
    normalised email; a record with neither stays its own person.
    """
    external = contact.fields.get("external_id")
    if external:
        return f"id:{external}"
    email = normalise_email(contact.email)
    if email:
        return f"email:{email}"
    return f"record:{contact.connection}:{contact.object_type}:{contact.id}"
