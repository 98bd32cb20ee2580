#!/usr/bin/env bash
# bench/serve/run.sh [PATRON]
#
# Benchmark of `patron serve` (PATRON, default build/patron) on 127.0.0.1, with
# bench/serve/loadgen.c as the client (built here with bench/common/httpc.c,
# the HTTP client it shares with bench/loyalty, and the project's warning
# flags). In one run, each on a fresh data directory in a temporary folder:
#   (a) batched ingest: POST /v1/batch, 100 events per request, BATCH_CONNS
#       keep-alive connections, BATCH_EVENTS events over CUSTOMERS customers
#       (60% Product Viewed, 25% Product Added, 15% Order Completed); then the
#       same requests again (same messageIds: all duplicates);
#   (a') the reference: the same events, as plain SQLite inserts
#       (sqlite_ref.py: WAL, synchronous=FULL, one transaction per 100);
#   (b) single events: POST /v1/track on SINGLE_CONNS connections for
#       SINGLE_SECONDS seconds;
#   (c) memory per customer: VmRSS of the server (/proc/PID/status) before and
#       after loading MEM_CUSTOMERS customers with one Order Completed each;
#   (d) restart: more events up to RESTART_EVENTS in that store, SIGTERM, then
#       the time from starting a fresh server until /healthz answers 200.
# "Durable" throughput counts events acknowledged with 2xx: the server answers
# after its commit. The loadgen retries a 503 after its Retry-After.
#
# Sizes (environment; the defaults are the sizes of the goals):
#   BATCH_EVENTS=1000000 BATCH_CONNS=4 CUSTOMERS=100000 SINGLE_SECONDS=20
#   SINGLE_CONNS=32 MEM_CUSTOMERS=1000000 RESTART_EVENTS=10000000 SEED=2026
#   SERVE_ARGS="" (extra flags for patron serve)  KEEP=1 keeps the data folder
# A quick run:
#   BATCH_EVENTS=100000 SINGLE_SECONDS=5 MEM_CUSTOMERS=100000 \
#   RESTART_EVENTS=300000 bench/serve/run.sh build/patron
# Results go to stdout as a Markdown table; progress goes to stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
patron=$(realpath "${1:-$root/build/patron}")
batch_events=${BATCH_EVENTS:-1000000}
batch_conns=${BATCH_CONNS:-4}
customers=${CUSTOMERS:-100000}
single_seconds=${SINGLE_SECONDS:-20}
single_conns=${SINGLE_CONNS:-32}
mem_customers=${MEM_CUSTOMERS:-1000000}
restart_events=${RESTART_EVENTS:-10000000}
seed=${SEED:-2026}
serve_args=${SERVE_ARGS:-}
python=${PYTHON:-python3}
((restart_events >= mem_customers)) || { echo "bench: RESTART_EVENTS < MEM_CUSTOMERS" >&2; exit 2; }

