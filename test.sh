#!/usr/bin/env bash
# Set up everything (as ./run.sh does, plus RTMP server, Chromium, PostgreSQL) and run every test:
# the whole suite on SQLite, then every database test again on a throwaway PostgreSQL.
# Extra arguments go to pytest, e.g. ./test.sh -k catalog
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh --test
# shellcheck source=scripts/postgres.sh
source scripts/postgres.sh

export CUNBO_SCREENSHOTS=${CUNBO_SCREENSHOTS:-$PWD/screenshots}
echo "== tests on SQLite =="
.venv/bin/python -m pytest "$@"

start_postgres
trap stop_postgres EXIT
echo "== database tests on PostgreSQL =="
CUNBO_TEST_DATABASE_URL=$CUNBO_TEST_PG_URL .venv/bin/python -m pytest -m "not media" "$@"
