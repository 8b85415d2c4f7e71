#!/usr/bin/env bash
# Builds the release binary, prepares a venv with mlflow==3.17.2, and runs filestore.py:
# migrate-filestore and runs/search on the file store, Ferroflow vs. MLflow side by side.
# Extra arguments go to filestore.py (e.g. --migrate-runs 100 --search-runs 1000 for a quick look).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/ferroflow/target}
cargo build --release --locked -p ferroflow-cli
venv=$(scripts/venv.sh tests/e2e/requirements.txt)
"$venv/bin/python" bench/filestore.py --ferroflow "$CARGO_TARGET_DIR/release/ferroflow" --mlflow "$venv/bin/mlflow" "$@"
