#!/usr/bin/env bash
# The project's test command (README): runs every test of the workspace.
# Tests that need an outside component start it or skip with a printed reason, and under
# CI (the CI variable set) they must run.
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo test --workspace --locked "$@"
