# Sourced by the bench/*.sh scripts: the repository as working directory, the release
# binary built ($ferroflow), the venv with mlflow==3.17.2 ($venv), and wrk when $1 is "wrk".
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/ferroflow/target}
if [ "${1:-}" = wrk ]; then
  command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
fi
cargo build --release --locked -p ferroflow-cli
ferroflow="$CARGO_TARGET_DIR/release/ferroflow"
venv=$(scripts/venv.sh tests/e2e/requirements.txt)
