"""compose.yaml, checked by its structure (there is no Docker engine here to start it): PostgreSQL
with a volume and a healthcheck, two `handoff run --replicas` that wait for it to be healthy, the
environment every starter config needs, and no secret written in it."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import make_url
from test_dockerfile import CONFIG_PATH, stages_of

from config.init import starter_config
from config.logs import is_secret_key

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "compose.yaml"
SANDBOX_ONLY = {"HANDOFF_CA_FILE"}  # the sandbox's throwaway CA, a file on the host
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?+][^}]*)?\}")


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def interpolate(value: str, env: dict[str, str]) -> str:
    """What Compose makes of ${VAR}, ${VAR:-default} and ${VAR:?message}, given `env`."""
    return INTERPOLATION.sub(lambda m: env.get(m.group(1), "x"), value)


def config_variables(text: str, *, required_only: bool) -> set[str]:
    """The ${VARIABLES} a handoff.yaml reads (without a :- default when `required_only`)."""
    code = "\n".join(
        line.split(" #", 1)[0] for line in text.splitlines() if not line.startswith("#")
    )
    found = re.findall(r"\$\{([A-Z][A-Z0-9_]*)(:-[^}]*)?\}", code)
    return {name for name, default in found if not (required_only and default)}


def workers(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in doc["services"].items()
        if service.get("command", [])[:2] == ["run", "--replicas"]
    }


def runtime_home() -> str:
    final = stages_of((ROOT / "Dockerfile").read_text())[-1]
    return final.all("WORKDIR")[-1].value.strip()


def compose_problems(doc: dict[str, Any]) -> list[str]:
    """Everything wrong with compose.yaml, as messages naming the place and the fix."""
    problems: list[str] = []
    services = doc.get("services") or {}
    databases = {
        n: s for n, s in services.items() if str(s.get("image", "")).startswith("postgres")
    }
    if len(databases) != 1:
        return ["services: one PostgreSQL service (image: postgres:<major>)"]
    (db_name, db), volumes = next(iter(databases.items())), doc.get("volumes") or {}
    mounts = [str(v).split(":") for v in db.get("volumes", [])]
    if not any(m[0] in volumes and m[1] == "/var/lib/postgresql/data" for m in mounts):
        problems.append(f"services.{db_name}: a named volume on /var/lib/postgresql/data")
    if "pg_isready" not in " ".join(db.get("healthcheck", {}).get("test", [])):
        problems.append(f"services.{db_name}.healthcheck: test with pg_isready")
    db_env = db.get("environment", {})

    replicas = workers(doc)
    count = sum(int(s.get("deploy", {}).get("replicas", 1)) for s in replicas.values())
    if count != 2:
        problems.append(f"two replicas of `handoff run --replicas` (found {count})")
    for name, worker in replicas.items():
        where = f"services.{name}"
        condition = (worker.get("depends_on") or {}).get(db_name, {})
        if not isinstance(condition, dict) or condition.get("condition") != "service_healthy":
            problems.append(f"{where}.depends_on.{db_name}: condition: service_healthy")
        if worker.get("healthcheck", {}).get("test") != ["CMD", "handoff", "health"]:
            problems.append(f'{where}.healthcheck: test: ["CMD", "handoff", "health"]')
        if str(worker.get("user", "10001")).split(":")[0] in ("root", "0"):
            problems.append(f"{where}.user: leave the image's unprivileged user")
        if worker.get("build") not in (".", {"context": "."}):
            problems.append(f"{where}.build: . (the Dockerfile beside compose.yaml)")
        env = worker.get("environment") or {}
        if not isinstance(env, dict):
            problems.append(f"{where}.environment: a map (VAR: value)")
            continue
        problems += state_url_problems(where, env.get("HANDOFF_STATE_URL"), db_name, db_env)
        for key, value in env.items():
            if is_secret_key(key) and value is not None and "${" not in str(value):
                problems.append(f"{where}.environment.{key}: a secret; pass it from the shell")
        for crm in ("hubspot", "salesforce", "both"):
            starter = starter_config(crm, "handoff.schema.json")
            needed = config_variables(starter, required_only=False) - SANDBOX_ONLY
            missing = sorted(needed - set(env))
            if missing:
                problems.append(
                    f"{where}.environment: {', '.join(missing)} (handoff init --crm {crm})"
                )
        mounts = [interpolate(str(v), {}).split(":") for v in worker.get("volumes", [])]
        targets = {m[1]: ":".join(m) for m in mounts}
        if not targets.get(CONFIG_PATH, "").endswith(":ro"):
            problems.append(f"{where}.volumes: the config mounted read-only at {CONFIG_PATH}")
        home = runtime_home()
        if targets.get(home, ":").split(":")[0] not in volumes:
            problems.append(f"{where}.volumes: a named volume on {home} (reports, owned by 10001)")
    return problems


def state_url_problems(where: str, url: str | None, db_name: str, db_env: dict) -> list[str]:
    if not url:
        return [f"{where}.environment.HANDOFF_STATE_URL: the {db_name} service's URL"]
    parsed = make_url(interpolate(url, {"POSTGRES_PASSWORD": "s3cret"}))
    expected = {
        "drivername": "postgresql+psycopg",
        "host": db_name,
        "database": db_env.get("POSTGRES_DB"),
        "username": db_env.get("POSTGRES_USER"),
        "password": interpolate(
            str(db_env.get("POSTGRES_PASSWORD")), {"POSTGRES_PASSWORD": "s3cret"}
        ),
    }
    wrong = [k for k, v in expected.items() if getattr(parsed, k) != v]
    if wrong:
        return [f"{where}.environment.HANDOFF_STATE_URL: {', '.join(wrong)} differ from {db_name}"]
    return []


def test_the_compose_file_has_no_problems() -> None:
    assert compose_problems(compose()) == []


def test_the_starter_configs_need_nothing_compose_does_not_pass() -> None:
    """Every variable a starter config requires reaches the replicas (else a clear error at
    start names it: a pass-through without a value is unset when the shell has none)."""
    env = next(iter(workers(compose()).values()))["environment"]
    for crm in ("hubspot", "salesforce", "both"):
        assert config_variables(
            starter_config(crm, "handoff.schema.json"), required_only=True
        ) <= set(env)
    assert {"HUBSPOT_TOKEN", "SALESFORCE_SESSION_ID"} <= {k for k, v in env.items() if v is None}


def test_the_password_is_required_not_defaulted() -> None:
    text = COMPOSE.read_text()
    assert "${POSTGRES_PASSWORD:?" in text and "${POSTGRES_PASSWORD:-" not in text


def _drop(doc: dict, *path: str) -> None:
    for key in path[:-1]:
        doc = doc[key]
    del doc[path[-1]]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda d: d["services"]["worker"]["deploy"].update(replicas=1), "two replicas"),
        (
            lambda d: d["services"]["worker"]["depends_on"].update(postgres={}),
            "service_healthy",
        ),
        (lambda d: _drop(d, "services", "postgres", "healthcheck"), "pg_isready"),
        (lambda d: _drop(d, "services", "postgres", "volumes"), "named volume"),
        (lambda d: d["services"]["worker"].update(user="root"), "unprivileged"),
        (lambda d: _drop(d, "services", "worker", "environment", "HUBSPOT_TOKEN"), "HUBSPOT_TOKEN"),
        (
            lambda d: d["services"]["worker"]["environment"].update(HUBSPOT_TOKEN="pat-na1-1"),
            "a secret",
        ),
        (
            lambda d: d["services"]["worker"]["environment"].update(
                HANDOFF_STATE_URL="postgresql+psycopg://handoff:x@db:5432/handoff"
            ),
            "host",
        ),
        (lambda d: d["services"]["worker"]["volumes"].pop(0), "read-only"),
        (lambda d: _drop(d, "services", "worker", "healthcheck"), "handoff"),
    ],
)
def test_each_broken_promise_is_named(change: Any, problem: str) -> None:
    doc = copy.deepcopy(compose())
    change(doc)
    problems = compose_problems(doc)
    assert any(problem in p for p in problems), problems
