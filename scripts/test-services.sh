#!/usr/bin/env bash
# What the test suite needs besides Python packages: Debian's Chromium, and a PostgreSQL server on
# 127.0.0.1:5432 (trust auth). Installs or starts each one only if it is missing.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v chromium >/dev/null 2>&1; then
  echo "test-services: installing Debian's chromium for the browser tests"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

pg_ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if ! pg_ready; then
  if ! command -v pg_ctlcluster >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "test-services: installing PostgreSQL"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  if ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "test-services: starting the PostgreSQL cluster"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_ready && break; sleep 0.5; done
fi

if ! pg_ready; then
  # No usable cluster: a throwaway one (trust auth) on 127.0.0.1:5432.
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  dir=/tmp/assistant-test-pg
  echo "test-services: starting a throwaway PostgreSQL in $dir"
  as_root rm -rf "$dir" && as_root mkdir -p "$dir" && as_root chown postgres "$dir"
  as_root su postgres -c "$bin/initdb -D $dir/data -U postgres --auth=trust >/dev/null"
  as_root su postgres -c "$bin/pg_ctl -D $dir/data -o '-c listen_addresses=127.0.0.1 -p 5432 -k $dir' -w start >/dev/null"
fi

pg_ready || { echo "test-services: PostgreSQL is not reachable on 127.0.0.1:5432" >&2; exit 1; }
echo "test-services: chromium and PostgreSQL are ready"
