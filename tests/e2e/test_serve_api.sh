#!/usr/bin/env bash
# `patron serve` and `patron shop` end to end: the shop CLI, options and config
# file, every event type and the profile it yields (exact values), idempotency,
# partial and all-or-nothing batches, error shapes and status codes, merges and
# unmerges, the customer list, CSV import, restart on the same data, SIGTERM,
# /healthz and /metrics. Servers' stderr is checked for sanitizer reports.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/serve_lib.sh"

day=86400
D="$T/data"
USERS=() # every userId that should be its own profile in the customer list

# ---- shop CLI; usage errors ----
cli create-json shop create "Acme Shop" --data "$D" --format json
expect_status 0 "shop create --format json"
cp "$T/out" "$T/acme.json"
jcheck "shop create json" "$T/acme.json" <<'EOF'
sorted(j) == ["api_key", "name", "shop_id"]
j["name"] == "Acme Shop"
j["api_key"].startswith("ptk_") and len(j["api_key"]) > 40
j["shop_id"].startswith("shop_")
EOF
KEY=$(key_of "$T/acme.json")
ACME=$(shop_of "$T/acme.json")
cli create-table shop create "Beta" --data "$D"
expect_status 0 "shop create (table)"
check "table output shows the key once" grep -q '^api_key  *ptk_' "$T/out"
BETA_OLD=$(awk '$1 == "api_key" {print $2}' "$T/out")
BETA=$(awk '$1 == "shop_id" {print $2}' "$T/out")
cli list-json shop list --data "$D" --format json
expect_status 0 "shop list --format json"
cp "$T/out" "$T/list.json"
jcheck "shop list json" "$T/list.json" <<EOF
[s["name"] for s in j] == ["Acme Shop", "Beta"]
[s["shop_id"] for s in j] == ["$ACME", "$BETA"]
"$KEY" not in raw and "$BETA_OLD" not in raw and "key_hash" not in raw
EOF
cli list-table shop list --data "$D"
expect_status 0 "shop list (table)"
check "table list names both shops" grep -q "$BETA.*Beta" "$T/out"
cli rotate shop rotate-key "$BETA" --data "$D" --format json
expect_status 0 "shop rotate-key"
cp "$T/out" "$T/rot.json"
BETA_KEY=$(key_of "$T/rot.json")
jcheck "rotate-key json" "$T/rot.json" <<EOF
j["shop_id"] == "$BETA" and j["api_key"].startswith("ptk_")
j["api_key"] != "$BETA_OLD"
EOF
while read -r want name; do # usage errors: exit status 2
    read -r -a args <<<"${name#*: }"
    cli "$name" "${args[@]}"
    expect_status "$want" "${name%%: *}"
done <<EOF
2 shop without an action: shop
2 shop create without a name: shop create --data $D
2 shop list without --data: shop list
2 unknown shop action: shop frobnicate --data $D
2 shop list --format xml: shop list --data $D --format xml
2 shop create with two names: shop create A B --data $D
2 serve without --data: serve
2 serve --bogus: serve --data $D --bogus
2 serve --listen without a port: serve --data $D --listen nowhere
2 serve --config of a missing file: serve --data $D --config $T/no-such.conf
0 serve --help: serve --help
EOF
check "help lists --max-body and --config" grep -q -- "--max-body.*--config" <(tr -d '\n' <"$T/out")
cli nf shop rotate-key shop_0000000000000000 --data "$D"
expect_status 1 "rotate-key of an unknown shop"
expect_err_has "shop_0000000000000000" "rotate-key names the unknown shop"

# ---- serve: config file ----
printf 'data = %s\nlisten 127.0.0.1:0\n' "$T/d2" >"$T/bad.conf"
cli s5 serve --config "$T/bad.conf"
expect_status 2 "config line without ="
expect_err_has "bad.conf:2" "config error names file:line"

mkdir -p "$T/d2"
cli c2 shop create "Conf" --data "$T/d2" --format json
CONF_KEY=$(key_of "$T/out")
cat >"$T/patron.conf" <<EOF
# a comment, then blank
data = $T/d2

listen = 127.0.0.1:0
max-body = 2048
  log = $T/requests.log
EOF
start_server conf --config "$T/patron.conf"
pad=$(printf '%03000d' 0)
KEY=$CONF_KEY api POST /v1/track "{\"userId\":\"c1\",\"event\":\"x\",\"properties\":{\"pad\":\"$pad\"}}"
expect_error 413 too_large None "config max-body = 2048 applies"
KEY=$CONF_KEY api POST /v1/track '{"userId":"c1","event":"x"}'
expect_code 200 "small event under the config limit"
stop_server conf
check "config log file has the 413 line" grep -q '"route":"track","status":413' "$T/requests.log"
check "config log file has the 200 line" grep -q '"route":"track","status":200' "$T/requests.log"
check "log = FILE keeps request lines off stderr" bash -c "! grep -q '\"route\"' '$T/conf.err'"

# ---- the main server (the old Beta key was rotated before it started) ----
start_server main --data "$D" --listen 127.0.0.1:0 --log off --max-body 200000 --rfm-refresh 1
api GET /healthz "" -H "Authorization: Bearer nonsense"
expect_code 200 "/healthz needs no key"
jcheck healthz <<<'j == {"status": "ok"}'
api GET /metrics
expect_code 200 "/metrics"
cp "$T/body" "$T/m0.txt"
check "metrics content type" grep -qi '^content-type: text/plain' "$T/hdr"
check "metrics lines are name value" python3 -c '
import re, sys
bad = [l for l in open(sys.argv[1]) if l.strip() and not l.startswith("#") and
       not re.match(r"^[a-z_]+(\{[a-z_]+=\"[^\"]*\"(,[a-z_]+=\"[^\"]*\")*\})? [0-9.e+-]+$", l)]
