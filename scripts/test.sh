#!/usr/bin/env bash
# Runs every test: formatting and lints, the Rust unit and integration tests, then the
# end-to-end suite that drives the built binary with the official MLflow clients (all of it
# with 3.17.2, a large part of it again with every server on PostgreSQL and again on
# MariaDB — started on loopback by scripts/postgres.sh and scripts/mariadb.sh —, then all
# of it with 2.22; artifacts in S3 on
# moto_server and in Azure on Azurite, started by scripts/objectstores.sh), the checks of
# the deployment files in deploy/, then the web UI's tests (Vitest, and Debian's chromium
# against the built binary). Installs its Python and npm packages itself.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/ferroflow/target}
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

# The UI is built first so that every cargo build below embeds the same ui/dist.
echo "== UI build"
(cd ui && npm ci --no-audit --no-fund && npm run build)

# PostgreSQL on loopback, for the store contract and the end-to-end runs on PostgreSQL.
echo "== PostgreSQL"
export FERROFLOW_TEST_POSTGRES_URI=${FERROFLOW_TEST_POSTGRES_URI:-$(scripts/postgres.sh)}
echo "${FERROFLOW_TEST_POSTGRES_URI:-none here: the PostgreSQL tests skip}"

# MariaDB on loopback, for the store contract and the end-to-end runs on MySQL.
echo "== MariaDB"
export FERROFLOW_TEST_MYSQL_URI=${FERROFLOW_TEST_MYSQL_URI:-$(scripts/mariadb.sh)}
echo "${FERROFLOW_TEST_MYSQL_URI:-none here: the MySQL tests skip}"

# S3 (moto_server) and Azure Blob Storage (Azurite) on loopback, for the artifact contract
# and the end-to-end runs on object stores.
echo "== object stores"
eval "$(scripts/objectstores.sh "$(scripts/venv.sh tests/e2e/requirements-objectstores.txt)")"
# Azurite ignores SIGTERM while it has open connections; the emulators keep nothing worth a clean stop.
trap 'kill -KILL $FERROFLOW_TEST_OBJECTSTORE_PIDS 2>/dev/null || true' EXIT
echo "$FERROFLOW_TEST_S3_URI on $FERROFLOW_TEST_S3_ENDPOINT; $FERROFLOW_TEST_AZURE_URI on Azurite"

echo "== cargo fmt / clippy"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

echo "== Rust tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
  cargo test --workspace --doc --locked
else
  cargo test --workspace --locked
fi

echo "== end-to-end tests"
cargo build --locked -p ferroflow-cli
venv=$(scripts/venv.sh tests/e2e/requirements.txt)
venv2=$(scripts/venv.sh tests/e2e/requirements-mlflow2.txt)
export FERROFLOW_BIN="$CARGO_TARGET_DIR/debug/ferroflow"
export MLFLOW2_PYTHON="$venv2/bin/python"
export FERROFLOW_TEST_UV="$(scripts/venv.sh tests/e2e/requirements-uv.txt)/bin/uv"
export FERROFLOW_DATA="${FERROFLOW_DATA:-$root/examples/wine-quality/data}"
"$venv/bin/python" -m pytest tests/e2e "$@"

# The part of the suite that exercises the store, again with every server on each database server.
server_db_tests=(tests/e2e/test_tracking_flow.py tests/e2e/test_conformance.py tests/e2e/test_registry.py
  tests/e2e/test_errors.py tests/e2e/test_clients.py tests/e2e/test_reference_floor.py
  tests/e2e/test_artifacts.py tests/e2e/test_downsample.py tests/e2e/test_durability.py
  tests/e2e/test_models.py tests/e2e/test_server_cli.py tests/e2e/test_cli.py
  tests/e2e/test_object_stores.py)
echo "== end-to-end tests on PostgreSQL: every server a test starts gets a PostgreSQL database"
if [ -n "$FERROFLOW_TEST_POSTGRES_URI" ] || [ -n "${CI:-}" ]; then
  FERROFLOW_E2E_DATABASE=postgresql "$venv/bin/python" -m pytest -p no:cacheprovider "${server_db_tests[@]}" "$@"
else
  echo "skipped: no PostgreSQL here"
fi

echo "== end-to-end tests on MariaDB: every server a test starts gets a MariaDB database"
if [ -n "$FERROFLOW_TEST_MYSQL_URI" ] || [ -n "${CI:-}" ]; then
  # Model serving reads the store as it does on PostgreSQL; its minutes are spent there.
  mysql_tests=()
  for t in "${server_db_tests[@]}"; do [ "$t" = tests/e2e/test_models.py ] || mysql_tests+=("$t"); done
  FERROFLOW_E2E_DATABASE=mysql "$venv/bin/python" -m pytest -p no:cacheprovider "${mysql_tests[@]}" "$@"
else
  echo "skipped: no MariaDB here"
fi

echo "== end-to-end tests again with the MLflow 2.22 client (against the same 3.17.2 reference)"
FERROFLOW_REFERENCE_MLFLOW="$venv/bin/mlflow" "$venv2/bin/python" -m pytest tests/e2e -p no:cacheprovider "$@"

echo "== deployment files (deploy/): the Dockerfile, compose and Kubernetes, checked without a container engine"
deployvenv=$(scripts/venv.sh tests/deploy/requirements.txt)
"$deployvenv/bin/python" -m pytest -p no:cacheprovider tests/deploy -q

echo "== web UI tests"
FERROFLOW_UI_SKIP_BUILD=1 scripts/ui-test.sh
