# syntax=docker/dockerfile:1
#
# The redirect runtime's image (default target, what deploy.sh pushes to ECR):
#   docker build -t link-runtime .
# and the development image docker-compose.yml runs every local process with:
#   docker build --target dev -t link-tracking-dev .

ARG PYTHON_VERSION=3.11

FROM python:${PYTHON_VERSION}-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# --- build: the runtime and the contract, with only the runtime extra, in a virtualenv -------
# Dependencies come from the lock: requirements/runtime.txt is the runtime's subset of uv.lock
# (`make lock` writes it, `make check-lock` checks it), every package pinned with its hashes.
# The project itself is the mypyc-compiled build (README, "Compiled build"): compiled here, by
# the lock's mypy (requirements/mypyc.txt, hash-pinned) in a build-only virtualenv, with a C
# compiler this stage alone installs; the runtime stage copies /opt/venv and neither of them.
FROM base AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY requirements/runtime.txt requirements/mypyc.txt ./requirements/
RUN pip install --require-hashes -r requirements/runtime.txt
# mypy type-checks what it compiles: the build venv has the runtime's packages too.
RUN python -m venv /opt/build \
    && /opt/build/bin/pip install --require-hashes -r requirements/mypyc.txt \
    && /opt/build/bin/pip install --require-hashes -r requirements/runtime.txt
COPY pyproject.toml setup.py MANIFEST.in README.md* LICENSE ./
COPY build_backend ./build_backend
COPY link_tracking_runtime ./link_tracking_runtime
COPY runtime_service ./runtime_service
RUN LINK_TRACKING_MYPYC=1 /opt/build/bin/pip wheel --no-deps --no-build-isolation \
        --wheel-dir /tmp/wheels . \
    && pip install --no-deps /tmp/wheels/link_tracking-*.whl \
    && python -P -c "import runtime_service.redirect as m; assert m.__file__.endswith('.so'), m.__file__"

# --- dev: everything (control plane, Celery, moto, test tools) for docker-compose.yml ---------
# The same environment as `make install`: scripts/venv.py syncs /opt/venv from uv.lock.
FROM base AS dev
WORKDIR /app
COPY . .
RUN python scripts/venv.py --venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
CMD ["python", "-m", "pytest", "-q"]

# --- runtime: the production image ------------------------------------------------------------
FROM base AS runtime
# A fixed non-root uid/gid: the ECS task definition runs the container as 10001:10001 with a
# read-only root file system. The spool directory is where EVENT_JOURNAL_DIR lives.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin app \
    && install -d -o app -g app /var/spool/link-runtime /var/spool/link-runtime/event-journal
# The task's writable volumes. On Fargate a bind-mount volume is empty, root-owned and 0755
# unless the image declares its path as a VOLUME: then the image's content, owner and mode are
# copied into it, so the app user can write /tmp (1777) and the spool directory.
VOLUME ["/tmp", "/var/spool/link-runtime"]
COPY --from=build /opt/venv /opt/venv
# gunicorn: keep-alive longer than the ALB's idle timeout (30 s), so the ALB never reuses a
# connection the worker has just closed (intermittent 502s); graceful timeout shorter than the
# ECS stop timeout (30 s) and longer than the runtime's SHUTDOWN_FLUSH_SECONDS (10 s).
ENV PATH=/opt/venv/bin:$PATH \
    WEB_CONCURRENCY=2 \
    EVENT_JOURNAL_DIR=/var/spool/link-runtime/event-journal \
    CLICK_EVENTS_FILE=/var/spool/link-runtime/click-events.ndjson \
    GUNICORN_CMD_ARGS="--keep-alive 75 --graceful-timeout 20"
WORKDIR /var/spool/link-runtime
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=3)"]
# exec: gunicorn becomes PID 1 and receives ECS's SIGTERM for a graceful shutdown.
CMD ["sh", "-c", "exec gunicorn -k runtime_service.server.RuntimeWorker -w ${WEB_CONCURRENCY:-2} -b 0.0.0.0:8000 runtime_service.asgi:app"]