sys.exit(1 if bad else 0)' "$T/m0.txt"
KEY=$BETA_OLD api GET /v1/customers
expect_code 401 "rotated-away key (rotated before start)"
KEY=$BETA_KEY api GET /v1/customers
expect_code 200 "rotated key works"


# ---- alice: every event type and the profile it makes ----
USERS+=(alice)
post identify "{\"messageId\":\"a-id1\",\"userId\":\"alice\",\"timestamp\":\"$(ts $((50 * day)))\",\"traits\":{\"email\":\"alice@example.com\",\"plan\":\"free\",\"name\":\"Alice\"}}" accepted
post identify "{\"messageId\":\"a-id2\",\"userId\":\"alice\",\"timestamp\":\"$(ts $((49 * day)))\",\"traits\":{\"plan\":\"pro\",\"city\":\"Gdańsk\"}}" accepted
O1="{\"messageId\":\"a-o1\",\"userId\":\"alice\",\"event\":\"Order Completed\",\"timestamp\":\"$(ts $((40 * day)))\",\"properties\":{\"order_id\":\"o-1\",\"revenue\":122.00,\"currency\":\"PLN\",\"products\":[{\"product_id\":\"p1\",\"sku\":\"S1\",\"category\":\"Shoes\",\"price\":100,\"quantity\":1},{\"product_id\":\"p2\",\"category\":\"Socks\",\"price\":5.5,\"quantity\":4}]}}"
post track "$O1" accepted
post track "{\"messageId\":\"a-o2\",\"userId\":\"alice\",\"event\":\"Order Completed\",\"timestamp\":\"$(ts $((30 * day)))\",\"properties\":{\"order_id\":\"o-2\",\"total\":\"80.50\",\"products\":[{\"product_id\":\"p2\",\"category\":\"Socks\",\"price\":10,\"quantity\":2},{\"product_id\":\"p3\",\"category\":\"Hats\",\"price\":\"60.50\"}]}}" accepted
post track "{\"messageId\":\"a-o3\",\"userId\":\"alice\",\"event\":\"Order Completed\",\"timestamp\":\"$(ts $((15 * day)))\",\"properties\":{\"order_id\":\"o-3\",\"products\":[{\"product_id\":\"p1\",\"category\":\"Shoes\",\"price\":30,\"quantity\":2},{\"product_id\":\"p4\",\"category\":\"Bags\",\"price\":19.99}]}}" accepted
post track "{\"messageId\":\"a-r1\",\"userId\":\"alice\",\"event\":\"Order Refunded\",\"timestamp\":\"$(ts $((14 * day)))\",\"properties\":{\"order_id\":\"o-1\",\"revenue\":22}}" accepted
post track "{\"messageId\":\"a-r2\",\"userId\":\"alice\",\"event\":\"Order Refunded\",\"timestamp\":\"$(ts $((13 * day)))\",\"properties\":{\"order_id\":\"o-3\"}}" accepted
post track "{\"messageId\":\"a-r3\",\"userId\":\"alice\",\"event\":\"Order Refunded\",\"timestamp\":\"$(ts $((13 * day - 60)))\",\"properties\":{\"order_id\":\"o-1\",\"total\":500}}" accepted
post track "{\"messageId\":\"a-r4\",\"userId\":\"alice\",\"event\":\"Order Refunded\",\"timestamp\":\"$(ts $((13 * day - 120)))\",\"properties\":{\"order_id\":\"o-3\"}}" accepted
post track "{\"messageId\":\"a-r5\",\"userId\":\"alice\",\"event\":\"Order Refunded\",\"timestamp\":\"$(ts $((13 * day - 180)))\",\"properties\":{\"order_id\":\"o-404\",\"revenue\":1}}" accepted
post track "{\"messageId\":\"a-sv\",\"userId\":\"alice\",\"event\":\"Store Visited\",\"timestamp\":\"$(ts $((12 * day)))\",\"properties\":{\"store_id\":\"s-1\"}}" accepted
post track "{\"messageId\":\"a-cu\",\"userId\":\"alice\",\"event\":\"Wishlist Shared\",\"timestamp\":\"$(ts $((11 * day)))\",\"properties\":{\"list\":\"summer\",\"count\":2,\"tags\":[\"a\",\"b\"]}}" accepted
post track "{\"messageId\":\"a-c1\",\"userId\":\"alice\",\"event\":\"Consent Changed\",\"timestamp\":\"$(ts $((10 * day)))\",\"properties\":{\"consents\":{\"email_marketing\":true,\"sms\":false}}}" accepted
post track "{\"messageId\":\"a-c2\",\"userId\":\"alice\",\"event\":\"Consent Changed\",\"timestamp\":\"$(ts $((9 * day)))\",\"properties\":{\"purpose\":\"profiling\",\"granted\":true}}" accepted
post track "{\"messageId\":\"a-c3\",\"userId\":\"alice\",\"event\":\"Consent Changed\",\"timestamp\":\"$(ts $((8 * day)))\",\"properties\":{\"purpose\":\"email_marketing\",\"granted\":false}}" accepted
post page "{\"messageId\":\"a-pg\",\"userId\":\"alice\",\"name\":\"Home\",\"timestamp\":\"$(ts $((6 * day)))\",\"properties\":{\"url\":\"https://shop.example/\"}}" accepted
post screen "{\"messageId\":\"a-sc\",\"userId\":\"alice\",\"name\":\"Settings\",\"timestamp\":\"$(ts $((5 * day)))\"}" accepted
post group "{\"messageId\":\"a-gr\",\"userId\":\"alice\",\"groupId\":\"g-1\",\"timestamp\":\"$(ts $((4 * day)))\",\"traits\":{\"name\":\"Acme Corp\"}}" accepted
cat >"$T/cart.json" <<EOF
{"batch":[
{"type":"track","messageId":"a-k1","userId":"alice","event":"Product Added","timestamp":"$(ts 7200)","properties":{"product_id":"p9","price":25,"quantity":2}},
{"type":"track","messageId":"a-k2","userId":"alice","event":"Product Added","timestamp":"$(ts 5400)","properties":{"product_id":"p10","price":"10.00"}},
{"type":"track","messageId":"a-k3","userId":"alice","event":"Product Removed","timestamp":"$(ts 3600)","properties":{"product_id":"p10","price":10}}
]}
EOF
batch "$T/cart.json"
expect_code 200 "cart batch"
jcheck "cart batch answer" <<'EOF'
j["success"] is True and j["accepted"] == 3 and j["duplicates"] == 0 and j["rejected"] == 0
[(r["index"], r["messageId"], r["status"]) for r in j["results"]] == [(0, "a-k1", "accepted"), (1, "a-k2", "accepted"), (2, "a-k3", "accepted")]
EOF
api GET "/v1/customers/alice?timeline=0"
jcheck "cart after add, add, remove" <<EOF
j["aggregates"]["cart"]["value_minor"] == 5000
j["aggregates"]["cart"]["since"] == "$(ts 7200)"
j["aggregates"]["cart"]["updated_at"] == "$(ts 3600)"
EOF
post track "{\"messageId\":\"a-pv\",\"userId\":\"alice\",\"event\":\"Product Viewed\",\"timestamp\":\"$(ts 3000)\",\"properties\":{\"product_id\":\"p11\",\"price\":99}}" accepted
post track "{\"messageId\":\"a-cv\",\"userId\":\"alice\",\"event\":\"Cart Viewed\",\"timestamp\":\"$(ts 1800)\",\"properties\":{\"value\":70}}" accepted
api GET "/v1/customers/alice?timeline=100"
expect_code 200 "GET alice"
cp "$T/body" "$T/alice1.json"
# Orders 122.00, 80.50 and 2 x 30 + 19.99 = 79.99 (from products): 282.49 gross.
# Refunds: o-1 22.00, then 500 capped at the 100.00 left; o-3 in full, then again
# (nothing left); o-404 is no order: 201.99. Net 80.50; AOV 80.50 / 3 = 26.83.
# Orders 40, 30, 15 days ago: 12.5 days apart. Categories: Socks 4 + 2, Shoes
# 1 + 2, then Bags and Hats 1 each (by name). Cart: 50 + 10 - 10, then Cart
# Viewed sets 70; since = the first add, 2 hours ago.
jcheck "alice profile" <<EOF
j["id"] == "alice" and j["anonymous"] is False and j["identities"] == 1
j["traits"] == {"email": "alice@example.com", "plan": "pro", "name": "Alice", "city": "Gdańsk"}
j["consents"] == {"email_marketing": False, "sms": False, "profiling": True}
j["aggregates"]["orders"] == 3
j["aggregates"]["first_order_at"] == "$(ts $((40 * day)))"
j["aggregates"]["last_order_at"] == "$(ts $((15 * day)))"
j["aggregates"]["gross_revenue_minor"] == 28249
j["aggregates"]["refunded_minor"] == 20199
j["aggregates"]["revenue_minor"] == 8050
j["aggregates"]["average_order_value_minor"] == 2683
j["aggregates"]["average_days_between_orders"] == 12.5
j["aggregates"]["days_since_last_order"] == 15
j["aggregates"]["cart"]["value_minor"] == 7000
j["aggregates"]["cart"]["since"] == "$(ts 7200)" and j["aggregates"]["cart"]["updated_at"] == "$(ts 1800)"
j["aggregates"]["cart"]["age_minutes"] in (120, 121)
j["aggregates"]["favourite_categories"] == [{"category": "Socks", "quantity": 6}, {"category": "Shoes", "quantity": 3}, {"category": "Bags", "quantity": 1}]
j["rfm"]["frequency"] == 3 and j["rfm"]["monetary_minor"] == 8050 and j["rfm"]["recency_days"] == 15
j["rfm"]["score"] == "%d%d%d" % (j["rfm"]["r"], j["rfm"]["f"], j["rfm"]["m"]) and 1 <= j["rfm"]["r"] <= 5
isinstance(j["rfm"]["segment"], str) and j["rfm"]["segment"] != ""
EOF
# the timeline: every accepted event of alice, newest first, with the body sent
jcheck "alice timeline" <<'EOF'
sent = [json.loads(l) for l in open(T + "/sent.jsonl")]
mine = [e for e in sent if e.get("userId") == "alice"]
want = [e for i, e in sorted(enumerate(mine), key=lambda x: (x[1]["timestamp"], x[0]), reverse=True)]
len(j["timeline"]) == len(want) == 23
[t["body"] for t in j["timeline"]] == want
[t["timestamp"] for t in j["timeline"]] == [e["timestamp"] for e in want]
[t["event"] for t in j["timeline"]][:4] == ["Cart Viewed", "Product Viewed", "Product Removed", "Product Added"]
[t["type"] for t in j["timeline"]][5:8] == ["group", "screen", "page"] and [t["event"] for t in j["timeline"]][6:8] == ["Settings", "Home"]
all(t["type"] == "identify" for t in j["timeline"][-2:])
all(NOW - 5 <= secs(t["received_at"]) <= NOW + 300 for t in j["timeline"])
len(set(t["seq"] for t in j["timeline"])) == 23
[t for t in j["timeline"] if t["event"] == "Wishlist Shared"][0]["body"]["properties"] == {"list": "summer", "count": 2, "tags": ["a", "b"]}
EOF
api GET "/v1/customers/alice?timeline=2"
jcheck "?timeline=2" <<EOF
[t["seq"] for t in jall["timeline"]] == [t["seq"] for t in json.load(open("$T/alice1.json"))["timeline"][:2]]
EOF

