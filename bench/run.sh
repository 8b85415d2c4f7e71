#!/usr/bin/env bash
# Builds the release binary, prepares a venv with mlflow==3.17.2, and runs bench.py.
# Extra arguments go to bench.py (e.g. --runs 2000 --duration 10 for a quick look).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/ferroflow/target}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release --locked -p ferroflow-cli
venv=$(scripts/venv.sh tests/e2e/requirements.txt)
# `--postgres` alone: both servers on the local PostgreSQL that scripts/postgres.sh starts.
args=()
for a in "$@"; do
  if [ "$a" = "--postgres" ]; then args+=("--postgres" "$(scripts/postgres.sh)"); else args+=("$a"); fi
done
set -- "${args[@]}"
"$venv/bin/python" bench/bench.py --ferroflow "$CARGO_TARGET_DIR/release/ferroflow" --mlflow "$venv/bin/mlflow" "$@"
