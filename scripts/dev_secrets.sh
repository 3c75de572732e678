#!/usr/bin/env bash
# Local development secrets: random values made once into var/secrets.env
# (git-ignored), which `make run` and `make content` load before starting
# anything. A variable already set in the environment wins over the file, so
# production (or a developer) sets real values the usual way. Nothing secret
# is written in the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
file=${1:-var/secrets.env}
[ -f "$file" ] && exit 0
mkdir -p "$(dirname "$file")"
# Hex: a value starting with "-" would be read by `rasa run --auth-token` as an option.
random() { .venv/bin/python -c "import secrets; print(secrets.token_hex(32))"; }
umask 077
{
  echo "# Made by scripts/dev_secrets.sh on $(date -u +%FT%TZ); development only."
  for name in HANDOFF_RASA_TOKEN HANDOFF_SERVICE_TOKEN WHATSAPP_VERIFY_TOKEN \
      WHATSAPP_APP_SECRET WHATSAPP_ACCESS_TOKEN; do
    echo "export $name=\"\${$name:-$(random)}\""
  done
} > "$file.tmp"
mv "$file.tmp" "$file"
echo "dev-secrets: made $file (random development secrets)"