# ---- bob: the cart's life, currencies ----
USERS+=(bob yuki)
post track "{\"userId\":\"bob\",\"event\":\"Product Added\",\"timestamp\":\"$(ts 600)\",\"properties\":{\"sku\":\"B-1\",\"price\":\"9.99\"}}" accepted
post track "{\"userId\":\"bob\",\"event\":\"Product Removed\",\"timestamp\":\"$(ts 500)\",\"properties\":{\"sku\":\"B-1\",\"price\":20}}" accepted
api GET "/v1/customers/bob?timeline=0"
jcheck "bob: remove more than the cart holds" <<EOF
j["aggregates"]["cart"] == {"value_minor": 0, "since": None, "updated_at": "$(ts 500)", "age_minutes": None}
j["rfm"] is None and j["aggregates"]["orders"] == 0 and j["aggregates"]["average_order_value_minor"] is None
j["aggregates"]["first_order_at"] is None and j["aggregates"]["days_since_last_order"] is None
EOF
post track "{\"userId\":\"bob\",\"event\":\"Checkout Started\",\"timestamp\":\"$(ts 400)\",\"properties\":{\"products\":[{\"product_id\":\"q\",\"price\":5,\"quantity\":3}]}}" accepted
api GET "/v1/customers/bob?timeline=0"
jcheck "bob: checkout sets the cart" <<EOF
j["aggregates"]["cart"]["value_minor"] == 1500 and j["aggregates"]["cart"]["since"] == "$(ts 400)"
EOF
post track "{\"userId\":\"bob\",\"event\":\"Order Completed\",\"timestamp\":\"$(ts 300)\",\"properties\":{\"order_id\":\"o-b1\",\"total\":15}}" accepted
api GET "/v1/customers/bob?timeline=0"
jcheck "bob: an order empties the cart" <<EOF
j["aggregates"]["cart"] == {"value_minor": 0, "since": None, "updated_at": "$(ts 300)", "age_minutes": None}
j["aggregates"]["orders"] == 1 and j["aggregates"]["average_order_value_minor"] == 1500
j["aggregates"]["average_days_between_orders"] is None and j["aggregates"]["days_since_last_order"] == 0
j["rfm"]["frequency"] == 1
EOF
post track '{"userId":"yuki","event":"Order Completed","properties":{"order_id":"o-y1","revenue":1500,"currency":"JPY"}}' accepted
post track '{"userId":"yuki","event":"Order Completed","properties":{"order_id":"o-y2","revenue":"1.234","currency":"kwd"}}' accepted
api GET "/v1/customers/yuki?timeline=0"
jcheck "minor units follow the currency (JPY 0, KWD 3 decimals)" <<<'j["aggregates"]["gross_revenue_minor"] == 1500 + 1234'

