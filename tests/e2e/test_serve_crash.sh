#!/usr/bin/env bash
# Crash safety of `patron serve`: a client streams batches while the server is
# killed with SIGKILL at random moments (20+ rounds). After every restart each
# acknowledged event is present exactly once, and memory rebuilt from the store
# agrees with the store.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.sh"

ROUNDS=${PATRON_CRASH_ROUNDS:-20}
data="$T/data"
key=$("$PATRON" shop create "Crash shop" --data "$data" --format json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
check "shop created" test -n "$key"
acked="$T/acked"
: >"$acked"

rnd_sleep() { python3 -c "import random; print(round(random.uniform(0.15, 0.9), 3))"; }

for round in $(seq 1 "$ROUNDS"); do
    start_server "r$round" --data "$data" --listen 127.0.0.1:0 --log off
    [[ -n $URL ]] || break
    pid=$SPID
    port=${URL##*:}
    python3 "$E2E_DIR/py/crash_client.py" "$port" "$key" "$round" "$acked" 2>"$T/client.err" &
    cpid=$!
    sleep "$(rnd_sleep)"
    kill -9 "$pid"
    wait "$pid" 2>/dev/null
    if wait "$cpid"; then ok; else bad "round $round: client: $(cat "$T/client.err")"; fi
done

n_acked=$(sort -u "$acked" | wc -l)
check "some events were acknowledged" test "$n_acked" -gt 1000
db="$data/patron.db"
# every acknowledged messageId present, none twice
sqlite3 "$db" "SELECT message_id FROM events WHERE segment IS NULL" | sort >"$T/stored"
missing=$(sort -u "$acked" | comm -23 - "$T/stored" | wc -l)
check "every acknowledged event is stored ($missing missing of $n_acked)" test "$missing" -eq 0
dups=$(uniq -d "$T/stored" | wc -l)
check "no event is stored twice ($dups doubled)" test "$dups" -eq 0
orders_db=$(sqlite3 "$db" "SELECT count(*) FROM orders")
orders_ev=$(sqlite3 "$db" "SELECT count(*) FROM events WHERE name='Order Completed'")
check "orders and order events agree ($orders_db vs $orders_ev)" test "$orders_db" -eq "$orders_ev"

# memory rebuilt from the store agrees with it: sum of profile orders = stored orders
start_server final --data "$data" --listen 127.0.0.1:0 --log off
port=${URL##*:}
total=$(python3 - "$port" "$key" <<'PY'
import http.client, json, sys
port, key = int(sys.argv[1]), sys.argv[2]
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
h = {"Authorization": "Bearer " + key}
cursor, total, seen = "", 0, set()
while True:
    c.request("GET", "/v1/customers?limit=100" + ("&cursor=" + cursor if cursor else ""), headers=h)
    r = json.loads(c.getresponse().read())
    for x in r["customers"]:
        if x["id"] in seen:
            sys.exit("customer listed twice: " + x["id"])
        seen.add(x["id"])
        total += x["aggregates"]["orders"]
    cursor = r["next_cursor"]
    if not cursor:
        break
print(total)
PY
)
check "profiles after restart count every stored order ($total vs $orders_db)" test "$total" = "$orders_db"
stop_server final
finish_serve
