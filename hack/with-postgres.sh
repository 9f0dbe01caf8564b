#!/usr/bin/env bash
# Runs a command with a throwaway PostgreSQL server on loopback, exporting its URL as
# EIO_TEST_POSTGRES_DSN, and removes the server afterwards. Installs PostgreSQL from the OS
# packages when it is missing. Set EIO_TEST_POSTGRES_DSN yourself to use an existing server.
set -euo pipefail

if [[ -n "${EIO_TEST_POSTGRES_DSN:-}" ]]; then
  exec "$@"
fi

say() { echo "postgres: $*" >&2; }

bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
if [[ -z "$bindir" || ! -x "$bindir/initdb" ]]; then
  say "installing PostgreSQL from the OS packages"
  if [[ "$(id -u)" -eq 0 ]]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >&2
  bindir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
fi

# PostgreSQL refuses to run as root: run it as the postgres user the package created.
run_as=()
if [[ "$(id -u)" -eq 0 ]]; then
  run_as=(runuser -u postgres --)
fi

dir="$(mktemp -d /tmp/eio-postgres.XXXXXX)"
chmod 755 "$dir"
[[ ${#run_as[@]} -gt 0 ]] && chown postgres "$dir"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)"

cleanup() {
  "${run_as[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

"${run_as[@]}" "$bindir/initdb" -D "$dir/data" -U eio --auth=trust -E UTF8 --no-locale >/dev/null
"${run_as[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200" start >/dev/null
say "throwaway server on 127.0.0.1:$port"

export EIO_TEST_POSTGRES_DSN="postgres://eio@127.0.0.1:$port/postgres?sslmode=disable"
"$@"
