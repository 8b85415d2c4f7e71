#!/usr/bin/env bash
# A large artifact through the proxy into S3 (moto_server on loopback, started by
# scripts/objectstores.sh), beside a direct boto3 upload and `mlflow server`'s proxy.
# Extra arguments go to artifacts_s3.py (e.g. --size 512).
source "$(dirname "$0")/prepare.sh"
eval "$(scripts/objectstores.sh "$(scripts/venv.sh tests/e2e/requirements-objectstores.txt)")"
trap 'kill -KILL $FERROFLOW_TEST_OBJECTSTORE_PIDS 2>/dev/null || true' EXIT
"$venv/bin/python" bench/artifacts_s3.py --ferroflow "$ferroflow" --mlflow "$venv/bin/mlflow" "$@"
