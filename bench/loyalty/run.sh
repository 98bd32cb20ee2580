#!/usr/bin/env bash
# bench/loyalty/run.sh [PATRON]
#
# Loyalty benchmark (docs/benchmarks.md, "Loyalty"): `patron serve` (PATRON,
# default build/patron) on 127.0.0.1 with bench/loyalty/loyload.c as the
# client (built here with bench/common/httpc.c, the HTTP client it shares with
# bench/serve/loadgen.c, and the project's warning flags), and side by side, in
# the same run, a plain ledger schema in PostgreSQL driven by pgbench. Each
# Patron part runs on a fresh data directory in a temporary folder.
#
# Patron, store 1 (a programme, then MEMBERS members imported with
# POST /v1/loyalty/import, INITIAL_POINTS each):
#   (a) earn, batched: POST /v1/loyalty/points, BATCH operations a request
#       ({"operations":[{user_id, points, "kind":"earn", reason, idempotency_key}...]}),
#       BATCH_CONNS keep-alive connections, EARN_SECONDS. An operation counts
#       when its result says 201: a new ledger entry, answered after the commit
#       and the fsync of the write-ahead log;
#   (a) earn, single: POST /v1/loyalty/members/{id}/points with an
#       Idempotency-Key, SINGLE_CONNS connections, SINGLE_SECONDS;
#   (b) redemptions: a reward of REWARD_COST points with REWARD_STOCK in stock,
#       POST /v1/loyalty/members/{id}/redemptions {"reward_id"} on REDEEM_CONNS
#       connections for REDEEM_SECONDS; each 201 carries a new voucher;
#   (c) validations: a pool of POOL_CODES codes (POST /v1/voucher-pools, its
#       codes read back from GET /v1/voucher-pools/{id}/codes.csv), then
#       GET /v1/vouchers/{code} on VALIDATE_CONNS connections, VALIDATE_SECONDS.
# Patron, store 2 (empty):
#   (d) POST /v1/voucher-pools with count GEN_CODES, timed from the request to
#       the 201 (generated and durably stored); the codes read back and
#       checked distinct. And the generation alone, in process: codegen.c
#       calling pt_code_batch(GEN_CODES) from libpatron.a (next to PATRON), the
#       median of 3.
# The answers are checked against the server's own figures: the points of
# the acknowledged earn operations against GET /v1/loyalty/report's "earned",
# redemptions against "redeemed" and the reward's stock.
#
# PostgreSQL 15 (PG=0 skips it): a private cluster on 127.0.0.1:PGPORT_BENCH
# in a temporary folder, default settings (fsync and synchronous_commit on:
# a commit is acknowledged after its WAL flush, as Patron's are), stopped at
# the end. Same sizes: balances(customer, points) with MEMBERS rows,
# ledger(id, customer, points, reason, idem UNIQUE, at), rewards, vouchers
# (code PRIMARY KEY) holding a pool of POOL_CODES codes. pgbench -n -M prepared
# over TCP, -j 2, as many clients as Patron's connections, the same durations:
#   earn       one transaction: INSERT INTO ledger + UPDATE balances;
#   earn x100  one statement (one transaction) inserting BATCH ledger rows and
#              updating their balances (as Patron's batches);
#   redeem     one transaction: UPDATE rewards SET stock = stock - 1 WHERE id = 1
#              AND stock > 0; UPDATE balances SET points = points - cost WHERE
#              customer = :id AND points >= cost; INSERT INTO ledger (the -cost
#              entry); INSERT INTO vouchers (encode(gen_random_bytes(8), 'hex'),
#              pgcrypto);
#   validate   SELECT a voucher by primary key (pgbench -S style);
#   codes      INSERT INTO codes SELECT encode(gen_random_bytes(9), 'hex') FROM
#              generate_series(1, GEN_CODES), codes(code UNIQUE), psql \timing.
# Latency percentiles come from pgbench's per-transaction log (-l); CPU is
# the postmaster's and its exited backends' (/proc, cutime). Each PostgreSQL
# run follows its Patron twin at once (the other server idle), so that the
# two see the same machine: it is shared and its load drifts.
#
# Sizes (environment; the defaults are the sizes of the goals):
#   MEMBERS=100000 INITIAL_POINTS=100000 BATCH=100 BATCH_CONNS=8
#   EARN_SECONDS=20 SINGLE_CONNS=32 SINGLE_SECONDS=10 REWARD_COST=10
#   REWARD_STOCK=100000000 REDEEM_CONNS=32 REDEEM_SECONDS=10 POOL_CODES=100000
#   VALIDATE_CONNS=32 VALIDATE_SECONDS=10 GEN_CODES=1000000 SEED=2026
#   PG=1 PGPORT_BENCH=55441 PGBIN=/usr/lib/postgresql/15/bin
#   PROGRAM='{...}' (the programme; default: two tiers on earned points, points
#   expire after 12 months)  SERVE_ARGS="" (extra flags for patron serve)
#   KEEP=1 keeps the temporary folder
# Quick mode (development): QUICK=1 makes the defaults MEMBERS=10000,
#   POOL_CODES=10000, GEN_CODES=100000 and every duration 3 s.
# Results go to stdout as a Markdown table; progress goes to stderr.
set -euo pipefail
export LC_ALL=C # byte-wise sed and sort (an answer may carry bytes that are not UTF-8)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
patron=$(realpath "${1:-$root/build/patron}")
libpatron=${LIBPATRON:-$(dirname "$patron")/libpatron.a}
quick=${QUICK:-0}
if [[ $quick == 1 ]]; then q_n=10000 q_gen=100000 q_s=3 q_l=3; else q_n=100000 q_gen=1000000 q_s=10 q_l=20; fi
members=${MEMBERS:-$q_n}
initial=${INITIAL_POINTS:-100000}
batch=${BATCH:-100}
batch_conns=${BATCH_CONNS:-8}
earn_seconds=${EARN_SECONDS:-$q_l}
single_conns=${SINGLE_CONNS:-32}
single_seconds=${SINGLE_SECONDS:-$q_s}
cost=${REWARD_COST:-10}
stock=${REWARD_STOCK:-100000000}
redeem_conns=${REDEEM_CONNS:-32}
redeem_seconds=${REDEEM_SECONDS:-$q_s}
pool=${POOL_CODES:-$q_n}
validate_conns=${VALIDATE_CONNS:-32}
validate_seconds=${VALIDATE_SECONDS:-$q_s}
gen=${GEN_CODES:-$q_gen}
seed=${SEED:-2026}
do_pg=${PG:-1}
pg_port=${PGPORT_BENCH:-55441}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
serve_args=${SERVE_ARGS:-}
program=${PROGRAM:-'{"tiers":{"basis":"points","levels":[{"name":"Silver","threshold":5000},{"name":"Gold","threshold":20000}]},"expiry":{"months":12}}'}

