#!/usr/bin/env bash
# One Ferroflow replica, then several on one PostgreSQL database (Debian's, started on
# loopback by scripts/postgres.sh), with pgbench as the yardstick. Extra arguments go to
# replicas.py (e.g. --replicas 3 --duration 15).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/ferroflow/target}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
cargo build --release --locked -p ferroflow-cli
venv=$(scripts/venv.sh tests/e2e/requirements.txt)
"$venv/bin/python" bench/replicas.py --ferroflow "$CARGO_TARGET_DIR/release/ferroflow" --postgres "$(scripts/postgres.sh)" "$@"
