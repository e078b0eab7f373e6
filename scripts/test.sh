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
# The server's storage and end-to-end tests again on PostgreSQL, in a throwaway cluster the
# tests start themselves (tests/src/pg.rs); the PostgreSQL-only ones (two servers, migrate) ran
# above. Left out here: the tests of SQLite-only features (backup files, restore, scheduled
# backups, the raw file's bytes) and those that still read the server's SQLite file directly to
# check what it stored (marked "reads server.db" below); the browser tests, the kiosk window and
# the soak run only on SQLite.
export PM_TEST_DB=postgres
cargo test -p sync-server --test materialized_totals 2>&1 | tee -a "$log" || status=$?
sqlite_only=(
  operations::a_configured_server_reports_health_metrics_and_backs_itself_up
  server_ingest::an_online_backup_restores_to_the_same_report
  server_ingest::coordinator_pins_are_stored_hashed_and_reach_the_kiosk
  hostile::pins_and_tokens_can_come_from_standard_input_and_secrets_are_private
  # reads server.db:
  cli::badges_are_png_svg_and_a_printable_sheet_and_decode_to_their_text
  hostile::a_badge_reissued_after_the_last_roster_pull_is_provisional_not_forged
  hostile::a_move_entered_late_lets_her_new_school_hours_count_and_kiosks_stay_in_their_lane
  hostile::a_replacement_kiosk_delivers_what_the_old_one_never_sent
  hostile::spreadsheets_never_run_a_name_and_a_reimport_never_reactivates_quietly
  server_ingest::twenty_kiosks_sending_five_thousand_events_each_at_once
  server_ingest::sigkill_in_the_middle_of_ingest_then_a_resend_stores_every_event_once
  trustworthy_hours::payments_are_booked_once_and_voided_never_deleted
  trustworthy_hours::the_review_queue_ends_from_the_cli_and_the_api
  kiosk_ui:: organizer_page:: soak:: postgres::
)
skips=()
for t in "${sqlite_only[@]}"; do skips+=(--skip "$t"); done
cargo test -p e2e-tests --test e2e -- "${skips[@]}" 2>&1 | tee -a "$log" || status=$?
unset PM_TEST_DB
# One closing line for the whole run (cargo prints one per test binary).
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
