# link-tracking: the commands the README, docker-compose.yml and CI use.
#
# Every target runs in the project's own virtualenv, .venv, built from the committed lock
# (uv.lock) by scripts/venv.py with $(PYTHON) (default python3; Debian's /usr/bin/python3
# works). Nothing is ever installed into the interpreter make was started with.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.synced
# The runtime's subset of the lock, for the Docker image (hash-pinned, pip-installable).
RUNTIME_REQUIREMENTS := requirements/runtime.txt
# The compiled build's build requirements (mypy at the lock's version), hash-pinned.
MYPYC_REQUIREMENTS := requirements/mypyc.txt
UV_ENV := UV_PROJECT_ENVIRONMENT=$(VENV) UV_PYTHON=$(PY) UV_PYTHON_DOWNLOADS=never

.PHONY: install lock lock-upgrade check-lock dev dev-once test bot-patterns check-bot-patterns test-fast test-shifted test-host lint check-terraform \
	compiled test-compiled bench bench-publish bench-runtime bench-soak moto worker beat runtime web

# Build .venv from the lock (again whenever pyproject.toml or uv.lock changes).
$(STAMP): pyproject.toml uv.lock scripts/venv.py
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "make: link-tracking needs Python 3.11 or newer; '$(PYTHON)' is $$($(PYTHON) -V 2>&1 || echo missing): run make PYTHON=python3.11 (or newer)" >&2; exit 1; }
	@$(PYTHON) scripts/venv.py --python "$(PYTHON)" --venv $(VENV)
	@touch $(STAMP)

install: $(STAMP)

