"""`state.url`: which databases Handoff's store runs on, checked when the config is validated."""

from __future__ import annotations

SUPPORTED = {
    "sqlite": "sqlite",
    "sqlite+pysqlite": "sqlite",
    "postgresql": "postgresql",
    "postgresql+psycopg": "postgresql",
}
EXAMPLES = "sqlite:///handoff.db or postgresql://user@host:5432/handoff"


def check_store_url(value: str) -> str:
    """The URL unchanged, or a ValueError naming the supported schemes (never the password)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    text = value.strip()
    if text.startswith("${"):  # an unset environment variable: reported on its own
        return value
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if not scheme:
        raise ValueError(f"not a database URL: write {EXAMPLES}")
    if scheme not in SUPPORTED:
        raise ValueError(
            f"'{scheme}' databases are not supported: the state store runs on sqlite or "
            f"postgresql ({EXAMPLES})"
        )
    try:
        url = make_url(text)
    except ArgumentError:
        raise ValueError(f"not a valid {scheme} URL: write {EXAMPLES}") from None
    if SUPPORTED[scheme] == "sqlite" and url.database in (None, ""):
        raise ValueError("sqlite needs a file: write sqlite:///path/to/handoff.db")
    return value
