"""`handoff init`: a commented starter `handoff.yaml` and the JSON Schema editors complete it with.

The starter is the complete, commented example config for the chosen CRMs (config/examples/),
headed by a `yaml-language-server` `$schema` line pointing at `handoff.schema.json` written beside
it, so VS Code (the YAML extension) and other editors using yaml-language-server complete keys,
canonical field names and enums, and show each key's description.
"""

from __future__ import annotations

from pathlib import Path

import typer

EXAMPLES = Path(__file__).with_name("examples")
STARTERS = {
    "hubspot": "hubspot.yaml",
    "salesforce": "salesforce.yaml",
    "both": "hubspot-salesforce.yaml",
}
MODELINE = "# yaml-language-server: $schema="


def starter_config(crm: str, schema_ref: str) -> str:
    """The example config for `crm`, its `$schema` line pointing at `schema_ref`."""
    lines = (EXAMPLES / STARTERS[crm]).read_text(encoding="utf-8").splitlines()
    if lines and lines[0].startswith(MODELINE):
        lines = lines[1:]
    head = [
        f"{MODELINE}{schema_ref}",
        f"# Written by `handoff init --crm {crm}`. Set the ${{VARIABLES}} it names in the",
        "# environment, then: handoff config validate --strict-env <this file>;",
        "# handoff crm setup --check; handoff sync --dry-run; handoff run (dry run first).",
    ]
    return "\n".join(head + lines) + "\n"


def register(app: typer.Typer) -> None:
    @app.command()
    def init(
        crm: str = typer.Option("hubspot", "--crm", help="hubspot, salesforce or both"),
        output: Path = typer.Option(
            Path("handoff.yaml"),
            "--output",
            "-o",
            envvar="HANDOFF_CONFIG",  # where every other command then reads it
            help="Where to write the config (env HANDOFF_CONFIG; default ./handoff.yaml).",
        ),
        force: bool = typer.Option(False, "--force", help="Overwrite existing files."),
    ) -> None:
        """Write a commented starter handoff.yaml and handoff.schema.json beside it."""
        from config.cli import fail, out
        from config.editor_schema import render

        if crm not in STARTERS:
            raise fail(f"--crm {crm!r}: use hubspot, salesforce or both")
        schema = output.with_name("handoff.schema.json")
        existing = [str(p) for p in (output, schema) if p.exists()]
        if existing and not force:
            raise fail(f"{', '.join(existing)} already exist(s): keep it, or run with --force")
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            schema.write_text(render(), encoding="utf-8")
            output.write_text(starter_config(crm, schema.name), encoding="utf-8")
        except OSError as exc:
            raise fail(f"cannot write {output}: {exc.strerror}") from None
        out.print(
            f"wrote {output} ({crm}) and {schema} (editor completion)\n"
            f"next: set the environment variables it names, then\n"
            f"  handoff config validate --strict-env {output}\n"
            f"  handoff sync --dry-run -c {output}",
            highlight=False,
        )
