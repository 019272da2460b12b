"""Render `docs/configuration.md` from the JSON Schema of `HandoffConfig`.

    python -m config.docs > docs/configuration.md

One section per top-level key, each a table of every key path below it (type, default,
description), following `$ref`s into `$defs`, list items (`key[]`) and map values (`key.<name>`).
The output depends only on the schema, so it is byte-for-byte reproducible.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, NoDefault
from pydantic_core import core_schema

from config.base import format_duration

REGENERATE = "python -m config.docs > docs/configuration.md"
_DURATION_PATTERN = r"^\s*\d+(\.\d+)?\s*(s|m|h|d|w)\s*$"
_DURATION_DESCRIPTION = "a positive duration: 30s, 5m, 24h, 3d, 1w"
_INLINE_DEFAULT = 60
"""Defaults longer than this (as JSON) are summarised in the table and shown in full below it."""

Schema = dict[str, Any]


class DocsJsonSchema(GenerateJsonSchema):
    """The validation schema, plus defaults that come from factories, durations written as 5m."""

    def get_default_value(self, schema: core_schema.WithDefaultSchema) -> Any:
        if "default_factory" in schema and not schema.get("default_factory_takes_data"):
            value = schema["default_factory"]()  # type: ignore[call-arg]
        else:
            value = schema.get("default", NoDefault)
        if isinstance(value, timedelta):
            return format_duration(value)
        return value


def config_schema(model: type[BaseModel] | None = None) -> Schema:
    if model is None:
        from config.model import HandoffConfig

        model = HandoffConfig
    return model.model_json_schema(mode="validation", schema_generator=DocsJsonSchema)


@dataclass
class Row:
    path: str
    type: str
    default: str
    description: str
    long_default: Any = NoDefault
    """The default in full, when the table only summarises it."""


class _Walker:
    def __init__(self, schema: Schema) -> None:
        self.defs: dict[str, Schema] = schema.get("$defs", {})
        self.rows: dict[str, Row] = {}

    # -- schema plumbing ---------------------------------------------------------------------

    def resolve(self, node: Schema) -> tuple[Schema, str | None]:
        """Follow a $ref; keys beside the $ref (description, default) win over the target's."""
        ref = node.get("$ref")
        if ref is None and len(node.get("allOf", [])) == 1:
            ref = node["allOf"][0].get("$ref")
        if ref is None:
            return node, None
        name = ref.rsplit("/", 1)[-1]
        target = self.defs[name]
        extra = {k: v for k, v in node.items() if k not in ("$ref", "allOf")}
        return {**target, **extra}, name

    def variants(self, node: Schema) -> list[Schema]:
        return list(node.get("anyOf") or node.get("oneOf") or [])

    def is_object(self, node: Schema) -> bool:
        return "properties" in node

    # -- type names ----------------------------------------------------------------------------

    def type_name(self, node: Schema) -> str:
        node, name = self.resolve(node)
        if "const" in node:
            return f"`{json.dumps(node['const'])}`"
        if "enum" in node:
            return "one of " + ", ".join(f"`{value}`" for value in node["enum"])
        options = self.variants(node)
        if options:
            names = [self.type_name(o) for o in options if o.get("type") != "null"]
            nullable = len(names) < len(options)
            text = " or ".join(dict.fromkeys(names))
            return f"{text} or null" if nullable else text
        kind = node.get("type")
        if isinstance(kind, list):
            return " or ".join(kind)
        if kind == "array":
            items = node.get("items")
            text = f"list of {self.type_name(items)}" if items else "list"
            return text + _size(node, "minItems", "maxItems", "item")
        if kind == "object" or self.is_object(node):
            if self.is_object(node):
                return "object"
            values = node.get("additionalProperties")
            if isinstance(values, dict):
                return f"map of {self.type_name(values)}"
            return "map"
        if kind == "string":
            return _string_type(node)
        if kind in ("integer", "number"):
            return kind + _bounds(node)
        return str(kind or name or "any")

    # -- walking ----------------------------------------------------------------------------------

    def walk(
        self, node: Schema, path: str, inherited: Any, required: bool, seen: tuple[str, ...]
    ) -> None:
        """One row for `path`, then rows for everything below it."""
        resolved, name = self.resolve(node)
        default = inherited if inherited is not NoDefault else resolved.get("default", NoDefault)
        shown = NoDefault if self.is_object(resolved) else default  # its own rows show it
        row = Row(path, self.type_name(node), _default(shown, required), _describe(resolved))
        if shown is not NoDefault and not row.default.startswith("`"):
            row.long_default = shown
        self.add(row)
        if not _recursive(name, seen):  # a recursive model is documented where it first appears
            self.descend(resolved, path, default, _with(name, seen))

    def descend(self, node: Schema, path: str, default: Any, seen: tuple[str, ...]) -> None:
        for option in self.variants(node):
            option, name = self.resolve(option)
            if not _recursive(name, seen):
                self.descend(option, path, NoDefault, _with(name, seen))
        if self.is_object(node):
            required = set(node.get("required", []))
            for key, child in node["properties"].items():
                inherited = default.get(key, NoDefault) if isinstance(default, dict) else NoDefault
                self.walk(child, f"{path}.{key}", inherited, key in required, seen)
            return
        inner = (
            node.get("items") if node.get("type") == "array" else node.get("additionalProperties")
        )
        if not isinstance(inner, dict):
            return
        inner_path = f"{path}[]" if node.get("type") == "array" else f"{path}.<name>"
        resolved, name = self.resolve(inner)
        if _recursive(name, seen):
            return
        if self.is_object(resolved):  # list of objects: rows for the item's keys only
            self.descend(resolved, inner_path, NoDefault, _with(name, seen))
        elif self.expands(resolved):
            self.walk(inner, inner_path, NoDefault, False, seen)

    def expands(self, node: Schema) -> bool:
        """Whether a list item or map value has keys of its own to document."""
        resolved, _ = self.resolve(node)
        if self.is_object(resolved) or isinstance(resolved.get("items"), dict):
            return True
        if isinstance(resolved.get("additionalProperties"), dict):
            return True
        return any(self.expands(option) for option in self.variants(resolved))

    def add(self, row: Row) -> None:
        """A path seen twice (variants of a union) keeps one row listing every type it takes."""
        old = self.rows.get(row.path)
        if old is None:
            self.rows[row.path] = row
            return
        if row.type not in old.type.split(" or "):
            old.type = f"{old.type} or {row.type}"
        old.description = old.description or row.description
        old.default = old.default or row.default


