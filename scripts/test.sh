#!/usr/bin/env bash
# Runs every test of the workspace: unit, property and end-to-end tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/system-deps.sh
# The end-to-end tests run the real binaries, so build them first.
cargo build --workspace --bins
cargo test --workspace
