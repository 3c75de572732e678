#!/usr/bin/env bash
# Train the Rasa model only when its inputs (config, domain, training data)
# changed since the last training.
set -euo pipefail
cd "$(dirname "$0")/.."
model=models/servicedesk.tar.gz
inputs=$(cat config.yml domain.yml data/*.yml | sha256sum | cut -d' ' -f1)
if [ -f "$model" ] && [ -f models/.inputs ] && [ "$(cat models/.inputs)" = "$inputs" ]; then
  exit 0
fi
echo "train: training the Rasa model ..."
PYTHONWARNINGS=ignore .venv-rasa/bin/rasa train --quiet --fixed-model-name servicedesk --out models \
  --config config.yml --domain domain.yml --data data
echo "$inputs" > models/.inputs
