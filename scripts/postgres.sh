#!/usr/bin/env bash
# Start a throwaway PostgreSQL on 127.0.0.1 for the tests (sourced by test.sh).
# Sets CUNBO_TEST_PG_URL and defines stop_postgres. Recipe: shared/notes/web-facts.md.
start_postgres() {
  local pgbin port
  pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  port=${CUNBO_TEST_PG_PORT:-55432}
  PG_DIR=$(mktemp -d /tmp/cunbo-pg.XXXXXX)
  chown postgres "$PG_DIR"
  runuser -u postgres -- "$pgbin/initdb" -D "$PG_DIR/data" -U app --auth=trust -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log"
  runuser -u postgres -- "$pgbin/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w start \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >/dev/null
  runuser -u postgres -- "$pgbin/createdb" -h 127.0.0.1 -p "$port" -U app cunbo_test
  PG_BIN=$pgbin
  CUNBO_TEST_PG_URL="postgresql+psycopg://app@127.0.0.1:$port/cunbo_test"
}

stop_postgres() {
  [ -n "${PG_DIR:-}" ] || return 0
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
  PG_DIR=
}