log() { echo "bench: $*" >&2; }
calc() { awk "BEGIN { printf $1 }"; }
# json FILE KEY: a number from a one-line JSON object (the keys used are unique)
json() { sed -n "s/.*\"$2\": *\([-0-9.eE+]*\).*/\1/p" "$1" | head -n 1; }
yes() { if awk "BEGIN { exit !($1) }"; then echo yes; else echo "**no**"; fi; }

# what is measured: the commit, whether src/ differs from it, whether PATRON is older than src/
rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$root" diff --quiet HEAD -- src 2>/dev/null || rev="$rev + uncommitted src/ changes"
[[ -z $(find "$root/src" -newer "$patron" -print -quit) ]] || rev="$rev; $patron is older than src/"
bin_sum=$(sha256sum "$patron")

flags=(-std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Wshadow -Wconversion
    -Wsign-conversion -Wstrict-prototypes -Wmissing-prototypes)
load=$root/build/bench/loyload
codegen=$root/build/bench/loyalty_codegen
mkdir -p "$root/build/bench"
${CC:-cc} "${flags[@]}" -I"$root/bench/common" -o "$load" "$here/loyload.c" \
    "$root/bench/common/httpc.c" -lpthread
have_codegen=0
if [[ -f $libpatron ]]; then
    # shellcheck disable=SC2046
    ${CC:-cc} "${flags[@]}" -I"$root/src" -o "$codegen" "$here/codegen.c" "$libpatron" \
        $(pkg-config --libs libsodium) -lpthread -lm
    have_codegen=1
