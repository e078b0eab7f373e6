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
# The server's storage, fuzz and end-to-end tests again on PostgreSQL, in a throwaway cluster
# the tests start themselves (tests/src/pg.rs). Not again: the PostgreSQL-only tests (two
# servers, migrate: they ran above) and the two that test SQLite-only features (backup files
# and restore, scheduled backups; on PostgreSQL these are refused, tested in postgres::).
export PM_TEST_DB=postgres
cargo test -p sync-server --test materialized_totals --test fuzz --test rules_over_time 2>&1 | tee -a "$log" || status=$?
sqlite_only=(
  postgres::
  operations::a_configured_server_reports_health_metrics_and_backs_itself_up
  server_ingest::an_online_backup_restores_to_the_same_report
)
skips=()
for t in "${sqlite_only[@]}"; do skips+=(--skip "$t"); done
cargo test -p e2e-tests --test e2e -- "${skips[@]}" 2>&1 | tee -a "$log" || status=$?
unset PM_TEST_DB
# One closing line for the whole run (cargo prints one per test binary).
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
