#!/usr/bin/env bash
# Tenancy of `patron serve`: two shops with the same userIds. Shop A's key can
# neither read B's customers (404, not 403, and nothing of B in the body) nor
# write them (events land in A); list, export, erase, unmerge and import through
# A never touch B. A rotated key stops working at once on the running server.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/serve_lib.sh"

D="$T/data"
cli a shop create "Shop A" --data "$D" --format json
expect_status 0 "create shop A"
A_KEY=$(key_of "$T/out")
A_ID=$(shop_of "$T/out")
cli b shop create "Shop B" --data "$D" --format json
expect_status 0 "create shop B"
B_KEY=$(key_of "$T/out")
check "two different keys" test -n "$A_KEY" -a -n "$B_KEY" -a "$A_KEY" != "$B_KEY"
start_server main --data "$D" --listen 127.0.0.1:0 --log off --rfm-refresh 1

# What B holds that A must never see.
NOLEAK='"b-secret" not in raw and "Bee City" not in raw and "B Secret Event" not in raw and "9999" not in raw and "B Cat" not in raw'

# ---- shop B's data ----
KEY=$B_KEY post identify '{"messageId":"m-1","userId":"shared","traits":{"email":"b-secret@example.com","city":"Bee City"}}' accepted
KEY=$B_KEY post track '{"messageId":"m-2","userId":"shared","event":"Order Completed","timestamp":"2026-03-01T00:00:00Z","properties":{"order_id":"ord-1","revenue":99.99,"products":[{"product_id":"b-p","category":"B Cat","price":99.99}]}}' accepted
KEY=$B_KEY post track '{"messageId":"m-3","userId":"shared","event":"B Secret Event","properties":{"note":"b-secret"}}' accepted
KEY=$B_KEY post track '{"messageId":"m-4","anonymousId":"anon-s","event":"Order Completed","timestamp":"2026-03-05T00:00:00Z","properties":{"order_id":"b-ord-2","revenue":99.99}}' accepted
KEY=$B_KEY post identify '{"messageId":"m-5","userId":"shared","anonymousId":"anon-s"}' accepted
KEY=$B_KEY post track '{"messageId":"m-6","userId":"bonly","event":"Order Completed","properties":{"order_id":"b-ord-3","revenue":99.99}}' accepted
KEY=$B_KEY post track '{"messageId":"m-7","userId":"bonly2","event":"Consent Changed","properties":{"consents":{"sms":true}}}' accepted
KEY=$B_KEY api GET /v1/customers/shared/export
expect_code 200 "B exports shared"
cp "$T/body" "$T/b_shared_export.json"
jcheck "B's shared: merged, two orders" <<'EOF'
j["identities"] == 2 and j["aggregates"]["orders"] == 2 and j["aggregates"]["revenue_minor"] == 19998
len(j["held"]["merges"]) == 1
EOF
pyrun "$T/b_shared_export.json" <<<'print(j["held"]["merges"][0]["id"])'
B_MERGE=$(cat "$T/py.out")

