#!/usr/bin/env bash
# bench/segment/run.sh PATRON
#
# Segments benchmark (docs/benchmarks.md, "Segments"), in one run:
#
# Part A - full evaluation, offline. rules.py writes RULES segment rules of 14
# kinds with varied thresholds (orders, revenue, average order value, days since
# the first / last order, orders_in windows, average and median gaps, RFM
# segments and scores, and/or/not combinations, gaps against recency), each with
# an exact SQL twin. On the same order CSV (`patron gen --customers $CUSTOMERS
# --orders $ORDERS --seed 2026`, as-of $AS_OF):
#   patron      `patron segment eval --rules --members --as-of`, REPEAT times;
#               its own "evaluation" seconds (the rules over every customer, the
#               orders already in memory) and "preparation" (sorting them per
#               customer), and the whole process (reading the CSV included);
#   SQLite      seg_sqlite.py: in-memory database, Python's sqlite3 module;
#   PostgreSQL  seg_pg.sh: a throw-away cluster on 127.0.0.1 (bench/rfm/pg_cluster.sh).
# For SQL, "full re-evaluation" = building the per-customer table (agg.sql: one
# CREATE TABLE AS ... GROUP BY with the RFM ranks and median gaps) + one
# SELECT customer_id FROM agg WHERE <rule> per rule, members to the client.
# Loading the orders is timed apart and not compared. compare.py then checks
# that the three engines' member sets are identical, rule by rule (exit 1 if not).
#
# Part B - live (LIVE=0 skips it). `patron serve` on a fresh store: POST
# /v1/import/orders of a `patron gen` CSV with LIVE_CUSTOMERS / LIVE_ORDERS;
# a restart (fresh metrics); LOAD_SECONDS of batched events (bench/serve's
# loadgen, LOAD_CONNS connections, 100 events per request, over the imported
# customers' ids) with live.py's probe alongside (single Order Completed events,
# ack latency); then the RULES segments are saved (POST /v1/segments), the
# membership size read from /metrics (patron_segment_bytes: Roaring, serialized),
# a restart again, and the same load with the probe checking, right after each
# ack, that its customer's Segment Entered event is on the profile. The server's
# patron_segment_group_seconds (time each group commit spends on segments, last
# 4096 groups; the restarts keep other phases out of it) is the cost of segments
# beyond the ingest commit.
#
# Sizes (environment): CUSTOMERS=1000000 ORDERS=5000000 RULES=100 SEED=2026
#   AS_OF=2026-11-01 REPEAT=3 SQL=1 (0: patron only) LIVE=1
#   LIVE_CUSTOMERS=1000000 LIVE_ORDERS=1000000 LOAD_SECONDS=30 LOAD_CONNS=4
#   LOAD_CUSTOMERS=100000 (the load's own customers, c0 ...: new and returning)
#   PGPORT_BENCH=55440 KEEP=1 (keep the live data folder)
# Quick run: CUSTOMERS=100000 ORDERS=1000000 LIVE_CUSTOMERS=100000 \
#   LIVE_ORDERS=200000 LOAD_SECONDS=10 REPEAT=1 bench/segment/run.sh build/patron
# Markdown tables on stdout; progress on stderr.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
patron=$(realpath "${1:?usage: run.sh PATRON}")
customers=${CUSTOMERS:-1000000}
orders=${ORDERS:-5000000}
nrules=${RULES:-100}
seed=${SEED:-2026}
as_of=${AS_OF:-2026-11-01}
repeat=${REPEAT:-3}
do_sql=${SQL:-1}
do_live=${LIVE:-1}
live_customers=${LIVE_CUSTOMERS:-1000000}
live_orders=${LIVE_ORDERS:-1000000}
load_seconds=${LOAD_SECONDS:-30}
load_conns=${LOAD_CONNS:-4}
load_customers=${LOAD_CUSTOMERS:-100000}
port_pg=${PGPORT_BENCH:-55440}
py=${PYTHON:-/usr/bin/python3}
out=${BENCH_OUT:-$here/../out}
mkdir -p "$out/segment"
out=$(realpath "$out")
res=$out/segment
as_of_epoch=$(date -u -d "$as_of" +%s)
rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$root" diff --quiet HEAD -- src 2>/dev/null || rev="$rev + uncommitted src/ changes"
[[ -z $(find "$root/src" -newer "$patron" -print -quit) ]] || rev="$rev; $patron is older than src/"
bin_sum=$(sha256sum "$patron")

