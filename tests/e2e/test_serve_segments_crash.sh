#!/usr/bin/env bash
# Segments across a crash (SIGKILL, no clean shutdown, before any sweep):
# a new segment's first members get no Segment Entered event at the restart;
# a deleted segment's id is never given to another segment (its events on
# timelines keep meaning the deleted one, and are never replayed into a new
# one); the customers of a shop's first events enter its built-in segments
# with events.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.sh"

data="$T/data"
key=$("$PATRON" shop create "Crash seg shop" --data "$data" --format json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
check "shop created" test -n "$key"
KEY=$key

order() { # USER ORDER_ID REVENUE
    post track "{\"userId\":\"$1\",\"messageId\":\"m-$2\",\"event\":\"Order Completed\",\"timestamp\":\"$(ts 86400)\",\"properties\":{\"order_id\":\"$2\",\"revenue\":$3}}" accepted
}
seg_events() { # USER SEGMENT_ID: "Entered/Exited ..." lines of that segment on the timeline
    sqlite3 "$data/patron.db" "SELECT b.body FROM events e JOIN event_bodies b ON b.seq = e.seq
        JOIN customers c ON c.id = e.customer WHERE c.ext_id = '$1' AND e.segment = $2
        ORDER BY e.seq" | python3 -c '
import json, sys
for l in sys.stdin:
    b = json.loads(l)
    print(b["event"].split()[-1], b["properties"]["segment"])'
}

start_server s1 --data "$data" --listen 127.0.0.1:0 --log off
order u1 o1 10
api POST /v1/segments '{"name":"A","rule":"orders >= 1"}'
expect_code 201 "segment A saved"
ida=$(python3 -c 'import json; print(json.load(open("'"$T/body"'"))["id"])')
order u2 o2 20
check "u2 entered A live" test "$(seg_events u2 "$ida")" = "Entered A"
kill -9 "$SPID"
wait "$SPID" 2>/dev/null

start_server s2 --data "$data" --listen 127.0.0.1:0 --log off
api GET "/v1/segments/$ida"
jcheck "A after the crash" <<<'j["count"] == 2'
check "u1, a first member, has no Entered event after the crash" test -z "$(seg_events u1 "$ida")"
check "u2's entry is recorded once" test "$(seg_events u2 "$ida")" = "Entered A"

# delete A, save B: B gets a new id, and A's events stay A's
api DELETE "/v1/segments/$ida"
expect_code 200 "A deleted"
api POST /v1/segments '{"name":"B","rule":"orders >= 5"}'
expect_code 201 "segment B saved"
idb=$(python3 -c 'import json; print(json.load(open("'"$T/body"'"))["id"])')
check "a deleted segment's id is not given again ($ida, $idb)" test "$idb" -gt "$ida"
kill -9 "$SPID"
wait "$SPID" 2>/dev/null

start_server s3 --data "$data" --listen 127.0.0.1:0 --log off
api GET "/v1/segments/$idb"
jcheck "B after the crash" <<<'j["count"] == 0 and j["name"] == "B"'
check "no event of B for u1 or u2" test -z "$(seg_events u1 "$idb")$(seg_events u2 "$idb")"
check "A's events stay A's" test "$(seg_events u2 "$ida")" = "Entered A"

# a shop created while the server runs: its first customers enter its built-ins with events
key2=$("$PATRON" shop create "Second shop" --data "$data" --format json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
KEY=$key2
order w1 p1 10
api GET /v1/segments
new_id=$(python3 -c 'import json; print([s["id"] for s in json.load(open("'"$T/body"'"))["segments"] if s["builtin"] == "type:new"][0])')
check "the new shop's first customer entered New customers with an event" \
    test "$(seg_events w1 "$new_id")" = "Entered New customers"
stop_server s3
finish_serve