else
    log "no $libpatron: the in-process code generation is skipped"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/patron-loyalty-bench.XXXXXX")
client=$load
# new_shop, start, stop, stop_at_exit, cpu_s, metric
# shellcheck source=bench/common/server.sh
. "$root/bench/common/server.sh"
pgdir=
pg_pid=
cleanup() {
    stop_at_exit
    if [[ -n $pg_pid ]] && kill -0 "$pg_pid" 2>/dev/null; then
        kill -INT "$pg_pid" 2>/dev/null || true # "fast" shutdown of this postmaster only
        for _ in $(seq 300); do kill -0 "$pg_pid" 2>/dev/null || break; sleep 0.1; done
    fi
    [[ -z $pgdir ]] || rm -rf "$pgdir"
    if [[ -n ${KEEP:-} ]]; then log "data kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# ================= Patron =================
# per-thread CPU ticks of the server, "TID TICKS" lines
thread_ticks() { for t in /proc/"$spid"/task/*; do echo "${t##*/} $(awk '{ print $14 + $15 }' "$t/stat")"; done; }

# req OUT METHOD PATH [loyload options]: one request, the body to OUT, the
# summary ({"status","seconds","bytes"}) to OUT.req; exits on non-2xx
req() {
    local out=$1 method=$2 path=$3
    shift 3
    "$load" --mode req --port "$port" --key "$key" --method "$method" --path "$path" \
        --out "$out" "$@" >"$out.req" || { log "$method $path failed"; exit 1; }
}

# run OUT ARGS...: a load, its JSON summary to OUT, the server's CPU seconds
# during it to OUT.cpu
run() {
    local out=$1 c0 rc=0
    shift
    c0=$(cpu_s)
    thread_ticks >"$out.t0"
    "$load" --port "$port" --key "$key" --json --members "$members" "$@" >"$out" || rc=$?
    calc "\"%.2f\", $(cpu_s) - $c0" >"$out.cpu"
    # the busiest thread's CPU seconds (in the earn and redemption runs, the engine's writer)
    thread_ticks | awk -v hz="$(getconf CLK_TCK)" 'NR == FNR { t0[$1] = $2; next }
        { d = $2 - t0[$1]; if (d > m) m = d } END { printf "%.2f", m / hz }' "$out.t0" - >"$out.max"
    ((rc == 0)) || log "WARNING: loyload reported errors ($(json "$out" non_2xx) non-2xx," \
        "$(json "$out" ops_not_done) operations not done, $(json "$out" io_errors) i/o errors): see above"
}

report_num() { # report_num KEY: a top-level number of GET /v1/loyalty/report (its first "KEY")
    req "$work/report.json" GET "/v1/loyalty/report?top=0"
    grep -o "\"$1\":[-0-9]*" "$work/report.json" | head -n 1 | cut -d: -f2
}

warnings=()
check() { # check WHAT EXPECTED GOT
    if [[ $2 != "$3" ]]; then
        warnings+=("$1: expected $2, the server says $3")
        log "WARNING: $1: expected $2, the server says $3"
    fi
}

# ================= PostgreSQL, set up first; each of its runs follows the Patron twin =================
if [[ $do_pg != 0 ]]; then
    as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
    psql() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres -d bench "$@"; }
    pgdir=$(mktemp -d "${TMPDIR:-/tmp}/patron-loyalty-pg.XXXXXX")
    [[ $(id -u) -ne 0 ]] || chown postgres: "$pgdir"
    log "PostgreSQL: a private cluster on 127.0.0.1:$pg_port (default settings: fsync on, synchronous_commit on)"
    as_pg "$PGBIN/initdb" -D "$pgdir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C >"$pgdir/initdb.log"
    as_pg "$PGBIN/pg_ctl" -D "$pgdir/data" -l "$pgdir/server.log" -w -o \
        "-c listen_addresses=127.0.0.1 -p $pg_port -c unix_socket_directories='$pgdir'" start >/dev/null
    pg_pid=$(head -n 1 "$pgdir/data/postmaster.pid")
    "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$pg_port" -U postgres -d postgres -c "CREATE DATABASE bench"
    pg_ver=$(psql -At -c "SHOW server_version")
    log "PostgreSQL: loading $members balances, the reward, $pool voucher codes"
    psql <<SQL
