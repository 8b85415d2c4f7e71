#!/usr/bin/env bash
# One Ferroflow replica, then several on one PostgreSQL database (Debian's, started on
# loopback by scripts/postgres.sh), with pgbench as the yardstick. Extra arguments go to
# replicas.py (e.g. --replicas 3 --duration 15).
source "$(dirname "$0")/prepare.sh" wrk
"$venv/bin/python" bench/replicas.py --ferroflow "$ferroflow" --postgres "$(scripts/postgres.sh)" "$@"
