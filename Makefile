# link-tracking: the commands the README, docker-compose.yml and CI use.
PYTHON ?= python3
STAMP := var/.installed

.PHONY: install dev test test-fast lint check-terraform bench bench-publish bench-runtime bench-soak moto worker beat runtime

# Install the package with every extra the stack and the tests need (once per pyproject change).
$(STAMP): pyproject.toml
	$(PYTHON) -m pip install --quiet --upgrade pip
	$(PYTHON) -m pip install --quiet -e ".[dev]"
	@mkdir -p var && touch $(STAMP)

install: $(STAMP)

# The whole thing locally on embedded defaults: moto server, SQLite, filesystem broker,
# a real Celery worker; prints the demo link's runtime record. Ctrl-C stops it.
dev: $(STAMP)
	$(PYTHON) -m devsite.stack

# Every test: contract, control plane, end-to-end with real processes.
test: $(STAMP)
	$(PYTHON) -m pytest

# Everything but the end-to-end tests that start processes.
test-fast: $(STAMP)
	$(PYTHON) -m pytest -m "not e2e"

lint: $(STAMP)
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m mypy
	$(PYTHON) manage.py makemigrations --check --dry-run

check-terraform:
	scripts/check-terraform --quiet

bench-publish: $(STAMP)
	$(PYTHON) benchmarks/publish_bench.py

# Needs wrk (apt-get install -y wrk).
bench-runtime: $(STAMP)
	$(PYTHON) benchmarks/runtime_bench.py

# The runtime at 80% of its maximum for 60 s (needs wrk).
bench-soak: $(STAMP)
	$(PYTHON) benchmarks/soak_bench.py

bench: bench-publish bench-runtime

# Single components, for running the stack by hand (see README).
moto: $(STAMP)
	$(PYTHON) -m moto.server -H 127.0.0.1 -p $${MOTO_PORT:-5000}

worker: $(STAMP)
	$(PYTHON) -m celery -A devsite worker --loglevel INFO

beat: $(STAMP)
	$(PYTHON) -m celery -A devsite beat --loglevel INFO

# The redirect runtime on local defaults (ENVIRONMENT=development: click events to an NDJSON
# file). Point it at a table with DYNAMODB_TABLE_NAME and AWS_ENDPOINT_URL.
runtime: $(STAMP)
	ENVIRONMENT=$${ENVIRONMENT:-development} $(PYTHON) -m uvicorn runtime_service.asgi:app --host 127.0.0.1 --port $${RUNTIME_PORT:-8080}
