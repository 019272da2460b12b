"""`key_in`: the same rows as `IN` on both stores, and on PostgreSQL one statement text with one
array parameter whatever the number of keys (sync/store/key_in.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, select, update
from sqlalchemy.engine import Engine

from sync.store.key_in import key_in
from sync.store.tables import PersonState

_STATES = PersonState.__table__  # type: ignore[attr-defined]


def _seed(engine: Engine, n: int) -> None:
    with engine.begin() as link:
        link.execute(
            _STATES.insert(),
            [{"person_key": f"hubspot:{i}", "score": i, "reasons": []} for i in range(n)],
        )


def test_key_in_selects_and_updates_exactly_the_listed_keys(engine: Engine) -> None:
    _seed(engine, 1500)
    statements: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        if "person_key" in statement.partition("WHERE")[2]:  # the statements by key
            statements.append((statement, params))

    def read(keys: list[str]) -> set[str]:
        with engine.connect() as link:
            query = select(_STATES.c.person_key).where(key_in(_STATES.c.person_key, keys))
            return {row[0] for row in link.execute(query)}

    few = ["hubspot:3", "hubspot:7", "hubspot:no-such"]
    many = [f"hubspot:{i}" for i in range(0, 3000, 2)]  # 1,500 keys, half of them stored
    assert read(few) == {"hubspot:3", "hubspot:7"}
    assert read(many) == {f"hubspot:{i}" for i in range(0, 1500, 2)}
    assert read([]) == set()
    with engine.begin() as link:
        link.execute(update(_STATES).where(key_in(_STATES.c.person_key, few)).values(score=-1))
    with engine.connect() as link:
        changed = link.execute(select(_STATES.c.person_key).where(_STATES.c.score == -1))
        assert {row[0] for row in changed} == {"hubspot:3", "hubspot:7"}

    selects = [s for s, _ in statements if s.lstrip().upper().startswith("SELECT")]
    if engine.dialect.name == "postgresql":
        assert len(set(selects)) == 1  # one text for 3, 1,500 and no keys: parsed once
        assert "= ANY (" in selects[0]
        params = statements[0][1]
        assert list(params.values()) == [few]  # one parameter: the keys as an array
    else:
        assert all(" IN (" in s and "= 1" not in s for s in selects)  # the index is usable
