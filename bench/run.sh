#!/usr/bin/env bash
# Builds the release binary, prepares a venv with mlflow==3.17.2, and runs bench.py.
# Extra arguments go to bench.py (e.g. --runs 2000 --duration 10 for a quick look).
source "$(dirname "$0")/prepare.sh" wrk
# `--postgres` alone: both servers on the local PostgreSQL that scripts/postgres.sh starts;
# `--mysql` alone: on the local MariaDB that scripts/mariadb.sh starts.
args=()
for a in "$@"; do
  case "$a" in
    --postgres) args+=("--postgres" "$(scripts/postgres.sh)") ;;
    --mysql) args+=("--mysql" "$(scripts/mariadb.sh)") ;;
    *) args+=("$a") ;;
  esac
done
set -- "${args[@]}"
"$venv/bin/python" bench/bench.py --ferroflow "$ferroflow" --mlflow "$venv/bin/mlflow" "$@"