def _recursive(name: str | None, seen: tuple[str, ...]) -> bool:
    return name is not None and name in seen


def _with(name: str | None, seen: tuple[str, ...]) -> tuple[str, ...]:
    return seen if name is None else (*seen, name)


def _size(node: Schema, low: str, high: str, noun: str) -> str:
    if low in node and high in node:
        return f", {node[low]} to {node[high]} {noun}s"
    if node.get(low):
        return f", at least {node[low]} {noun}{'s' if node[low] != 1 else ''}"
    if high in node:
        return f", at most {node[high]} {noun}s"
    return ""


def _bounds(node: Schema) -> str:
    parts = []
    for key, sign in (
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("exclusiveMaximum", "<"),
    ):
        if key in node:
            parts.append(f"{sign} {node[key]}")
    return " " + " and ".join(parts) if parts else ""


def _string_type(node: Schema) -> str:
    if node.get("pattern") == _DURATION_PATTERN:
        return "duration"
    fmt = node.get("format")
    if fmt == "password":
        return "secret string"
    if fmt:
        return {"date-time": "datetime", "uri": "URL"}.get(str(fmt), str(fmt))
    return "string" + _size(node, "minLength", "maxLength", "character")


def _describe(node: Schema) -> str:
    text = " ".join(str(node.get("description", "")).split())
    pattern = node.get("pattern")
    if pattern == _DURATION_PATTERN:
        return "" if text == _DURATION_DESCRIPTION else text
    if pattern:
        text = f"{text.rstrip('.')}. Pattern: `{pattern}`." if text else f"Pattern: `{pattern}`."
    return text


def _default(value: Any, required: bool) -> str:
    if value is NoDefault:
        return "**required**" if required else ""
    text = json.dumps(value, ensure_ascii=False)
    if len(text) <= _INLINE_DEFAULT or isinstance(value, str):
        return f"`` {text} ``" if "`" in text else f"`{text}`"
    noun = "items" if isinstance(value, list) else "entries"
    return f"{len(value)} built-in {noun}, listed below"


