# Miantan: `make run` starts the product, `make test` runs every test. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# PORT reaches the server and the settings (links in mail follow it unless MIANTAN_BASE_URL is set).
export PORT ?= 8000
# The demo settings: DEBUG off, mail in var/mail/; DJANGO_SETTINGS_MODULE=config.settings.dev for DEBUG.
export DJANGO_SETTINGS_MODULE ?= config.settings.demo

.PHONY: run serve test ci lint typecheck format bench mutation migrate seed messages translations install sysdeps sysdeps-test clean help

help:
	@echo "make run    install, migrate, load the demo organisation, serve on http://127.0.0.1:$(PORT)"
	@echo "make serve  the same with the production server (deploy/serve)"
	@echo "make test   install what tests need and run the whole suite"
	@echo "make ci     what CI runs: lint, types, migrations check, messages, tests"
	@echo "make bench  benchmarks; writes bench/results.json"
	@echo "make mutation  mutation testing of rules, audit, scopes, slots; scores in bench/results.json"

# --- installation ---------------------------------------------------------------------------
$(VENV)/.installed: requirements.lock pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --quiet --upgrade pip uv
	@$(VENV)/bin/uv pip install --quiet --python $(PY) -r requirements.lock
	@$(VENV)/bin/uv pip install --quiet --python $(PY) --no-deps -e .
	@touch $@

node_modules/.installed: package.json package-lock.json
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# Debian packages: gettext for translations; Pango, HarfBuzz's subsetter and the Noto CJK fonts
# for the PDF export (WeasyPrint); chromium for browser tests; poppler-utils to check the exported
# PDFs (pdfsig, pdffonts, pdftotext); Redis for the test of the live record's rooms shared by two
# server processes.
PDF_LIBS := libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk
sysdeps:
	@if ! command -v msgfmt >/dev/null || ! command -v pg_dump >/dev/null || ! dpkg -s $(PDF_LIBS) >/dev/null 2>&1; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext postgresql-client $(PDF_LIBS) >/dev/null; \
	fi

sysdeps-test: sysdeps
	@if ! command -v chromium >/dev/null || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || ! command -v redis-server >/dev/null || ! command -v pdfsig >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk redis-server poppler-utils >/dev/null; \
	fi

install: $(VENV)/.installed node_modules/.installed sysdeps messages

# Refresh the Chinese catalogue after changing user-facing strings; then translate the new entries.
translations: $(VENV)/.installed sysdeps
	@$(PY) manage.py makemessages -l zh_Hans --no-location --ignore=.venv --ignore=node_modules --ignore=tests --ignore=bench --ignore=var

messages: $(VENV)/.installed sysdeps
	@$(PY) manage.py compilemessages --ignore=.venv --ignore=node_modules -v0

# --- running ----------------------------------------------------------------------------------
# The background worker and the delivery loop, started beside the server that follows and
# stopped with it.
WITH_WORKERS = $(PY) manage.py db_worker --interval 1 & worker=$$!; \
	$(PY) manage.py deliver_notifications --loop --interval 5 & notifier=$$!; \
	trap 'kill $$worker $$notifier 2>/dev/null' EXIT INT TERM;
migrate: install
	@mkdir -p var
	@$(PY) manage.py migrate --no-input -v0

seed: migrate
	@$(PY) manage.py seed_demo --if-empty

run: seed
	@$(PY) manage.py demo_logins
	@echo "Miantan is starting on http://127.0.0.1:$(PORT)  (Ctrl-C stops the server and the worker)"
	@$(WITH_WORKERS) $(VENV)/bin/uvicorn config.asgi:application --host 127.0.0.1 --port $(PORT) --log-level warning

# Production-like: DEBUG off, the production server (deploy/serve: granian for pages and API,
# uvicorn for the live room's WebSockets on PORT+1), the background worker and the delivery loop.
serve: seed
	@$(PY) manage.py demo_logins
	@echo "Miantan (production server) is starting on http://127.0.0.1:$(PORT)  (Ctrl-C stops it)"
	@$(WITH_WORKERS) deploy/serve

# --- quality ----------------------------------------------------------------------------------
test: install sysdeps-test
	@DJANGO_SETTINGS_MODULE=config.settings.test $(VENV)/bin/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/lint-imports --no-cache

format: $(VENV)/.installed
	@$(VENV)/bin/ruff format .
	@$(VENV)/bin/ruff check --fix .

typecheck: $(VENV)/.installed
	@DJANGO_SETTINGS_MODULE=config.settings.test $(VENV)/bin/mypy miantan config

ci: install lint typecheck
	@DJANGO_SETTINGS_MODULE=config.settings.test $(PY) manage.py makemigrations --check --dry-run
	@$(MAKE) --no-print-directory test
	@DATABASE_URL=$${CI_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test} $(MAKE) --no-print-directory test

bench: install
	@$(PY) bench/run.py $(BENCH_ARGS)

# Small deliberate bugs in the rules, audit, scope and slot modules: do the tests notice them?
mutation: $(VENV)/.installed
	@$(PY) bench/mutation.py $(MUTATION_ARGS)

clean:
	rm -rf var/test-media .pytest_cache .mypy_cache .ruff_cache
