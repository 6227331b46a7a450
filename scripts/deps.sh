#!/usr/bin/env bash
# Installs what building and testing need, when missing: Debian packages (as root, with
# apt-get) and the Python packages of clients/python. Says clearly what failed.
set -euo pipefail
cd "$(dirname "$0")/.."

# golang-*: the Go client (clients/go) builds with Debian's Go and Go protobuf, as no Go
# module can be downloaded here. chromium and chromium-driver: the console's browser tests
# (issue 13) drive Debian's headless Chromium through Debian's chromedriver; Selenium never
# downloads a browser.
debian_packages=(protobuf-c-compiler libprotobuf-c-dev protobuf-compiler libsqlite3-dev pkg-config openssl postgresql-15 postgresql-client-15
  golang-go golang-google-protobuf-dev protoc-gen-go chromium chromium-driver)
missing=()
for p in "${debian_packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing Debian packages: ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then
    echo "deps: FAILED: these Debian packages are missing and installing them needs root: ${missing[*]}" >&2
    exit 1
  fi
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null; }; then
    echo "deps: FAILED: apt-get could not install ${missing[*]}" >&2
    exit 1
  fi
fi

[ -x /usr/bin/chromedriver ] || { echo "deps: FAILED: chromium-driver is installed but /usr/bin/chromedriver is missing (the console's browser tests need it)" >&2; exit 1; }

command -v swift >/dev/null || { echo "deps: FAILED: no swift toolchain on PATH (Swift 6.1 or later is needed)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "deps: FAILED: python3 is missing" >&2; exit 1; }
command -v go >/dev/null || { echo "deps: FAILED: go is missing although golang-go is installed (is /usr/bin on PATH?)" >&2; exit 1; }
[ -d /usr/share/gocode/src/google.golang.org/protobuf ] || { echo "deps: FAILED: Debian's Go protobuf is not at /usr/share/gocode/src/google.golang.org/protobuf (golang-google-protobuf-dev), which clients/go/go.mod points at" >&2; exit 1; }

# Any protobuf the Python client accepts (pyproject.toml: >=3.20,<8) will do.
if ! python3 -c 'import google.protobuf, pytest, selenium, sys; v = tuple(int(x) for x in google.protobuf.__version__.split(".")[:2]); sys.exit(0 if (3, 20) <= v < (8, 0) else 1)' 2>/dev/null; then
  echo "deps: installing Python packages from clients/python/requirements.txt"
  if ! python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r clients/python/requirements.txt; then
    echo "deps: FAILED: pip could not install clients/python/requirements.txt (protobuf, pytest, selenium)" >&2
    exit 1
  fi
fi
