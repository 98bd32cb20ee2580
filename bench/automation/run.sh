#!/usr/bin/env bash
# bench/automation/run.sh [PATRON]
#
# Automation benchmark (docs/benchmarks.md, "Automation"): `patron serve`
# (PATRON, default build/patron) on 127.0.0.1, each part side by side, in the
# same run and on the same data, with what a user would pick instead.
#
# (a) The daily time-trigger sweep. A fresh store: `patron gen --customers
#     CUSTOMERS --orders ORDERS --seed 2026` imported with POST /v1/import/orders;
#     then sweep_ref.py's extra data through POST /v1/batch (one order with a
#     product line for 1 customer in 20, an open cart for 1 in 10, a birthday
#     trait for 1 in 10), a loyalty programme with 12-month expiry and 1 customer
#     in 5 imported as a member (POST /v1/loyalty/import, half at 2025-11-20,
#     half at 2026-01-20, so their points expire within 30 / 90 days of the
#     sweep). Then the 20 automations of sweep_ref.py (days_since_last_order
#     14/30/60/90/180/365/730 days, rhythm_missed x3, cart_abandoned x3,
#     points_expiring x2, birthday x2, replenishment x3; 11 with conditions),
#     each with one tag step, created with the engine's clock (--test-clock) at
#     2000-01-01, where no trigger occurs, and --automation-sweep 1. Then:
#       first sweep   the clock moves to T1 = 2026-11-06 06:00 UTC: every
#                     trigger's first occurrences enter (each entry: a run row,
#                     the tag, the run's end, all in the sweep's transaction);
#       steady        the clock moves 1 s, STEADY times: the same full scan with
#                     nothing new (or next to nothing): the daily cost when the
#                     entries of the day are few; the median is reported;
#       next day      (for information) the clock moves to T1 + 1 day.
#     Measured: patron_automation_sweep_seconds (/metrics: the sweep function
#     alone, on the engine's writer thread), and the time of one small POST
#     /v1/track sent right after the clock moved (it waits for the group that
#     runs the sweep, so it includes the commit: the entries are durable when it
#     returns). The entries per automation are read back from GET
#     /v1/automations (stats.entered) and must equal SQLite's and pandas'.
#     SQLite (sqlite3 CLI, file database in WAL mode): the same CSVs loaded into
#     orders / lines / carts / bdays / lots and a customers table with orders,
#     first_t, last_t, revenue, cart fields, birthday and points (load: not
#     compared), indexes on lines(customer, product, t), lots(expires) and the
#     entries' key; a sweep is one transaction of 20 INSERT INTO entries SELECT
#     (the trigger predicate with its occurrence key, the conditions, NOT EXISTS
#     the same key already entered) at the same NOW as Patron's, one sqlite3
#     process each. pandas: the same load into a per-customer DataFrame (not
#     compared), then per sweep 20 vectorised masks and an anti-join with each
#     automation's last keys (Series indexed by customer). Ratios: their time /
#     patron_automation_sweep_seconds.
# (b) Rendering, in process: bench/automation/render.c (linked with
#     libpatron.a next to PATRON) renders its ~2 KB HTML email for RENDERS
#     customers ("prebuilt": contexts built before the clock; "with context":
#     building each jansson context timed too). Side by side, the same template
#     and contexts (render_ref.py builds them as render.c does): pystache
#     (Debian's python3-pystache, parsed once) on PY_RENDERS of them, and
#     mustache.js (Debian's node-mustache, parsed once, after a warm-up pass)
#     on JS_RENDERS. Ratio: Patron's prebuilt renders/s over theirs.
# (c) Delivery: for each SMTP sink in SINKS, a fresh store with
#     --smtp smtp://127.0.0.1:PORT, MESSAGES customers identified with an email
#     address, and an automation on Order Completed with one transactional send
#     step (an order confirmation: subject, ~2 KB HTML with links, which Patron
#     makes tracked, and text). client.py posts MESSAGES Order Completed events
#     (/v1/batch, 1,000 a request) and polls /metrics every 5 ms: messages/s
#     from the first decision (patron_messages_decided_total grows) to the last
#     sent (patron_messages_delivered_total + MESSAGES), and from just before
#     the first POST. Then, to the same sink, a plain client: Python's smtplib
#     on one connection sending as many messages of the same content (the
#     template's preview), prebuilt. (The storing sink gets STORE_MESSAGES,
#     rounded up to whole batches of 1,000, instead of MESSAGES.) Sinks:
#       store    tests/e2e/py/smtp_sink.py (aiosmtpd; parses each message and
#                writes two files: the sink of the end-to-end tests);
#       null     smtp_null.py (aiosmtpd, keeps nothing: aiosmtpd's own speed);
#       postfix  Postfix's smtp-sink (C), taken out of Debian's postfix package
#                with `apt-get download` + `dpkg-deb -x` into the temporary
#                folder: postfix is not installed, since installing it would
#                make it the machine's mail system (it provides
#                mail-transport-agent and starts a service).
#     If Patron's rate is close to the plain client's, the sink is the limit.
#
# Sizes (environment; defaults = the issue's): CUSTOMERS=1000000 ORDERS=3000000
#   STEADY=3 SQL=1 PANDAS=1 RENDERS=200000 PY_RENDERS=20000 JS_RENDERS=100000
#   MESSAGES=5000 STORE_MESSAGES=1000 (the storing sink takes 60-120 a second:
#   fewer there) SINKS="store null postfix" DELIVER_TIMEOUT=300 KEEP=1 (keep
#   the temporary folder) PARTS="a b c" (the parts to run)
#   CONDITIONS=0 (a diagnostic: the same 20 triggers without their conditions;
#   note that the first sweep then enters several times as many customers)
# Run time at the defaults on the quiet 2-core machine: about 14 minutes, 4 of
# them Patron's five sweeps (about 45-70 s each at commit bc21da7) and nearly
# 2 the import; with a sweep near its 1-s goal the run would take about 6.
# Quick run: CUSTOMERS=100000 ORDERS=300000 RENDERS=50000 MESSAGES=1000 bench/automation/run.sh
# Every generated file is in one temporary folder, removed at the end.
# Results go to stdout as Markdown; progress goes to stderr.
# shellcheck disable=SC2034,SC2154,SC2059 # (server.sh's variables; fmt's format)
set -euo pipefail
export LC_ALL=C
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
patron=$(realpath "${1:-$root/build/patron}")
libpatron=${LIBPATRON:-$(dirname "$patron")/libpatron.a}
customers=${CUSTOMERS:-1000000}
orders=${ORDERS:-3000000}
steady=${STEADY:-3}
do_sql=${SQL:-1}
do_pandas=${PANDAS:-1}
renders=${RENDERS:-200000}
py_renders=${PY_RENDERS:-20000}
js_renders=${JS_RENDERS:-100000}
messages=${MESSAGES:-5000}
store_messages=${STORE_MESSAGES:-1000}
sinks=${SINKS:-store null postfix}
deliver_timeout=${DELIVER_TIMEOUT:-300}
parts=${PARTS:-a b c}
py=/usr/bin/python3 # Debian's: pandas, pystache, aiosmtpd

