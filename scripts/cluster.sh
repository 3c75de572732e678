#!/usr/bin/env bash
# `make cluster`: the product as a production host runs it, on one machine.
# nginx (Debian's package; `make cluster` installs it) is the one public
# port, with TLS, in front of two Rasa processes and two handoff processes
# and one action server, all under supervisord (deploy/cluster/), on
# PostgreSQL and Redis. docs/deploy.md, "Several processes", says what each
# setting is for; every one below can be set in the environment instead.
set -euo pipefail
cd "$(dirname "$0")/.."

export VAR_DIR=${VAR_DIR:-$PWD/var}
run="$VAR_DIR/cluster"
mkdir -p "$run/tls"

# Where it listens: the public port (TLS), each process, and the two
# internal doors on 127.0.0.1 the processes call each other through.
export SERVICEDESK_PORT=${SERVICEDESK_PORT:-8443}
export SERVICEDESK_HOST=${SERVICEDESK_HOST:-127.0.0.1}
export HANDOFF_PORT_1=${HANDOFF_PORT_1:-8101} HANDOFF_PORT_2=${HANDOFF_PORT_2:-8102}
export RASA_PORT_1=${RASA_PORT_1:-5101} RASA_PORT_2=${RASA_PORT_2:-5102}
export ACTIONS_PORT=${ACTIONS_PORT:-5155}
internal_handoff=${INTERNAL_HANDOFF_PORT:-8100}
internal_rasa=${INTERNAL_RASA_PORT:-5100}
public="https://$SERVICEDESK_HOST:$SERVICEDESK_PORT"

# One database for the handoff service and Rasa's trackers, one Redis.
export DATABASE_URL=${CLUSTER_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/servicedesk}
export RASA_TRACKER_DB=$DATABASE_URL
redis=${CLUSTER_REDIS_URL:-redis://127.0.0.1:6379}
export HANDOFF_REDIS_URL=$redis/0 RASA_REDIS_URL=$redis/1

# How the processes find each other, and what the browser is told.
export HANDOFF_URL=http://127.0.0.1:$internal_handoff
export HANDOFF_RASA_URL=http://127.0.0.1:$internal_rasa
export RASA_ACTIONS_URL=http://127.0.0.1:$ACTIONS_PORT/webhook
export HANDOFF_PUBLIC_URL=$public HANDOFF_PUBLIC_RASA_URL=$public/rasa
export WIDGET_ALLOWED_ORIGINS=${WIDGET_ALLOWED_ORIGINS:-$public}
# Both Sanic apps take the client's address and scheme from nginx's headers.
export SANIC_PROXIES_COUNT=1

command -v nginx >/dev/null || {
  echo "cluster: nginx is missing (\`make cluster\` installs it; or apt-get install nginx)" >&2
  exit 1
}
if [[ $DATABASE_URL == postgresql://postgres@127.0.0.1:5432/servicedesk ]]; then
  psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='servicedesk'" \
    | grep -q 1 || psql -h 127.0.0.1 -U postgres -d postgres -qc "CREATE DATABASE servicedesk"
fi

# TLS: the host's certificate, else a self-signed one for this machine.
cert=${CLUSTER_TLS_CERT:-$run/tls/cert.pem}
key=${CLUSTER_TLS_KEY:-$run/tls/key.pem}
if [ -z "${CLUSTER_TLS_CERT:-}" ] && [ ! -s "$cert" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=$SERVICEDESK_HOST" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" -keyout "$key" -out "$cert" 2>/dev/null
fi

# nginx's own workers run as root only when started as root on this
# development machine (they then read the files under var/).
user_line=""
[ "$(id -u)" = 0 ] && user_line="user root;"
sed -e "s|@USER_LINE@|$user_line|" -e "s|@RUN@|$run|g" \
  -e "s|@PUBLIC_PORT@|$SERVICEDESK_PORT|" -e "s|@TLS_CERT@|$cert|" -e "s|@TLS_KEY@|$key|" \
  -e "s|@HANDOFF_PORT_1@|$HANDOFF_PORT_1|g" -e "s|@HANDOFF_PORT_2@|$HANDOFF_PORT_2|g" \
  -e "s|@RASA_PORT_1@|$RASA_PORT_1|g" -e "s|@RASA_PORT_2@|$RASA_PORT_2|g" \
  -e "s|@INTERNAL_HANDOFF_PORT@|$internal_handoff|" -e "s|@INTERNAL_RASA_PORT@|$internal_rasa|" \
  deploy/cluster/nginx.conf.template > "$run/nginx.conf"
nginx -t -q -c "$run/nginx.conf"

bash scripts/dev_secrets.sh "$VAR_DIR/secrets.env" >/dev/null
set -a
# shellcheck disable=SC1091
. "$VAR_DIR/secrets.env"
set +a
.venv/bin/python -m handoff prepare
echo
echo "  Operator console:  $public/console/"
echo "  Visitor's widget:  $public/widget/"
echo "  Processes:         nginx, handoff-1, handoff-2, actions, rasa-1, rasa-2 (supervisord)"
echo "  Status:            VAR_DIR=$VAR_DIR .venv/bin/supervisorctl -c deploy/cluster/supervisord.conf status"
echo
exec .venv/bin/supervisord -c deploy/cluster/supervisord.conf
