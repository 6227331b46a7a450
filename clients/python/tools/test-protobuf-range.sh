#!/usr/bin/env bash
# Installs clients/python (pip install, as a user would) into two fresh venvs, one with the
# lowest and one with the highest protobuf that pyproject.toml accepts, and runs a fast
# subset in each: the package test (import, encode/decode, the method table, a Verify
# against a real apikeysd, async and sync), framing, and the client against a scripted server.
# Needs $APIKEYSD (the server binary) and pip access to PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
client_dir=$PWD
: "${APIKEYSD:?set APIKEYSD to the apikeysd binary}"
python=${PYTHON:-python3}

# The range, read from the one place it is declared.
spec=$(grep -o '"protobuf[^"]*"' pyproject.toml | tr -d '"')
lowest=$(sed -n 's/.*>=\([0-9.]*\).*/\1/p' <<<"$spec")
[ -n "$lowest" ] || { echo "protobuf-range: no lower bound in '$spec'" >&2; exit 1; }

work=$(mktemp -d)
# setuptools leaves build/ and *.egg-info beside the sources; a stale build/ could put
# deleted modules in the next wheel.
clean() { rm -rf "$work" "$client_dir/build" "$client_dir"/*.egg-info; }
trap clean EXIT
clean; work=$(mktemp -d)

run_end() {  # name, pip requirement for protobuf
  local name=$1 requirement=$2 venv="$work/$1"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$client_dir" "$requirement" "pytest>=8"
  local version
  version=$("$venv/bin/python" -c 'import google.protobuf as p; print(p.__version__)')
  echo "protobuf-range: $name end: protobuf $version ($requirement)"
  # From another directory, so `import apikeys_client` finds the installed copy.
  (cd "$work" && APIKEYS_TEST_INSTALLED=1 APIKEYS_TEST_PROTOBUF="$version" \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider \
      "$client_dir/tests/test_package.py" "$client_dir/tests/test_framing.py" \
      "$client_dir/tests/test_client_unit.py")
}

run_end lowest "protobuf==$lowest"
run_end highest "$spec"