log() { echo "bench: $*" >&2; }
calc() { awk "BEGIN { printf $1 }"; }
jnum() { sed -n "s/.*\"$2\": *\([-0-9.eE+]*\).*/\1/p" "$1" | head -n 1; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# fmt FORMAT VALUE: printf when VALUE is a number, else VALUE as it is ("-")
fmt() { if [[ $2 =~ ^[0-9.eE+-]+$ && $2 != - ]]; then printf "$1" "$2"; else printf '%s' "$2"; fi; }
yes() { if awk "BEGIN { exit !($1) }"; then echo yes; else echo "**no**"; fi; }
has() { [[ " $parts " == *" $1 "* ]]; }

rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$root" diff --quiet HEAD -- src 2>/dev/null || rev="$rev + uncommitted src/ changes"
[[ -z $(find "$root/src" -newer "$patron" -print -quit) ]] || rev="$rev; $patron is older than src/"
bin_sum=$(sha256sum "$patron")
load0=$(cut -d' ' -f1 /proc/loadavg)

work=$(mktemp -d "${TMPDIR:-/tmp}/patron-automation-bench.XXXXXX")
bin=$work/bin
mkdir -p "$bin"
flags=(-std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Wshadow -Wconversion
    -Wsign-conversion -Wstrict-prototypes -Wmissing-prototypes)
# readiness checks and /metrics (bench/common/server.sh's $client)
${CC:-cc} "${flags[@]}" -I"$root/bench/common" -o "$bin/loadgen" "$root/bench/serve/loadgen.c" \
    "$root/bench/common/httpc.c" -lpthread
client=$bin/loadgen serve_args='' ready_wait=600
# new_shop, start, stop, stop_at_exit, cpu_s, metric
# shellcheck source=bench/common/server.sh
. "$root/bench/common/server.sh"
sink_pid=
stop_sink() {
    if [[ -n $sink_pid ]] && kill -0 "$sink_pid" 2>/dev/null; then
        kill -TERM "$sink_pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$sink_pid" 2>/dev/null || break; sleep 0.05; done
        kill -KILL "$sink_pid" 2>/dev/null || true
        wait "$sink_pid" 2>/dev/null || true
    fi
    sink_pid=
}
cleanup() {
    stop_at_exit
    stop_sink
    if [[ -n ${KEEP:-} ]]; then log "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# api METHOD PATH [curl options]: the answer's body on stdout; exits unless 2xx
api() {
    local m=$1 p=$2
    shift 2
    curl -sS --fail-with-body -X "$m" -H "Authorization: Bearer $key" "$@" "http://127.0.0.1:$port$p" ||
        { log "$m $p failed"; exit 1; }
}
json_api() { api "$1" "$2" -H 'Content-Type: application/json' --data-binary "$3"; }
rss_mb() { awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$spid/status"; }
# entered: "ID ENTERED" per automation, from GET /v1/automations
entered() {
    api GET /v1/automations | "$py" -c 'import json, sys
for a in json.load(sys.stdin)["automations"]: print(a["id"], a["stats"]["entered"])'
}
setclock() { echo "$1" >"$work/clock.tmp" && mv "$work/clock.tmp" "$work/clock"; }

read -r T0 T1 TA TB < <("$py" "$here/sweep_ref.py" times)
rows_a=() rows_b=() rows_c=() checks=() notes=() goal_c=()

# ======================= (a) the time-trigger sweep =======================
if has a; then
    data=$work/data
    mkdir -p "$data"
    log "(a) patron gen --customers $customers --orders $orders; sweep_ref.py gen"
    "$patron" gen --customers "$customers" --orders "$orders" --seed 2026 --out "$data/orders.csv" 2>/dev/null
    "$py" "$here/sweep_ref.py" gen "$customers" "$data" >"$work/gen.json"
    "$py" "$here/sweep_ref.py" autos >"$work/autos.jsonl"
    store=$work/store
    new_shop "$store" "Automation bench"
    setclock "$T1"
    serve_args="--test-clock $work/clock --automation-sweep 1"
    start "$store"
    log "(a) importing the orders (POST /v1/import/orders)"
    t0=$EPOCHREALTIME
    api POST /v1/import/orders -H 'Content-Type: text/csv' --data-binary @"$data/orders.csv" >"$work/import.json"
    import_s=$(calc "\"%.1f\", $EPOCHREALTIME - $t0")
    log "(a) $(jnum "$work/gen.json" events) events (POST /v1/batch): lines, carts, birthdays"
    "$py" "$here/client.py" post "$port" "$key" "$data/events.batches" 2 >"$work/events.json"
    json_api PUT /v1/loyalty/program '{"expiry":{"months":12}}' >/dev/null
    setclock "$TA"
    api POST /v1/loyalty/import -H 'Content-Type: text/csv' --data-binary @"$data/members_a.csv" >"$work/members_a.json"
    setclock "$TB"
    api POST /v1/loyalty/import -H 'Content-Type: text/csv' --data-binary @"$data/members_b.csv" >"$work/members_b.json"
    members=$(($(jnum "$work/members_a.json" imported) + $(jnum "$work/members_b.json" imported)))
    setup_s=$(calc "\"%.1f\", $EPOCHREALTIME - $t0")
    log "(a) 20 automations, the clock at $(date -u -d "@$T0" +%F) (no trigger occurs)"
    setclock "$T0"
    while IFS= read -r def; do json_api POST /v1/automations "$def" >/dev/null; done <"$work/autos.jsonl"
    s0=$(metric patron_automation_sweeps_total)
    entered >"$work/entered.0"
    [[ $(awk '{ s += $2 } END { print s + 0 }' "$work/entered.0") == 0 ]] ||
        { log "entries before the first sweep"; exit 1; }
    ncust=$(metric patron_customers)
    probe_n=0
    # sweep_at NOW NAME: moves the clock, times the probe, waits for the sweep's metric
    sweep_at() {
        local c0
        c0=$(cpu_s)
        probe_n=$((probe_n + 1))
        setclock "$1"
        curl -sS --fail -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $key" \
            -H 'Content-Type: application/json' \
            --data-binary "{\"userId\":\"probe-$probe_n\",\"event\":\"Bench Probe\",\"messageId\":\"probe-$probe_n\"}" \
            "http://127.0.0.1:$port/v1/track" >"$work/$2.probe" ||
            { log "the probe after the clock move failed (see above)"; echo "-" >"$work/$2.probe"; }
        "$py" "$here/client.py" waitsweep "$port" "$s0" 3600 >"$work/$2.sweep"
        s0=$(jnum "$work/$2.sweep" sweeps)
        calc "\"%.2f\", $(cpu_s) - $c0" >"$work/$2.cpu"
        entered >"$work/$2.entered"
    }
    log "(a) first sweep at $(date -u -d "@$T1" '+%F %T') UTC"
    sweep_at "$T1" first
    rss_first=$(rss_mb)
    paste "$work/entered.0" "$work/first.entered" | awk '{ print $4 - $2 }' >"$work/patron.first.counts"
    prev=$work/first.entered
    for ((k = 1; k <= steady; k++)); do
        log "(a) steady sweep $k of $steady (clock + $k s)"
        sweep_at $((T1 + k)) "steady$k"
        paste "$prev" "$work/steady$k.entered" | awk '{ print $4 - $2 }' >"$work/patron.steady$k.counts"
        prev=$work/steady$k.entered
    done
    log "(a) next day (clock + 1 day)"
    sweep_at $((T1 + 86400)) nextday
    paste "$prev" "$work/nextday.entered" | awk '{ print $4 - $2 }' >"$work/patron.nextday.counts"
    rss_end=$(rss_mb)
    store_mb=$(du -sm "$store" | cut -f1)
    stop

    first_entries=$(awk '{ s += $1 } END { print s }' "$work/patron.first.counts")
    p_first=$(jnum "$work/first.sweep" sweep_s)
    p_first_probe=$(cat "$work/first.probe")
    p_steady=$(for ((k = 1; k <= steady; k++)); do jnum "$work/steady$k.sweep" sweep_s; done | median)
    p_steady_all=$(for ((k = 1; k <= steady; k++)); do printf '%.3f ' "$(jnum "$work/steady$k.sweep" sweep_s)"; done)
    p_steady_probe=$(for ((k = 1; k <= steady; k++)); do cat "$work/steady$k.probe"; done | grep -v '^-' | median)
    steady_entries=$(cat "$work"/patron.steady*.counts | awk '{ s += $1 } END { print s }')
    p_next=$(jnum "$work/nextday.sweep" sweep_s)
    next_entries=$(awk '{ s += $1 } END { print s }' "$work/patron.nextday.counts")

    nows=()
    for ((k = 1; k <= steady; k++)); do nows+=($((T1 + k))); done
    sq_first="-" sq_steady="-" sq_load="-" pd_first="-" pd_steady="-" pd_load="-"
    if [[ $do_sql != 0 ]]; then
        log "(a) SQLite: load"
        cat >"$work/load.sql" <<'SQL'
PRAGMA journal_mode = WAL;
CREATE TABLE orders_csv (order_id TEXT, customer_id INTEGER, ordered_at TEXT, amount TEXT);
CREATE TABLE extra_orders (order_id TEXT, customer INTEGER, t INTEGER, cents INTEGER);
CREATE TABLE lines (customer INTEGER, product TEXT, t INTEGER, qty INTEGER);
CREATE TABLE carts (customer INTEGER PRIMARY KEY, value INTEGER, since INTEGER, t INTEGER);
CREATE TABLE bdays (customer INTEGER PRIMARY KEY, mmdd INTEGER);
CREATE TABLE lots (customer INTEGER, expires INTEGER, left INTEGER);
.import --csv --skip 1 orders.csv orders_csv
.import --csv --skip 1 extra_orders.csv extra_orders
.import --csv --skip 1 lines.csv lines
.import --csv --skip 1 carts.csv carts
.import --csv --skip 1 bdays.csv bdays
.import --csv --skip 1 lots.csv lots
CREATE TABLE customers (id INTEGER PRIMARY KEY, orders INTEGER, first_t INTEGER, last_t INTEGER,
  rev INTEGER, cart_value INTEGER, cart_since INTEGER, cart_t INTEGER, bday INTEGER, points INTEGER);
INSERT INTO customers
  SELECT a.customer, a.orders, a.first_t, a.last_t, a.rev, coalesce(k.value, 0), coalesce(k.since, 0),
         coalesce(k.t, 0), coalesce(b.mmdd, 0), p.points
  FROM (SELECT customer, count(*) AS orders, min(t) AS first_t, max(t) AS last_t, sum(cents) AS rev
        FROM (SELECT customer_id AS customer, unixepoch(ordered_at) AS t,
                     CAST(round(amount * 100) AS INTEGER) AS cents FROM orders_csv
              UNION ALL SELECT customer, t, cents FROM extra_orders)
        GROUP BY customer) a
  LEFT JOIN carts k ON k.customer = a.customer
  LEFT JOIN bdays b ON b.customer = a.customer
  LEFT JOIN (SELECT customer, sum(left) AS points FROM lots GROUP BY customer) p ON p.customer = a.customer
  ORDER BY a.customer;
CREATE INDEX lines_cpt ON lines (customer, product, t);
CREATE INDEX lots_exp ON lots (expires);
CREATE TABLE entries (auto INTEGER, customer INTEGER, key INTEGER, at INTEGER,
  PRIMARY KEY (auto, customer, key)) WITHOUT ROWID;
DROP TABLE orders_csv;
ANALYZE;
SQL
        db=$work/ref.sqlite
        t0=$EPOCHREALTIME
        (cd "$data" && sqlite3 "$db" <"$work/load.sql" >/dev/null)
        sq_load=$(calc "\"%.1f\", $EPOCHREALTIME - $t0")
        sq_run() { # sq_run NOW NAME: one sweep, its seconds and per-automation counts
            "$py" "$here/sweep_ref.py" sql "$1" >"$work/sq.$2.sql"
            t0=$EPOCHREALTIME
            sqlite3 "$db" <"$work/sq.$2.sql"
            calc "\"%.3f\\n\", $EPOCHREALTIME - $t0" >"$work/sq.$2.s"
            sqlite3 "$db" "SELECT a.i, (SELECT count(*) FROM entries e WHERE e.auto = a.i AND e.at = $1)
                FROM (WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 20) SELECT i FROM r) a" |
                cut -d'|' -f2 >"$work/sq.$2.counts"
        }
        log "(a) SQLite: first sweep"
        sq_run "$T1" first
        for ((k = 1; k <= steady; k++)); do
            log "(a) SQLite: steady sweep $k"
            sq_run $((T1 + k)) "steady$k"
        done
        sq_first=$(cat "$work/sq.first.s")
        sq_steady=$(for ((k = 1; k <= steady; k++)); do cat "$work/sq.steady$k.s"; done | median)
        if cmp -s "$work/patron.first.counts" "$work/sq.first.counts"; then
            checks+=("first sweep: Patron's entries per automation equal SQLite's")
        else
            checks+=("**first sweep: Patron's entries per automation differ from SQLite's**: patron $(tr '\n' ' ' <"$work/patron.first.counts")/ SQLite $(tr '\n' ' ' <"$work/sq.first.counts")")
        fi
        for ((k = 1; k <= steady; k++)); do
            cmp -s "$work/patron.steady$k.counts" "$work/sq.steady$k.counts" ||
                checks+=("**steady sweep $k: entries differ**: patron $(tr '\n' ' ' <"$work/patron.steady$k.counts")/ SQLite $(tr '\n' ' ' <"$work/sq.steady$k.counts")")
        done
        rm -f "$db" "$db-wal" "$db-shm"
    fi
    if [[ $do_pandas != 0 ]]; then
        log "(a) pandas: load, first sweep, $steady steady sweeps"
        "$py" "$here/sweep_ref.py" pandas "$data" "$T1" "${nows[@]}" >"$work/pd.json"
        pd_load=$(jnum "$work/pd.json" load_s)
        "$py" - "$work/pd.json" "$work" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for i, s in enumerate(r["sweeps"]):
    name = "first" if i == 0 else "steady%d" % i
    open("%s/pd.%s.counts" % (sys.argv[2], name), "w").write("".join("%d\n" % c for c in s["counts"]))
    open("%s/pd.%s.s" % (sys.argv[2], name), "w").write("%s\n" % s["s"])
PY
        pd_first=$(cat "$work/pd.first.s")
        pd_steady=$(for ((k = 1; k <= steady; k++)); do cat "$work/pd.steady$k.s"; done | median)
        cond_first=$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["sweeps"][0]["cond_checks"])' "$work/pd.json")
        cond_steady=$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["sweeps"][1]["cond_checks"])' "$work/pd.json")
        if cmp -s "$work/patron.first.counts" "$work/pd.first.counts"; then
            checks+=("first sweep: Patron's entries per automation equal pandas'")
        else
            checks+=("**first sweep: Patron's entries per automation differ from pandas'**: patron $(tr '\n' ' ' <"$work/patron.first.counts")/ pandas $(tr '\n' ' ' <"$work/pd.first.counts")")
        fi
        for ((k = 1; k <= steady; k++)); do
            cmp -s "$work/patron.steady$k.counts" "$work/pd.steady$k.counts" ||
                checks+=("**steady sweep $k: entries differ**: patron $(tr '\n' ' ' <"$work/patron.steady$k.counts")/ pandas $(tr '\n' ' ' <"$work/pd.steady$k.counts")")
        done
    fi
    ratio() { if [[ $1 == - ]]; then echo -; else calc "\"%.2fx\", $1 / $2"; fi; }
    rows_a+=("| first sweep at T1: $first_entries entries | **$(fmt %.3f "$p_first") s** ($(calc "\"%.0f\", $first_entries / $p_first") entries/s); clock move to entries committed $(fmt %.2f "$p_first_probe") s; server CPU $(cat "$work/first.cpu") s | $sq_first s | $pd_first s | $(ratio "$sq_first" "$p_first") / $(ratio "$pd_first" "$p_first") |")
    rows_a+=("| steady sweep, nothing new ($steady_entries entries in $steady sweeps), median of $steady | **$(fmt %.3f "$p_steady") s** ($p_steady_all); clock move to committed $(fmt %.3f "$p_steady_probe") s; server CPU $(cat "$work/steady1.cpu") s (the first) | $sq_steady s | $pd_steady s | $(ratio "$sq_steady" "$p_steady") / $(ratio "$pd_steady" "$p_steady") |")
    rows_a+=("| next day (T1 + 1 day): $next_entries entries | $(fmt %.3f "$p_next") s; clock move to committed $(fmt %.3f "$(cat "$work/nextday.probe")") s | - | - | - |")
    [[ -n ${KEEP:-} ]] || rm -rf "$data" "$store"
