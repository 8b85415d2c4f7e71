#!/usr/bin/env bash
# Builds the release binary, prepares a venv with mlflow==3.17.2, and runs filestore.py:
# migrate-filestore and runs/search on the file store, Ferroflow vs. MLflow side by side.
# Extra arguments go to filestore.py (e.g. --migrate-runs 100 --search-runs 1000 for a quick look).
source "$(dirname "$0")/prepare.sh"
"$venv/bin/python" bench/filestore.py --ferroflow "$ferroflow" --mlflow "$venv/bin/mlflow" "$@"