# ---- idempotency ----
api GET /metrics
cp "$T/body" "$T/m1.txt"
post track "$O1" duplicate
post identify "{\"messageId\":\"a-id2\",\"userId\":\"alice\",\"traits\":{\"plan\":\"changed\"}}" duplicate
post track '{"messageId":"a-o1","userId":"alice","event":"Order Completed","properties":{"order_id":"o-99","revenue":1}}' duplicate
post track '{"messageId":"a-o2-again","userId":"alice","event":"Order Completed","properties":{"order_id":"o-2","revenue":999}}' duplicate
batch "$T/cart.json"
expect_code 200 "retried batch"
jcheck "retried batch: every event a duplicate" <<'EOF'
j["accepted"] == 0 and j["duplicates"] == 3 and j["rejected"] == 0
[(r["index"], r["messageId"], r["status"]) for r in j["results"]] == [(0, "a-k1", "duplicate"), (1, "a-k2", "duplicate"), (2, "a-k3", "duplicate")]
EOF
api GET "/v1/customers/alice?timeline=100"
# (r, f, m move as other customers come; frequency and monetary must not)
jcheck "alice unchanged by retries" <<EOF
strip(j, RANKS) == strip(load("$T/alice1.json"), RANKS)
EOF
USERS+=(ivan)
cat >"$T/mixed.json" <<'EOF'
{"batch":[
{"type":"track","messageId":"i-1","userId":"ivan","event":"Signed Up"},
{"type":"track","messageId":"a-o1","userId":"alice","event":"Order Completed","properties":{"order_id":"o-1","revenue":122}},
{"type":"identify","messageId":"i-2","userId":"ivan","traits":{"vip":true}},
{"type":"track","messageId":"i-1","userId":"ivan","event":"Signed Up"}
]}
EOF
batch "$T/mixed.json"
jcheck "mixed batch: statuses per event" <<'EOF'
j["accepted"] == 2 and j["duplicates"] == 2
[r["status"] for r in j["results"]] == ["accepted", "duplicate", "accepted", "duplicate"]
EOF
api GET /metrics
cp "$T/body" "$T/m2.txt"
check "metrics: 9 duplicates counted" test $(($(metric 'patron_events_total\{status="duplicate"\}' "$T/m2.txt") - $(metric 'patron_events_total\{status="duplicate"\}' "$T/m1.txt"))) -eq 9
check "metrics: 2 accepted counted" test $(($(metric 'patron_events_total\{status="accepted"\}' "$T/m2.txt") - $(metric 'patron_events_total\{status="accepted"\}' "$T/m1.txt"))) -eq 2
post track '{"userId":"ivan","event":"Clicked"}' accepted
post track '{"userId":"ivan","event":"Clicked"}' accepted
api GET "/v1/customers/ivan"
jcheck "no messageId: no deduplication" <<'EOF'
[t["event"] for t in j["timeline"]].count("Clicked") == 2 and j["traits"] == {"vip": True}
EOF

