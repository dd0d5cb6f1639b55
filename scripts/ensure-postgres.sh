#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers on 127.0.0.1:5432 (or at
# TEST_DATABASE_URL): starts the machine's cluster when it is down, or, when
# none is installed but the server binaries are, a private cluster under
# .leadflow/ci-postgres.
set -euo pipefail
host=127.0.0.1 port=5432
if pg_isready -h "$host" -p "$port" -q 2>/dev/null; then
  exit 0
fi
if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
  for v in $(ls /etc/postgresql); do
    pg_ctlcluster --skip-systemctl-redirect "$v" main start || true
  done
fi
for _ in $(seq 1 30); do
  pg_isready -h "$host" -p "$port" -q 2>/dev/null && exit 0
  sleep 1
done
# A private cluster from the server binaries.
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$bindir" ] || [ ! -x "$bindir/initdb" ]; then
  echo "PostgreSQL is not running on $host:$port and no server binaries were found; install postgresql" >&2
  exit 1
fi
dir=$(pwd)/.leadflow/ci-postgres
mkdir -p "$dir"
run() { if [ "$(id -u)" = 0 ]; then chown -R postgres "$dir"; runuser -u postgres -- "$@"; else "$@"; fi; }
[ -f "$dir/PG_VERSION" ] || run "$bindir/initdb" -D "$dir" -U postgres --auth=trust >/dev/null
run "$bindir/pg_ctl" -D "$dir" -l "$dir/log" -o "-p $port -k /tmp -c listen_addresses=$host" -w start
pg_isready -h "$host" -p "$port"
