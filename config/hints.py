"""A pydantic error as a person reads it: what is wrong with the value, and the fix.

`loc` is the error's place in the file; `input` the value written. A misspelt key or choice
names the closest known one; a number out of range says the range.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from config.references import suggest

_QUOTED = re.compile(r"'([^']*)'")


def keys_beside(loc: tuple[Any, ...]) -> list[str]:
    """The keys the model at `loc`'s parent takes (names and aliases), for a misspelt key."""
    from config.model import HandoffConfig

    current: Any = HandoffConfig
    parts = list(loc[:-1])
    while True:
        if get_origin(current) is Annotated:
            current = get_args(current)[0]
        elif get_origin(current) in (Union, UnionType):
            options = [a for a in get_args(current) if a is not type(None)]
            if len(options) != 1:
                return []
            current = options[0]
        elif isinstance(current, type) and issubclass(current, BaseModel):
            fields = current.model_fields
            if not parts:
                return [f.alias or n for n, f in fields.items()]
            part = parts.pop(0)
            field = fields.get(str(part)) or next(
                (f for f in fields.values() if f.alias == part), None
            )
            if field is None:
                return []
            current = field.annotation
        elif get_origin(current) in (list, dict) and parts:
            parts.pop(0)
            current = get_args(current)[-1]
        else:
            return []


def hint(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    msg = str(error.get("msg", "")).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    loc = tuple(error.get("loc", ()))
    name = loc[-1] if loc else ""
    value = error.get("input")
    ctx = error.get("ctx") or {}
    shown = repr(value) if not isinstance(value, dict | list) else "this"
    if kind == "extra_forbidden":
        close = suggest(str(name), keys_beside(loc))
        fix = "fix its spelling or remove it" if close else "remove it or fix its spelling"
        return f"unknown key '{name}':{close} {fix} (see `handoff config schema`)"
    if kind == "missing":
        return f"'{name}' is required: add it"
    if kind in ("literal_error", "enum"):
        expected = str(ctx.get("expected", ""))
        close = suggest(str(value), _QUOTED.findall(expected)) if isinstance(value, str) else ""
        return f"{shown} is not one of {expected}:{close or ' use one of them'}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = {
            "greater_than_equal": f"at least {ctx.get('ge')}",
            "greater_than": f"above {ctx.get('gt')}",
            "less_than_equal": f"at most {ctx.get('le')}",
            "less_than": f"below {ctx.get('lt')}",
        }[kind]
        return f"{shown} is out of range: it must be {bound}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{shown} is not a whole number: write e.g. 3"
    if kind in ("float_parsing", "float_type"):
        return f"{shown} is not a number: write e.g. 0.25"
    if kind in ("bool_parsing", "bool_type"):
        return f"{shown} is not true or false: write true or false"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"{shown} should be a mapping of keys (key: value on their own lines, or {{...}})"
    if kind == "list_type":
        return f"{shown} should be a list: [a, b] or one '- item' per line"
    if kind == "string_type":
        return f'{shown} should be text: quote it, e.g. "{value}"'
    if kind in ("too_short", "string_too_short") and isinstance(value, list | str):
        return f"{msg}: add at least {ctx.get('min_length', 1)}"
    return msg