# ---- partial=1 and all-or-nothing batches ----
USERS+=(jack kate)
cat >"$T/partial.json" <<'EOF'
{"batch":[
{"type":"identify","messageId":"j-1","userId":"jack","traits":{"n":1}},
{"type":"track","messageId":"j-2","userId":"jack","event":"Order Completed","properties":{"revenue":5}},
{"type":"track","messageId":"j-3","userId":"jack","event":"Order Completed","properties":{"order_id":"o-j1","revenue":9}},
{"type":"track","messageId":"j-4","event":"Clicked"},
42
]}
EOF
batch "$T/partial.json" "?partial=1"
expect_code 200 "partial=1 batch"
jcheck "partial=1 answer" <<'EOF'
j["accepted"] == 2 and j["duplicates"] == 0 and j["rejected"] == 3
[r["index"] for r in j["results"]] == [0, 1, 2, 3, 4]
[r["status"] for r in j["results"]] == ["accepted", "rejected", "accepted", "rejected", "rejected"]
j["results"][1]["error"]["code"] == "missing_field" and j["results"][1]["error"]["field"] == "batch[1].properties.order_id"
j["results"][3]["error"]["field"] == "batch[3].userId" and j["results"][4]["error"]["field"] == "batch[4]"
EOF
api GET "/v1/customers/jack?timeline=10"
jcheck "partial=1 wrote the good events" <<<'j["aggregates"]["orders"] == 1 and j["aggregates"]["revenue_minor"] == 900 and len(j["timeline"]) == 2'
api POST "/v1/batch?partial=1" '{"batch":[{"type":"nope","userId":"x"},{"type":"track","userId":"x"}]}'
expect_code 200 "partial=1, every event bad"
jcheck "partial=1, every event bad" <<<'j["accepted"] == 0 and j["rejected"] == 2 and [r["status"] for r in j["results"]] == ["rejected"] * 2'
cat >"$T/aon.json" <<'EOF'
{"batch":[
{"type":"identify","messageId":"k-1","userId":"kate","traits":{"n":1}},
{"type":"track","messageId":"k-2","userId":"kate","event":"Order Completed","properties":{"order_id":"o-k1","revenue":10}},
{"type":"track","messageId":"k-3","userId":"kate","event":"Order Completed","properties":{"revenue":3}}
]}
EOF
batch "$T/aon.json"
expect_error 400 missing_field '"batch[2].properties.order_id"' "a batch with one bad event"
api GET /v1/customers/kate
expect_code 404 "nothing of the bad batch was written"
pyrun <<<"b = load('$T/aon.json'); b['batch'].pop(); json.dump(b, open('$T/aon.json', 'w'))"
batch "$T/aon.json"
jcheck "the good events still go in (ids not used up)" <<<'j["accepted"] == 2'
api GET "/v1/customers/kate?timeline=0"
jcheck "kate after the good batch" <<<'j["aggregates"]["orders"] == 1 and j["traits"] == {"n": 1}'
api POST /v1/track '{"userId":"lena","event":"Order Completed","properties":{"order_id":"o-l","revenue":1,"currency":"EURO"}}'
expect_code 400 "bad single event"
api GET /v1/customers/lena
expect_code 404 "a bad single event writes nothing"

# ---- error shapes and status codes ----
while IFS='|' read -r path body want_code want_err want_field; do
    api POST "$path" "$body"
    expect_error "$want_code" "$want_err" "$want_field" "$path $body"
