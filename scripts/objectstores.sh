#!/usr/bin/env bash
# Starts real object-store APIs on free loopback ports — moto_server (S3, from the
# virtualenv given as $1) and Azurite (Azure Blob Storage, npm, tests/emulators) — creates a test bucket in each, and prints the shell assignments that point
# clients at them:
#   eval "$(scripts/objectstores.sh "$venv")"
# `kill -KILL $FERROFLOW_TEST_OBJECTSTORE_PIDS` stops them (Azurite ignores SIGTERM while
# connections are open). Logs go to $TMPDIR/ferroflow-*.log.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venv=$1
py="$venv/bin/python"
bucket=${FERROFLOW_TEST_BUCKET:-ferroflow-test}
tmp=${TMPDIR:-/tmp}
free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { # url pid log
  for _ in $(seq 1 300); do
    "$py" -c "import urllib.request, urllib.error
try: urllib.request.urlopen('$1', timeout=1)
except urllib.error.HTTPError: pass" >/dev/null 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || { cat "$3" >&2; return 1; }
    sleep 0.1
  done
  echo "$1 did not answer" >&2; cat "$3" >&2; return 1
}

# S3: moto accepts unsigned requests, so a PUT on the bucket's path creates it.
s3_port=$(free_port)
"$venv/bin/moto_server" -H 127.0.0.1 -p "$s3_port" >"$tmp/ferroflow-moto-$s3_port.log" 2>&1 </dev/null &
s3_pid=$!
s3="http://127.0.0.1:$s3_port"
wait_for "$s3/moto-api/" "$s3_pid" "$tmp/ferroflow-moto-$s3_port.log"
"$py" -c "import urllib.request; urllib.request.urlopen(urllib.request.Request('$s3/$bucket', method='PUT'))" >/dev/null

# Azure: Azurite's well-known development account and key.
(cd "$root/tests/emulators" && { [ -x node_modules/.bin/azurite-blob ] || npm ci --no-audit --no-fund >&2; })
az_port=$(free_port)
az_dir=$(mktemp -d "$tmp/ferroflow-azurite.XXXXXX")
"$root/tests/emulators/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort "$az_port" \
  --location "$az_dir" --silent --skipApiVersionCheck --loose >"$tmp/ferroflow-azurite-$az_port.log" 2>&1 </dev/null &
az_pid=$!
az_key="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
az_conn="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$az_key;BlobEndpoint=http://127.0.0.1:$az_port/devstoreaccount1;"
wait_for "http://127.0.0.1:$az_port/devstoreaccount1?comp=list" "$az_pid" "$tmp/ferroflow-azurite-$az_port.log"
"$py" -c "from azure.storage.blob import BlobServiceClient; BlobServiceClient.from_connection_string('$az_conn').create_container('$bucket')"

cat <<OUT
export FERROFLOW_TEST_OBJECTSTORE_PIDS="$s3_pid $az_pid"
export FERROFLOW_TEST_S3_ENDPOINT=$s3
export FERROFLOW_TEST_S3_URI=s3://$bucket
export MLFLOW_S3_ENDPOINT_URL=$s3
export AWS_ACCESS_KEY_ID=ferroflow-test
export AWS_SECRET_ACCESS_KEY=ferroflow-test
export AWS_DEFAULT_REGION=us-east-1
export FERROFLOW_TEST_AZURE_URI=wasbs://$bucket@devstoreaccount1.blob.core.windows.net
export AZURE_STORAGE_CONNECTION_STRING='$az_conn'
OUT
