#!/bin/sh
# The Python client's tests (pytest, against a real stack that tests/conftest.py starts through
# test/helpers/serve-stack.ts); `npm test` runs them after the Node tests. Arguments go to pytest.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
python=$("$here/venv.sh")
cd "$here"
exec "$python" -m pytest "$@"
