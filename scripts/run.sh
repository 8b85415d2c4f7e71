#!/usr/bin/env bash
# Builds the web UI (when npm is available) and runs `ferroflow` with the given arguments,
# e.g. `scripts/run.sh server`. Without npm the binary still builds; `/` then says how to
# build the UI.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if command -v npm >/dev/null; then
  (cd "$root/ui" && { [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund; } && npm run build) >&2
else
  echo "npm not found: building ferroflow without the web UI" >&2
fi
exec cargo run --release --locked --manifest-path "$root/Cargo.toml" --bin ferroflow -- "$@"
