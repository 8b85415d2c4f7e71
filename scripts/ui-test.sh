#!/usr/bin/env bash
# The web UI's tests: builds ui/ (npm ci, vite), runs its unit tests (Vitest), rebuilds the
# ferroflow binary so it embeds the fresh ui/dist, then drives that binary with Debian's
# chromium (playwright-core) on data logged by the official MLflow client.
# Screenshots of every page go to $FERROFLOW_UI_SCREENSHOTS (default ui/e2e/screenshots).
# FERROFLOW_UI_SKIP_BUILD=1 skips npm ci, the UI build and the cargo build (scripts/test.sh
# has just done them).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/ferroflow/target}

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "== installing Debian's chromium for the browser tests"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "error: /usr/bin/chromium is missing; install Debian's chromium (apt-get install chromium) as root" >&2
    exit 1
  fi
fi
command -v npm >/dev/null || { echo "error: npm is needed for the UI tests" >&2; exit 1; }

if [ "${FERROFLOW_UI_SKIP_BUILD:-}" != 1 ]; then
  echo "== UI build"
  (cd ui && npm ci --no-audit --no-fund && npm run build)
fi
echo "== UI unit tests (Vitest)"
(cd ui && npx vitest run)
if [ "${FERROFLOW_UI_SKIP_BUILD:-}" != 1 ]; then
  cargo build --locked -p ferroflow-cli
fi

echo "== UI browser tests (chromium)"
export FERROFLOW_BIN=${FERROFLOW_BIN:-$CARGO_TARGET_DIR/debug/ferroflow}
export FERROFLOW_UI_PYTHON=${FERROFLOW_UI_PYTHON:-$(scripts/venv.sh tests/e2e/requirements.txt)/bin/python}
(cd ui && node --test --test-concurrency=1 e2e/)
