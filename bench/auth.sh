#!/usr/bin/env bash
# basic-auth's cost on log-batch: Ferroflow without and with auth, and MLflow's basic-auth
# server (extra arguments go to auth.py, e.g. --duration 10 --out results/auth.json).
source "$(dirname "$0")/prepare.sh" wrk
"$venv/bin/python" bench/auth.py --ferroflow "$ferroflow" --mlflow "$venv/bin/mlflow" "$@"