# Re-resolve uv.lock after a change to pyproject.toml (keeping every pin that still fits), and
# the runtime's requirements file derived from it. Commit both.
lock: $(STAMP)
	$(UV_ENV) $(UV) lock
	$(UV_ENV) $(UV) export --frozen --quiet --extra runtime --no-emit-project --no-header \
	  --format requirements-txt --output-file $(RUNTIME_REQUIREMENTS)
	$(UV_ENV) $(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	  --no-header requirements/checkov.in --output-file requirements/checkov.txt
	$(UV_ENV) $(UV) export --frozen --quiet --extra dev --no-emit-project --no-header --no-hashes \
	  --format requirements-txt --output-file $(VENV)/lock-constraints.txt
	$(UV_ENV) $(UV) pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	  --no-header --no-annotate -c $(VENV)/lock-constraints.txt requirements/mypyc.in \
	  --output-file $(MYPYC_REQUIREMENTS)

# The same, moving every package to the newest release its range allows.
lock-upgrade: $(STAMP)
	$(UV_ENV) $(UV) lock --upgrade
	$(MAKE) lock

# Fails when uv.lock, requirements/runtime.txt or requirements/checkov.txt are out of date
# (CI runs it).
check-lock: $(STAMP)
	@$(PY) scripts/check_lock.py

# The contract's bot patterns (link_tracking_runtime/bot_patterns.py), generated from the dev
# extra's pinned crawler-user-agents and isbot's list in scripts/bot_sources/isbot.json (to move
# isbot: npm pack isbot@VERSION, then make bot-patterns ISBOT_TARBALL=isbot-VERSION.tgz). Commit it.
bot-patterns: $(STAMP)
	$(PY) scripts/bot_patterns.py $(if $(ISBOT_TARBALL),--isbot-tarball $(ISBOT_TARBALL))

# Fails when the committed bot patterns differ from what their sources generate (CI runs it).
check-bot-patterns: $(STAMP)
	@$(PY) scripts/bot_patterns.py --check

# The whole thing locally on embedded defaults: moto server, SQLite, filesystem broker, a real
# Celery worker, the control plane (admin, API) and the runtime. Ctrl-C stops it.
dev: $(STAMP)
	@$(PY) -m devsite.stack

# The same stack: checks the redirect, the admin and the API over HTTP, prints it, and exits.
dev-once: $(STAMP)
	@$(PY) -m devsite.stack --once

# Every test: contract, control plane, end-to-end with real processes.
test: $(STAMP)
	$(PY) -m pytest

# Everything but the end-to-end tests that start processes.
test-fast: $(STAMP)
	$(PY) -m pytest -m "not e2e"

# The same tests with the wall clock a year and a day ahead (tests/conftest.py, --shift-clock-days):
# fails when a test depends on the day it was written. CI runs it after make test. The end-to-end
# tests are left out: their servers are other processes, which keep the real clock.
test-shifted: $(STAMP)
	$(PY) -m pytest -m "not e2e" --shift-clock-days=366

# The app as a user installs it (docs/INTEGRATION.md): the sdist and the wheel built from it,
# installed into a project made by django-admin startproject, on the oldest and the newest
# supported Django, with real processes (moto, Redis, a Celery worker, the runtime from its own
# extra). Needs redis-server (apt-get install redis-server) and each leg's Python: 3.11 and 3.13
# (found in /usr/bin, PATH or pyenv; HOST_LEGS="PATH:6.1 ..." names others).
HOST_LEGS ?= 3.11:5.2 3.13:6.1
test-host: $(STAMP)
	$(PY) scripts/host_project_check.py $(foreach leg,$(HOST_LEGS),--leg $(leg))

# The optional compiled build (README, "Compiled build"): a wheel of the contract and the runtime
# compiled with mypyc (LINK_TRACKING_MYPYC=1) by the lock's mypy, installed into its own
# virtualenv, .venv-compiled (the lock's packages, never .venv), rebuilt when a source changes.
COMPILED_VENV := .venv-compiled
COMPILED_PY := $(COMPILED_VENV)/bin/python
COMPILED_STAMP := $(COMPILED_VENV)/.built
COMPILED_INPUTS := $(wildcard link_tracking_runtime/*.py runtime_service/*.py) setup.py \
	build_backend/link_tracking_build.py $(MYPYC_REQUIREMENTS) pyproject.toml uv.lock

$(COMPILED_STAMP): $(STAMP) $(COMPILED_INPUTS)
	UV_PROJECT_ENVIRONMENT=$(COMPILED_VENV) UV_PYTHON=$(PY) UV_PYTHON_DOWNLOADS=never \
	  $(UV) sync --locked --extra dev --no-install-project --quiet
	$(UV) pip install --python $(COMPILED_PY) --no-config --quiet --require-hashes -r $(MYPYC_REQUIREMENTS)
	rm -rf build dist/compiled
	LINK_TRACKING_MYPYC=1 $(UV) build --python $(COMPILED_PY) --no-build-isolation --wheel \
	  --out-dir dist/compiled --quiet
	$(UV) pip install --python $(COMPILED_PY) --quiet --no-deps --reinstall dist/compiled/*.whl
	@touch $@

compiled: $(COMPILED_STAMP)

# The contract and runtime tests (with the redirect vectors and the property tests) against the
# compiled modules, imported from .venv-compiled's site-packages (tests/compiled.py checks it).
test-compiled: $(COMPILED_STAMP)
	$(COMPILED_PY) -m pytest -p tests.compiled -m "not e2e" tests/contract tests/runtime \
	  tests/test_compiled.py

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) manage.py makemigrations --check --dry-run

check-terraform:
	scripts/check-terraform --quiet

bench-publish: $(STAMP)
	$(PY) benchmarks/publish_bench.py

# Needs wrk (apt-get install -y wrk).
bench-runtime: $(STAMP)
	$(PY) benchmarks/runtime_bench.py

# The runtime at 80% of its maximum for 60 s (needs wrk).
bench-soak: $(STAMP)
	$(PY) benchmarks/soak_bench.py

bench: bench-publish bench-runtime

# Single components, for running the stack by hand (see README).
moto: $(STAMP)
	$(PY) -m moto.server -H 127.0.0.1 -p $${MOTO_PORT:-5000}

worker: $(STAMP)
	$(PY) -m celery -A devsite worker --loglevel INFO

beat: $(STAMP)
	$(PY) -m celery -A devsite beat --loglevel INFO

# The control plane (admin, API) under gunicorn, static files served by WhiteNoise.
web: $(STAMP)
	$(PY) manage.py collectstatic --no-input -v 0
	$(PY) -m gunicorn devsite.wsgi --bind 127.0.0.1:$${WEB_PORT:-8000}

# The redirect runtime on local defaults (ENVIRONMENT=development: click events to an NDJSON
# file). Point it at a table with DYNAMODB_TABLE_NAME and AWS_ENDPOINT_URL.
runtime: $(STAMP)
	ENVIRONMENT=$${ENVIRONMENT:-development} $(PY) -m uvicorn runtime_service.asgi:app --http runtime_service.server:RuntimeHttpProtocol --host 127.0.0.1 --port $${RUNTIME_PORT:-8080} --no-access-log
