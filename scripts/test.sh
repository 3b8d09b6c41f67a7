#!/usr/bin/env bash
# Install what the tests need (virtualenv, Python packages, Dovecot, Chromium), then run the linters,
# the type checker and the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

missing=()
[ -x /usr/sbin/dovecot ] || missing+=(dovecot-imapd)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)  # promtool checks the alert rules
if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}" || echo "continuing without: ${missing[*]} (their tests will skip)" >&2
fi

ensure_venv test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports --no-cache
.venv/bin/pytest "$@"