log() { echo "bench: $*" >&2; }
calc() { awk "BEGIN { printf $1 }"; }
# jnum FILE KEY: a number from a one-line JSON object
jnum() { sed -n "s/.*\"$2\": *\([-0-9.eE+]*\).*/\1/p" "$1"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
yes() { if awk "BEGIN { exit !($1) }"; then echo yes; else echo "**no**"; fi; }

# gen_csv C N: the `patron gen` file of that size in $out (made if missing)
gen_csv() {
    local f="$out/orders_$1_$2.csv"
    if [[ ! -s $f ]]; then
        log "patron gen --customers $1 --orders $2 --seed 2026"
        "$patron" gen --customers "$1" --orders "$2" --seed 2026 --out "$f" 2>/dev/null
    fi
    echo "$f"
}

pgdir=
work=
# new_shop, start, stop, stop_at_exit (Part B; its metric is redefined there)
# shellcheck source=bench/common/server.sh
. "$root/bench/common/server.sh"
cleanup() {
    stop_at_exit
    if [[ -n $pgdir ]]; then
        "$root/bench/rfm/pg_cluster.sh" stop "$pgdir" >/dev/null 2>&1 || true
        rm -rf "$pgdir"
    fi
    if [[ -n $work ]]; then
        if [[ -n ${KEEP:-} ]]; then log "live data kept in $work"; else rm -rf "$work"; fi
    fi
}
trap cleanup EXIT

"$py" "$here/rules.py" "$nrules" "$seed" "$res/rules.tsv"
cut -f1,2 "$res/rules.tsv" >"$res/rules.txt"

# ================= Part A: full evaluation, offline =================
csv=$(gen_csv "$customers" "$orders")
mb=$(du -m "$csv" | cut -f1)
log "A: patron segment eval, $nrules rules, $customers customers / $orders orders, $repeat runs"
evals=() preps=() walls=() rsss=()
for ((i = 1; i <= repeat; i++)); do
    /usr/bin/time -f "%e %M" -o "$res/patron.time" "$patron" segment eval \
        --rules "$res/rules.txt" --members "$res/patron_members.csv" --as-of "$as_of" "$csv" \
        >"$res/patron_counts.csv" 2>"$res/patron.stderr" || {
        log "patron segment eval failed:"; tail -5 "$res/patron.stderr" >&2; exit 1; }
    line=$(grep "evaluation" "$res/patron.stderr")
    evals+=("$(sed -n 's/.*(evaluation \([0-9.]*\) s.*/\1/p' <<<"$line")")
    preps+=("$(sed -n 's/.*preparation \([0-9.]*\) s).*/\1/p' <<<"$line")")
    read -r w m <"$res/patron.time"
    walls+=("$w")
    rsss+=("$m")
done
p_eval=$(printf '%s\n' "${evals[@]}" | median)
p_prep=$(printf '%s\n' "${preps[@]}" | median)
p_wall=$(printf '%s\n' "${walls[@]}" | median)
p_rss=$(printf '%s\n' "${rsss[@]}" | median)
memberships=$(awk -F, 'NR > 1 { s += $2 } END { print s }' "$res/patron_counts.csv")
empty=$(awk -F, 'NR > 1 && $2 == 0 { n++ } END { print n + 0 }' "$res/patron_counts.csv")

sql_rows=()
declare -A sql_tot
check="SQL engines not run (SQL=0): member sets not checked"
if [[ $do_sql != 0 ]]; then
    log "A: SQLite (seg_sqlite.py, in memory)"
    /usr/bin/time -f "%e %M" -o "$res/sqlite.time" "$py" "$here/seg_sqlite.py" "$csv" \
        "$as_of_epoch" "$res/rules.tsv" "$res/sqlite_members.csv" >"$res/sqlite.json"
    pgdir=$(mktemp -d "${TMPDIR:-/tmp}/patron-seg-pg.XXXXXX")
    "$root/bench/rfm/pg_cluster.sh" start "$pgdir" "$port_pg" >&2
    log "A: PostgreSQL (seg_pg.sh)"
    /usr/bin/time -f "%e %M" -o "$res/postgres.time" "$here/seg_pg.sh" "$csv" \
        "$as_of_epoch" "$res/rules.tsv" "$res/postgres_members.csv" "$port_pg" >"$res/postgres.json"
    "$root/bench/rfm/pg_cluster.sh" stop "$pgdir" >&2
    rm -rf "$pgdir"
    pgdir=
    log "A: comparing member sets"
    if ! "$py" "$here/compare.py" "$res/rules.tsv" "$res/patron_members.csv" \
        "SQLite=$res/sqlite_members.csv" "PostgreSQL=$res/postgres_members.csv" >"$res/check.txt"; then
        cat "$res/check.txt" >&2
        log "member sets differ: see above"
        exit 1
    fi
    check=$(cat "$res/check.txt")
    for e in sqlite postgres; do
        agg=$(jnum "$res/$e.json" agg_s)
        qs=$(jnum "$res/$e.json" queries_s)
        tot=$(calc "\"%.2f\", $agg + $qs")
        name=SQLite
        [[ $e == postgres ]] && name=PostgreSQL
        sql_rows+=("| $name | **$tot** | $agg | $qs | **$(calc "\"%.1fx\", $tot / $p_eval")** | $(calc "\"%.1fx\", $tot / ($p_eval + $p_prep)") | $(jnum "$res/$e.json" load_s) | $(cut -d' ' -f1 "$res/$e.time") |")
        sql_tot[$e]=$tot
    done
fi

# ================= Part B: live =================
if [[ $do_live != 0 ]]; then
    loadgen=$root/build/bench/loadgen
    mkdir -p "$(dirname "$loadgen")"
    ${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Wshadow -Wconversion \
        -Wsign-conversion -Wstrict-prototypes -Wmissing-prototypes \
        -I"$root/bench/common" -o "$loadgen" "$root/bench/serve/loadgen.c" \
        "$root/bench/common/httpc.c" -lpthread
    lcsv=$(gen_csv "$live_customers" "$live_orders")
    work=$(mktemp -d "${TMPDIR:-/tmp}/patron-seg-live.XXXXXX")
    data=$work/data
    client=$loadgen serve_args='' ready_wait=600
    new_shop "$data" "Segments bench"
    metrics() { "$loadgen" --mode get --port "$port" --path /metrics >"$1"; }
    metric() { awk -v m="$2" '$1 == m { print $2 }' "$1"; }
    rss_mb() { awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$spid/status"; }
    # phase NAME [SEGMENT_ID]: the load and the probe together for LOAD_SECONDS
    phase() {
        local c0 lpid
        c0=$(awk '$1 == "patron_commits_total" { print $2 }' <("$loadgen" --mode get --port "$port" --path /metrics))
        "$loadgen" --port "$port" --key "$key" --json --mode batch --batch 100 \
            --conns "$load_conns" --seconds "$load_seconds" --customers "$load_customers" \
            --seed $((seed + starts)) >"$work/$1.load.json" &
        lpid=$!
        "$py" "$here/live.py" probe "$port" "$key" "$load_seconds" "$1" ${2:+"$2"} >"$work/$1.probe.json"
        wait "$lpid" || log "loadgen reported errors in phase $1"
        metrics "$work/$1.metrics"
        echo $(($(metric "$work/$1.metrics" patron_commits_total) - c0)) >"$work/$1.commits"
    }

    log "B: importing $live_customers customers / $live_orders orders (POST /v1/import/orders)"
    start "$data"
    t0=$EPOCHREALTIME
    curl -sS --fail -H "Authorization: Bearer $key" -H 'Content-Type: text/csv' \
        --data-binary @"$lcsv" "http://127.0.0.1:$port/v1/import/orders" >"$work/import.json"
    import_s=$(calc "\"%.1f\", $EPOCHREALTIME - $t0")
    stop
    start "$data"
    restart0=$ready_s
    rss0=$(rss_mb)
    log "B: $load_seconds s of load, built-in segments only"
    phase p0
    metrics "$work/m0"
    bytes0=$(metric "$work/m0" patron_segment_bytes)
    members0=$(metric "$work/m0" patron_segment_members)
    nseg0=$(metric "$work/m0" patron_segments)
    rss1=$(rss_mb)
    log "B: saving $nrules segments"
    "$py" "$here/live.py" segments "$port" "$key" "$res/rules.tsv" >"$work/segments.json"
    probe_id=$(sed -n 's/.*"ids": \[\([0-9]*\).*/\1/p' "$work/segments.json")
    # membership gauges are refreshed every 64 groups: one small event group first
    "$py" "$here/live.py" probe "$port" "$key" 0.001 flush >/dev/null
    metrics "$work/m1"
    bytes1=$(metric "$work/m1" patron_segment_bytes)
    members1=$(metric "$work/m1" patron_segment_members)
    nseg1=$(metric "$work/m1" patron_segments)
    rss2=$(rss_mb)
    stop
    start "$data"
    restart1=$ready_s
    log "B: $load_seconds s of load, $nrules more segments, probe on segment $probe_id"
    phase p1 "$probe_id"
    stop

    ncust=$(metric "$work/m1" patron_customers)
    seg_mb=$(calc "\"%.1f\", ($bytes1 - $bytes0) / 1048576")
    seg_mb_1m=$(calc "\"%.1f\", ($bytes1 - $bytes0) / 1048576 * 1000000 / $ncust")
    q() { sed -n "s/.*patron_segment_group_seconds{quantile=\"$2\"} \([0-9.]*\).*/\1/p" "$1" |
        awk '{ printf "%.3f", $1 * 1000 }'; }
    g0_50=$(q "$work/p0.metrics" 0.5) g0_99=$(q "$work/p0.metrics" 0.99)
    g1_50=$(q "$work/p1.metrics" 0.5) g1_99=$(q "$work/p1.metrics" 0.99)
    qe() { sed -n "s/.*patron_segment_group_eval_seconds{quantile=\"$2\"} \([0-9.]*\).*/\1/p" "$1" |
        awk '{ printf "%.3f", $1 * 1000 }'; }
    e0_50=$(qe "$work/p0.metrics" 0.5) e0_99=$(qe "$work/p0.metrics" 0.99)
    e1_50=$(qe "$work/p1.metrics" 0.5) e1_99=$(qe "$work/p1.metrics" 0.99)
    lj() { jnum "$work/$1.load.json" "$2"; }
    pj() { jnum "$work/$1.probe.json" "$2"; }
fi

# ================= output =================
echo "Segments benchmark, patron at commit $rev (the work tree when the run started); $(nproc) cores; $(date -u +%Y-%m-%d)"
if [[ $(sha256sum "$patron") != "$bin_sum" ]]; then
    echo
    echo "**Warning: $patron was rebuilt during the run: the runs mix two binaries.**"
fi
echo
echo "Part A: $nrules rules over $customers customers / $orders orders ($mb MB CSV), as of $as_of;"
echo "patron: median of $repeat runs (evaluation s: ${evals[*]}); SQL engines: one run each."
echo
echo "| engine | full re-evaluation s | aggregate table s | $nrules queries s | vs patron evaluation | vs patron evaluation + preparation | load s (not compared) | whole process s |"
echo "|---|---|---|---|---|---|---|---|"
echo "| patron | **$p_eval** (evaluation) + $p_prep (preparation) | - | - | 1.0x | 1.0x | - | $p_wall (reads the CSV; peak RSS $(calc "\"%.0f\", $p_rss / 1024") MiB) |"
for r in "${sql_rows[@]}"; do echo "$r"; done
echo
echo "$memberships memberships ($empty empty rules). $check"
if [[ $do_live != 0 ]]; then
    echo
    echo "Part B: patron serve, $ncust customers ($live_customers imported with $live_orders orders in $import_s s),"
    echo "load: $load_conns connections x 100 events/request (bench/serve's mix: 60% views, 25% adds, 15% orders) over $load_customers customers of its own (c0, c1, ...) for $load_seconds s,"
    echo "probe: single Order Completed events, 10 ms apart, each checked right after its ack."
    echo
    echo "| measure | $((nseg0)) built-in segments | + $nrules segments ($nseg1) |"
    echo "|---|---|---|"
    echo "| batched load: events/s; request p50 / p99 ms | $(lj p0 events_per_s); $(lj p0 p50) / $(lj p0 p99) | $(lj p1 events_per_s); $(lj p1 p50) / $(lj p1 p99) |"
    echo "| probe event ack p50 / p99 ms ($(pj p0 events) / $(pj p1 events) events) | $(pj p0 ack_p50_ms) / $(pj p0 ack_p99_ms) | $(pj p1 ack_p50_ms) / $(pj p1 ack_p99_ms) |"
    echo "| probe: membership visible on the first read after the ack | - | $(pj p1 visible_first_read) of $(pj p1 events) (ack to visible p50 $(pj p1 visible_p50_ms) / p99 $(pj p1 visible_p99_ms) ms, one GET) |"
    echo "| patron_segment_group_seconds p50 / p99 ms ($(cat "$work/p0.commits") / $(cat "$work/p1.commits") group commits) | $g0_50 / $g0_99 | **$g1_50 / $g1_99** |"
    echo "| of which evaluating (patron_segment_group_eval_seconds; the rest writes Entered/Exited events) p50 / p99 ms | $e0_50 / $e0_99 | $e1_50 / $e1_99 |"
    echo "| memberships; Roaring bytes (patron_segment_bytes) | $members0; $bytes0 | $members1; $bytes1 |"
    echo "| VmRSS MiB (after the restart / after the load / after saving) | $rss0 / $rss1 | - / $rss2 |"
    echo "| restart to /healthz s | $restart0 | $restart1 |"
    echo
    echo "Saving the $nrules segments (each evaluated over every customer): $(jnum "$work/segments.json" seconds) s, slowest $(jnum "$work/segments.json" max_s) s."
    echo
    echo "| goal | measured | met |"
    echo "|---|---|---|"
fi
if [[ $do_live == 0 ]]; then
    echo
    echo "| goal | measured | met |"
    echo "|---|---|---|"
fi
echo "| full evaluation of $nrules segments over 1M customers < 1 s | $p_eval s evaluation ($p_prep s preparation) over $customers customers | $(yes "$p_eval < 1 && $customers >= 1000000") |"
if [[ $do_sql != 0 ]]; then
    echo "| >= 20x faster than SQLite and PostgreSQL | $(calc "\"%.1fx\", ${sql_tot[sqlite]} / $p_eval") and $(calc "\"%.1fx\", ${sql_tot[postgres]} / $p_eval") (vs evaluation) | $(yes "${sql_tot[sqlite]} / $p_eval >= 20 && ${sql_tot[postgres]} / $p_eval >= 20") |"
fi
if [[ $do_live != 0 ]]; then
    echo "| event-to-membership p99 < 1 ms beyond the ingest commit | segments' share of a group commit p99 $g1_99 ms; membership visible on the first read after the ack for $(pj p1 visible_first_read) of $(pj p1 events) probes | $(yes "$g1_99 < 1") |"
    echo "| membership memory < 50 MB for 100 segments x 1M customers | $seg_mb MB for $nrules segments x $ncust customers ($(calc "\"%.1f\", ($members1 - $members0) / $ncust") memberships per customer)$( ((ncust < 1000000)) && echo "; $seg_mb_1m MB scaled to 1M") | $(yes "$seg_mb_1m < 50") |"
fi
