#!/usr/bin/env bash
# Keeps every core busy for SECONDS (default 300, at most 900), then stops by itself: run a
# timing-sensitive test meanwhile to prove it holds on a loaded CI machine, e.g.
#   scripts/burn-cpu.sh 600 & .venv/bin/pytest tests/ingest/test_limits.py; wait
# Ctrl-C or SIGTERM ends the burners at once.
set -euo pipefail

seconds=${1:-300}
if ! [[ $seconds =~ ^[0-9]+$ ]] || ((seconds < 1 || seconds > 900)); then
    echo "usage: $0 [SECONDS]   (1 to 900; the machine is shared)" >&2
    exit 2
fi
cores=$(nproc)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' INT TERM EXIT
for _ in $(seq "$cores"); do
    timeout "$seconds" sh -c 'while :; do :; done' &
    pids+=($!)
done
echo "burning $cores cores for $seconds s (pids ${pids[*]})" >&2
wait "${pids[@]}" 2>/dev/null || true
