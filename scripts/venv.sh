#!/usr/bin/env bash
# Prints the path of a Python virtualenv with the packages of a requirements file,
# creating it on first use. Venvs are keyed by the file's hash and cached outside the
# checkout, so CI and later runs reuse them.
set -euo pipefail
req=$1
cache=${FERROFLOW_VENV_CACHE:-$HOME/.cache/ferroflow/venvs}
hash=$(sha256sum "$req" | cut -c1-16)
venv=$cache/$(basename "$req" .txt)-$hash
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
  rm -rf "$venv"
  mkdir -p "$cache"
  echo "creating Python environment $venv from $req (first run only)" >&2
  python3 -m venv "$venv"
  "$venv/bin/pip" install --disable-pip-version-check -q -r "$req" >&2
  touch "$venv/.complete"
fi
echo "$venv"
