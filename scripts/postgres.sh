#!/usr/bin/env bash
# Starts Debian's PostgreSQL on loopback (installing it on first use) with a role the tests
# may create databases with, and prints that role's URI. Prints nothing when PostgreSQL can
# be neither found nor installed here (then the PostgreSQL tests skip, except under CI).
set -euo pipefail
port=${FERROFLOW_PG_PORT:-5432}
# The server itself, not only the client that some machines carry.
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing PostgreSQL (first run only)" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2
  else
    exit 0
  fi
fi
# The newest installed cluster; Debian's package creates `main`.
read -r version cluster _ < <(pg_lsclusters -h | sort -V | tail -1) || true
if [ -z "${version:-}" ]; then
  version=$(basename "$(dirname "$(dirname "$(ls /usr/lib/postgresql/*/bin/postgres | sort -V | tail -1)")")")
  cluster=main
  pg_createcluster "$version" "$cluster" -p "$port" >&2
fi
if ! pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c && $4 == "online"' | grep -q .; then
  pg_ctlcluster "$version" "$cluster" start >&2
fi
port=$(pg_lsclusters -h | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c {print $3}')
as_postgres() { if [ "$(id -u)" = 0 ]; then su postgres -c "$1"; else sh -c "$1"; fi; }
for _ in $(seq 1 50); do
  as_postgres "psql -p $port -qAtc 'select 1'" >/dev/null 2>&1 && break
  sleep 0.2
done
as_postgres "psql -p $port -qAtc \"DO \\\$\\\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ferroflow') THEN CREATE ROLE ferroflow LOGIN CREATEDB PASSWORD 'ferroflow'; END IF; END \\\$\\\$\"" >&2
echo "postgresql://ferroflow:ferroflow@127.0.0.1:$port/postgres"