fi

# ======================= (b) rendering =======================
if has b; then
    if [[ -f $libpatron ]]; then
        log "(b) render.c: $renders renders"
        # shellcheck disable=SC2046
        ${CC:-cc} "${flags[@]}" -I"$root/src" -o "$bin/render" "$here/render.c" "$libpatron" \
            $(pkg-config --libs jansson) -lm
        "$bin/render" "$renders" >"$work/render.json"
        log "(b) pystache: $py_renders renders; contexts for mustache.js"
        "$py" "$here/render_ref.py" "$here/render.c" "$py_renders" "$work/ctx.json" "$js_renders" >"$work/pystache.json"
        log "(b) mustache.js: $js_renders renders"
        node "$here/render_ref.js" "$work/ctx.json" >"$work/mustachejs.json"
        rm -f "$work/ctx.json"
        pre=$(jnum "$work/render.json" prebuilt_renders_per_s)
        rows_b+=("| Patron (render.c: pt_tmpl_render, C) | $(jnum "$work/render.json" renders) | **$(printf '%.0f' "$pre")** (with building each context: $(printf '%.0f' "$(jnum "$work/render.json" with_context_renders_per_s)")) | $(jnum "$work/render.json" avg_output_bytes) | 1.0x |")
        rows_b+=("| pystache 0.6 (Python $("$py" -c 'import platform; print(platform.python_version())')) | $py_renders | $(jnum "$work/pystache.json" renders_per_s) | $(jnum "$work/pystache.json" avg_output_bytes) | $(calc "\"%.1fx\", $pre / $(jnum "$work/pystache.json" renders_per_s)") |")
        rows_b+=("| mustache.js $(node -e 'let M; try { M = require("mustache") } catch (e) { M = require("/usr/share/nodejs/mustache") } console.log(M.version)') (Node $(node --version)) | $js_renders | $(jnum "$work/mustachejs.json" renders_per_s) | $(jnum "$work/mustachejs.json" avg_output_bytes) | $(calc "\"%.1fx\", $pre / $(jnum "$work/mustachejs.json" renders_per_s)") |")
    else
        log "no $libpatron: (b) skipped"
        notes+=("(b) skipped: no $libpatron")
    fi
