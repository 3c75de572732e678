# The service desk: `make run` to use it, `make test` to check it.
# Every variable below can be overridden from the environment.

SHELL := /bin/bash
export RASA_TELEMETRY_ENABLED := false
export SQLALCHEMY_SILENCE_UBER_WARNING := 1

# Where each process listens (development defaults, one machine).
export HANDOFF_HOST ?= 127.0.0.1
export HANDOFF_PORT ?= 8000
export RASA_PORT ?= 5005
export ACTIONS_PORT ?= 5055
export HANDOFF_URL ?= http://127.0.0.1:$(HANDOFF_PORT)
export HANDOFF_RASA_URL ?= http://127.0.0.1:$(RASA_PORT)
export RASA_ACTIONS_URL ?= http://127.0.0.1:$(ACTIONS_PORT)/webhook

# Where `make run` keeps its files: SQLite databases, secrets, supervisord's
# socket.
export VAR_DIR ?= $(CURDIR)/var

# Secrets (HANDOFF_RASA_TOKEN, HANDOFF_SERVICE_TOKEN, WHATSAPP_VERIFY_TOKEN,
# WHATSAPP_APP_SECRET, WHATSAPP_ACCESS_TOKEN) are never written here: set them
# in the environment, or `make run` makes random development ones once in
# $(SECRETS) (git-ignored) and loads them.
SECRETS := $(VAR_DIR)/secrets.env

# WhatsApp Cloud API (Meta's app settings); a development placeholder.
export WHATSAPP_PHONE_NUMBER_ID ?= 000000000000000
# The Graph API's address and version (v25.0: available until July 2028).
export WHATSAPP_API_BASE_URL ?= https://graph.facebook.com
export WHATSAPP_API_VERSION ?= v25.0

# The chat widget: the origins whose pages may open its connection to Rasa
# (comma-separated; our widget's conversation runs in a frame on the handoff
# service's origin), and how many new conversations one address may start
# (see credentials.yml).
export WIDGET_ALLOWED_ORIGINS ?= http://$(HANDOFF_HOST):$(HANDOFF_PORT)
export WIDGET_NEW_CONVERSATIONS_PER_ADDRESS ?= 20 per 10 minutes

# Databases: SQLite files in $(VAR_DIR) unless DATABASE_URL names PostgreSQL, in
# which case Rasa's tracker store uses the same database.
export DATABASE_URL ?= sqlite:///$(VAR_DIR)/handoff.db
ifeq ($(findstring postgresql,$(DATABASE_URL)),postgresql)
export RASA_TRACKER_DB ?= $(DATABASE_URL)
else
export RASA_TRACKER_DB ?= sqlite:///$(VAR_DIR)/rasa.db
endif

.PHONY: help setup train run cluster test test-fast chaos lint check bench content

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

setup: ## Create .venv-rasa (Python 3.10) and .venv (Python 3.11+) when missing or stale
	@bash scripts/setup.sh

train: setup ## Train the Rasa model when its inputs changed
	@bash scripts/train.sh

run: train ## Migrate, load demo data, start Rasa, actions and the handoff service (supervised)
	@mkdir -p $(VAR_DIR)
	@bash scripts/dev_secrets.sh $(SECRETS)
	@.venv/bin/python -m handoff prepare
	@echo
	@echo "  Operator console:  http://$(HANDOFF_HOST):$(HANDOFF_PORT)/console/"
	@echo "  Demo users:        operador, supervisor (password $${HANDOFF_DEMO_PASSWORD:-atendimento123})"
	@echo "  Visitor's widget:  http://$(HANDOFF_HOST):$(HANDOFF_PORT)/widget/"
	@echo "  Health:            http://$(HANDOFF_HOST):$(HANDOFF_PORT)/health"
	@echo "  A process that stops is started again; Ctrl-C stops everything."
	@echo
	@. $(SECRETS) && exec .venv/bin/supervisord -c deploy/supervisord.conf

cluster: train ## Run nginx (TLS) in front of two Rasa and two handoff processes, on PostgreSQL and Redis
	@bash scripts/test_prereqs.sh --services
	@bash scripts/cluster.sh

# The fast tier first (tests/fast: the app in the test process, a fresh
# SQLite per test, no Rasa, PostgreSQL or browser; under a minute, in one
# process: each test builds its own app, which is CPU, so workers do not help).
# Then the real processes, two workers: most of a test's time is spent waiting
# on them, so two modules at a time fit the 2-core machine; a module's tests
# stay together. The chaos run comes after, alone: its clients and processes
# need both cores (its replay times are figures, not limits;
# tests/faults/test_chaos.py): SQLite with one handoff process, and
# PostgreSQL with two behind a balancer; `make chaos` adds PostgreSQL with
# one process and runs all three at full size.
test: train ## Install what is missing (chromium; starts PostgreSQL, Redis); run the fast tier, then the whole suite
	@bash scripts/test_prereqs.sh
	@.venv/bin/python -m pytest tests/fast
	@.venv/bin/python -m pytest -n 2 --dist loadscope --durations=30 --ignore=tests/fast --ignore=tests/faults/test_chaos.py
	@.venv/bin/python -m pytest tests/faults/test_chaos.py -k "sqlite or two_handoff"

test-fast: setup ## The fast tier alone: domain and API in the test process, under a minute
	@.venv/bin/python -m pytest tests/fast

chaos: train ## The chaos run at full size: 10,000 messages in each of its runs (SQLite, PostgreSQL, two handoff processes)
	@CHAOS_MESSAGES=10000 .venv/bin/python -m pytest tests/faults/test_chaos.py -s

lint: setup ## ruff check and ruff format --check
	@.venv/bin/ruff check .
	@.venv/bin/ruff format --check .

check: setup ## The quality gates CI runs first: ruff, mypy --strict, ESLint, models vs migrations
	@bash scripts/check.sh

bench: train ## Load benchmark on SQLite and PostgreSQL, about 30 min (see bench/README.md)
	@.venv/bin/python -m bench

content: setup ## Check the content editors' files and load them into the running system
	@bash scripts/dev_secrets.sh $(SECRETS)
	@. $(SECRETS) && .venv/bin/python -m handoff content reload