SET client_min_messages = warning;
CREATE EXTENSION pgcrypto;
CREATE TABLE balances (customer bigint PRIMARY KEY, points bigint NOT NULL);
CREATE TABLE ledger (id bigserial PRIMARY KEY, customer bigint NOT NULL, points bigint NOT NULL,
                     reason text, idem text UNIQUE, at timestamptz NOT NULL DEFAULT now());
CREATE TABLE rewards (id int PRIMARY KEY, cost bigint NOT NULL, stock bigint NOT NULL);
CREATE TABLE vouchers (code text PRIMARY KEY, customer bigint, reward int, kind text NOT NULL,
                       value int NOT NULL, max_uses int NOT NULL DEFAULT 1, uses int NOT NULL DEFAULT 0,
                       expires timestamptz, created timestamptz NOT NULL DEFAULT now());
INSERT INTO balances SELECT g, $initial FROM generate_series(1, $members) g;
INSERT INTO ledger (customer, points, reason, idem)
  SELECT g, $initial, 'import', 'import:' || g FROM generate_series(1, $members) g;
INSERT INTO rewards VALUES (1, $cost, $stock);
INSERT INTO vouchers (code, kind, value) SELECT 'V' || lpad(g::text, 13, '0'), 'percent', 10
  FROM generate_series(1, $pool) g;
VACUUM ANALYZE;
CHECKPOINT;
SQL
    cat >"$work/earn.sql" <<'SQL'
\set cid random(1, :members)
\set pts random(1, 100)
BEGIN;
INSERT INTO ledger (customer, points, reason, idem) VALUES (:cid, :pts, 'bench', gen_random_uuid()::text);
UPDATE balances SET points = points + :pts WHERE customer = :cid;
COMMIT;
SQL
    cat >"$work/earn_batch.sql" <<'SQL'
WITH ins AS (INSERT INTO ledger (customer, points, reason, idem) SELECT 1 + floor(random() * :members)::bigint, 1 + floor(random() * 100)::bigint, 'bench', gen_random_uuid()::text FROM generate_series(1, :batch) RETURNING customer, points) UPDATE balances b SET points = b.points + s.p FROM (SELECT customer, sum(points) AS p FROM ins GROUP BY customer ORDER BY customer) s WHERE b.customer = s.customer;
SQL
    cat >"$work/redeem.sql" <<'SQL'
\set cid random(1, :members)
\set neg -1 * :cost
BEGIN;
UPDATE rewards SET stock = stock - 1 WHERE id = 1 AND stock > 0;
UPDATE balances SET points = points - :cost WHERE customer = :cid AND points >= :cost;
INSERT INTO ledger (customer, points, reason) VALUES (:cid, :neg, 'reward');
INSERT INTO vouchers (code, customer, reward, kind, value) VALUES (encode(gen_random_bytes(8), 'hex'), :cid, 1, 'percent', 10);
COMMIT;
SQL
    cat >"$work/validate.sql" <<'SQL'
