"""`handoff init`: a starter config with a `$schema` line that validates, the JSON Schema with the
canonical field names for editors, and territory names checked across sections."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from config.connections import CANONICAL_FIELDS
from config.editor_schema import REGENERATE, SCHEMA_FILE, render
from config.init import MODELINE
from config.loader import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[2]
ENV = {
    "HUBSPOT_TOKEN": "pat-na1-0123456789abcdef",
    "SALESFORCE_INSTANCE_URL": "https://acme.my.salesforce.com",
    "SALESFORCE_SESSION_ID": "00Dacme!0123456789abcdef",
}


def handoff(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "config.cli", *args],
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **ENV},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("crm", ["hubspot", "salesforce", "both"])
def test_init_writes_a_starter_that_validates_against_loader_and_schema(
    crm: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = handoff("init", "--crm", crm, cwd=tmp_path)
    assert written.returncode == 0, written.stderr
    config = tmp_path / "handoff.yaml"
    first = config.read_text().splitlines()[0]
    assert first == "# yaml-language-server: $schema=handoff.schema.json"
    assert "handoff config validate --strict-env handoff.yaml" in written.stdout
    checked = handoff("config", "validate", "--strict-env", "handoff.yaml", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    loaded = load_config(config)
    kinds = {c.kind for c in loaded.connections}
    assert kinds == ({"hubspot", "salesforce"} if crm == "both" else {crm})
    schema = json.loads((tmp_path / "handoff.schema.json").read_text())
    assert _schema_errors(schema, config) == []  # the file as the editor sees it
    data = loaded.model_dump(mode="json", by_alias=True, exclude_none=True)
    errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(data)]
    assert errors == []
    again = handoff("init", "--crm", crm, cwd=tmp_path)
    assert again.returncode == 2 and "already exist" in again.stderr
    assert "Traceback" not in again.stderr


class _AsEditorsRead(yaml.SafeLoader):
    """YAML as yaml-language-server reads it (YAML 1.2 core: 2026-12-21 is a string)."""


_AsEditorsRead.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _schema_errors(schema: dict[str, object], file: Path) -> list[str]:
    data = yaml.load(file.read_text(), Loader=_AsEditorsRead)
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]


@pytest.mark.parametrize("example", sorted((ROOT / "config" / "examples").glob("*.yaml")))
def test_every_example_validates_against_the_schema_and_loads(
    example: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    assert example.read_text().startswith(f"{MODELINE}../{SCHEMA_FILE.name}\n")
    assert _schema_errors(schema, example) == []  # `${VAR}` in a number or enum field too
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    assert load_config(example).connections


def test_the_schema_offers_closed_lists_and_flags_what_the_loader_refuses(
    tmp_path: Path,
) -> None:
    schema = json.loads(SCHEMA_FILE.read_text())
    policy = schema["$defs"]["SlaPolicy"]["properties"]
    assert policy["lane"]["anyOf"][0]["enum"] == ["fast", "mql"]
    assert "mql" in policy["stages"]["items"]["enum"]
    statuses = schema["$defs"]["LifecycleConfig"]["properties"]["working_statuses"]
    assert "ATTEMPTED_TO_CONTACT" in statuses["items"]["examples"]  # offered, not enforced
    text = (ROOT / "config" / "examples" / "hubspot.yaml").read_text()
    broken = tmp_path / "handoff.yaml"
    broken.write_text(
        text.replace("lane: fast", "lane: fats")
        .replace("mql: marketingqualifiedlead", "mgl: marketingqualifiedlead")
        .replace("tier: professional", "tier: profesional")
    )
    errors = "\n".join(_schema_errors(schema, broken))
    assert "'lifecycle_stage', 'values']: 'mgl' is not one of" in errors
    assert "'policies', 'fast', 'lane']: 'fats' is not valid" in errors
    assert "['connections', 0, 'hubspot']" in errors  # the tier


def test_init_refuses_an_unknown_crm(tmp_path: Path) -> None:
    bad = handoff("init", "--crm", "pipedrive", cwd=tmp_path)
    assert bad.returncode == 2 and "use hubspot, salesforce or both" in bad.stderr
    assert not (tmp_path / "handoff.yaml").exists()


def test_schema_offers_every_canonical_field_with_a_description() -> None:
    schema = json.loads(render())
    objects = schema["$defs"]["Connection"]["properties"]["objects"]
    assert objects["propertyNames"] == {"enum": ["contact", "lead"]}
    for kind in ("contact", "lead"):
        fields = objects["properties"][kind]["properties"]
        assert set(fields) == set(CANONICAL_FIELDS)
        assert all(f["description"] != "a canonical field" for f in fields.values())
    assert (
        "form_submissions" in schema["$defs"]["ActivityMapping"]["properties"]["source"]["examples"]
    )
    invalid = {"version": 1, "connections": [{"name": "x", "kind": "pipedrive", "objects": {}}]}
    assert list(jsonschema.Draft202012Validator(schema).iter_errors(invalid))


def test_committed_schema_and_examples_point_at_it() -> None:
    assert SCHEMA_FILE.read_text() == render(), f"regenerate: {REGENERATE}"
    for example in (ROOT / "config" / "examples").glob("*.yaml"):
        assert example.read_text().startswith(
            "# yaml-language-server: $schema=../handoff.schema.json\n"
        ), example


def test_an_unknown_territory_in_territory_calendars_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    text = (ROOT / "config" / "examples" / "hubspot.yaml").read_text()
    assert "territory_calendars: {na-east: us-east," in text
    config = tmp_path / "handoff.yaml"
    config.write_text(
        text.replace("territory_calendars: {na-east:", "territory_calendars: {na-eats:")
    )
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    message = "\n".join(raised.value.lines())
    assert "sla.territory_calendars.na-eats: unknown territory 'na-eats'" in message
    assert "did you mean 'na-east'?" in message