fi

# ======================= (c) delivery =======================
if has c; then
    # the order confirmation: events, identities, the template
    "$py" - "$messages" "$work" <<'PY'
import json, sys
n, w = int(sys.argv[1]), sys.argv[2]  # (batches of 1,000: a sink taking fewer uses the first lines)
names = ["Anna", "Piotr", "Zoë", "Kasia", "Tom & Jerry", "Marek", "Ola", "Łukasz", "O'Neil", "Ewa"]
def batches(path, evs):
    with open(path, "w") as f:
        for i in range(0, len(evs), 1000):
            f.write(json.dumps({"batch": evs[i:i + 1000]}, ensure_ascii=False) + "\n")
batches(w + "/ids.batches", [{"type": "identify", "userId": "d%d" % i, "messageId": "id-%d" % i,
        "traits": {"email": "d%d@bench.example" % i, "first_name": names[i % 10]}} for i in range(n)])
batches(w + "/orders.batches", [{"type": "track", "event": "Order Completed", "userId": "d%d" % i,
        "messageId": "o-%d" % i, "properties": {"order_id": "B-%06d" % i, "revenue": 100 + i % 400,
        "currency": "PLN", "products": [{"product_id": "p-%d" % ((i * 7 + k) % 500),
        "name": "Product %d" % ((i * 7 + k) % 500), "price": 20 + k * 15, "quantity": 1 + k % 2,
        "url": "https://shop.bench.example/p/%d" % ((i * 7 + k) % 500)} for k in range(3)]}}
        for i in range(n)])
html = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Order {{order.order_id}}</title>
<style>body{font-family:Helvetica,Arial,sans-serif;color:#222}td{padding:6px 10px;border-bottom:1px solid #eee}</style>
</head><body>
<table width="600" align="center" cellpadding="0" cellspacing="0">
<tr><td><h1>Thank you, {{customer.first_name}}!</h1>
<p>We have your order <b>{{order.order_id}}</b> and will send it within two working days.
You can follow it on <a href="https://shop.bench.example/orders/{{order.order_id}}">your orders page</a>.</p></td></tr>
<tr><td><table width="100%">
{{#order.products}}<tr><td><a href="{{url}}">{{name}}</a></td><td>x {{quantity}}</td><td align="right">{{price}} PLN</td></tr>
{{/order.products}}<tr><td colspan="2"><b>Total</b></td><td align="right"><b>{{order.revenue}} PLN</b></td></tr>
</table></td></tr>
<tr><td style="font-size:12px;color:#888"><p>Questions? Answer this email or see
<a href="https://shop.bench.example/help">our help pages</a>. This message was sent to {{customer.email}}
about order {{order.order_id}}; you cannot unsubscribe from order confirmations.</p></td></tr>
</table></body></html>"""
text = """Thank you, {{customer.first_name}}!

We have your order {{order.order_id}} and will send it within two working days.
{{#order.products}}- {{name}} x {{quantity}}: {{price}} PLN
{{/order.products}}Total: {{order.revenue}} PLN
"""
json.dump({"name": "Order confirmation", "channel": "email",
           "subject": "{{customer.first_name}}, your order {{order.order_id}} is confirmed",
           "html": html, "text": text}, open(w + "/tmpl.json", "w"), ensure_ascii=False)
PY
    free_port() { "$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
    wait_port() { "$py" -c 'import socket, sys, time
t = time.time()
while True:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1).close(); break
    except OSError:
        if time.time() - t > 20: sys.exit("no SMTP server on port " + sys.argv[1])
        time.sleep(0.05)' "$1"; }
    smtp_sink_bin=
    for sink in $sinks; do
        sdir=$work/sink.$sink
        mkdir -p "$sdir"
        n=$messages
        [[ $sink != store ]] || n=$((store_messages < messages ? store_messages : messages))
        head -n $(((n + 999) / 1000)) "$work/orders.batches" >"$sdir/orders.batches"
        n=$(grep -o '"messageId"' "$sdir/orders.batches" | wc -l)
        case $sink in
        store)
            "$py" "$root/tests/e2e/py/smtp_sink.py" --port-file "$sdir/port" --out "$sdir/mail" 2>"$sdir/err" &
            sink_pid=$!
            ;;
        null)
            "$py" "$here/smtp_null.py" "$sdir/port" "$sdir/count" 2>"$sdir/err" &
            sink_pid=$!
            ;;
        postfix)
            if [[ -z $smtp_sink_bin ]]; then
                log "(c) postfix's smtp-sink: apt-get download postfix; dpkg-deb -x (not installed)"
                mkdir -p "$work/postfix"
                if (cd "$work/postfix" && apt-get download postfix >"$work/postfix/log" 2>&1) &&
                    dpkg-deb -x "$work/postfix"/postfix_*.deb "$work/postfix/x"; then
                    smtp_sink_bin=$work/postfix/x/usr/sbin/smtp-sink
                    pf_ver=$(dpkg-deb -f "$work/postfix"/postfix_*.deb Version)
                else
                    log "(c) cannot get postfix's smtp-sink: skipped (see $work/postfix/log)"
                    notes+=("(c) postfix's smtp-sink skipped: apt-get download postfix failed")
                    continue
                fi
            fi
            p=$(free_port)
            echo "$p" >"$sdir/port"
            u=()
            [[ $(id -u) -ne 0 ]] || u=(-u nobody)
            LD_LIBRARY_PATH=$work/postfix/x/usr/lib/postfix "$smtp_sink_bin" "${u[@]}" "127.0.0.1:$p" 256 \
                >"$sdir/out" 2>"$sdir/err" &
            sink_pid=$!
            ;;
        *) log "unknown sink $sink"; exit 1 ;;
        esac
        for _ in $(seq 400); do [[ -s $sdir/port ]] && break; sleep 0.05; done
        sport=$(cat "$sdir/port")
        wait_port "$sport"
        log "(c) sink $sink on port $sport: Patron, $n messages"
        dstore=$work/dstore.$sink
        new_shop "$dstore" "Delivery bench"
        serve_args="--smtp smtp://127.0.0.1:$sport"
        start "$dstore"
        json_api PUT /v1/messaging/settings '{"from":"shop@bench.example","from_name":"Bench Shop","links_base_url":"https://shop.bench.example"}' >/dev/null
        api PUT /v1/templates/order-confirmation -H 'Content-Type: application/json' --data-binary @"$work/tmpl.json" >/dev/null
        json_api POST /v1/automations '{"name":"Order confirmation","trigger":{"type":"event","event":"Order Completed"},"steps":[{"type":"send","template":"order-confirmation","transactional":true}]}' >/dev/null
        "$py" "$here/client.py" post "$port" "$key" "$work/ids.batches" 1 >/dev/null
        json_api POST /v1/templates/order-confirmation/preview '{"user_id":"d1"}' >"$work/preview.json"
        c0=$(cpu_s)
        "$py" "$here/client.py" deliver "$port" "$key" "$n" "$sdir/orders.batches" "$deliver_timeout" >"$sdir/patron.json"
        dcpu=$(calc "\"%.2f\", $(cpu_s) - $c0")
        stop
        log "(c) sink $sink: smtplib, $n messages"
        "$py" "$here/client.py" smtp "$sport" "$n" "$work/preview.json" >"$sdir/plain.json"
        extra=
        if [[ $sink == store ]]; then
            got=$(cat "$sdir/mail/received") dups=$(cat "$sdir/mail/duplicates") conns=$(cat "$sdir/mail/connections")
            pbytes=$(find "$sdir/mail" -name 'a*.eml' -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f", s / NR }')
            extra="; the sink stored $got messages ($dups duplicates) over $conns connections; Patron's messages $pbytes bytes on average"
            [[ $got == $((2 * n)) && $dups == 0 ]] ||
                checks+=("**sink store: received $got, duplicates $dups; expected $((2 * n)), 0**")
        fi
        stop_sink
        if [[ $sink == null ]]; then
            got=$(cat "$sdir/count" 2>/dev/null || echo "?")
            [[ $got == $((2 * n)) ]] || checks+=("**sink null: took $got messages; expected $((2 * n))**")
        fi
        pj() { jnum "$sdir/patron.json" "$1"; }
        dl=$(pj delivered_s)
        if [[ -z $dl || $(grep -c '"delivered_s": null' "$sdir/patron.json") != 0 ]]; then
            checks+=("**sink $sink: Patron did not deliver $n messages in time: $(cat "$sdir/patron.json")**")
            p_rate=0
            cell="not all delivered: $(cat "$sdir/patron.json")"
        else
            p_rate=$(calc "\"%.0f\", $n / ($dl - $(pj first_decided_s))")
            cell="**$p_rate msg/s**: $n messages from the first decision ($(pj first_decided_s) s) to the last sent ($(printf '%.2f' "$dl") s); $(calc "\"%.0f\", $n / $dl") msg/s from the first POST; all decided at $(pj decided_s) s, first sent at $(pj first_delivered_s) s, events posted at $(pj posted_s) s; server CPU $dcpu s"
        fi
        plain=$(jnum "$sdir/plain.json" per_s)
        name=$sink
        case $sink in
        store) name="aiosmtpd, storing (tests/e2e/py/smtp_sink.py)" ;;
        null) name="aiosmtpd, discarding (smtp_null.py)" ;;
        postfix) name="Postfix smtp-sink ${pf_ver:-}" ;;
        esac
        goal_c+=("$sink $(calc "\"%.2f\", $p_rate / $plain")")
        rows_c+=("| $name | $cell | **$(printf '%.0f' "$plain") msg/s** ($n in $(jnum "$sdir/plain.json" s) s; $(jnum "$sdir/plain.json" avg_bytes) bytes a message$extra) | $(calc "\"%.2f\", $p_rate / $plain") |")
        rm -rf "$dstore"
    done
fi

# ======================= results =======================
echo "Automation benchmark: patron at $rev (the work tree when the run started); $(nproc) cores; $(date -u +%Y-%m-%d); load average $load0 at the start."
[[ $(sha256sum "$patron") == "$bin_sum" ]] || { echo; echo "**Warning: $patron was rebuilt during the run: the figures mix two binaries.**"; }
if has a; then
    echo
    echo "(a) $ncust customers ($customers imported with $orders orders in $import_s s; $(jnum "$work/gen.json" events) more events and $members loyalty members: setup $setup_s s), 20 automations on time triggers, one tag step each; VmRSS $rss_first MB after the first sweep, $rss_end MB at the end; store $store_mb MB."
    echo "Loads (not compared): SQLite $sq_load s, pandas $pd_load s."
    [[ -z ${cond_steady:-} ]] || echo "Conditions checked (occurrences not entered before, in the automations with conditions; Patron checks the same ones): $cond_first in the first sweep, $cond_steady in a steady one."
    echo
    echo "| sweep | Patron (patron_automation_sweep_seconds) | SQLite | pandas | time SQLite / Patron, pandas / Patron (above 1: Patron faster) |"
    echo "|---|---|---|---|---|"
    for r in "${rows_a[@]}"; do echo "$r"; done
fi
if [[ ${#rows_b[@]} -gt 0 ]]; then
    echo
    echo "(b) Rendering render.c's email template (~2 KB of HTML, 16 variables, a loop of 5 products, a voucher section), contexts prebuilt, template parsed once:"
    echo
    echo "| implementation | renders | renders/s | output bytes (avg) | Patron / it |"
    echo "|---|---|---|---|---|"
    for r in "${rows_b[@]}"; do echo "$r"; done
fi
if [[ ${#rows_c[@]} -gt 0 ]]; then
    echo
    echo "(c) Delivery of $messages transactional emails ($store_messages to the storing sink), one per Order Completed, until the last is acknowledged by the SMTP server; the plain client sends the same number with the same content on one connection, prebuilt:"
    echo
    echo "| SMTP sink | Patron (events -> decisions -> outbox -> SMTP) | plain client (smtplib) | Patron / plain |"
    echo "|---|---|---|---|"
    for r in "${rows_c[@]}"; do echo "$r"; done
fi
echo
echo "| goal | measured | met |"
echo "|---|---|---|"
if has a; then
    echo "| daily sweep under 1 s (1M customers, 20 automations) | steady $(printf '%.3f' "$p_steady") s, first (with $first_entries entries) $(printf '%.2f' "$p_first") s, next day $(printf '%.3f' "$p_next") s | $(yes "$p_steady < 1 && $customers >= 1000000") (steady) |"
fi
if [[ ${#rows_b[@]} -gt 0 ]]; then
    echo "| rendering >= 50,000 messages/s | $(printf '%.0f' "$pre") renders/s | $(yes "$pre >= 50000") |"
fi
if [[ ${#rows_c[@]} -gt 0 ]]; then
    echo "| delivery limited by the SMTP server, not by Patron | Patron's rate / the plain client's, per sink: $(IFS=,; echo "${goal_c[*]}" | sed 's/,/, /g') | where the ratio is near 1 |"
fi
echo
for c in "${checks[@]}"; do echo "- $c"; done
for n in "${notes[@]}"; do echo "- $n"; done
