#!/usr/bin/env bash
# What the test suite needs besides the virtual environments: Debian's
# Chromium for the browser tests, and PostgreSQL and Redis running on
# loopback (every end-to-end test also runs on PostgreSQL; the scale-out
# test uses Redis), and nginx for the cluster's front door. Installs or
# starts what is missing; run by `make test`, and with `--services` (all but
# the browser) by `make cluster`.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

need_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "test prerequisites: $1 (run as root, or do it yourself: $2)" >&2
    exit 1
  fi
}

# Playwright cannot download a browser here: the tests drive /usr/bin/chromium.
if [ "${1:-}" != --services ] && [ ! -x /usr/bin/chromium ]; then
  need_root "chromium is missing" "apt-get install chromium"
  echo "test prerequisites: installing chromium"
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi

# The cluster's front door (scripts/cluster.sh runs its own nginx).
if ! command -v nginx >/dev/null; then
  need_root "nginx is missing" "apt-get install nginx"
  echo "test prerequisites: installing nginx"
  apt-get update -qq
  apt-get install -y -qq nginx >/dev/null
fi

# The default test database (TEST_POSTGRES_URL names another server).
if [ -z "${TEST_POSTGRES_URL:-}" ]; then
  if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    need_root "PostgreSQL is not running on 127.0.0.1:5432" "pg_ctlcluster <version> main start"
    echo "test prerequisites: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n 1)" main start
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
  pg_isready -h 127.0.0.1 -p 5432 >/dev/null
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "test prerequisites: starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi
redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null