\set n random(1, :pool)
SELECT code, kind, value, uses, max_uses, expires FROM vouchers WHERE code = 'V' || lpad(:n::text, 13, '0');
SQL
    # CPU seconds of the postmaster and its exited children (the backends of
    # finished connections; the long-lived background writers are not in it)
    pg_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15 + $16 + $17) / hz }' "/proc/$pg_pid/stat"; }
    # pgbench_run NAME SCRIPT CLIENTS SECONDS: tps to $work/pg_NAME.{out,tps,lat}
    pgbench_run() {
        local name=$1 script=$2 clients=$3 seconds=$4 j=2
        ((clients >= j)) || j=1
        log "PostgreSQL: pgbench $name, $clients clients, $seconds s"
        rm -f "$work/pglog_$name".*
        local c0
        c0=$(pg_cpu)
        /usr/bin/time -f "%U %S" -o "$work/pg_$name.time" "$PGBIN/pgbench" -n -M prepared -h 127.0.0.1 -p "$pg_port" -U postgres \
            -c "$clients" -j "$j" -T "$seconds" -f "$work/$script" \
            -D members="$members" -D batch="$batch" -D cost="$cost" -D pool="$pool" \
            -l --log-prefix="$work/pglog_$name" --max-tries=10 bench >"$work/pg_$name.out" 2>"$work/pg_$name.err" || {
            log "pgbench $name failed:"; tail -5 "$work/pg_$name.err" >&2; exit 1; }
        sleep 0.5 # the backends have exited and been reaped: their CPU is the postmaster's cutime
        calc "\"%.2f\", $(pg_cpu) - $c0" >"$work/pg_$name.cpu"
        awk '{ printf "%.2f", $1 + $2 }' "$work/pg_$name.time" >"$work/pg_$name.ccpu"
        sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$work/pg_$name.out" >"$work/pg_$name.tps"
        # per-transaction latencies (us, third column) -> p50 p99 in ms
        cat "$work/pglog_$name".* | awk '$3 ~ /^[0-9]+$/ { print $3 }' | sort -n |
            awk '{ v[NR] = $1 } END { printf "%.3f %.3f\n", v[int(NR * 0.50 + 0.999999)] / 1000, v[int(NR * 0.99 + 0.999999)] / 1000 }' \
                >"$work/pg_$name.lat"
        rm -f "$work/pglog_$name".*
        failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$work/pg_$name.out")
        [[ ${failed:-0} == 0 ]] || log "WARNING: pgbench $name: $failed failed transactions"
    }
fi
# pg NAME SCRIPT CLIENTS SECONDS: the PostgreSQL twin of the Patron figure just taken
pg() { if [[ $do_pg != 0 ]]; then pgbench_run "$@"; fi; }

d1=$work/store1
new_shop "$d1" "Loyalty bench"
start "$d1"
log "programme: $program"
echo "$program" >"$work/program.json"
req "$work/program.out" PUT /v1/loyalty/program --body-file "$work/program.json"
log "importing $members members with $initial points each (POST /v1/loyalty/import)"
awk -v n="$members" -v p="$initial" 'BEGIN { print "user_id,points"; for (i = 0; i < n; i++) printf "m%d,%d\n", i, p }' \
    >"$work/members.csv"
req "$work/import.out" POST /v1/loyalty/import --body-file "$work/members.csv" --ctype text/csv
import_s=$(json "$work/import.out.req" seconds)
check "members imported" "$members" "$(json "$work/import.out" imported)"

earned0=$(report_num earned)
log "(a) earn, batched: $batch operations/request, $batch_conns connections, $earn_seconds s"
run "$work/a.json" --mode points --batch "$batch" --conns "$batch_conns" --seconds "$earn_seconds" --seed "$seed"
earned1=$(report_num earned)
check "(a) batched: points earned" "$(json "$work/a.json" points_done)" "$((earned1 - earned0))"
if [[ $do_pg != 0 ]]; then
    l0=$(psql -At -c "SELECT count(*) FROM ledger")
    pg earn_batch earn_batch.sql "$batch_conns" "$earn_seconds"
    l1=$(psql -At -c "SELECT count(*) FROM ledger")
    n1=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$work/pg_earn_batch.out")
    check "PostgreSQL earn x$batch: ledger rows" "$((n1 * batch))" "$((l1 - l0))"
