#!/usr/bin/env bash
# Set up slawatch (once) and run it on the embedded SQLite database, at http://127.0.0.1:8000.
# With no mailbox configured it shows demo data (a generated month of mail, in its own database).
# Extra arguments go to `slawatch serve` (e.g. --host 0.0.0.0 --port 8080).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_venv
.venv/bin/slawatch migrate
if .venv/bin/python -c 'import sys; from app.config import load_settings
sys.exit(0 if load_settings().mailboxes else 1)' 2>/dev/null; then
  exec .venv/bin/slawatch serve "$@"
fi
exec .venv/bin/slawatch serve --demo "$@"
