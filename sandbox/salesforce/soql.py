"""A SOQL subset: parse a query string into a compiled `SoqlQuery` the org can run.

Grammar (SOQL and SOSL Reference, "SOQL SELECT Syntax"): `SELECT field, ... | COUNT() FROM Object
[WHERE cond] [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n]`.
Conditions: `= != <> < <= > >=`, `[NOT] IN (...)`, `LIKE` (% and _), `NOT`, AND/OR with
parentheses (mixing AND and OR without parentheses is rejected as in Salesforce), NULL, TRUE/FALSE,
quoted strings with backslash escapes, unquoted datetime literals (`2026-11-20T15:00:00Z`, with an
offset or `.000+0000`), date literals (`2026-11-20`) and the relative literals TODAY, YESTERDAY,
TOMORROW, LAST_N_DAYS:n, NEXT_N_DAYS:n (org time zone: UTC). Errors carry Salesforce's codes:
MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE, INVALID_QUERY_FILTER_OPERATOR (all HTTP 400).

Parent relationship fields in SELECT (SOQL and SOSL Reference, "Relationship Queries",
child-to-parent): `Account.OwnerId` on a Contact follows the lookup `AccountId` (a standard
reference `XxxId` is the relationship `Xxx`, a custom `Xxx__c` is `Xxx__r`), up to five levels;
polymorphic lookups (WhoId) are not supported here. The REST answer nests the parent as an object
with its own `attributes`, or null when the lookup is empty (see `SalesforceOrg.run_query`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sandbox.salesforce.errors import ApiError
from sandbox.salesforce.ids import normalize
from sandbox.salesforce.predicates import (
    DayRange,
    Predicate,
    compare,
    like_regex,
    sort_key,
)
from sandbox.salesforce.schema import FieldSpec, ObjectSchema, relationship_name
from sandbox.salesforce.soql_lexer import Token, decode_string, malformed, parse_datetime, tokenize

_STRING_TYPES = frozenset(
    {"id", "reference", "string", "email", "phone", "url", "picklist", "textarea"}
)
_NUMBER_TYPES = frozenset({"int", "double", "currency", "percent"})
_RANGE_OPS = frozenset({"<", "<=", ">", ">=", "="})
_RELATIVE = {"TODAY": (0, 1), "YESTERDAY": (-1, 0), "TOMORROW": (1, 2)}


@dataclass(slots=True)
class SoqlQuery:
    sobject: str
    fields: list[str]  # canonical field names in SELECT order (empty for COUNT())
    count_only: bool
    where: Predicate | None
    order: list[tuple[str, bool, bool]]  # (field, descending, nulls_last)
    limit: int | None
    offset: int
    hints: list[Hint] = field(default_factory=list)  # top-level AND conditions an index can serve
    exact_order: frozenset[str] = frozenset()  # id/reference fields: ORDER BY is case-sensitive
    parents: dict[str, ParentPath] = field(default_factory=dict)  # "Account.OwnerId" -> its path


@dataclass(frozen=True, slots=True)
class ParentPath:
    """A child-to-parent field: the lookups to follow (reference field, relationship name,
    parent sObject) and the parent's field at the end."""

    hops: tuple[tuple[str, str, str], ...]
    field: FieldSpec


@dataclass(frozen=True, slots=True)
class Hint:
    """A top-level conjunct the org may answer from an index: `Id IN (...)` / `Id = x` (kind
    "ids", `values`), the same on a lookup field (kind "refs", `values`) or a range on a datetime
    field (kind "range", `op`, `values[0]`)."""

    kind: str
    field: str
    op: str
    values: tuple[Any, ...]