fi
log "(a) earn, single operations with Idempotency-Key: $single_conns connections, $single_seconds s"
run "$work/a1.json" --mode point --conns "$single_conns" --seconds "$single_seconds" --seed "$((seed + 1))"
earned2=$(report_num earned)
check "(a) single: points earned" "$(json "$work/a1.json" points_done)" "$((earned2 - earned1))"
pg earn earn.sql "$single_conns" "$single_seconds"

log "(b) redemptions: reward of $cost points, stock $stock; $redeem_conns connections, $redeem_seconds s"
req "$work/reward.json" POST /v1/loyalty/rewards \
    --body "{\"name\":\"Bench reward\",\"cost\":$cost,\"stock\":$stock,\"voucher\":{\"type\":\"percent\",\"value\":10}}"
reward=$(json "$work/reward.json" id)
redeemed0=$(report_num redeemed)
run "$work/b.json" --mode redeem --reward "$reward" --conns "$redeem_conns" --seconds "$redeem_seconds" --seed "$((seed + 2))"
redeemed1=$(report_num redeemed)
nred=$(json "$work/b.json" ops_done)
check "(b) points redeemed" "$((nred * cost))" "$((redeemed1 - redeemed0))"
req "$work/reward2.json" GET "/v1/loyalty/rewards/$reward"
check "(b) stock left" "$((stock - nred))" "$(sed -n 's/.*"stock":\([0-9]*\),"created".*/\1/p' "$work/reward2.json")"
pg redeem redeem.sql "$redeem_conns" "$redeem_seconds"

log "(c) a pool of $pool codes, then validations: $validate_conns connections, $validate_seconds s"
req "$work/pool.json" POST /v1/voucher-pools --body "{\"name\":\"bench pool\",\"count\":$pool,\"type\":\"percent\",\"value\":10}"
pool_s=$(json "$work/pool.json.req" seconds)
pool_id=$(json "$work/pool.json" id)
req "$work/pool.csv" GET "/v1/voucher-pools/$pool_id/codes.csv"
check "(c) codes in the pool's CSV" "$pool" "$(($(wc -l <"$work/pool.csv") - 1))"
run "$work/c.json" --mode validate --codes "$work/pool.csv" --conns "$validate_conns" --seconds "$validate_seconds" --seed "$((seed + 3))"
store1_mb=$(du -sm "$d1" | cut -f1)
pg validate validate.sql "$validate_conns" "$validate_seconds"
stop

