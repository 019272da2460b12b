"""`handoff explain <email | CRM id>`: why one person has their score, stage, owner and clock."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    from config.cli import ConfigOption

    @app.command()
    def explain(
        who: str = typer.Argument(
            ..., help="The person: an email, a CRM record id, or connection:record_id."
        ),
        config: str = ConfigOption,
        as_of: str | None = typer.Option(
            None, "--as-of", help="Explain as of this instant (ISO-8601; default: now)."
        ),
        as_json: bool = typer.Option(False, "--json", help="The explanation as JSON."),
        live: bool = typer.Option(
            False, "--live", help="Read the person's records and activities from the CRM first."
        ),
    ) -> None:
        """Points per rule (caps, decay, penalties), the stage decision, the routing path, the
        SLA clock and the writes still pending, for one person. Reads; never writes."""
        from sqlalchemy import inspect
        from sqlalchemy.exc import SQLAlchemyError
        from sqlmodel import Session

        from config.cli import fail, load_or_exit
        from config.logs import configure_logging
        from sync.explain import Explainer, PersonNotFound, find_person, to_json, to_text
        from sync.runtime import out, parse_as_of
        from sync.store.engine import make_engine
        from sync.store.health import no_store
        from sync.store.types import utc_now

        cfg = load_or_exit(config)
        configure_logging(cfg.logging.level, cfg.logging.format)
        instant = parse_as_of(as_of) or utc_now()
        where = cfg.state.url.split("@")[-1]
        missing = no_store(cfg.state.url, config)
        if missing:  # a reader: never creates an empty store
            raise fail(missing)
        engine = make_engine(cfg.state.url)
        try:
            if not inspect(engine).has_table("people"):
                raise fail(f"the state store {where} holds nobody yet: run `handoff sync` first")
            with Session(engine) as session:
                try:
                    key = find_person(session, who)
                    explainer = Explainer(cfg)
                    if live:
                        explanation = _live(cfg, explainer, session, key, instant)
                    else:
                        explanation = explainer.explain(session, key, instant)
                except (PersonNotFound, LookupError) as exc:
                    raise fail(str(exc).strip("'\"")) from None
                finally:
                    session.rollback()
        except SQLAlchemyError as exc:
            raise fail(f"cannot read the state store: {exc.__class__.__name__}: {exc}") from None
        finally:
            engine.dispose()
        text = to_json(explanation) if as_json else to_text(explanation)
        out.print(text, markup=False, highlight=False, soft_wrap=True, end="")


def _live(cfg, explainer, session, key, instant):  # type: ignore[no-untyped-def]
    """Pull the person's records through their connectors, then explain from those."""
    from config.cli import fail
    from connectors.errors import ConnectorError
    from connectors.factory import build_connector
    from sync.explain.live import pull_person
    from sync.people import OwnerBook

    connectors = {}
    try:
        connectors = {c.name: build_connector(c) for c in cfg.connections}
        person, notes = pull_person(session, cfg, key, OwnerBook.load(session), connectors)
    except ConnectorError as exc:
        raise fail(str(exc)) from None
    finally:
        for connector in connectors.values():
            connector.close()
    return explainer.explain(session, key, instant, person=person, source="live", notes=notes)
