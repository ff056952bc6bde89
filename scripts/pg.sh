#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests (or to try the app on PostgreSQL on one machine).
#   scripts/pg.sh start   initialises target/pg (once) and starts it on a free loopback port;
#                         prints the admin URL (also in target/pg/url)
#   scripts/pg.sh stop    stops it
#   scripts/pg.sh url     prints the admin URL of the running cluster
# Trust authentication on 127.0.0.1 only: it is for tests on this machine, never for production.
# As root, the server runs as the `postgres` user (PostgreSQL refuses to run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DIR="$ROOT/target/pg"
DATA="$DIR/data"
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
  echo "PostgreSQL server binaries not found under /usr/lib/postgresql: run scripts/setup.sh" >&2
  exit 1
fi

as_pg() {
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "${1:-}" in
  start)
    mkdir -p "$DIR"
    if [ "$(id -u)" = "0" ]; then
      chown postgres "$DIR"
      # postgres must reach the directory through its parents.
      d="$DIR"; while [ "$d" != "/" ]; do d=$(dirname "$d"); chmod o+x "$d" 2>/dev/null || true; done
    fi
    if [ -f "$DIR/port" ] && as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
      cat "$DIR/url"; exit 0
    fi
    if [ ! -f "$DATA/PG_VERSION" ]; then
      as_pg "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    fi
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    as_pg "$BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories='' -c max_connections=300 \
          -c shared_buffers=128MB -c fsync=on -c log_min_messages=warning" start >/dev/null
    echo "$PORT" > "$DIR/port"
    echo "postgres://postgres@127.0.0.1:$PORT/postgres" > "$DIR/url"
    cat "$DIR/url"
    ;;
  stop)
    if [ -f "$DATA/PG_VERSION" ]; then as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1 || true; fi
    rm -f "$DIR/port"
    ;;
  url)
    cat "$DIR/url"
    ;;
  *)
    echo "usage: scripts/pg.sh start|stop|url" >&2; exit 2
    ;;
esac
