# shellcheck shell=bash disable=SC2034,SC2154
# bench/common/server.sh - sourced by the run.sh of bench/serve, bench/loyalty and bench/segment:
# one `patron serve` at a time on an ephemeral port of 127.0.0.1.
#
# The sourcing script sets $patron, $work (a temporary folder: the server
# logs go there), $serve_args (extra flags for patron serve, may be empty),
# $client (its load generator: anything taking `--mode get --port P --path P
# [--wait S]`) and defines log and calc; $ready_wait, if set, is how long start
# waits for /healthz (default 60 s). Sets and uses $spid, $port, $key.

now() { echo "$EPOCHREALTIME"; }
# the server's CPU seconds so far (user + system)
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$spid/stat"; }
# metric NAME: a value of GET /metrics
metric() { "$client" --mode get --port "$port" --path /metrics | awk -v m="$1" '$1 == m { print $2 }'; }

# new_shop DIR [NAME]: creates the store and a shop; sets $key
new_shop() {
    key=$("$patron" shop create "${2:-Bench shop}" --data "$1" --format json |
        sed -n 's/.*"api_key": *"\([^"]*\)".*/\1/p')
    [[ -n $key ]] || { log "shop create printed no api_key"; exit 1; }
}

spid=
starts=0
# start DIR: starts the server, waits for /healthz; sets $spid, $port and
# $ready_s (seconds from exec to the first 200)
start() {
    local errlog t0
    starts=$((starts + 1))
    errlog=$work/serve.$starts.log
    : >"$errlog" # (the child opens it asynchronously)
    t0=$(now)
    # shellcheck disable=SC2086
    "$patron" serve --data "$1" --listen 127.0.0.1:0 --log off $serve_args 2>"$errlog" &
    spid=$!
    port=
    while [[ -z $port ]]; do
        kill -0 "$spid" 2>/dev/null || { log "server exited:"; tail -5 "$errlog" >&2; exit 1; }
        port=$(sed -n 's/.*listening on http:\/\/127\.0\.0\.1:\([0-9]*\).*/\1/p' "$errlog")
        [[ -n $port ]] || sleep 0.01
    done
    "$client" --mode get --port "$port" --path /healthz --wait "${ready_wait:-60}" >/dev/null
    ready_s=$(calc "\"%.2f\", $(now) - $t0")
}

# stop: SIGTERM, wait for the exit; sets $stop_s
stop() {
    local t0 rc=0
    t0=$(now)
    kill -TERM "$spid"
    wait "$spid" || rc=$?
    stop_s=$(calc "\"%.2f\", $(now) - $t0")
    ((rc == 0)) || log "server exit status $rc after SIGTERM (see $work/serve.$starts.log)"
    spid=
}

# stop_at_exit: for the EXIT trap: a server still running gets SIGTERM, and
# SIGKILL after 10 s
stop_at_exit() {
    if [[ -n $spid ]] && kill -0 "$spid" 2>/dev/null; then
        kill -TERM "$spid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$spid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$spid" 2>/dev/null || true
    fi
}
