#!/usr/bin/env bash
# Set up slawatch (once) and run it on the embedded SQLite database, at http://127.0.0.1:8000.
# Extra arguments go to `slawatch serve` (e.g. --host 0.0.0.0 --port 8080).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_venv
.venv/bin/slawatch migrate
exec .venv/bin/slawatch serve "$@"
