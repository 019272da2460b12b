# syntax=docker/dockerfile:1
# Handoff worker image: `docker run -v ./handoff.yaml:/etc/handoff/handoff.yaml:ro handoff`.
# Secrets come from the environment at run time (${HUBSPOT_TOKEN} in the config), never from here.

# --- build: the locked dependencies, then the project, into a virtualenv ------------------------
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# The C compiler mypyc needs (python -m scoring.compile, below); it stays in this stage.
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/handoff

WORKDIR /src

# Dependencies in their own layer, before any source: exactly the versions and hashes of
# requirements.lock (generated from pyproject.toml, the postgres extra and deploy/build-tools.in;
# how to refresh it: docs/deploy.md). A change to the code reuses this layer.
COPY requirements.lock ./
RUN /opt/handoff/bin/pip install --require-hashes -r requirements.lock

# The project itself, without dependencies (all locked above) and without build isolation (the
# build backend, hatchling, is locked too). The scoring hot path is compiled with mypyc first
# (same source; ~1.3x faster) so the wheel carries the compiled modules.
COPY pyproject.toml README.md ./
COPY connectors ./connectors
COPY sync ./sync
COPY scoring ./scoring
COPY routing ./routing
COPY config ./config
COPY sandbox ./sandbox

RUN /opt/handoff/bin/python -m scoring.compile \
    && /opt/handoff/bin/pip install --no-deps --no-build-isolation . \
    && /opt/handoff/bin/pip check \
    && /opt/handoff/bin/pip uninstall -y mypy hatchling \
    && /opt/handoff/bin/python -P -c "import scoring, sys; sys.exit(not scoring.compiled())"

# --- runtime: the virtualenv only, run as an unprivileged user ----------------------------------
FROM python:3.11-slim AS runtime

LABEL org.opencontainers.image.title="handoff" \
      org.opencontainers.image.description="Lead-handoff worker: pull, score, route, watch SLAs, write back" \
      org.opencontainers.image.licenses="Apache-2.0"

RUN groupadd --system --gid 10001 handoff \
    && useradd --system --uid 10001 --gid handoff --home-dir /var/lib/handoff --create-home \
       --shell /usr/sbin/nologin handoff \
    && mkdir -p /etc/handoff

COPY --from=build /opt/handoff /opt/handoff

ENV PATH="/opt/handoff/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HANDOFF_CONFIG=/etc/handoff/handoff.yaml \
    HANDOFF_HEARTBEAT=/tmp/handoff-heartbeat

# State (sqlite:///handoff.db by default) and reports live here: mount a volume to keep them.
WORKDIR /var/lib/handoff

USER 10001:10001

# `handoff health` fails when the scheduler's heartbeat file is stale or missing.
HEALTHCHECK --interval=60s --timeout=10s --start-period=120s --retries=3 \
    CMD ["handoff", "health"]

ENTRYPOINT ["handoff"]
CMD ["run"]