loadgen=$root/build/bench/loadgen
mkdir -p "$(dirname "$loadgen")"
${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Wshadow -Wconversion \
    -Wsign-conversion -Wstrict-prototypes -Wmissing-prototypes \
    -I"$root/bench/common" -o "$loadgen" "$here/loadgen.c" "$root/bench/common/httpc.c" -lpthread

work=$(mktemp -d "${TMPDIR:-/tmp}/patron-serve-bench.XXXXXX")
log() { echo "bench: $*" >&2; }
calc() { awk "BEGIN { printf $1 }"; }
client=$loadgen
# new_shop, start, stop, stop_at_exit, cpu_s, metric
# shellcheck source=bench/common/server.sh
. "$root/bench/common/server.sh"
cleanup() {
    stop_at_exit
    if [[ -n ${KEEP:-} ]]; then
        echo "bench: data kept in $work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
# json FILE KEY: a number from a one-line JSON object (latency keys are unique too)
json() { sed -n "s/.*\"$2\": *\([-0-9.]*\).*/\1/p" "$1"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$spid/status"; }

# load OUT ARGS...: runs loadgen against the server, JSON summary to OUT;
# also records the server's CPU seconds during the run in OUT.cpu
load() {
    local out=$1 c0 rc=0
    shift
    c0=$(cpu_s)
    "$loadgen" --port "$port" --key "$key" --json "$@" >"$out" || rc=$?
    calc "\"%.2f\", $(cpu_s) - $c0" >"$out.cpu"
    ((rc == 0)) || log "loadgen reported errors ($(json "$out" non_2xx) non-2xx," \
        "$(json "$out" io_errors) i/o errors): see above"
}

# ---- (a), (a'), (b): one store ----
d1=$work/ingest
new_shop "$d1"
start "$d1"
log "(a) batched: $batch_events events, 100/request, $batch_conns connections"
acc0=$(metric 'patron_events_total{status="accepted"}')
load "$work/a.json" --mode batch --batch 100 --conns "$batch_conns" --events "$batch_events" \
    --customers "$customers" --seed "$seed"
acc1=$(metric 'patron_events_total{status="accepted"}')
if [[ $((acc1 - acc0)) != "$(json "$work/a.json" events_acked)" ]]; then
    log "WARNING: server counted $((acc1 - acc0)) accepted events, loadgen $(json "$work/a.json" events_acked) acknowledged"
fi
log "(a) again, same messageIds (duplicates)"
load "$work/dup.json" --mode batch --batch 100 --conns "$batch_conns" --events "$batch_events" \
    --customers "$customers" --seed "$seed"
acc2=$(metric 'patron_events_total{status="accepted"}')
[[ $acc2 == "$acc1" ]] || log "WARNING: re-sent events were accepted again ($((acc2 - acc1)))"
log "(b) single events: $single_conns connections, $single_seconds s"
load "$work/b.json" --mode single --conns "$single_conns" --seconds "$single_seconds" \
    --customers "$customers" --seed $((seed + 1))
stop
rm -rf "$d1"

log "(a') SQLite reference: the same $batch_events events"
"$loadgen" --mode dump --batch 100 --events "$batch_events" --customers "$customers" \
    --seed "$seed" --out "$work/bodies.ndjson"
"$python" "$here/sqlite_ref.py" "$work/bodies.ndjson" "$work/ref.db" >"$work/ref.json"
rm -f "$work/bodies.ndjson" "$work/ref.db" "$work/ref.db-wal" "$work/ref.db-shm"

# ---- (c), (d): a store with MEM_CUSTOMERS customers ----
d2=$work/big
new_shop "$d2"
start "$d2"
sleep 1
rss0=$(rss_kb)
log "(c) $mem_customers customers, one Order Completed each"
load "$work/c.json" --mode batch --batch 100 --conns "$batch_conns" --events "$mem_customers" \
    --customers "$mem_customers" --seq --mix 0,0,100 --seed $((seed + 2))
sleep 1
rss1=$(rss_kb)
ncust=$(metric patron_customers)
[[ $ncust == "$mem_customers" ]] || log "WARNING: patron_customers is $ncust, expected $mem_customers"
more=$((restart_events - mem_customers))
if ((more > 0)); then
    log "(d) $more more events over the same customers"
    load "$work/d.json" --mode batch --batch 100 --conns "$batch_conns" --events "$more" \
        --customers "$mem_customers" --seed $((seed + 3))
fi
rss2=$(rss_kb)
stop
stop1=$stop_s
log "(d) restart with $mem_customers customers / $restart_events events"
start "$d2"
sleep 1
rss3=$(rss_kb)
ncust=$(metric patron_customers)
[[ $ncust == "$mem_customers" ]] || log "WARNING: after restart patron_customers is $ncust, expected $mem_customers"
store_mb=$(du -sm "$d2" | cut -f1)
stop

# ---- the table ----
yes() { if awk "BEGIN { exit !($1) }"; then echo yes; else echo "**no**"; fi; }
full=1
((batch_events >= 1000000 && mem_customers >= 1000000 && restart_events >= 10000000)) || full=0
a_eps=$(json "$work/a.json" events_per_s)
ref_eps=$(json "$work/ref.json" events_per_s)
b_rps=$(json "$work/b.json" requests_per_s)
b_p99=$(json "$work/b.json" p99)
bpc=$(calc "\"%.0f\", ($rss1 - $rss0) * 1024 / $mem_customers")
bpc_restart=$(calc "\"%.0f\", ($rss3 - $rss0) * 1024 / $mem_customers")
lat() { echo "p50 $(json "$1" p50) / p90 $(json "$1" p90) / p99 $(json "$1" p99) / max $(json "$1" max) ms"; }
srv() { echo "server CPU $(cat "$1.cpu") s, client CPU $(json "$1" client_cpu_s) s"; }

echo "| measure | result | goal | met |"
echo "|---|---|---|---|"
echo "| (a) batched ingest, 100 events/request, $batch_conns connections, $batch_events events / $customers customers | $a_eps events/s durable; $(lat "$work/a.json"); $(srv "$work/a.json") | >= 100000 events/s | $(yes "$a_eps >= 100000") |"
echo "| (a') same events as SQLite inserts (Python sqlite3, WAL, synchronous=FULL, 1 transaction per 100) | $ref_eps events/s | - | patron $(calc "\"%.2fx\", $a_eps / $ref_eps") SQLite |"
echo "| (a) re-sent, all duplicates | $(json "$work/dup.json" events_per_s) events/s; $(lat "$work/dup.json") | - | - |"
echo "| (b) single events, $single_conns connections, $single_seconds s | $b_rps req/s, $(json "$work/b.json" non_2xx) non-2xx ($(json "$work/b.json" status_503) x 503); $(lat "$work/b.json"); $(srv "$work/b.json") | >= 15000 req/s, p99 < 10 ms | $(yes "$b_rps >= 15000 && $b_p99 < 10") |"
echo "| (c) memory, $mem_customers customers (1 order each) | $bpc B/customer (VmRSS $((rss0 / 1024)) -> $((rss1 / 1024)) MiB); load at $(json "$work/c.json" events_per_s) events/s | <= 300 B/customer at 1M | $(yes "$bpc <= 300") |"
if ((more > 0)); then
    echo "| (d) ingest into the growing store, $more events | $(json "$work/d.json" events_per_s) events/s; $(lat "$work/d.json") | - | - |"
fi
echo "| (d) restart, $mem_customers customers / $restart_events events ($store_mb MB store) | $ready_s s to /healthz 200 (graceful stop took $stop1 s) | < 10 s at 1M / 10M | $(yes "$ready_s < 10") |"
echo "| (d) memory after restart | $bpc_restart B/customer (VmRSS $((rss3 / 1024)) MiB; $((rss2 / 1024)) MiB before the stop) | - | - |"
echo
((full)) || echo "Smaller than the goal sizes: the 'met' column is indicative only."
echo "machine: $(nproc) cores; client and server share them (see the CPU seconds)."
