#!/usr/bin/env bash
# Remakes the pages guide's screenshots (docs/screenshots/*.png, shown in docs/pages-guide.md) from
# a run of the page tests against a throwaway PostgreSQL. Test runs write theirs to
# .local/screenshots instead, so they never change the tree. Needs what scripts/test.sh installs
# (run it once first on a fresh machine: the venv, Chromium and its driver).
set -euo pipefail
cd "$(dirname "$0")/.."

port=${CALLBOARD_SCREENSHOT_PG_PORT:-25438}
pgdir=.local/screenshot-pg
PG_FSYNC=off bash scripts/postgres.sh "$pgdir" "$port"
trap 'bash scripts/postgres.sh stop "$pgdir"' EXIT
swift build --product callboard
rm -rf docs/screenshots
export CALLBOARD_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
SCREENSHOT_DIR=docs/screenshots CALLBOARD_BIN=.build/debug/callboard .local/venv/bin/python -m pytest -q e2e/pages
echo "Screenshots in docs/screenshots ($(ls docs/screenshots | wc -l) files); check them, then commit."
