#!/usr/bin/env bash
# Runs every test of the workspace: unit, property and end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/system-deps.sh
# The end-to-end tests run the real binaries, so build them first.
cargo build --workspace --bins
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace 2>&1 | tee "$log" || status=$?
# One closing line for the whole run (cargo prints one per test binary).
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
