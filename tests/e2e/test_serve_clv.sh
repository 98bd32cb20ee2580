#!/usr/bin/env bash
# Live CLV in `patron serve`: the CLV thread fits BG/NBD and Gamma-Gamma per
# shop (at start and every --clv-refit seconds when the data changed); GET
# /v1/clv shows the shop's fit, and every profile with orders carries P(alive),
# expected orders in 90/365 days, CLV, expected order value and the next order
# date, computed from the customer's current summary and the shop's parameters.
# A shop without a fit gets 404 / null, and a server with --clv-refit -1 never
# fits.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/serve_lib.sh"

D="$T/data"
cli a shop create "Shop A" --data "$D" --format json
expect_status 0 "create shop A"
A_KEY=$(key_of "$T/out")
cli b shop create "Shop B" --data "$D" --format json
expect_status 0 "create shop B"
B_KEY=$(key_of "$T/out")

# 300 customers of shop A over the last two years, ordering at their own pace
# (deterministic): "steady" buys every ~20 days up to 3 days ago, "gone" bought
# once two years ago.
python3 - "$T/orders.csv" "$NOW" <<'PY'
import random, sys, time
out, now = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
day = 86400
rows, oid = [], 0
def add(cid, t, amt):
    global oid
    oid += 1
    rows.append(f"{oid},{cid},{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(t))},{amt:.2f}")
for i in range(298):
    first = now - rnd.randint(30, 700) * day
    gap = rnd.choice([15, 30, 60, 120, 400])
    life = rnd.randint(0, 700) * day
    t = first
    while t < now - day and t < first + life:
        add(f"c{i}", t, rnd.uniform(10, 200))
        t += int(rnd.expovariate(1 / gap) * day) + day
    if t == first:
        add(f"c{i}", first, rnd.uniform(10, 200))
for k in range(30):
    add("steady", now - 3 * day - (29 - k) * 20 * day, 50)
add("gone", now - 700 * day, 80)
open(out, "w").write("order_id,customer_id,ordered_at,amount\n" + "\n".join(rows) + "\n")
PY

start_server main --data "$D" --listen 127.0.0.1:0 --log off --clv-refit 1
KEY=$A_KEY api POST /v1/import/orders "@$T/orders.csv" -H 'Content-Type: text/csv'
expect_code 200 "import A's orders"

# the thread refits within about a second of the change
for _ in $(seq 1 50); do
    KEY=$A_KEY api GET /v1/clv
    [[ $code == 200 ]] && break
    sleep 0.2
done
expect_code 200 "GET /v1/clv after the import"
cp "$T/body" "$T/model1.json"
jcheck "A's model" "$T/model1.json" <<'EOF'
j["customers"] == 300 and j["time_unit"] == "week"
all(v > 0 for v in j["bgnbd"]["params"].values()) and j["bgnbd"]["log_likelihood"] < 0
j["gamma_gamma"] is not None and j["gamma_gamma"]["params"]["q"] > 1
20 < j["gamma_gamma"]["mean_order_value_minor"] / 100 < 400
EOF

KEY=$B_KEY api GET /v1/clv
expect_code 404 "shop B has no model (no customers)"

# Profiles: the predictions agree with the published formulas evaluated here on
# the model's parameters and the profile's own aggregates.
for who in steady gone c1 c2 c3; do
    KEY=$A_KEY api GET "/v1/customers/$who?timeline=0"
    expect_code 200 "profile $who"
    cp "$T/body" "$T/p_$who.json"
done
cat >"$T/check.py" <<'PY'
import json, math, sys, time
from datetime import datetime, timezone
m = json.load(open(sys.argv[1]))["bgnbd"]["params"]
r, al, a, b = m["r"], m["alpha"], m["a"], m["b"]
def ts(s): return datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
now = time.time()
for f in sys.argv[2:]:
    p = json.load(open(f)); ag = p["aggregates"]; c = p["clv"]
    n = ag["orders"]; x = n - 1
    T = (now - ts(ag["first_order_at"])) / 604800
    tx = (ts(ag["last_order_at"]) - ts(ag["first_order_at"])) / 604800 if x else 0
    pa = 1.0 if x == 0 else 1 / (1 + a / (b + x - 1) * ((al + T) / (al + tx)) ** (r + x))
    ok = abs(c["p_alive"] - pa) < 2e-5
    ok = ok and 0 <= c["expected_orders_90d"] <= c["expected_orders_365d"]
    ok = ok and c["clv_365d_minor"] >= 0 and c["expected_order_value_minor"] > 0
    print("ok" if ok else f"FAIL {f}: p_alive {c['p_alive']} want {pa:.6f}; {c}")
PY
python3 "$T/check.py" "$T/model1.json" "$T"/p_*.json >"$T/check.out" 2>&1
while IFS= read -r line; do
    if [[ $line == ok ]]; then ok; else bad "profile check: $line"; fi
done <"$T/check.out"
check "five profiles checked" test "$(grep -c '^ok$' "$T/check.out")" -eq 5

jcheck "steady vs gone" "$T/p_steady.json" <<'EOF'
j["clv"]["p_alive"] > 0.8 and j["clv"]["expected_orders_365d"] > 5
j["clv"]["next_order_at"] is not None and j["clv"]["next_order_at"] > j["aggregates"]["last_order_at"]
EOF
pyrun "$T/p_steady.json" <<<'print(j["clv"]["expected_orders_365d"], j["clv"]["clv_365d_minor"])'
read -r STEADY_E STEADY_V <"$T/py.out"
jcheck "gone: one order two years ago" "$T/p_gone.json" <<EOF
j["aggregates"]["orders"] == 1
j["clv"]["expected_orders_365d"] < $STEADY_E / 5 and j["clv"]["clv_365d_minor"] < $STEADY_V / 5
EOF

# A change triggers a refit: a new customer shows up in the model.
KEY=$A_KEY post track "{\"messageId\":\"new-1\",\"userId\":\"newbie\",\"event\":\"Order Completed\",\"timestamp\":\"$(ts 86400)\",\"properties\":{\"order_id\":\"n-1\",\"revenue\":42}}" accepted
for _ in $(seq 1 50); do
    KEY=$A_KEY api GET /v1/clv
    grep -q '"customers":301' "$T/body" && break
    sleep 0.2
done
jcheck "refit after the new order" <<'EOF'
j["customers"] == 301
EOF
KEY=$A_KEY api GET /v1/customers/newbie
jcheck "the newcomer has predictions" <<'EOF'
j["clv"] is not None and j["clv"]["p_alive"] == 1
EOF
stop_server main

# --clv-refit -1: no thread, no model
start_server nofit --data "$D" --listen 127.0.0.1:0 --log off --clv-refit -1
sleep 1
KEY=$A_KEY api GET /v1/clv
expect_code 404 "no model with --clv-refit -1"
KEY=$A_KEY api GET /v1/customers/steady
jcheck "no predictions without a model" <<'EOF'
j["clv"] is None
EOF
KEY=$A_KEY api POST /v1/clv
expect_code 405 "POST /v1/clv"
stop_server nofit
finish_serve
