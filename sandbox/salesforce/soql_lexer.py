"""SOQL's words and literals: the query string cut into tokens, quoted strings and datetime
literals decoded, and MALFORMED_QUERY errors pointing at the column (SOQL and SOSL Reference,
"Quoted String Escape Sequences", "Date Formats and Date Literals"). A datetime's fractional
seconds may have more than three digits: Salesforce runs `CreatedDate >= 2022-12-01T10:47:53.299852-06:00`
(IlluminatedCloud issue 2280), and Singer's tap-salesforce sends its bookmarks so
(`2026-12-06T01:16:43.387000Z`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sandbox.salesforce.errors import ApiError
from sandbox.salesforce.predicates import ESCAPES

_TOKEN = re.compile(
    r"""\s*(?:
    (?P<string>'(?:[^'\\]|\\.)*')
    |(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2}))
    |(?P<date>\d{4}-\d{2}-\d{2})
    |(?P<number>-?\d+(?:\.\d+)?)
    |(?P<ident>[A-Za-z_][A-Za-z0-9_.]*(?::\d+)?)
    |(?P<op><=|>=|!=|<>|=|<|>)
    |(?P<punct>[(),])
    |(?P<bad>\S)
    )""",
    re.VERBOSE,
)


@dataclass(slots=True)
class Token:
    kind: str
    text: str
    pos: int

    @property
    def upper(self) -> str:
        return self.text.upper()


def malformed(soql: str, pos: int, message: str) -> ApiError:
    line = soql.replace("\n", " ")
    return ApiError(
        400,
        "MALFORMED_QUERY",
        f"\n{line}\n{' ' * pos}^\nERROR at Row:1:Column:{pos + 1}\n{message}",
    )


def tokenize(soql: str) -> list[Token]:
    tokens: list[Token] = []
    pos, end = 0, len(soql.rstrip())
    while pos < end:
        match = _TOKEN.match(soql, pos)
        if match is None or match.lastgroup == "bad":
            start = len(soql) - len(soql[pos:].lstrip())
            if soql[start] == "'":  # a string literal that never closes
                raise malformed(soql, start, f"line 1:{start} mismatched character '<EOF>'")
            raise malformed(soql, start, f"unexpected token: '{soql[start]}'")
        kind = match.lastgroup or "bad"
        tokens.append(Token(kind, match.group(kind), match.start(kind)))
        pos = match.end()
    return tokens


def decode_string(literal: str) -> str:
    """The value of a quoted SOQL string: backslash escapes \\' \\" \\\\ \\n \\r \\t \\b \\f."""
    body, out, i = literal[1:-1], [], 0
    if "\\" not in body:
        return body
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append(ESCAPES.get(nxt, nxt if nxt not in "%_" else "\\" + nxt))
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


def parse_datetime(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