done <<'EOF'
/v1/track|{"userId":"x","event":|400|invalid_json|None
/v1/track|[1,2]|400|invalid_json|None
/v1/track|{"userId":"x"}|400|missing_field|"event"
/v1/track|{"event":"x"}|400|missing_field|"userId"
/v1/track|{"userId":"x","event":"x","timestamp":"yesterday"}|400|invalid_field|"timestamp"
/v1/track|{"userId":{"a":1},"event":"x"}|400|invalid_field|"userId"
/v1/track|{"userId":"x","event":"Order Completed","properties":{"order_id":"o","revenue":"abc"}}|400|invalid_field|"properties.revenue"
/v1/track|{"userId":"x","event":"Order Completed","properties":{"order_id":"o","revenue":-5}}|400|invalid_field|"properties.revenue"
/v1/track|{"userId":"x","event":"Order Completed","properties":{"order_id":"o","revenue":1.005}}|400|invalid_field|"properties.revenue"
/v1/track|{"userId":"x","event":"Order Completed","properties":{"order_id":"o","products":[{"price":1},{"price":"x"}]}}|400|invalid_field|"properties.products[1].price"
/v1/track|{"userId":"x","event":"Order Completed","properties":{"order_id":"o","products":[{"price":1,"quantity":0}]}}|400|invalid_field|"properties.products[0].quantity"
/v1/track|{"userId":"x","event":"Product Added","properties":{"price":1}}|400|missing_field|"properties.product_id"
/v1/track|{"userId":"x","event":"Consent Changed","properties":{"consents":{"newsletter":true}}}|400|invalid_field|"properties.consents"
/v1/track|{"userId":"x","event":"Consent Changed","properties":{"purpose":"sms"}}|400|missing_field|"properties.granted"
/v1/identify|{"userId":"x","traits":[1]}|400|invalid_field|"traits"
/v1/alias|{"userId":"x"}|400|missing_field|"previousId"
/v1/batch|{"events":[]}|400|missing_field|"batch"
/v1/batch|{"batch":[]}|400|invalid_field|"batch"
/v1/batch|{"batch":[{"userId":"x","event":"e"}]}|400|missing_field|"batch[0].type"
/v1/batch|{"batch":[{"type":"track","userId":"x","event":"e"},{"type":"shout","userId":"x"}]}|400|invalid_field|"batch[1].type"
EOF
api POST /v1/track ""
expect_code 400 "empty body"
long=$(printf 'u%.0s' {1..300})
api POST /v1/track "{\"userId\":\"$long\",\"event\":\"x\"}"
expect_error 413 too_large '"userId"' "userId over 256 bytes"
pyrun <<EOF
def dump(name, o):
    json.dump(o, open(T + "/" + name, "w"))
dump("big.json", {"userId": "big", "event": "x", "properties": {"pad": "a" * 250000}})
dump("big2.json", {"userId": "big", "event": "x", "properties": {"pad": "a" * 40000}})
dump("b1001.json", {"batch": [{"type": "track", "userId": "big", "event": "e"}] * 1001})
dump("b1000.json", {"batch": [{"type": "track", "userId": "big", "event": "e"}] * 1000})
EOF
api POST /v1/track "@$T/big.json"
expect_error 413 too_large None "body over --max-body"
api POST /v1/track "@$T/big2.json"
expect_code 413 "one event over 32 KiB"
api POST /v1/batch "@$T/b1001.json"
expect_error 413 too_large '"batch"' "batch of 1001 events"
api GET /v1/customers/big
expect_code 404 "nothing of the too-large requests was written"
api POST /v1/batch "@$T/b1000.json"
expect_code 200 "batch of 1000 events"
jcheck "batch of 1000 events" <<<'j["accepted"] == 1000 and len(j["results"]) == 1000'
USERS+=(big)
# keys
k=$KEY
KEY="" api GET /v1/customers/alice
expect_code 401 "no key"
jcheck "401 shape" <<<'err("unauthorized", None) and "alice" not in raw'
check "401 has WWW-Authenticate" grep -qi '^www-authenticate: Bearer' "$T/hdr"
KEY="${k%?}$([[ ${k: -1} == 0 ]] && echo 1 || echo 0)" api GET /v1/customers/alice
expect_code 401 "wrong key of the right format"
KEY="not-a-key" api GET /v1/customers/alice
expect_code 401 "key of another format"
KEY="" api GET /v1/customers/alice "" -H "Authorization: Token $k"
expect_code 401 "unknown auth scheme"
KEY="" api POST /v1/track '{"userId":"nokey","event":"x"}'
expect_code 401 "no key, write"
KEY="" api GET "/v1/customers/alice?timeline=0" "" -u "$k:"
expect_code 200 "HTTP Basic with the key as user name"
jcheck "Basic auth reads alice" <<<'j["id"] == "alice"'
KEY="" api GET /v1/customers/alice "" -u "${k%?}x:"
expect_code 401 "HTTP Basic with a wrong key"
KEY="" api POST /v1/track '{"userId":"basic","event":"x"}' -u "$k:"
expect_code 200 "HTTP Basic write"
USERS+=(basic)
# routes and methods
api GET /v1/nope
expect_error 404 not_found None "unknown route"
KEY="" api GET /v2/track
expect_code 404 "unknown route, no key"
api GET /v1/customers/nobody
expect_error 404 not_found '"id"' "unknown customer"
api GET "/v1/customers/alice?anonymous=1"
expect_code 404 "alice is no anonymousId"
for mp in "GET /v1/track" "GET /v1/batch" "PUT /v1/customers/alice" "POST /v1/customers" \
    "GET /v1/customers/alice/unmerge" "DELETE /v1/customers/alice/export" "POST /healthz" "PUT /v1/import/orders"; do
    api "${mp% *}" "${mp#* }"
    expect_error 405 method_not_allowed None "$mp"
done
api GET "/v1/customers?limit=0"
expect_error 400 invalid_field '"limit"' "limit=0"
api GET "/v1/customers?cursor=abc"
expect_error 400 invalid_field '"cursor"' "bad cursor"

# ---- merges: identify, alias, unmerge ----
USERS+=(dave erin)
post track '{"userId":"dave","event":"Order Completed","timestamp":"2026-01-10T00:00:00Z","properties":{"order_id":"o-d1","revenue":20}}' accepted
post track '{"anonymousId":"anon-1","event":"Order Completed","timestamp":"2026-01-20T00:00:00Z","properties":{"order_id":"o-a1","revenue":15}}' accepted
post track '{"anonymousId":"anon-1","event":"Consent Changed","properties":{"purpose":"sms","granted":true}}' accepted
api GET "/v1/customers/anon-1?anonymous=1&timeline=0"
jcheck "anonymous profile" <<<'j["id"] == "anon-1" and j["anonymous"] is True and j["aggregates"]["revenue_minor"] == 1500'
post identify '{"userId":"dave","anonymousId":"anon-1","traits":{"email":"dave@example.com"}}' accepted
api GET "/v1/customers/dave?timeline=10"
jcheck "identify merges the anonymous profile" <<'EOF'
j["id"] == "dave" and j["identities"] == 2
j["aggregates"]["orders"] == 2 and j["aggregates"]["revenue_minor"] == 3500
j["aggregates"]["first_order_at"] == "2026-01-10T00:00:00Z" and j["aggregates"]["average_days_between_orders"] == 10
j["consents"]["sms"] is True
len(j["timeline"]) == 4
EOF
api GET "/v1/customers/anon-1?anonymous=1&timeline=0"
jcheck "the anonymousId now reads as dave" <<<'j["id"] == "dave"'
api GET /v1/customers/dave/export
expect_code 200 "export dave"
jcheck "export dave" <<'EOF'
j["id"] == "dave" and sorted(j["held"]) == ["events", "identities", "merges", "order_lines", "orders", "outbox"]
sorted(i["id"] for i in j["held"]["identities"]) == ["anon-1", "dave"]
len(j["held"]["events"]) == 4 and sorted(o["order_id"] for o in j["held"]["orders"]) == ["o-a1", "o-d1"]
[m["reason"] for m in j["held"]["merges"]] == ["identify"]
EOF
api POST /v1/customers/dave/unmerge '{"anonymousId":"anon-1"}'
expect_code 200 "unmerge dave/anon-1"
jcheck "unmerge answer" <<<'j == {"unmerged": True}'
api GET "/v1/customers/dave?timeline=0"
jcheck "dave after unmerge" <<<'j["identities"] == 1 and j["aggregates"]["orders"] == 1 and j["aggregates"]["revenue_minor"] == 2000'
api GET "/v1/customers/anon-1?anonymous=1&timeline=0"
jcheck "anon-1 after unmerge" <<<'j["id"] == "anon-1" and j["anonymous"] is True and j["aggregates"]["revenue_minor"] == 1500 and j["consents"]["sms"] is True'
post track '{"userId":"dave","anonymousId":"anon-1","event":"Logged In"}' accepted
api GET "/v1/customers/dave?timeline=0"
jcheck "a later event with both ids does not merge again" <<<'j["identities"] == 1 and j["aggregates"]["orders"] == 1'
api POST /v1/customers/dave/unmerge ""
expect_code 404 "nothing left to unmerge"
api POST /v1/customers/nobody/unmerge ""
expect_code 404 "unmerge of an unknown customer"
api POST /v1/customers/dave/unmerge '{"anonymousId":7}'
expect_code 400 "unmerge with a bad body"
post alias '{"userId":"dave","previousId":"anon-1"}' accepted
api GET "/v1/customers/dave?timeline=0"
jcheck "an explicit alias merges again" <<<'j["identities"] == 2 and j["aggregates"]["revenue_minor"] == 3500'
post track '{"anonymousId":"anon-2","event":"Order Completed","timestamp":"2026-02-01T00:00:00Z","properties":{"order_id":"o-a2","revenue":7}}' accepted
post track '{"userId":"erin","event":"Order Completed","timestamp":"2026-02-03T00:00:00Z","properties":{"order_id":"o-e1","revenue":5}}' accepted
post alias '{"userId":"erin","previousId":"anon-2"}' accepted
api GET "/v1/customers/erin/export"
jcheck "alias merged anon-2 into erin" <<<'j["identities"] == 2 and j["aggregates"]["revenue_minor"] == 1200 and [m["reason"] for m in j["held"]["merges"]] == ["alias"]'
pyrun <<<'print(j["held"]["merges"][0]["id"])'
MID=$(cat "$T/py.out")
api POST /v1/customers/erin/unmerge "{\"merge_id\":$MID}"
expect_code 200 "unmerge by merge_id"
api GET "/v1/customers/erin?timeline=0"
jcheck "erin after unmerge by merge_id" <<<'j["identities"] == 1 and j["aggregates"]["revenue_minor"] == 500'
post identify '{"userId":"frank","traits":{"plan":"gold"}}' accepted
post alias '{"userId":"erin","previousId":"frank"}' accepted
api GET "/v1/customers/frank?timeline=0"
jcheck "alias of two users: frank reads as erin" <<<'j["id"] == "erin" and j["identities"] == 2'
jcheck "the merged profile keeps frank's traits" <<<'j["traits"].get("plan") == "gold"'

# ---- CSV import ----
USERS+=(imp-1 imp-2)
cat >"$T/orders.csv" <<'EOF'
order_id,customer_id,ordered_at,amount
i-1,imp-1,2026-01-05T10:00:00Z,10.00
i-2,imp-1,2026-02-04T10:00:00Z,20.5
i-3,imp-2,2026-03-01,5
EOF
api POST /v1/import/orders "@$T/orders.csv" -H 'Content-Type: text/csv'
expect_code 200 "CSV import"
jcheck "CSV import answer" <<<'j == {"rows": 3, "orders": 3, "accepted": 3, "duplicates": 0}'
api GET "/v1/customers/imp-1?timeline=5"
jcheck "imported profile" <<'EOF'
j["aggregates"]["orders"] == 2 and j["aggregates"]["revenue_minor"] == 3050 and j["aggregates"]["average_days_between_orders"] == 30
j["aggregates"]["first_order_at"] == "2026-01-05T10:00:00Z" and j["aggregates"]["last_order_at"] == "2026-02-04T10:00:00Z"
[t["event"] for t in j["timeline"]] == ["Order Completed"] * 2
EOF
cp "$T/body" "$T/imp1.json"
api POST /v1/import/orders "@$T/orders.csv" -H 'Content-Type: text/csv'
jcheck "CSV import retried: all duplicates" <<<'j == {"rows": 3, "orders": 3, "accepted": 0, "duplicates": 3}'
api GET "/v1/customers/imp-1?timeline=5"
jcheck "imp-1 unchanged by the retry" <<<"strip(j, RANKS) == strip(load('$T/imp1.json'), RANKS)"
printf 'order_id,customer_id,ordered_at,amount\ni-4,imp-3,2026-01-05T10:00:00Z,1.00\ni-5,imp-3,2026-01-06T10:00:00Z,12.x5\n' >"$T/bad.csv"
api POST /v1/import/orders "@$T/bad.csv" -H 'Content-Type: text/csv'
expect_code 400 "CSV with a bad row"
jcheck "bad row: line and column" <<<'j["error"]["code"] == "invalid_csv" and j["error"]["line"] == 3 and j["error"]["column"] == 32 and j["error"]["field"] == "amount"'
api GET /v1/customers/imp-3
expect_code 404 "a bad CSV writes nothing"
api POST /v1/import/orders ""
expect_code 400 "empty CSV"
api POST "/v1/import/orders?layout=xls" "@$T/orders.csv"
expect_error 400 invalid_field '"layout"' "unknown layout"
USERS+=(17850 17851)
cat >"$T/uci.csv" <<'EOF'
InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country
536365,85123A,HEART HOLDER,6,2010-12-01 08:26:00,2.55,17850,United Kingdom
536365,71053,METAL LANTERN,6,2010-12-01 08:26:00,3.39,17850,United Kingdom
536366,22633,HAND WARMER,2,2010-12-02 09:00:00,1.25,17851,France
C536367,85123A,HEART HOLDER,-1,2010-12-03 10:00:00,2.55,17850,United Kingdom
EOF
api POST /v1/import/orders "@$T/uci.csv" -H 'Content-Type: text/csv'
expect_code 200 "UCI import"
jcheck "UCI import answer" <<<'j["orders"] == 2 and j["accepted"] == 2'
api GET "/v1/customers/17850?timeline=0"
jcheck "UCI order = sum of its lines" <<<'j["aggregates"]["orders"] == 1 and j["aggregates"]["gross_revenue_minor"] == 3564'

# ---- the customer list ----
cat >"$T/many.json" <<EOF
{"batch":[$(for i in $(seq -w 1 25); do printf '%s{"type":"identify","userId":"p-%s"}' "${sep-}" "$i"; sep=,; done)]}
EOF
for i in $(seq -w 1 25); do USERS+=("p-$i"); done
api GET /metrics
before=$(metric patron_customers "$T/body")
batch "$T/many.json"
jcheck "25 new customers" <<<'j["accepted"] == 25'
api GET /metrics
check "metrics: patron_customers grew by 25" test $(($(metric patron_customers "$T/body") - before)) -eq 25
printf '%s\n' "${USERS[@]}" | sort >"$T/users.want"
cursor=""
: >"$T/users.got"
pages=0
while :; do
    api GET "/v1/customers?limit=7${cursor:+&cursor=$cursor}"
    [[ $code == 200 ]] || break
    pyrun <<'EOF'
print(j["next_cursor"] or "")
for c in j["customers"]:
    print(c["id"] if len(j["customers"]) <= 7 and "timeline" not in c and "aggregates" in c else "!bad")
EOF
    cursor=$(head -1 "$T/py.out")
    tail -n +2 "$T/py.out" >>"$T/users.got"
    pages=$((pages + 1))
    [[ -n $cursor && $pages -lt 50 ]] || break
done
check "the list ended (next_cursor null) after $pages pages" test "$code" = 200 -a -z "$cursor"
check "no customer is listed twice: $(sort "$T/users.got" | uniq -d | tr '\n' ' ')" test -z "$(sort "$T/users.got" | uniq -d)"
check "every customer is listed: $(sort -u "$T/users.got" | comm -3 - "$T/users.want" | tr '\n' ' ')" \
    test -z "$(sort -u "$T/users.got" | comm -3 - "$T/users.want")"

# ---- erasure ----
api DELETE /v1/customers/bob
expect_code 200 "erase bob"
jcheck "erase answer" <<<'j == {"erased": True, "identities": 1}'
api GET /v1/customers/bob
expect_code 404 "bob is gone"
api DELETE /v1/customers/bob
expect_code 404 "erase twice"

# ---- restart on the same data: profiles identical ----
sleep 1.1 # let the live RFM boundaries catch up (--rfm-refresh 1)
snap() { # FILE: profiles, an export and the list, as this server answers them
    local p
    for p in "alice?" "dave?" "anon-1?anonymous=1&" "erin?" "frank?" "ivan?" "jack?" "kate?" \
        "imp-1?" "17850?" "yuki?" "dave/export?"; do
        api GET "/v1/customers/${p}timeline=50"
        [[ $code == 200 ]] || bad "snapshot: GET $p: HTTP $code"
        cat "$T/body"
        echo
    done >"$1"
    api GET "/v1/customers?limit=1000"
    cat "$T/body" >>"$1"
}
api GET /v1/customers/alice
snap "$T/before.jsonl"
stop_server main
start_server main2 --data "$D" --listen 127.0.0.1:0 --log off --rfm-refresh 1
snap "$T/after.jsonl"
jcheck "profiles identical after a restart" <<EOF
a = [strip(json.loads(l)) for l in open("$T/before.jsonl")]
b = [strip(json.loads(l)) for l in open("$T/after.jsonl")]
len(a) == 13 and len(b) == 13
first_diff(a, b) == "same"
EOF
api GET /v1/customers/bob
expect_code 404 "bob stays erased after a restart"
post track "$O1" duplicate
api GET /metrics
check "metrics (new server): the 14 requests so far are counted" test "$(metric 'patron_http_requests_total\{code="2xx"\}' "$T/body")" -ge 14
check "metrics: latency histogram counts them" test "$(metric patron_http_request_duration_seconds_count "$T/body")" -ge 14
check "metrics: one duplicate since the start" test "$(metric 'patron_events_total\{status="duplicate"\}' "$T/body")" -eq 1
check "metrics: idle queue" test "$(metric patron_queue_events "$T/body")" -eq 0
check "metrics (first server): 2xx counter grew" test $(($(metric 'patron_http_requests_total\{code="2xx"\}' "$T/m2.txt") - $(metric 'patron_http_requests_total\{code="2xx"\}' "$T/m0.txt"))) -ge 30
check "metrics (first server): 4xx counter grew" test $(($(metric 'patron_http_requests_total\{code="4xx"\}' "$T/m2.txt") - $(metric 'patron_http_requests_total\{code="4xx"\}' "$T/m0.txt"))) -ge 1
stop_server main2
finish_serve