log "(d) POST /v1/voucher-pools with count $gen on an empty store"
d2=$work/store2
new_shop "$d2" "Loyalty bench"
start "$d2"
c0=$(cpu_s)
req "$work/gen.json" POST /v1/voucher-pools --body "{\"name\":\"big pool\",\"count\":$gen,\"type\":\"percent\",\"value\":10}"
gen_cpu=$(calc "\"%.2f\", $(cpu_s) - $c0")
gen_s=$(json "$work/gen.json.req" seconds)
check "(d) codes in the answer" "$gen" "$(json "$work/gen.json" count)"
req "$work/gen.csv" GET "/v1/voucher-pools/$(json "$work/gen.json" id)/codes.csv"
check "(d) distinct codes in the pool's CSV" "$gen" "$(tail -n +2 "$work/gen.csv" | cut -d, -f1 | sort -u | wc -l)"
rm -f "$work/gen.csv"
stop
if [[ $do_pg != 0 ]]; then
    log "PostgreSQL: $gen codes with a UNIQUE index"
    psql -c "CREATE TABLE codes (code text UNIQUE)"
    pg_gen_ms=$(psql -c '\timing on' -c "INSERT INTO codes SELECT encode(gen_random_bytes(9), 'hex') FROM generate_series(1, $gen)" |
        sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p')
    pg_gen_s=$(calc "\"%.2f\", $pg_gen_ms / 1000")
    check "PostgreSQL: distinct codes" "$gen" "$(psql -At -c "SELECT count(DISTINCT code) FROM codes")"
    kill -INT "$pg_pid"
    while kill -0 "$pg_pid" 2>/dev/null; do sleep 0.1; done
    pg_pid=
fi
inproc=
if ((have_codegen)); then
    log "(d) pt_code_batch($gen) in process, 3 runs"
    "$codegen" "$gen" 3 >"$work/codegen.json" || log "WARNING: codegen found malformed or repeated codes"
    inproc=$(json "$work/codegen.json" median_s)
fi

# ================= the table =================
pt() { json "$work/$1" "$2"; }
ms() { calc "\"%.${2:-2}f\", $1" | sed 's/^\([0-9]\{2,\}\.[0-9]\)[0-9]*$/\1/'; } # 2 decimals below 10
lat() { echo "p50 $(ms "$(pt "$1" p50)") / p99 $(ms "$(pt "$1" p99)") ms"; }
# server CPU per operation and in all, the client's CPU
cpu() {
    local c s n
    c=$(cat "$work/$1.cpu") n=$(pt "$1" ops_done)
    s=$(calc "\"%.0f\", $c * 1e6 / ($n > 0 ? $n : 1)")
    echo "server CPU $s us/op ($c s; busiest thread $(cat "$work/$1.max") s), client $(pt "$1" client_cpu_s) s"
}
int() { calc "\"%.0f\", $1"; }
a_ops=$(pt a.json ops_per_s) a1_ops=$(pt a1.json ops_per_s)
b_ops=$(pt b.json ops_per_s) c_ops=$(pt c.json ops_per_s)
pg_a="-" pg_a1="-" pg_b="-" pg_c="-" pg_d="-" r_a="-" r_a1="-" r_b="-" r_c="-" r_d="-"
if [[ $do_pg != 0 ]]; then
    pgtps() { cat "$work/pg_$1.tps"; }
    # pgcell NAME UNIT CLIENTS: rate, latency, CPU and retries of a pgbench run
    pgcell() {
        local a b r
        read -r a b <"$work/pg_$1.lat"
        r=$(sed -n 's/^number of transactions retried: \([0-9]*\).*/\1/p' "$work/pg_$1.out")
        echo "$2; $3 clients; transaction p50 $(ms "$a") / p99 $(ms "$b") ms; server CPU $(cat "$work/pg_$1.cpu") s, pgbench $(cat "$work/pg_$1.ccpu") s$( [[ ${r:-0} == 0 ]] || echo "; $r transactions retried after a deadlock")"
    }
    pg_a_ops=$(int "$(pgtps earn_batch) * $batch")
    pg_a=$(pgcell earn_batch "**$pg_a_ops ops/s** ($(int "$(pgtps earn_batch)") transactions of $batch/s)" "$batch_conns")
    pg_a1=$(pgcell earn "**$(int "$(pgtps earn)") ops/s**" "$single_conns")
    pg_b=$(pgcell redeem "**$(int "$(pgtps redeem)")/s**" "$redeem_conns")
    pg_c=$(pgcell validate "**$(int "$(pgtps validate)")/s**" "$validate_conns")
    pg_d="**$pg_gen_s s**"
    r_a=$(calc "\"%.2f\", $a_ops / $pg_a_ops")
    r_a1=$(calc "\"%.2f\", $a1_ops / $(pgtps earn)")
    r_b=$(calc "\"%.2f\", $b_ops / $(pgtps redeem)")
    r_c=$(calc "\"%.2f\", $c_ops / $(pgtps validate)")
    r_d="$(calc "\"%.2f\", $gen_s / $pg_gen_s") (time: below 1 = Patron faster)"
