#!/bin/sh
# Prints the python of the Python client's virtualenv (.tools/pyvenv at the repository root),
# creating it and installing `clients/python[dev]` (editable, from PyPI) when it is missing or
# pyproject.toml changed since. `.ci/run` and `npm test` (through run-tests.sh) both use it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv="${DROVER_PYVENV:-$root/.tools/pyvenv}"
stamp="$venv/.drover-client-pyproject"
want=$(cksum < "$here/pyproject.toml")
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "installing the Python client (clients/python[dev]) into $venv" >&2
  [ -x "$venv/bin/python" ] || "${PYTHON:-python3}" -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e "$here[dev]" >&2
  echo "$want" > "$stamp"
fi
echo "$venv/bin/python"