class _Parser:
    def __init__(self, soql: str, schema: dict[str, ObjectSchema], now: datetime) -> None:
        self.soql = soql
        self.schema = schema
        self.now = now
        self.tokens = tokenize(soql)
        self.i = 0
        self.obj: ObjectSchema | None = None
        self.hints: dict[int, Hint] = {}
        self.conjuncts: dict[int, list[Predicate]] = {}

    # -- token helpers -------------------------------------------------------------------------
    def peek(self, offset: int = 0) -> Token | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def error(self, token: Token | None, message: str | None = None) -> ApiError:
        if token is None:
            return malformed(self.soql, len(self.soql), message or "unexpected token: <EOF>")
        return malformed(self.soql, token.pos, message or f"unexpected token: '{token.text}'")

    def next(self) -> Token:
        token = self.peek()
        if token is None:
            raise self.error(None)
        self.i += 1
        return token

    def accept(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and token.upper in words:
            self.i += 1
            return True
        return False

    def expect(self, word: str) -> Token:
        token = self.next()
        if token.upper != word:
            raise self.error(token)
        return token

    # -- clauses -------------------------------------------------------------------------------
    def parse(self) -> SoqlQuery:
        self.expect("SELECT")
        raw_fields: list[Token] = []
        count_only = False
        first = self.peek()
        if (
            first is not None
            and first.upper == "COUNT"
            and (nxt := self.peek(1))
            and nxt.text == "("
        ):
            self.i += 2
            self.expect(")")
            count_only = True
        else:
            while True:
                token = self.next()
                if token.kind != "ident" or token.upper in ("FROM",):
                    raise self.error(token)
                raw_fields.append(token)
                if not self.accept(","):
                    break
        self.expect("FROM")
        obj_token = self.next()
        self.obj = self._object(obj_token)
        fields: list[str] = []
        parents: dict[str, ParentPath] = {}
        for token in raw_fields:
            if "." in token.text:
                path = self._parent(token)
                name = ".".join([*(hop[1] for hop in path.hops), path.field.name])
                parents[name] = path
            else:
                name = self._field(token).name
            if name in fields:
                raise self.error(token, f"duplicate field selected: {name}")
            fields.append(name)
        where = self._expression() if self.accept("WHERE") else None
        order: list[tuple[str, bool, bool]] = []
        exact: set[str] = set()
        if self.accept("ORDER"):
            self.expect("BY")
            while True:
                spec = self._field(self.next())
                descending = self.accept("DESC")
                if not descending:
                    self.accept("ASC")
                nulls_last = descending
                if self.accept("NULLS"):
                    nulls_last = self.next().upper == "LAST"
                order.append((spec.name, descending, nulls_last))
                if spec.type in ("id", "reference"):
                    exact.add(spec.name)
                if not self.accept(","):
                    break
        limit = self._integer() if self.accept("LIMIT") else None
        offset = self._integer() if self.accept("OFFSET") else 0
        if offset > 2000:
            raise ApiError(400, "NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000")
        if (trailing := self.peek()) is not None:
            raise self.error(trailing)
        top = self.conjuncts.get(id(where), [where]) if where is not None else []
        hints = [self.hints[id(term)] for term in top if id(term) in self.hints]
        return SoqlQuery(
            self.obj.name,
            fields,
            count_only,
            where,
            order,
            limit,
            offset,
            hints,
            frozenset(exact),
            parents,
        )

    def _integer(self) -> int:
        token = self.next()
        if token.kind != "number" or not token.text.isdigit():
            raise self.error(token)
        return int(token.text)

    def _object(self, token: Token) -> ObjectSchema:
        for name, obj in self.schema.items():
            if name.lower() == token.text.lower():
                return obj
        raise ApiError(
            400,
            "INVALID_TYPE",
            f"\n{self.soql}\n{' ' * token.pos}^\nERROR at Row:1:Column:{token.pos + 1}\n"
            f"sObject type '{token.text}' is not supported. If you are attempting to use a "
            "custom object, be sure to append the '__c' after the entity name. Please reference "
            "your WSDL or the describe call for the appropriate names.",
        )

    def _field(self, token: Token) -> FieldSpec:
        assert self.obj is not None
        if token.kind != "ident":
            raise self.error(token)
        spec = self.obj.get(token.text)
        if spec is None:
            where = f"\n{self.soql}\n{' ' * token.pos}^\nERROR at Row:1:Column:{token.pos + 1}\n"
            if "." in token.text:
                rel = token.text.split(".")[0]
                message = f"Didn't understand relationship '{rel}' in field path."
            else:
                message = (
                    f"No such column '{token.text}' on entity '{self.obj.name}'. If you are "
                    "attempting to use a custom field, be sure to append the '__c' after the "
                    "custom field name. Please reference your WSDL or the describe call for the "
                    "appropriate names."
                )
            raise ApiError(400, "INVALID_FIELD", where + message)
        return spec

    def _parent(self, token: Token) -> ParentPath:
        """A `Rel.Field` (or `Rel.Rel.Field`, up to five lookups) path in SELECT."""
        assert self.obj is not None
        *relations, last = token.text.split(".")
        obj = self.obj
        hops: list[tuple[str, str, str]] = []
        for rel in relations:
            lookup = next(
                (
                    s
                    for s in obj.fields.values()
                    if (relationship_name(s) or "").lower() == rel.lower()
                ),
                None,
            )
            # a polymorphic lookup (WhoId -> Lead, Contact) needs TYPEOF: not emulated
            target = (
                self.schema.get(lookup.reference_to[0])
                if lookup and len(lookup.reference_to) == 1
                else None
            )
            if lookup is None or target is None or len(hops) == 5:
                raise self._invalid(token, f"Didn't understand relationship '{rel}' in field path.")
            hops.append((lookup.name, relationship_name(lookup) or rel, target.name))
            obj = target
        spec = obj.get(last)
        if spec is None:
            raise self._invalid(
                token,
                f"No such column '{last}' on entity '{obj.name}'. If you are attempting "
                "to use a custom field, be sure to append the '__c' after the custom field "
                "name. Please reference your WSDL or the describe call for the appropriate names.",
            )
        return ParentPath(tuple(hops), spec)

    def _invalid(self, token: Token, message: str) -> ApiError:
        where = f"\n{self.soql}\n{' ' * token.pos}^\nERROR at Row:1:Column:{token.pos + 1}\n"
        return ApiError(400, "INVALID_FIELD", where + message)

    # -- WHERE ---------------------------------------------------------------------------------
    def _expression(self) -> Predicate:
        terms = [self._term()]
        joiner: str | None = None
        while (token := self.peek()) is not None and token.upper in ("AND", "OR"):
            if joiner is not None and token.upper != joiner:
                raise self.error(token)  # SOQL needs parentheses to mix AND and OR
            joiner = token.upper
            self.i += 1
            terms.append(self._term())
        if len(terms) == 1:
            return terms[0]
        if joiner == "AND":
            conjunction: Predicate = lambda r: all(term(r) for term in terms)  # noqa: E731
            self.conjuncts[id(conjunction)] = terms
            return conjunction
        return lambda r: any(term(r) for term in terms)

    def _term(self) -> Predicate:
        if self.accept("NOT"):
            inner = self._term()
            return lambda r: not inner(r)
        if self.accept("("):
            inner = self._expression()
            self.expect(")")
            return inner
        return self._condition()

    def _condition(self) -> Predicate:
        field_token = self.next()
        spec = self._field(field_token)
        token = self.next()
        negate = False
        if token.upper == "NOT":
            negate, token = True, self.next()
            if token.upper != "IN":
                raise self.error(token)
        if token.upper == "IN":
            self.expect("(")
            values = []
            while True:
                values.append(self._value(spec, self.next()))
                if not self.accept(","):
                    break
            self.expect(")")
            keys = {sort_key(v) for v in values}
            name = spec.name
            if negate:
                return lambda r: sort_key(r.get(name)) not in keys
            member: Predicate = lambda r: sort_key(r.get(name)) in keys  # noqa: E731
            if spec.type in ("id", "reference"):
                kind = "ids" if spec.type == "id" else "refs"
                self.hints[id(member)] = Hint(kind, name, "in", tuple(values))
            return member
        if token.upper == "LIKE":
            literal = self.next()
            if literal.kind != "string" or spec.type not in _STRING_TYPES:
                raise self.error(literal)
            pattern, name = like_regex(literal.text), spec.name
            return lambda r: r.get(name) is not None and bool(pattern.fullmatch(str(r[name])))
        if token.kind != "op":
            raise self.error(token)
        literal = self._value(spec, self.next())
        predicate = compare(spec.name, token.text, literal)
        if spec.type in ("id", "reference") and token.text == "=" and literal is not None:
            kind = "ids" if spec.type == "id" else "refs"
            self.hints[id(predicate)] = Hint(kind, spec.name, "in", (literal,))
        elif spec.type == "datetime" and isinstance(literal, datetime) and token.text in _RANGE_OPS:
            self.hints[id(predicate)] = Hint("range", spec.name, token.text, (literal,))
        return predicate

    def _value(self, spec: FieldSpec, token: Token) -> Any:
        kind, upper = token.kind, token.upper
        if kind == "ident" and upper == "NULL":
            return None
        ftype = spec.type
        if ftype in _STRING_TYPES:
            if kind != "string":
                raise self._filter_type(spec, "string", quoted=True)
            value = decode_string(token.text)
            if ftype in ("id", "reference"):
                return normalize(value) or value
            return value
        if ftype == "boolean":
            if upper not in ("TRUE", "FALSE"):
                raise self._filter_type(spec, "boolean", quoted=False)
            return upper == "TRUE"
        if ftype in _NUMBER_TYPES:
            if kind != "number":
                raise self._filter_type(spec, "double", quoted=False)
            return float(token.text)
        if ftype in ("datetime", "date"):
            if kind == "ident":
                return self._relative(token)
            expected = "datetime" if ftype == "datetime" else "date"
            if kind != expected:
                raise self._filter_type(spec, "dateTime" if ftype == "datetime" else "date", False)
            return (
                parse_datetime(token.text)
                if ftype == "datetime"
                else date.fromisoformat(token.text)
            )
        raise self.error(token)

    def _relative(self, token: Token) -> DayRange:
        word, _, count = token.upper.partition(":")
        today = self.now.astimezone(UTC).date()
        if word in _RELATIVE and not count:
            start, end = _RELATIVE[word]
        elif word in ("LAST_N_DAYS", "NEXT_N_DAYS") and count:
            n = int(count)
            start, end = (-n, 1) if word == "LAST_N_DAYS" else (0, n + 1)
        else:
            raise self.error(token)
        return DayRange(today + timedelta(days=start), today + timedelta(days=end))

    def _filter_type(self, spec: FieldSpec, kind: str, quoted: bool) -> ApiError:
        how = "be enclosed in quotes" if quoted else "not be enclosed in quotes"
        return ApiError(
            400,
            "INVALID_QUERY_FILTER_OPERATOR",
            f"\n{self.soql}\nvalue of filter criterion for field '{spec.name}' must be of type "
            f"{kind} and should {how}",
        )


def parse_soql(soql: str, schema: dict[str, ObjectSchema], now: datetime) -> SoqlQuery:
    """Parse and compile `soql` against the org's `schema`; raises `ApiError` (400) when invalid."""
    if not soql or not soql.strip():
        raise ApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
    return _Parser(soql, schema, now).parse()