fi
full=1
((members >= 100000 && pool >= 100000 && gen >= 1000000)) || full=0
echo "Loyalty benchmark: patron at $rev (the work tree when the run started); $(nproc) cores; $(date -u +%Y-%m-%d); $members members."
[[ $(sha256sum "$patron") == "$bin_sum" ]] || { echo; echo "**Warning: $patron was rebuilt during the run: the figures mix two binaries.**"; }
echo
if [[ $do_pg != 0 ]]; then
    echo "Patron over HTTP (loyload: keep-alive connections, every answer checked) vs"
    echo "PostgreSQL ${pg_ver%% *} over its own protocol (pgbench: prepared statements, TCP loopback, default settings: fsync and synchronous_commit on)."
    echo "Both acknowledge an operation after its commit is durable. Patron does more per operation: HTTP, an API key check,"
    echo "JSON in and out, the idempotency key, the tier check, audit rows (ledger entry, redemption, voucher); pgbench sends prepared statements."
else
    echo "Patron over HTTP (loyload: keep-alive connections, every answer checked); PostgreSQL not run (PG=0)."
fi
echo
echo "| measure | Patron (HTTP) | PostgreSQL (pgbench) | goal | met | Patron/PostgreSQL |"
echo "|---|---|---|---|---|---|"
echo "| (a) earn, batched: $batch operations/request, $batch_conns connections, $earn_seconds s | **$(int "$a_ops") ops/s** ($(int "$(pt a.json requests_per_s)") requests/s); request $(lat a.json); $(cpu a.json) | $pg_a | >= 20000 ops/s | $(yes "$a_ops >= 20000") | $r_a |"
echo "| (a) earn, one operation/request with Idempotency-Key, $single_conns connections, $single_seconds s | **$(int "$a1_ops") ops/s**; $(lat a1.json); $(cpu a1.json) | $pg_a1 | >= 20000 ops/s | $(yes "$a1_ops >= 20000") | $r_a1 |"
echo "| (b) redemptions (each issues a voucher), $redeem_conns connections, $redeem_seconds s | **$(int "$b_ops")/s**; $(lat b.json); $(cpu b.json) | $pg_b | >= 5000/s | $(yes "$b_ops >= 5000") | $r_b |"
echo "| (c) voucher validations (GET /v1/vouchers/{code}), pool of $pool, $validate_conns connections, $validate_seconds s | **$(int "$c_ops")/s**; $(lat c.json); $(cpu c.json) | $pg_c | >= 50000/s | $(yes "$c_ops >= 50000") | $r_c |"
echo "| (d) $gen unique codes: POST /v1/voucher-pools until the 201 (generated, stored, durable); PostgreSQL: INSERT ... generate_series into a UNIQUE column | **$(ms "$gen_s") s** (server CPU $gen_cpu s) | $pg_d | < 2 s | $(yes "$gen_s < 2") | $r_d |"
if [[ -n $inproc ]]; then
    echo "| (d) the generation alone: pt_code_batch($gen) in process, median of 3 | **$inproc s** | - | < 2 s | $(yes "$inproc < 2") | - |"
fi
echo
echo "Also: importing the $members members took $(ms "$import_s") s (POST /v1/loyalty/import); the pool of $pool codes $(ms "$pool_s") s; store 1 ended at $store1_mb MB."
echo "Operations not done (refused or not acknowledged): (a) $(pt a.json ops_not_done) and $(pt a1.json ops_not_done), (b) $(pt b.json ops_not_done), (c) $(pt c.json ops_not_done); 503 answers: $(pt a.json status_503), $(pt a1.json status_503), $(pt b.json status_503), $(pt c.json status_503)."
if ((${#warnings[@]})); then
    echo
    for w in "${warnings[@]}"; do echo "**Check failed: $w**"; done
else
    echo "Checks: the server's report and stock agree with the acknowledged operations."
fi
((full)) || echo "Smaller than the goal sizes: the 'met' column is indicative only."
echo "machine: $(nproc) cores; client, server and PostgreSQL share them (see the CPU seconds)."
