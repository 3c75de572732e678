#!/usr/bin/env bash
# Local development secrets: random values made once into var/secrets.env
# (git-ignored), which `make run` and `make content` load before starting
# anything. A variable already set in the environment wins over the file, so
# production (or a developer) sets real values the usual way. Nothing secret
# is written in the repository. A file made before a secret was added gets
# the new one appended (the others keep their values).
set -euo pipefail
cd "$(dirname "$0")/.."
file=${1:-var/secrets.env}
mkdir -p "$(dirname "$file")"
# Hex: a value starting with "-" would be read by `rasa run --auth-token` as an option.
random() { .venv/bin/python -c "import secrets; print(secrets.token_hex(32))"; }
umask 077
[ -f "$file" ] || echo "# Made by scripts/dev_secrets.sh on $(date -u +%FT%TZ); development only." > "$file"
for name in HANDOFF_RASA_TOKEN HANDOFF_SERVICE_TOKEN HANDOFF_ACTIONS_TOKEN \
    WHATSAPP_VERIFY_TOKEN WHATSAPP_APP_SECRET WHATSAPP_ACCESS_TOKEN; do
  if ! grep -q "^export $name=" "$file"; then
    echo "export $name=\"\${$name:-$(random)}\"" >> "$file"
    echo "dev-secrets: added $name to $file (random development secret)"
  fi
done
