#!/usr/bin/env bash
# GDPR erasure: DELETE /v1/customers/{id} removes the person from memory, the
# store and everything derived; afterwards no identifying byte of theirs is
# left in the database files (the WAL included), and other customers are intact.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.sh"

data="$T/data"
key=$("$PATRON" shop create "Erase shop" --data "$data" --format json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
start_server main --data "$data" --listen 127.0.0.1:0 --log off
pid=$SPID
port=${URL##*:}
U="http://127.0.0.1:$port"
api() { curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $key" "$@"; }

# The person to erase: distinctive strings everywhere (ids, traits, events, orders).
who="Zofia-Erasable-7F3A"
api -d "{\"batch\":[
 {\"type\":\"track\",\"anonymousId\":\"anon-$who\",\"event\":\"Product Viewed\",\"messageId\":\"mv-$who\",
  \"properties\":{\"product_id\":\"prod-$who\",\"category\":\"cat-$who\",\"price\":5}},
 {\"type\":\"identify\",\"userId\":\"user-$who\",\"anonymousId\":\"anon-$who\",\"messageId\":\"mi-$who\",
  \"traits\":{\"email\":\"$who@example.com\",\"phone\":\"+48-$who\"}},
 {\"type\":\"track\",\"userId\":\"user-$who\",\"event\":\"Order Completed\",\"messageId\":\"mo-$who\",
  \"properties\":{\"order_id\":\"order-$who\",\"revenue\":99.5,
   \"products\":[{\"product_id\":\"prod-$who\",\"sku\":\"sku-$who\",\"category\":\"cat-$who\",\"price\":99.5}]}},
 {\"type\":\"alias\",\"userId\":\"user-$who\",\"previousId\":\"old-$who\",\"messageId\":\"ma-$who\"}
]}" $U/v1/batch >"$T/code"
check "the person's events are accepted" grep -q 200 "$T/code"
# Someone else, who must stay.
api -d '{"userId":"keep-1","event":"Order Completed","messageId":"keep-m1","properties":{"order_id":"keep-o1","revenue":12}}' $U/v1/track >/dev/null

code=$(api "$U/v1/customers/user-$who/export")
check "export answers 200" test "$code" = 200
check "export holds the traits" grep -q "$who@example.com" "$T/body"
check "export holds the order" grep -q "order-$who" "$T/body"
check "export holds the anonymous identity" grep -q "anon-$who" "$T/body"
for f in "$data"/patron.db*; do cat "$f"; done >"$T/before.bin"
check "before erasure the database holds the person" grep -aq "$who" "$T/before.bin"

code=$(api -X DELETE "$U/v1/customers/user-$who")
check "DELETE answers 200 ($code)" test "$code" = 200
check "DELETE reports the identities erased" python3 -c "import json;d=json.load(open('$T/body'));assert d['erased'] is True and d['identities']==3, d"
code=$(api "$U/v1/customers/user-$who")
check "the profile is gone (404, got $code)" test "$code" = 404
code=$(api "$U/v1/customers/anon-$who?anonymous=1")
check "the anonymous profile is gone (404, got $code)" test "$code" = 404
code=$(api "$U/v1/customers/keep-1")
check "another customer is intact" test "$code" = 200
check "another customer's order is intact" python3 -c "import json;d=json.load(open('$T/body'));assert d['aggregates']['orders']==1, d"

# While the server still runs: no byte of the person in any database file.
for f in "$data"/patron.db*; do cat "$f"; done >"$T/after.bin"
n=$(grep -ac "$who" "$T/after.bin")
check "no trace in the database files while serving ($n lines hold it)" test "$n" -eq 0
check "the other customer is still in the files" grep -aq "keep-o1" "$T/after.bin"

# A new event with the same id makes a new, empty profile (nothing resurrected).
api -d "{\"userId\":\"user-$who\",\"event\":\"Store Visited\",\"properties\":{\"store_id\":\"s1\"}}" $U/v1/track >/dev/null
code=$(api "$U/v1/customers/user-$who")
check "a later event makes a fresh profile" python3 -c "import json;d=json.load(open('$T/body'));assert d['aggregates']['orders']==0 and d['traits']=={} and d['identities']==1, d"
api -X DELETE "$U/v1/customers/user-$who" >/dev/null

stop_server main
finish_serve