# B's view of its customers, to compare after everything A does
B_PATHS=("shared?timeline=50" "bonly?timeline=50" "bonly2?timeline=50" "anon-s?anonymous=1&timeline=50" "shared/export?")
b_snapshot() { # FILE
    local p
    for p in "${B_PATHS[@]}"; do
        KEY=$B_KEY api GET "/v1/customers/$p"
        [[ $code == 200 ]] || bad "B snapshot: GET $p: HTTP $code"
        cat "$T/body"
        echo
    done >"$1"
    KEY=$B_KEY api GET "/v1/customers?limit=1000"
    cat "$T/body" >>"$1"
}
b_same() { # NAME FILE-BEFORE
    b_snapshot "$T/b_now.jsonl"
    jcheck "$1: B's data unchanged" <<EOF
a = [strip(json.loads(l), RANKS) for l in open("$2")]
b = [strip(json.loads(l), RANKS) for l in open("$T/b_now.jsonl")]
len(a) == len(b) == ${#B_PATHS[@]} + 1
first_diff(a, b) == "same"
EOF
}
b_snapshot "$T/b0.jsonl"

# ---- A writes the same ids: they land in A, as A's own ----
KEY=$A_KEY post identify '{"messageId":"m-1","userId":"shared","traits":{"email":"a@example.com"}}' accepted
KEY=$A_KEY post track '{"messageId":"m-2","userId":"shared","event":"Order Completed","timestamp":"2026-04-01T00:00:00Z","properties":{"order_id":"ord-1","revenue":10}}' accepted
KEY=$A_KEY post track '{"messageId":"a-3","userId":"bonly","event":"Product Added","properties":{"product_id":"a-p","price":1}}' accepted
KEY=$A_KEY api POST /v1/batch '{"batch":[{"type":"track","messageId":"m-6","userId":"bonly","event":"Order Completed","properties":{"order_id":"b-ord-3","revenue":5}}]}'
jcheck "A's batch with B's messageId and order_id: accepted in A" <<<'j["accepted"] == 1 and j["duplicates"] == 0'
KEY=$A_KEY api GET "/v1/customers/shared?timeline=50"
expect_code 200 "A reads its shared"
jcheck "A's shared is A's only" <<EOF
j["id"] == "shared" and j["identities"] == 1
j["traits"] == {"email": "a@example.com"}
j["aggregates"]["orders"] == 1 and j["aggregates"]["revenue_minor"] == 1000 and j["aggregates"]["favourite_categories"] == []
j["consents"] == {"email_marketing": None, "sms": None, "profiling": None}
[t["body"]["messageId"] for t in j["timeline"]] == ["m-1", "m-2"]
$NOLEAK
EOF
KEY=$A_KEY api GET "/v1/customers/bonly?timeline=50"
jcheck "A's bonly holds A's two events only" <<EOF
j["aggregates"]["orders"] == 1 and j["aggregates"]["revenue_minor"] == 500 and len(j["timeline"]) == 2
$NOLEAK
EOF
b_same "A's writes with B's ids" "$T/b0.jsonl"

# ---- A cannot read B's customers: 404, nothing of B in the body ----
for p in "bonly2" "anon-s?anonymous=1" "bonly2/export" "anon-s/export?anonymous=1"; do
    KEY=$A_KEY api GET "/v1/customers/$p"
    expect_code 404 "A reads B's $p"
    jcheck "A reads B's $p: the 404 body" <<EOF
err("not_found", "id")
$NOLEAK and "sms" not in raw
EOF
done
KEY=$A_KEY api GET /v1/customers/shared/export
expect_code 200 "A exports its shared"
jcheck "A's export holds nothing of B" <<EOF
len(j["held"]["identities"]) == 1 and [e["body"]["messageId"] for e in j["held"]["events"]] == ["m-1", "m-2"]
[o["order_id"] for o in j["held"]["orders"]] == ["ord-1"] and j["held"]["orders"][0]["amount"] == 1000
j["held"]["merges"] == [] and j["held"]["order_lines"] == []
$NOLEAK
EOF
KEY=$A_KEY api GET "/v1/customers?limit=1000"
expect_code 200 "A lists"
jcheck "A's list: A's customers only" <<EOF
sorted(c["id"] for c in j["customers"]) == ["bonly", "shared"] and j["next_cursor"] is None
$NOLEAK
EOF
KEY=$A_KEY api GET "/v1/customers?limit=1"
pyrun <<<'print(j["next_cursor"] or "")'
A_CUR=$(cat "$T/py.out")
: >"$T/a_ids"
cur=""
for _ in 1 2 3 4; do
    KEY=$A_KEY api GET "/v1/customers?limit=1${cur:+&cursor=$cur}"
    pyrun <<<'print(j["next_cursor"] or ""); [print(c["id"]) for c in j["customers"]]'
    cur=$(head -1 "$T/py.out")
    tail -n +2 "$T/py.out" >>"$T/a_ids"
    [[ -n $cur ]] || break
done
check "A's pages of one: shared and bonly, once each ($(tr '\n' ' ' <"$T/a_ids"))" test "$(sort "$T/a_ids" | tr '\n' ' ')" = "bonly shared "
KEY=$B_KEY api GET "/v1/customers?limit=1"
pyrun <<<'print(j["next_cursor"] or "")'
B_CUR=$(cat "$T/py.out")
KEY=$A_KEY api GET "/v1/customers?limit=1000&cursor=$B_CUR"
expect_code 200 "A lists from a cursor B was given"
jcheck "B's cursor shows A's customers only" <<EOF
set(c["id"] for c in j["customers"]) <= {"bonly", "shared"}
$NOLEAK
EOF
check "A got a cursor" test -n "$A_CUR"

# ---- A cannot unmerge, erase or import into B ----
KEY=$A_KEY api POST /v1/customers/shared/unmerge '{"anonymousId":"anon-s"}'
expect_code 404 "A unmerges B's merge by anonymousId"
jcheck "A's unmerge 404 body" <<<"$NOLEAK"
KEY=$A_KEY api POST /v1/customers/shared/unmerge "{\"merge_id\":$B_MERGE}"
expect_code 404 "A unmerges B's merge by merge_id"
KEY=$A_KEY api POST /v1/customers/shared/unmerge ""
expect_code 404 "A unmerges (nothing merged in A)"
KEY=$A_KEY api POST /v1/customers/bonly2/unmerge ""
expect_code 404 "A unmerges B-only customer"
KEY=$A_KEY api DELETE /v1/customers/bonly2
expect_code 404 "A erases B-only customer"
jcheck "A's erase 404 body" <<<"$NOLEAK"
printf 'order_id,customer_id,ordered_at,amount\nb-ord-2,shared,2026-05-01T00:00:00Z,3.00\nnew-1,bonly2,2026-05-02T00:00:00Z,4.00\n' >"$T/a.csv"
KEY=$A_KEY api POST /v1/import/orders "@$T/a.csv" -H 'Content-Type: text/csv'
expect_code 200 "A imports orders with B's order ids"
jcheck "A's import: accepted in A, no duplicates from B" <<<'j == {"rows": 2, "orders": 2, "accepted": 2, "duplicates": 0}'
KEY=$A_KEY api GET "/v1/customers/bonly2?timeline=5"
jcheck "A's bonly2 is A's new customer" <<EOF
j["aggregates"]["orders"] == 1 and j["aggregates"]["revenue_minor"] == 400 and j["consents"]["sms"] is None
$NOLEAK
EOF
b_same "after A's unmerges, erases and import" "$T/b0.jsonl"
KEY=$A_KEY api DELETE /v1/customers/shared
expect_code 200 "A erases its shared"
jcheck "A's erase: one identity" <<<'j == {"erased": True, "identities": 1}'
KEY=$A_KEY api GET /v1/customers/shared
expect_code 404 "A's shared is gone"
KEY=$B_KEY api GET /v1/customers/shared
expect_code 200 "B's shared is still there"
b_same "after A erased its shared" "$T/b0.jsonl"

# ---- B's operations do not touch A either ----
KEY=$B_KEY api POST /v1/customers/shared/unmerge '{"anonymousId":"anon-s"}'
expect_code 200 "B unmerges its own"
KEY=$A_KEY api GET "/v1/customers/bonly?timeline=50"
jcheck "A's bonly unchanged by B" <<<'j["aggregates"]["orders"] == 1 and j["aggregates"]["revenue_minor"] == 500'
KEY=$B_KEY api DELETE /v1/customers/bonly
expect_code 200 "B erases its bonly"
KEY=$A_KEY api GET "/v1/customers/bonly?timeline=0"
expect_code 200 "A's bonly survives B's erase"
B_PATHS=("shared?timeline=50" "bonly2?timeline=50" "anon-s?anonymous=1&timeline=50" "shared/export?")
b_snapshot "$T/b1.jsonl"

# ---- a shop created while the server runs; key rotation ----
cli c shop create "Shop C" --data "$D" --format json
C_KEY=$(key_of "$T/out")
KEY=$C_KEY api GET "/v1/customers?limit=5"
expect_code 200 "a shop created while serving works at once"
jcheck "C sees nobody" <<<'j == {"customers": [], "next_cursor": None}'
cli rot shop rotate-key "$A_ID" --data "$D" --format json
expect_status 0 "rotate A's key while serving"
A_NEW=$(key_of "$T/out")
KEY=$A_KEY api GET "/v1/customers/bonly?timeline=0"
expect_code 401 "A's old key, at once after the rotation (read)"
KEY=$A_KEY api POST /v1/track '{"userId":"bonly","event":"After Rotation"}'
expect_code 401 "A's old key, at once after the rotation (write)"
KEY=$A_NEW api GET "/v1/customers/bonly?timeline=50"
expect_code 200 "A's new key"
jcheck "the new key sees A's data" <<<'j["aggregates"]["revenue_minor"] == 500 and "After Rotation" not in raw'
KEY=$A_KEY api GET "/v1/customers/bonly?timeline=0"
expect_code 401 "A's old key after the new one was used"
KEY="" api GET "/v1/customers/bonly?timeline=0" "" -u "$A_KEY:"
expect_code 401 "A's old key as HTTP Basic"
KEY=$B_KEY api GET "/v1/customers/bonly2?timeline=0"
expect_code 200 "B's key unaffected by A's rotation"

# ---- restart: every shop sees what it saw ----
stop_server main
start_server main2 --data "$D" --listen 127.0.0.1:0 --log off
KEY=$A_KEY api GET /v1/customers
expect_code 401 "A's old key after a restart"
KEY=$A_NEW api GET "/v1/customers?limit=1000"
jcheck "A's list after a restart" <<<"sorted(c['id'] for c in j['customers']) == ['bonly', 'bonly2'] and $NOLEAK"
b_same "B after a restart" "$T/b1.jsonl"
stop_server main2
finish_serve
