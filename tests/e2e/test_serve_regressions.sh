#!/usr/bin/env bash
# Regressions of `patron serve` found in review: each check names the bug.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.sh"

data="$T/data"
KEY=$("$PATRON" shop create "Regress" --data "$data" --format json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
start_server main --data "$data" --listen 127.0.0.1:0 --log off

# 1. a profile never holds more than 128 identities, and erasing it leaves none behind
python3 - >"$T/many.json" <<'PY'
import json
print(json.dumps({"batch": [{"type": "track", "event": "Order Completed", "userId": "victim",
    "anonymousId": "anon-%d" % i, "messageId": "m-%d" % i,
    "properties": {"order_id": "o-%d" % i, "revenue": 1}} for i in range(140)]}))
PY
api POST /v1/batch "@$T/many.json"
expect_code 200 "140 identities: accepted"
api GET /v1/customers/victim
jcheck "identities capped" <<'PY'
j["identities"] == 128
j["aggregates"]["orders"] == 140
PY
api DELETE /v1/customers/victim
expect_code 200 "erase the big profile"
for i in 0 127 130 139; do
    api GET "/v1/customers/anon-$i?anonymous=1"
    expect_code 404 "no identity anon-$i left after the erasure"
done
n=$(sqlite3 "$data/patron.db" "SELECT count(*) FROM customers WHERE ext_id LIKE 'anon-%' OR ext_id='victim'")
check "no identity row of the victim in the store ($n)" test "$n" -eq 0

# 2. anonymous visitors can be erased (and unmerge addresses anonymous ids)
api POST /v1/track '{"anonymousId":"visitor-9","event":"Product Viewed","context":{"ip":"203.0.113.9"},"properties":{"product_id":"p1"}}'
expect_code 200 "anonymous event"
api DELETE "/v1/customers/visitor-9?anonymous=1"
expect_code 200 "erase an anonymous visitor"
api GET "/v1/customers/visitor-9?anonymous=1"
expect_code 404 "the anonymous visitor is gone"
n=$(sqlite3 "$data/patron.db" "SELECT count(*) FROM event_bodies WHERE body LIKE '%203.0.113.9%'")
check "the visitor's events are gone ($n)" test "$n" -eq 0

# 3. consents do not change across a restart (merge order vs load order)
api POST /v1/batch '{"batch":[
 {"type":"track","anonymousId":"A1","event":"Consent Changed","properties":{"consents":{"email_marketing":false}}},
 {"type":"track","anonymousId":"A2","event":"Consent Changed","properties":{"consents":{"email_marketing":true}}},
 {"type":"identify","userId":"U","anonymousId":"A2"},
 {"type":"identify","userId":"U","anonymousId":"A1"}]}'
expect_code 200 "consent events"
api GET /v1/customers/U
cp "$T/body" "$T/before.json"
jcheck "for a purpose the user never decided, the earliest identity's choice counts" <<'PY'
j["consents"]["email_marketing"] is False
PY
# unmerging that identity takes its choice away with it
api POST /v1/customers/U/unmerge '{"anonymousId":"A1"}'
expect_code 200 "unmerge A1"
api GET /v1/customers/U
jcheck "after the unmerge the other visitor's choice shows" <<'PY'
j["consents"]["email_marketing"] is True
PY
cp "$T/body" "$T/before.json"
stop_server main
start_server main2 --data "$data" --listen 127.0.0.1:0 --log off
api GET /v1/customers/U
jcheck "consent unchanged after restart" <<'PY'
j["consents"] == load(T + "/before.json")["consents"]
PY

# 4. amounts computed from products are capped like the others (no overflow)
api POST /v1/track '{"userId":"rich","event":"Order Completed","properties":{"order_id":"big","products":[{"product_id":"p","price":"9000000000000","quantity":10000}]}}'
expect_code 400 "products over the amount cap are refused"
jcheck "the error names the products" <<'PY'
j["error"]["field"] == "properties.products"
PY

# 5. a UCI import stores the amount it counts (cents, in the body too)
printf 'InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n536365,85123A,MUG,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n' >"$T/uci.csv"
api POST /v1/import/orders "" --data-binary "@$T/uci.csv" -H 'Content-Type: text/csv'
expect_code 200 "UCI import"
api GET /v1/customers/17850/export
jcheck "UCI amounts agree: order, profile and stored body" <<'PY'
j["aggregates"]["revenue_minor"] == 1530
j["held"]["orders"][0]["amount"] == 1530
j["held"]["events"][0]["body"]["properties"]["revenue_minor"] == 1530
PY

# 6. bad limits are refused, not read as a prefix
api GET "/v1/customers?limit=5x"
expect_code 400 "limit=5x"

# 7. SIGTERM while keep-alive clients keep sending: answers, then exits 0
python3 - "${URL##*:}" "$KEY" >"$T/stream.out" 2>&1 <<'PY' &
import http.client, json, sys, time
port, key = int(sys.argv[1]), sys.argv[2]
conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=10) for _ in range(4)]
h = {"Authorization": "Bearer " + key}
i = 0
end = time.time() + 8
while time.time() < end:
    for c in conns:
        i += 1
        try:
            c.request("POST", "/v1/batch", json.dumps({"batch": [{"type": "track",
                "event": "Product Viewed", "userId": "s%d" % (i % 7), "messageId": "s-%d" % i,
                "properties": {"product_id": "p"}}]}), h)
            c.getresponse().read()
        except Exception:
            c.close()
print("done")
PY
streamer=$!
sleep 1
t0=$(date +%s%N)
stop_server main2
t1=$(date +%s%N)
check "SIGTERM under keep-alive load stops within 10 s ($(((t1 - t0) / 1000000)) ms)" test $(((t1 - t0) / 1000000)) -lt 10000
wait "$streamer"
finish_serve
