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

# Development-only secrets; set real ones in production.
export HANDOFF_RASA_TOKEN ?= dev-rasa-token
export HANDOFF_SERVICE_TOKEN ?= dev-service-token

# WhatsApp Cloud API (Meta's app settings); development placeholders.
export WHATSAPP_VERIFY_TOKEN ?= dev-verify-token
export WHATSAPP_APP_SECRET ?= dev-app-secret
export WHATSAPP_ACCESS_TOKEN ?= dev-access-token
export WHATSAPP_PHONE_NUMBER_ID ?= 000000000000000
export WHATSAPP_API_BASE_URL ?= https://graph.facebook.com/v21.0

# Databases: SQLite files in var/ unless DATABASE_URL names PostgreSQL, in
# which case Rasa's tracker store uses the same database.
export DATABASE_URL ?= sqlite:///$(CURDIR)/var/handoff.db
ifeq ($(findstring postgresql,$(DATABASE_URL)),postgresql)
export RASA_TRACKER_DB ?= $(DATABASE_URL)
else
export RASA_TRACKER_DB ?= sqlite:///$(CURDIR)/var/rasa.db
endif

.PHONY: help setup train run test lint bench content

help: ## List the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

setup: ## Create .venv-rasa (Python 3.10) and .venv (Python 3.11+) when missing or stale
	@bash scripts/setup.sh

train: setup ## Train the Rasa model when its inputs changed
	@bash scripts/train.sh

run: train ## Migrate, load demo data, start Rasa, actions and the handoff service
	@mkdir -p var
	@.venv/bin/python -m handoff prepare
	@echo
	@echo "  Operator console:  http://$(HANDOFF_HOST):$(HANDOFF_PORT)/console/"
	@echo "  Demo users:        operador, supervisor (password $${HANDOFF_DEMO_PASSWORD:-atendimento123})"
	@echo "  Visitor's widget:  http://$(HANDOFF_HOST):$(HANDOFF_PORT)/widget/"
	@echo "  Health:            http://$(HANDOFF_HOST):$(HANDOFF_PORT)/health"
	@echo "  Ctrl-C stops everything."
	@echo
	@exec .venv/bin/honcho start -f Procfile

test: train ## Run the whole test suite (SQLite and PostgreSQL)
	@.venv/bin/python -m pytest

lint: setup ## ruff check and ruff format --check
	@.venv/bin/ruff check .
	@.venv/bin/ruff format --check .

bench: train ## Measure latency and memory of a running stack (see bench/README.md)
	@.venv/bin/python -m bench.roundtrip --backend sqlite
	@.venv/bin/python -m bench.roundtrip --backend postgresql

content: setup ## Check the content editors' files and load them into the running system
	@.venv/bin/python -m handoff content reload
