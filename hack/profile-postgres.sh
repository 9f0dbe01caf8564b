#!/usr/bin/env bash
# Where does the time go on PostgreSQL? Starts a throwaway PostgreSQL with pg_stat_statements,
# `make run` against it with the manager's profiling endpoint on, drives one scimload workload
# (../shared/bench/scimload, 16 keep-alive workers) and prints the load figures, the manager's
# CPU profile top and PostgreSQL's costliest statements. Everything listens on loopback.
#
#   hack/profile-postgres.sh create-users 20     # workload, seconds profiled
#   OUT=/tmp/prof hack/profile-postgres.sh filter-users
#   STORE=sqlite hack/profile-postgres.sh filter-users   # the same against the embedded SQLite store
#   USERS=10000 hack/profile-postgres.sh filter-users     # look up among 10,000 users, as compare.sh does
#   EXPLAIN=0.002 hack/profile-postgres.sh patch-active     # also log EXPLAIN (ANALYZE, BUFFERS) of 0.2 % of statements
#   BEFORE="create-users 30" hack/profile-postgres.sh filter-users   # another workload first, unmeasured, as compare.sh does
#
# Needs PostgreSQL (apt-get install -y postgresql) and the scimload sources beside the project.
set -uo pipefail
W=${1:-create-users}
S=${2:-20}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/eio-profile.XXXXXX")}
SCIMLOAD_SRC=${SCIMLOAD_SRC:-$ROOT/../shared/bench/scimload}
mkdir -p "$OUT" && chmod 755 "$OUT" # PostgreSQL runs as its own user below it
cd "$ROOT"
[[ -x bin/kubectl ]] || make control-plane >/dev/null || exit 1
[[ -d "$SCIMLOAD_SRC" ]] || { echo "profile: no scimload sources at $SCIMLOAD_SRC (set SCIMLOAD_SRC)" >&2; exit 2; }
(cd "$SCIMLOAD_SRC" && go build -o "$OUT/scimload" .) || exit 1
make build >/dev/null || exit 1
STORE=${STORE:-postgres}
PG_PID=
if [[ "$STORE" == postgres ]]; then
  initdb=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1)
  [[ -n "$initdb" ]] || { echo "profile: PostgreSQL is not installed (apt-get install -y postgresql)" >&2; exit 2; }
  PGBIN=$(dirname "$initdb")
  as_pg() { if [[ "$(id -u)" == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  PGDIR="$OUT/pg"
  mkdir -p "$PGDIR" && chmod 755 "$PGDIR" && { [[ "$(id -u)" != 0 ]] || chown postgres "$PGDIR"; }
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  as_pg "$PGBIN/initdb" -D "$PGDIR/data" -U eio --auth=trust -E UTF8 --locale=C >/dev/null
  as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w -o "-c listen_addresses=127.0.0.1 -p $port -k $PGDIR -c fsync=on \
    -c max_connections=200 -c shared_preload_libraries=pg_stat_statements${EXPLAIN:+,auto_explain} -c pg_stat_statements.track_planning=on \
    ${EXPLAIN:+-c auto_explain.log_min_duration=0 -c auto_explain.sample_rate=$EXPLAIN -c auto_explain.log_analyze=on -c auto_explain.log_buffers=on}" \
    start >/dev/null || exit 1
  PG_PID=$(head -1 "$PGDIR/data/postmaster.pid")
  export EIO_POSTGRES_URL="postgres://eio@127.0.0.1:$port/postgres?sslmode=disable"
  psql "$EIO_POSTGRES_URL" -qc 'CREATE EXTENSION pg_stat_statements' || exit 1
else
  unset EIO_POSTGRES_URL
fi
pg() { [[ "$STORE" != postgres ]] || psql "$EIO_POSTGRES_URL" "$@"; }

# The manager is our child (it stops with its parent), so this shell waits for it at the end.
KUBEBUILDER_ASSETS="$(./hack/control-plane.sh)" bin/manager --local --local-dir "$OUT/local" --pprof-bind-address 127.0.0.1:6060 \
  >"$OUT/manager.log" 2>&1 </dev/null &
MANAGER=$!
stop() {
  kill -INT "$MANAGER" 2>/dev/null && wait "$MANAGER" 2>/dev/null
  [[ "$STORE" != postgres ]] || as_pg "$PGBIN/pg_ctl" -D "$PGDIR/data" -m fast stop >/dev/null 2>&1
}
trap stop EXIT
k=(bin/kubectl --kubeconfig "$OUT/local/kubeconfig")
BASE=
for _ in $(seq 1 300); do
  [[ -f "$OUT/local/kubeconfig" ]] && BASE=$("${k[@]}" get scimintegrations -A -o jsonpath='{.items[0].status.baseURL}' 2>/dev/null)
  [[ -n "$BASE" ]] && break
  kill -0 "$MANAGER" 2>/dev/null || { echo "profile: the manager exited; see $OUT/manager.log" >&2; exit 1; }
  sleep 1
done
ns=$("${k[@]}" get scimintegrations -A -o jsonpath='{.items[0].metadata.namespace}')
sc=$("${k[@]}" get scimintegrations -A -o jsonpath='{.items[0].metadata.name}')
secret=$("${k[@]}" -n "$ns" get scimintegration "$sc" -o jsonpath='{.status.token.secretName}')
TOKEN=$("${k[@]}" -n "$ns" get secret "$secret" -o jsonpath='{.data.token}' | base64 -d)

load() { "$OUT/scimload" -base "$BASE" -token "$TOKEN" -workload "$W" -concurrency 16 -progress 0 "$@"; }
if [[ -n "${BEFORE:-}" ]]; then # another workload first, unmeasured, as compare.sh runs its workloads on one store
  read -r bw bs <<<"$BEFORE"
  "$OUT/scimload" -base "$BASE" -token "$TOKEN" -workload "$bw" -concurrency 16 -progress 0 -duration "${bs:-30}s" >"$OUT/before.result" 2>&1
fi
[[ "$W" == create-users ]] || load -duration 3s -users "${USERS:-1000}" >/dev/null 2>&1 # the user pool, unmeasured
# The measured run first makes sure of its user pool (a POST per user, each a 409 by now): the
# profile, the statements and the WAL start once it says so, and cover the measured phase only.
load -duration "$((S + 2))s" -users "${USERS:-0}" -server-pids "$MANAGER${PG_PID:+,$PG_PID}" >"$OUT/$W.result" 2>&1 &
LOAD=$!
if [[ "$W" != create-users ]]; then
  for _ in $(seq 1 600); do grep -q '^setup:' "$OUT/$W.result" 2>/dev/null && break; kill -0 "$LOAD" 2>/dev/null || break; sleep 0.1; done
fi
pg -qc 'SELECT pg_stat_statements_reset()' >/dev/null
LSN0=$(pg -tAc 'SELECT pg_current_wal_lsn()')
curl -s "http://127.0.0.1:6060/debug/pprof/profile?seconds=$S" -o "$OUT/$W.pprof" &
CURL=$!
wait "$LOAD"
grep -v '^RESULT' "$OUT/$W.result" | tee "$OUT/$W.load"
# The server's CPU in the measured phase: the manager's, and PostgreSQL's with its backends.
sed -n 's/^RESULT //p' "$OUT/$W.result" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("  server cpu: %.2fs, %.3f ms per op (the manager and PostgreSQL)" % (r.get("server_cpu_s",0), 1000*r.get("server_cpu_s",0)/max(r["ops"],1)))' |
  tee -a "$OUT/$W.load"
# What each operation wrote to the WAL (every row, index entry and commit record): it does not
# move with the machine's speed as throughput does, so it shows small write-path changes.
if [[ -n "$LSN0" ]]; then
  ops=$(sed -n 's/^RESULT //p' "$OUT/$W.result" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ops"])')
  pg -tAc "SELECT '  wal: ' || round(pg_wal_lsn_diff(pg_current_wal_lsn(), '$LSN0') / greatest($ops, 1)) || ' bytes per op'" | tee -a "$OUT/$W.load"
fi
wait "$CURL"
echo
go tool pprof -top -cum -nodecount=40 bin/manager "$OUT/$W.pprof" 2>/dev/null | tee "$OUT/$W.top" | head -50
echo
pg -c "SELECT calls, round(total_exec_time::numeric, 0) AS exec_ms, round(total_plan_time::numeric, 0) AS plan_ms,
  round((total_exec_time / greatest(calls, 1))::numeric, 3) AS ms_per_call, left(regexp_replace(query, '\s+', ' ', 'g'), 100) AS statement
  FROM pg_stat_statements ORDER BY total_exec_time + total_plan_time DESC LIMIT 20" | tee "$OUT/$W.statements"
# Rows and index entries each table took in the run: updates that were HOT wrote no index entries.
pg -c "SELECT relname AS table, n_tup_ins AS inserted, n_tup_upd AS updated, n_tup_hot_upd AS hot, n_tup_del AS deleted
  FROM pg_stat_user_tables WHERE n_tup_ins + n_tup_upd + n_tup_del > 0 ORDER BY relname" | tee "$OUT/$W.tables"
[[ -z "${EXPLAIN:-}" ]] || echo "profile: sampled plans (auto_explain) are in $PGDIR/log"
echo "profile: everything is in $OUT"
