#!/usr/bin/env bash
# `make check`: the quality gates CI runs before the tests. ruff (lint and
# format), mypy --strict on handoff/, ESLint on the console's and the
# widget's scripts (installed once into tools/jslint/node_modules from its
# lock file), and the check that the Alembic migrations build exactly the
# SQLAlchemy models' schema.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { echo "check: $*"; }

step "ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .

step "mypy --strict handoff/"
.venv/bin/mypy

step "eslint operator_console/js widget"
lint=tools/jslint
if [ ! -x "$lint/node_modules/.bin/eslint" ] \
  || ! cmp -s "$lint/package-lock.json" "$lint/node_modules/.installed-lock"; then
  command -v npm >/dev/null || { echo "check: npm is needed (Debian: apt-get install npm)" >&2; exit 1; }
  (cd "$lint" && npm ci --no-audit --no-fund --silent)
  cp "$lint/package-lock.json" "$lint/node_modules/.installed-lock"
fi
"$lint/node_modules/.bin/eslint" --config "$lint/eslint.config.mjs" operator_console/js widget

step "models and migrations agree"
.venv/bin/python -m handoff.migrate check
echo "check: all clean"
