#!/usr/bin/env bash
# Starts moto_server (a real S3 API) on a free loopback port from the virtualenv given as
# $1, creates the test bucket, and prints the shell assignments that point clients at it:
#   eval "$(scripts/s3.sh "$venv")"
# The server is stopped by `kill $FERROFLOW_TEST_S3_PID`.
set -euo pipefail
venv=$1
bucket=${FERROFLOW_TEST_S3_BUCKET:-ferroflow-test}
port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
log=${TMPDIR:-/tmp}/ferroflow-moto-$port.log
"$venv/bin/moto_server" -H 127.0.0.1 -p "$port" >"$log" 2>&1 </dev/null &
pid=$!
endpoint="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
  "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('$endpoint/moto-api/')" >/dev/null 2>&1 && break
  kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
# moto accepts unsigned requests: a PUT on the bucket's path creates it.
"$venv/bin/python" -c "import urllib.request; urllib.request.urlopen(urllib.request.Request('$endpoint/$bucket', method='PUT'))" >/dev/null
cat <<OUT
export FERROFLOW_TEST_S3_PID=$pid
export FERROFLOW_TEST_S3_ENDPOINT=$endpoint
export FERROFLOW_TEST_S3_URI=s3://$bucket
export MLFLOW_S3_ENDPOINT_URL=$endpoint
export AWS_ACCESS_KEY_ID=ferroflow-test
export AWS_SECRET_ACCESS_KEY=ferroflow-test
export AWS_DEFAULT_REGION=us-east-1
OUT