class _DefaultsDumper(yaml.SafeDumper):
    """Block style, except lists of plain values, which read best inline: [a, b, c]."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flat = all(not isinstance(item, dict | list) for item in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat)


_DefaultsDumper.add_representer(list, _represent_list)


def _without_nulls(value: Any) -> Any:
    """Defaults as a user would write them: unset (null) keys left out."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def rows_for(schema: Schema, key: str) -> list[Row]:
    walker = _Walker(schema)
    prop = schema["properties"][key]
    walker.walk(prop, key, NoDefault, key in schema.get("required", []), ())
    rows = list(walker.rows.values())
    resolved, _ = walker.resolve(prop)
    if walker.is_object(resolved):
        rows = rows[1:]  # the section's own heading describes the object
    return rows


def render(schema: Schema) -> str:
    walker = _Walker(schema)
    lines = [
        "# Configuration reference",
        "",
        f"<!-- Generated from the JSON Schema of config.model.HandoffConfig: {REGENERATE} -->",
        "",
        "Every key of `handoff.yaml`, generated from the configuration model: do not edit by hand,",
        f"run `{REGENERATE}`.",
        "",
        "- Every command reads the file `--config` names, else the one `HANDOFF_CONFIG` names,",
        "  else `./handoff.yaml`; `handoff init` writes a commented starter (to `HANDOFF_CONFIG`",
        "  when set) with a `$schema` line for editor completion.",
        "- Relative paths (`state.url`'s `sqlite:///handoff.db`, `reports.directory`, `ca_file`,",
        "  `private_key_file`) resolve against the current directory, not the config file's",
        "  (docs/deploy.md): write them absolute, or run handoff in the directory they are meant for.",
        "- Durations are written `30s`, `5m`, `24h`, `3d`, `1w`.",
        "- `key[]` is each item of a list, `key.<name>` each value of a map.",
        "- Secrets are written as `${ENV_VAR}` references, never inline.",
        "- Keys not listed here are errors (a typo is never silently ignored); a misspelt key is",
        "  reported with the key meant.",
        "- `handoff config validate` (and every command that loads the file) reports every problem",
        "  in one run: wrong values and names that point nowhere together, each with its place",
        "  (`routing.territories[2].backup`, line 41) and the fix (the closest known name); exit 2.",
        "",
    ]
    for key, prop in schema["properties"].items():
        resolved, _ = walker.resolve(prop)
        lines += [f"## `{key}`", ""]
        intro = _describe(resolved) if walker.is_object(resolved) else ""
        if intro:
            lines += [intro, ""]
        lines += [
            "| Key | Type | Default | Description |",
            "| --- | --- | --- | --- |",
        ]
        rows = rows_for(schema, key)
        for row in rows:
            cells = (f"`{row.path}`", row.type, row.default, row.description)
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        lines.append("")
        long_defaults = [row for row in rows if row.long_default is not NoDefault]
        if long_defaults:
            lines += ["<details><summary>Built-in defaults</summary>", ""]
            for row in long_defaults:
                body = yaml.dump(
                    _without_nulls(row.long_default),
                    Dumper=_DefaultsDumper,
                    sort_keys=False,
                    allow_unicode=True,
                    width=100,
                )
                lines += [f"`{row.path}`:", "", "```yaml", body.rstrip("\n"), "```", ""]
            lines += ["</details>", ""]
    lines += _references()
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).rstrip("\n") + "\n"


def _references() -> list[str]:
    """The names one section gives another (config/references.py checks them)."""
    from config.references import CHECKED

    lines = [
        "## Names that must match",
        "",
        "Checked across sections, in the same run as the keys above, even when other values are",
        "wrong: an unknown name is an error naming the closest known one.",
        "",
        "| Key | Must be |",
        "| --- | --- |",
    ]
    lines += [f"| {_cell(where)} | {_cell(what)} |" for where, what in CHECKED]
    return [*lines, ""]


def main() -> None:
    sys.stdout.write(render(config_schema()))


if __name__ == "__main__":
    main()
