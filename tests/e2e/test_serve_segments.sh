#!/usr/bin/env bash
# /v1/segments end to end against a real `patron serve`: saving, listing and
# reading segments (built-ins included), rule and body errors with their
# positions, 401/404/405/409/413, two shops that cannot see each other's
# segments, live membership right after each event with Segment Entered /
# Exited on the timeline (jall), preview == saved segment, members pages and
# CSV, daily counts, rename / new rule / delete, windowed and behaviour rules
# with exact member sets, past timestamps against now, /metrics, a restart on
# the same data that changes nothing (no duplicate segment events), then a merge
# and an erasure. A shop created while the server runs must get its built-ins
# with its first event (docs/api.yaml).
# Time-driven entry (days passing) is covered by tests/unit/test_segments.c.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/serve_lib.sh"

day=86400
D="$T/data"
today() { date -u +%F; } # UTC day now (the counts are per UTC day)

# esc TEXT: TEXT as the inside of a JSON string.
esc() {
    local s=${1//\\/\\\\}
    s=${s//\"/\\\"}
    s=${s//$'\n'/\\n}
    s=${s//$'\t'/\\t}
    printf '%s' "$s"
}
# seg_post NAME RULE: POST /v1/segments; the new id in $SID (empty on failure).
seg_post() {
    api POST /v1/segments "{\"name\":\"$(esc "$1")\",\"rule\":\"$(esc "$2")\"}"
    SID=""
    if [[ $code == 201 ]]; then
        ok
        pyrun <<<'print(j["id"])'
        SID=$(cat "$T/py.out")
    else
        bad "POST /v1/segments $1: HTTP $code $(head -c 300 "$T/body")"
    fi
}
# expect_members ID PYLIST NAME: the members (all pages of 10000) are exactly
# these ids, and GET /v1/segments/ID has that count.
expect_members() {
    api GET "/v1/segments/$1/members?limit=10000"
    expect_code 200 "$3: members"
    jcheck "$3: members" <<EOF
sorted(m.get("userId", m.get("anonymousId")) for m in j["members"]) == sorted([$2])
j["next_cursor"] is None and all(len(m) == 1 for m in j["members"])
EOF
    api GET "/v1/segments/$1"
    jcheck "$3: count" <<<"j['count'] == len([$2])"
}
# A function for the checks: the engine's segment events on a timeline,
# newest first, as (event, properties), only those of segment sid if given.
pyrun /dev/null <<'EOF'
import __main__
def segev(doc, sid=None):
    return [(t["event"], t["body"]["properties"]) for t in doc["timeline"]
            if is_seg_event(t) and (sid is None or t["body"]["properties"]["segment_id"] == sid)]
__main__.segev = segev
EOF

# ---- two shops; B's key must never see A's segments ----
cli a shop create "Seg Shop A" --data "$D" --format json
expect_status 0 "create shop A"
A_KEY=$(key_of "$T/out")
cli b shop create "Seg Shop B" --data "$D" --format json
expect_status 0 "create shop B"
B_KEY=$(key_of "$T/out")
KEY=$A_KEY
start_server main --data "$D" --listen 127.0.0.1:0 --log off --rfm-refresh 1

# ---- the built-ins ----
api GET /v1/segments
expect_code 200 "GET /v1/segments"
cp "$T/body" "$T/list0.json"
jcheck "built-in segments" <<'EOF'
RFM = ["Champions", "Loyal Customers", "Potential Loyalists", "New Customers", "Promising", "Need Attention", "About to Sleep", "At Risk", "Can't Lose Them", "Hibernating", "Lost"]
TYPES = [("type:best", "Best customers"), ("type:regulars", "Regulars"), ("type:occasional", "Occasional buyers"), ("type:deal_hunters", "Deal hunters"), ("type:new", "New customers"), ("type:lapsed", "Lapsed customers")]
s = j["segments"]
len(s) == 17
[x["builtin"] for x in s] == ["rfm:" + n for n in RFM] + [k for k, _ in TYPES]
[x["name"] for x in s] == ["RFM: " + n for n in RFM] + [n for _, n in TYPES]
[x["rule"] for x in s[:11]] == ['rfm.segment = "%s"' % n for n in RFM]
s[11]["rule"] == "rfm.r >= 4 and rfm.f >= 4 and rfm.m >= 4"
s[14]["rule"] == "orders >= 3 and discount_share >= 0.5"
[x["id"] for x in s] == sorted(x["id"] for x in s) and len(set(x["id"] for x in s)) == 17
all(sorted(x) == ["builtin", "count", "created", "id", "name", "rule", "updated"] for x in s)
all(x["count"] == 0 for x in s)
EOF
KEY=$B_KEY api GET /v1/segments
cp "$T/body" "$T/listB0.json"
jcheck "B has its own 17 built-ins" <<EOF
len(j["segments"]) == 17 and all(x["builtin"] for x in j["segments"])
not set(x["id"] for x in j["segments"]) & set(x["id"] for x in load("$T/list0.json")["segments"])
EOF
pyrun "$T/list0.json" <<<'print(j["segments"][0]["id"]); print(j["segments"][14]["id"])'
A_RFM=$(sed -n 1p "$T/py.out")
A_DEAL=$(sed -n 2p "$T/py.out")

# ---- shop A's customers ----
cat >"$T/c.json" <<EOF
{"batch":[
{"type":"track","messageId":"c1-o","userId":"c1","event":"Order Completed","timestamp":"$(ts $((3 * day)))","properties":{"order_id":"o-c1","revenue":150}},
{"type":"track","messageId":"c2-o","userId":"c2","event":"Order Completed","timestamp":"$(ts $((3 * day)))","properties":{"order_id":"o-c2","revenue":50}},
{"type":"track","messageId":"c3-o1","userId":"c3","event":"Order Completed","timestamp":"$(ts $((4 * day)))","properties":{"order_id":"o-c3a","revenue":60}},
{"type":"track","messageId":"c3-o2","userId":"c3","event":"Order Completed","timestamp":"$(ts $((3 * day)))","properties":{"order_id":"o-c3b","revenue":"60.00"}},
{"type":"track","messageId":"c4-o","userId":"c4","event":"Order Completed","timestamp":"$(ts $((3 * day)))","properties":{"order_id":"o-c4","revenue":100}},
{"type":"track","messageId":"c5-o","userId":"c5","event":"Order Completed","timestamp":"$(ts $((3 * day)))","properties":{"order_id":"o-c5","revenue":99.99}},
{"type":"track","messageId":"c6-o","userId":"c6","event":"Order Completed","timestamp":"$(ts $((3 * day)))","properties":{"order_id":"o-c6","total":300}},
{"type":"track","messageId":"a1-o","anonymousId":"anon-1","event":"Order Completed","timestamp":"$(ts $((3 * day)))","properties":{"order_id":"o-a1","revenue":200}},
{"type":"track","messageId":"q-o","userId":"q\"u,ote","event":"Order Completed","timestamp":"$(ts $((3 * day)))","properties":{"order_id":"o-q","revenue":120}},
{"type":"identify","messageId":"c7-i","userId":"c7","traits":{"plan":"free"}}
]}
EOF
batch "$T/c.json"
jcheck "customers batch" <<<'j["accepted"] == 10'

# ---- save a segment ----
api GET /metrics
cp "$T/body" "$T/m0.txt"
seg_post "Big spenders" "revenue >= 100"
S1=$SID
cp "$T/body" "$T/s1.json"
BIG="'c1', 'c3', 'c4', 'c6', 'anon-1', 'q\"u,ote'"
jcheck "POST /v1/segments: 201 body" <<EOF
sorted(j) == ["builtin", "count", "created", "id", "name", "rule", "updated"]
isinstance(j["id"], int) and j["id"] > max(x["id"] for x in load("$T/list0.json")["segments"])
j["name"] == "Big spenders" and j["rule"] == "revenue >= 100" and j["builtin"] is None
j["count"] == 6
j["created"] == j["updated"] and NOW - 5 <= secs(j["created"]) <= NOW + 120
EOF
check "201 is JSON" grep -qi '^content-type: application/json' "$T/hdr"
api GET "/v1/segments/$S1"
expect_code 200 "GET /v1/segments/{id}"
jcheck "GET /v1/segments/{id} = the POST answer" <<<"j == load('$T/s1.json')"
expect_members "$S1" "$BIG" "Big spenders at save"
api GET /v1/segments
jcheck "list: built-ins, then the new segment, in id order" <<EOF
[x["id"] for x in j["segments"]] == [x["id"] for x in load("$T/list0.json")["segments"]] + [$S1]
j["segments"][-1] == load("$T/s1.json")
EOF
api GET "/v1/customers/c1?timeline=50"
jcheck "members at save get no Segment Entered" <<<"segev(jall, $S1) == []"
api GET "/v1/segments/$S1/counts"
expect_code 200 "counts"
jcheck "counts: today with the count at save" <<<"j == {'id': $S1, 'days': [{'date': '$(today)', 'count': 6}]}"
api GET "/v1/segments/$S1/counts?days=1"
jcheck "counts?days=1" <<<"j['days'] == [{'date': '$(today)', 'count': 6}]"
for q in days=0 days=3661 days=x "days=-1"; do
    api GET "/v1/segments/$S1/counts?$q"
    expect_error 400 invalid_field '"days"' "counts?$q"
done
seg_post "Repeat buyers" "orders >= 2"
S2=$SID
expect_members "$S2" "'c3'" "Repeat buyers"

# ---- bad rules and bodies: 400 / 413, nothing saved ----
api GET /v1/segments
cp "$T/body" "$T/list1.json"
api POST /v1/segments '{"name":"x","rule":"days_since_last_oder > 3"}'
expect_code 400 "unknown attribute"
jcheck "unknown attribute: position and suggestion" <<'EOF'
j["error"]["code"] == "invalid_rule" and j["error"]["field"] == "rule"
j["error"]["line"] == 1 and j["error"]["column"] == 1
j["error"]["message"].startswith("1:1: ") and "did you mean days_since_last_order" in j["error"]["message"]
EOF
api POST /v1/segments '{"name":"x","rule":"days_since_last_order > 30d"}'
expect_code 400 "type mismatch"
jcheck "type mismatch: position and hint" <<'EOF'
j["error"]["code"] == "invalid_rule" and j["error"]["line"] == 1 and j["error"]["column"] == 23
"cannot compare a number with a duration" in j["error"]["message"] and "not 30d" in j["error"]["message"]
EOF
api POST /v1/segments '{"name":"x","rule":"orders >= 3\n  and revenue >> 5"}'
expect_code 400 "syntax error on line 2"
jcheck "syntax error on line 2: position" <<'EOF'
j["error"]["code"] == "invalid_rule" and j["error"]["line"] == 2 and j["error"]["column"] == 16
j["error"]["message"].startswith("2:16: ")
EOF
api POST /v1/segments '{"name":"x","rule":"orders >= 3 and\nbought(event = \"Product Viewed\")"}'
expect_code 400 "bought with an event argument"
jcheck "bought(event=...): the hint" <<<'j["error"]["line"] == 2 and "use count(event" in j["error"]["message"]'
api POST /v1/segments '{"name":"x","rule":"orders"}'
expect_code 400 "a number is no condition"
jcheck "a number is no condition" <<<'j["error"]["code"] == "invalid_rule" and j["error"]["line"] == 1'
pyrun <<EOF
json.dump({"name": "huge", "rule": "orders >= 1" + " " * 69989}, open(T + "/huge.json", "w"))
json.dump({"name": "n" * 201, "rule": "orders >= 1"}, open(T + "/long.json", "w"))
json.dump({"name": "é" * 101, "rule": "orders >= 1"}, open(T + "/longu.json", "w"))
json.dump({"rule": "orders >= 1" + " " * 69989}, open(T + "/hugep.json", "w"))
EOF
check "the huge rule is 70,000 bytes" test "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["rule"]))' "$T/huge.json")" -eq 70000
api POST /v1/segments "@$T/huge.json"
expect_code 413 "rule of 70,000 bytes"
jcheck "rule over the limit: invalid_rule with a position" <<'EOF'
j["error"]["code"] == "invalid_rule" and j["error"]["field"] == "rule" and j["error"]["line"] == 1 and j["error"]["column"] >= 1
"65536" in j["error"]["message"]
EOF
api POST /v1/segments "@$T/long.json"
expect_error 400 invalid_field '"name"' "name of 201 bytes"
api POST /v1/segments "@$T/longu.json"
expect_error 400 invalid_field '"name"' "name of 101 two-byte characters (202 bytes)"
while IFS='|' read -r body want_err want_field; do
    api POST /v1/segments "$body"
    expect_error 400 "$want_err" "$want_field" "POST /v1/segments $body"
done <<'EOF'
{"rule":"orders >= 1"}|missing_field|"name"
{"name":"x"}|missing_field|"rule"
{"name":"","rule":"orders >= 1"}|invalid_field|"name"
{"name":7,"rule":"orders >= 1"}|invalid_field|"name"
{"name":"x","rule":["orders >= 1"]}|invalid_field|"rule"
{"name":"x","rule":|invalid_json|None
["name","rule"]|invalid_json|None
not json|invalid_json|None
EOF
api POST /v1/segments ""
expect_code 400 "empty body"
api GET /v1/segments
jcheck "no error saved anything" <<<"j == load('$T/list1.json')"

# ---- 404, 405, 409, 401 ----
for p in /v1/segments/999999 /v1/segments/0 /v1/segments/abc /v1/segments/-1 /v1/segments/+1 \
    /v1/segments/999999/members /v1/segments/999999/members.csv /v1/segments/999999/counts \
    "/v1/segments/$S1/nope" "/v1/segments/$S1/members/x"; do
    api GET "$p"
    expect_code 404 "GET $p"
    jcheck "GET $p: not_found" <<<'j["error"]["code"] == "not_found"'
done
api PUT /v1/segments/999999 '{"name":"x","rule":"orders >= 1"}'
expect_error 404 not_found None "PUT of an unknown id"
api PATCH /v1/segments/999999 '{"name":"x"}'
expect_error 404 not_found None "PATCH of an unknown id"
api DELETE /v1/segments/999999
expect_error 404 not_found None "DELETE of an unknown id"
for mp in "DELETE /v1/segments" "PUT /v1/segments" "PATCH /v1/segments" "GET /v1/segments/preview" \
    "PUT /v1/segments/preview" "GET /v1/segments/refresh" "POST /v1/segments/$S1" \
    "POST /v1/segments/$S1/members" "DELETE /v1/segments/$S1/members" "PUT /v1/segments/$S1/members.csv" \
    "POST /v1/segments/$S1/counts" "GET /v1/segments/$S1/refresh"; do
    api "${mp% *}" "${mp#* }"
    expect_error 405 method_not_allowed None "$mp"
done
pyrun "$T/list0.json" <<<'print(" ".join(str(x["id"]) for x in j["segments"] if x["builtin"] in ("rfm:Champions", "type:new", "type:lapsed")))'
for b in $(cat "$T/py.out"); do
    api PUT "/v1/segments/$b" '{"name":"mine","rule":"orders >= 1"}'
    expect_error 409 builtin None "PUT of built-in $b"
    api PATCH "/v1/segments/$b" '{"name":"mine"}'
    expect_error 409 builtin None "PATCH of built-in $b"
    api PATCH "/v1/segments/$b" '{"rule":"orders >= 1"}'
    expect_error 409 builtin None "PATCH of built-in $b's rule"
    api DELETE "/v1/segments/$b"
    expect_error 409 builtin None "DELETE of built-in $b"
done
api GET /v1/segments
jcheck "the built-ins are unchanged" <<<"j == load('$T/list1.json')"
for mp in "GET /v1/segments" "POST /v1/segments" "POST /v1/segments/preview" "GET /v1/segments/$S1" \
    "PATCH /v1/segments/$S1" "DELETE /v1/segments/$S1" "GET /v1/segments/$S1/members" \
    "GET /v1/segments/$S1/members.csv" "GET /v1/segments/$S1/counts" "POST /v1/segments/$S1/refresh"; do
    KEY="" api "${mp% *}" "${mp#* }" '{"name":"x","rule":"orders >= 1"}'
    expect_error 401 unauthorized None "no key: $mp"
    jcheck "no key: $mp: nothing of the shop" <<<'"Big spenders" not in raw and "c1" not in raw'
    KEY="ptk_0000000000000000_$(printf '0%.0s' {1..64})" api "${mp% *}" "${mp#* }"
    expect_code 401 "wrong key: $mp"
done
api GET "/v1/segments/$S1"
jcheck "S1 unchanged by the refused requests" <<<"j == load('$T/s1.json')"

# ---- live membership: entry and exit right after the event's answer ----
post track "{\"messageId\":\"c2-o2\",\"userId\":\"c2\",\"event\":\"Order Completed\",\"timestamp\":\"$(ts $((2 * day)))\",\"properties\":{\"order_id\":\"o-c2b\",\"revenue\":60}}" accepted
expect_members "$S1" "$BIG, 'c2'" "c2 enters at once (revenue 110)"
api GET "/v1/customers/c2?timeline=50"
expect_code 200 "c2's profile"
jcheck "c2's timeline: Segment Entered" <<EOF
segev(jall, $S1) == [("Segment Entered", {"segment_id": $S1, "segment": "Big spenders"})]
e = [t for t in jall["timeline"] if is_seg_event(t) and t["body"]["properties"]["segment_id"] == $S1][0]
e["type"] == "track" and e["body"]["type"] == "track" and e["body"]["userId"] == "c2" and "anonymousId" not in e["body"]
sorted(e["body"]) == ["event", "properties", "timestamp", "type", "userId"]
NOW - 5 <= secs(e["body"]["timestamp"]) <= NOW + 300 and e["timestamp"] == e["body"]["timestamp"]
[t["event"] for t in j["timeline"]] == ["Order Completed", "Order Completed"]
EOF
post track '{"messageId":"c2-r","userId":"c2","event":"Order Refunded","properties":{"order_id":"o-c2b","revenue":20}}' accepted
expect_members "$S1" "$BIG" "c2 leaves at once after a refund (revenue 90)"
api GET "/v1/customers/c2?timeline=50"
jcheck "c2's timeline: Segment Exited, newest first" <<EOF
segev(jall, $S1) == [("Segment Exited", {"segment_id": $S1, "segment": "Big spenders"}), ("Segment Entered", {"segment_id": $S1, "segment": "Big spenders"})]
EOF
post track '{"messageId":"a2-o","anonymousId":"anon-2","event":"Order Completed","properties":{"order_id":"o-a2","revenue":500}}' accepted
BIG="$BIG, 'anon-2'"
expect_members "$S1" "$BIG" "an anonymous visitor enters"
api GET "/v1/customers/anon-2?anonymous=1&timeline=50"
jcheck "anon-2's Segment Entered has anonymousId" <<EOF
segev(jall, $S1) == [("Segment Entered", {"segment_id": $S1, "segment": "Big spenders"})]
[t["body"].get("anonymousId") for t in jall["timeline"] if is_seg_event(t) and t["body"]["properties"]["segment_id"] == $S1] == ["anon-2"]
all("userId" not in t["body"] for t in jall["timeline"])
EOF
post track '{"messageId":"c1-dup","userId":"c1","event":"Order Completed","properties":{"order_id":"o-c1","revenue":150}}' duplicate
api GET "/v1/customers/c1?timeline=50"
jcheck "a duplicate order: no segment event" <<<"segev(jall, $S1) == []"
# a rule change that makes it false: Segment Exited with the segment's name
api PATCH "/v1/segments/$S2" '{"rule":"orders >= 3"}'
expect_code 200 "PATCH S2's rule"
jcheck "PATCH answer: new rule, no members" <<<"j['id'] == $S2 and j['name'] == 'Repeat buyers' and j['rule'] == 'orders >= 3' and j['count'] == 0"
expect_members "$S2" "" "Repeat buyers after the rule change"
api GET "/v1/customers/c3?timeline=50"
jcheck "c3: Segment Exited after the rule change" <<<"segev(jall, $S2) == [('Segment Exited', {'segment_id': $S2, 'segment': 'Repeat buyers'})]"

# ---- preview: the same count and members as the saved segment ----
api GET /v1/segments
cp "$T/body" "$T/list2.json"
api GET /metrics
check "metrics before preview" cp "$T/body" "$T/mp0.txt"
api GET "/v1/customers/c6?timeline=50"
cp "$T/body" "$T/c6.json"
api GET "/v1/segments/$S1/members?limit=10000"
cp "$T/body" "$T/s1m.json"
api POST /v1/segments/preview '{"rule":"revenue >= 100","sample":1000}'
expect_code 200 "preview"
jcheck "preview == saved segment (count, members in order)" <<EOF
sorted(j) == ["count", "sample"]
j["count"] == 7 == len(j["sample"])
j["sample"] == load("$T/s1m.json")["members"]
EOF
api POST /v1/segments/preview '{"rule":"revenue >= 100"}'
jcheck "preview: default sample of up to 20" <<<'j["count"] == 7 and len(j["sample"]) == 7'
api POST /v1/segments/preview '{"rule":"revenue >= 100","sample":2}'
jcheck "preview sample=2: the first two members" <<<"j['count'] == 7 and j['sample'] == load('$T/s1m.json')['members'][:2]"
api POST /v1/segments/preview '{"rule":"revenue >= 100","sample":0}'
jcheck "preview sample=0" <<<'j == {"sample": [], "count": 7}'
api POST /v1/segments/preview '{"rule":"orders >= 1 and\n  not (revenue >= 100)","sample":1000}'
jcheck "preview of a multi-line rule" <<<"sorted(m.get('userId', m.get('anonymousId')) for m in j['sample']) == ['c2', 'c5'] and j['count'] == 2"
api POST /v1/segments/preview '{"rule":"orders >= 1\nand revnue > 1"}'
expect_code 400 "preview of a bad rule"
jcheck "preview of a bad rule: invalid_rule, line 2" <<<'j["error"]["code"] == "invalid_rule" and j["error"]["line"] == 2 and j["error"]["column"] == 5 and "did you mean revenue" in j["error"]["message"]'
api POST /v1/segments/preview "@$T/hugep.json"
expect_code 413 "preview of a 70,000-byte rule"
while IFS='|' read -r body want_err want_field; do
    api POST /v1/segments/preview "$body"
    expect_error 400 "$want_err" "$want_field" "preview $body"
done <<'EOF'
{"sample":3}|missing_field|"rule"
{"rule":5}|invalid_field|"rule"
{"rule":"orders >= 1","sample":1001}|invalid_field|"sample"
{"rule":"orders >= 1","sample":-1}|invalid_field|"sample"
{"rule":"orders >= 1","sample":"3"}|invalid_field|"sample"
{"rule":|invalid_json|None
EOF
api GET /v1/segments
jcheck "preview saved nothing" <<<"j == load('$T/list2.json')"
api GET "/v1/customers/c6?timeline=50"
jcheck "preview wrote no event" <<<"jall['timeline'] == json.load(open('$T/c6.json'))['timeline']"
api GET /metrics
check "metrics: preview wrote no segment event" test "$(metric patron_segment_events_total "$T/body")" = "$(metric patron_segment_events_total "$T/mp0.txt")"
check "metrics: preview saved no segment" test "$(metric patron_segments "$T/body")" = "$(metric patron_segments "$T/mp0.txt")"

# ---- members: pages of 2, cursors, CSV ----
cursor=""
pages=0
: >"$T/pages.got"
while :; do
    api GET "/v1/segments/$S1/members?limit=2${cursor:+&cursor=$cursor}"
    [[ $code == 200 ]] || break
    pyrun <<'EOF'
print(j["next_cursor"] or "")
for m in j["members"]:
    print(json.dumps(m) if len(j["members"]) <= 2 else "!too many")
EOF
    cursor=$(head -1 "$T/py.out")
    tail -n +2 "$T/py.out" >>"$T/pages.got"
    pages=$((pages + 1))
    [[ -n $cursor && $pages -lt 20 ]] || break
done
check "members pages: HTTP 200 until next_cursor null" test "$code" = 200 -a -z "$cursor"
check "members pages: 4 pages of 2 for 7 members (got $pages)" test "$pages" -eq 4
jcheck "members pages: every member once, in order" <<EOF
[json.loads(l) for l in open("$T/pages.got")] == load("$T/s1m.json")["members"]
EOF
for q in cursor=abc cursor=-1 "cursor=" "cursor=1x"; do
    api GET "/v1/segments/$S1/members?$q"
    expect_error 400 invalid_field '"cursor"' "members?$q"
done
for q in limit=0 limit=10001 limit=x limit=-2 "limit="; do
    api GET "/v1/segments/$S1/members?$q"
    expect_error 400 invalid_field '"limit"' "members?$q"
done
api GET "/v1/segments/$S1/members?limit=10000"
jcheck "members?limit=10000: all" <<<"j == load('$T/s1m.json')"
api GET "/v1/segments/$S1/members"
jcheck "members default limit 100: all" <<<"j == load('$T/s1m.json')"
api GET "/v1/segments/$S1/members.csv"
expect_code 200 "members.csv"
cp "$T/body" "$T/s1.csv"
check "members.csv content type" grep -qi '^content-type: text/csv' "$T/hdr"
jcheck "members.csv: header, CRLF, quoting, kinds" <<EOF
b = open("$T/s1.csv", "rb").read()
ms = load("$T/s1m.json")["members"]
want = "customer_id,kind\r\n" + "".join('"%s",%s\r\n' % ((m.get("userId") or m["anonymousId"]).replace('"', '""'), "user" if "userId" in m else "anonymous") for m in ms)
b.decode("utf-8") == want
b.startswith(b"customer_id,kind\r\n") and b.endswith(b"\r\n") and b.count(b"\n") == b.count(b"\r\n") == 8
b'"q""u,ote",user\r\n' in b and b'"anon-1",anonymous\r\n' in b and b'"anon-2",anonymous\r\n' in b and b'"c1",user\r\n' in b
csv = __import__("csv")
list(csv.reader(io.StringIO(b.decode("utf-8"), newline=""))) == [["customer_id", "kind"]] + [[m.get("userId") or m["anonymousId"], "user" if "userId" in m else "anonymous"] for m in ms]
EOF
api GET "/v1/segments/$S2/members.csv"
check "members.csv of an empty segment: the header only" cmp -s "$T/body" <(printf 'customer_id,kind\r\n')

# ---- rename keeps members; a new rule changes them; delete ----
api GET "/v1/customers/c1?timeline=50"
cp "$T/body" "$T/c1.json"
api PATCH "/v1/segments/$S1" '{"name":"Big spenders 2026"}'
expect_code 200 "PATCH rename"
jcheck "rename answer" <<EOF
s = load("$T/s1.json")
j["id"] == $S1 and j["name"] == "Big spenders 2026" and j["rule"] == "revenue >= 100" and j["count"] == 7
j["created"] == s["created"] and secs(j["updated"]) >= secs(s["updated"])
EOF
api GET "/v1/segments/$S1/members?limit=10000"
jcheck "rename keeps the members" <<<"j == load('$T/s1m.json')"
api GET "/v1/customers/c1?timeline=50"
jcheck "rename writes no event" <<<"jall['timeline'] == json.load(open('$T/c1.json'))['timeline']"
post track '{"messageId":"c5-o2","userId":"c5","event":"Order Completed","properties":{"order_id":"o-c5b","revenue":10}}' accepted
expect_members "$S1" "$BIG, 'c5'" "c5 enters the renamed segment"
api GET "/v1/customers/c5?timeline=50"
jcheck "the event carries the new name" <<<"segev(jall, $S1) == [('Segment Entered', {'segment_id': $S1, 'segment': 'Big spenders 2026'})]"
api PATCH "/v1/segments/$S1" '{"rule":"revenue >= 150\n and"}'
expect_code 400 "PATCH with a bad rule"
jcheck "PATCH with a bad rule: position" <<<'j["error"]["code"] == "invalid_rule" and j["error"]["line"] == 2'
api PUT "/v1/segments/$S1" '{"name":"Big spenders 2026"}'
expect_error 400 missing_field '"rule"' "PUT without a rule"
api PUT "/v1/segments/$S1" '{"rule":"revenue >= 150"}'
expect_error 400 missing_field '"name"' "PUT without a name"
expect_members "$S1" "$BIG, 'c5'" "refused changes kept the members"
api PUT "/v1/segments/$S1" '{"name":"Big spenders 2026","rule":"revenue >= 150"}'
expect_code 200 "PUT with a new rule"
jcheck "PUT answer" <<<"j['rule'] == 'revenue >= 150' and j['name'] == 'Big spenders 2026' and j['count'] == 4"
BIG="'c1', 'c6', 'anon-1', 'anon-2'"
expect_members "$S1" "$BIG" "PUT with a new rule changes the members"
api GET "/v1/customers/c4?timeline=50"
jcheck "c4 left with the new rule" <<<"segev(jall, $S1) == [('Segment Exited', {'segment_id': $S1, 'segment': 'Big spenders 2026'})]"
api GET "/v1/customers/c1?timeline=50"
jcheck "c1 stayed: no event" <<<"segev(jall, $S1) == []"
api POST "/v1/segments/$S1/refresh"
expect_code 200 "refresh one segment"
jcheck "refresh answer" <<<'j == {"refreshed": True}'
expect_members "$S1" "$BIG" "refresh keeps exact members"
api POST /v1/segments/999999/refresh
expect_code 404 "refresh of an unknown id"
long=$(printf 'L%.0s' {1..200})
seg_post "$long" "orders >= 1"
SDEL=$SID
jcheck "a name of exactly 200 bytes is kept" <<<"j['name'] == 'L' * 200 and j['count'] == 9"
api DELETE "/v1/segments/$SDEL"
expect_code 200 "DELETE"
jcheck "DELETE answer" <<<"j == {'deleted': True, 'id': $SDEL}"
for p in "" /members /members.csv /counts; do
    api GET "/v1/segments/$SDEL$p"
    expect_error 404 not_found None "GET $p after DELETE"
done
api DELETE "/v1/segments/$SDEL"
expect_code 404 "DELETE twice"
api PATCH "/v1/segments/$SDEL" '{"name":"back"}'
expect_code 404 "PATCH after DELETE"
api GET /v1/segments
jcheck "the list after DELETE" <<<"$SDEL not in [x['id'] for x in j['segments']] and $S1 in [x['id'] for x in j['segments']]"

# ---- events timestamped in the past are evaluated against now ----
seg_post "Quiet 10 days" "days_since_last_order >= 10"
SQ=$SID
jcheck "nobody is quiet yet" <<<'j["count"] == 0'
seg_post "Active 30 days" "orders_in(30d) >= 1"
SA=$SID
post track "{\"messageId\":\"p1-o\",\"userId\":\"p1\",\"event\":\"Order Completed\",\"timestamp\":\"$(ts $((12 * day)))\",\"properties\":{\"order_id\":\"o-p1\",\"revenue\":5}}" accepted
expect_members "$SQ" "'p1'" "an order 12 days ago: quiet 10 days at once"
api GET "/v1/customers/p1?timeline=50"
jcheck "p1's Segment Entered for Quiet 10 days" <<<"segev(jall, $SQ) == [('Segment Entered', {'segment_id': $SQ, 'segment': 'Quiet 10 days'})]"
post track "{\"messageId\":\"p2-o\",\"userId\":\"p2\",\"event\":\"Order Completed\",\"timestamp\":\"$(ts $((5 * day)))\",\"properties\":{\"order_id\":\"o-p2\",\"revenue\":5}}" accepted
post track "{\"messageId\":\"p3-o\",\"userId\":\"p3\",\"event\":\"Order Completed\",\"timestamp\":\"$(ts $((40 * day)))\",\"properties\":{\"order_id\":\"o-p3\",\"revenue\":5}}" accepted
expect_members "$SQ" "'p1', 'p3'" "orders 5 and 40 days ago"
expect_members "$SA" "'c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'anon-1', 'anon-2', 'q\"u,ote', 'p1', 'p2'" "orders_in(30d): an order 40 days ago is out"
post track "{\"messageId\":\"p1-o2\",\"userId\":\"p1\",\"event\":\"Order Completed\",\"timestamp\":\"$(ts $((1 * day)))\",\"properties\":{\"order_id\":\"o-p1b\",\"revenue\":5}}" accepted
expect_members "$SQ" "'p3'" "p1 orders again: not quiet any more"
api GET "/v1/customers/p1?timeline=50"
jcheck "p1's Segment Exited" <<<"[e for e, _ in segev(jall, $SQ)] == ['Segment Exited', 'Segment Entered']"

# ---- windowed and behaviour rules: saved first, then the events ----
seg_post "Shoe browsers" 'count(event = "Product Viewed", category = "shoes", within = 7d) >= 2 and not bought(category = "shoes", within = 30d)'
SW1=$SID
seg_post "Cart and email" "cart.value >= 50 and consent.email"
SW2=$SID
seg_post "Pro plan" 'traits.plan = "pro"'
SW3=$SID
seg_post "Sporty" 'preference.style = "sport"'
SW4=$SID
seg_post "Wishers" "wishlist.count > 0"
SW5=$SID
seg_post "Five stars" 'count(event = "Review Written", rating = 5) >= 1'
SW6=$SID
seg_post "Deal lovers" "orders >= 2 and discount_share >= 0.5"
SW7=$SID
view() { # USER CATEGORY SECONDS-AGO N
    printf '{"type":"track","messageId":"v-%s-%s","userId":"%s","event":"Product Viewed","timestamp":"%s","properties":{"product_id":"pv-%s","category":"%s","price":20}},\n' \
        "$1" "$4" "$1" "$(ts "$3")" "$4" "$2"
}
order() { # USER ORDER-ID SECONDS-AGO CATEGORY [EXTRA-PROPERTIES]
    printf '{"type":"track","messageId":"o-%s","userId":"%s","event":"Order Completed","timestamp":"%s","properties":{"order_id":"%s","products":[{"product_id":"po-%s","category":"%s","price":10}]%s}},\n' \
        "$2" "$1" "$(ts "$3")" "$2" "$2" "$4" "${5-}"
}
{
    echo '{"batch":['
    view w1 shoes $((1 * day)) 1
    view w1 shoes $((2 * day)) 2
    view w2 shoes $((1 * day)) 1
    view w2 shoes $((2 * day)) 2
    order w2 w2-o $((10 * day)) shoes
    view w3 shoes $((1 * day)) 1
    view w3 shoes $((10 * day)) 2
    view w4 shoes $((1 * day)) 1
    view w4 shoes $((3 * day)) 2
    order w4 w4-o $((40 * day)) shoes
    view w5 hats $((1 * day)) 1
    view w5 hats $((2 * day)) 2
    view w6 shoes 3600 1
    view w6 shoes 7200 2
    view w6 shoes 10800 3
    order w6 w6-o $((5 * day)) socks
    view w29 Shoes $((1 * day)) 1
    view w29 Shoes $((2 * day)) 2
    cat <<EOF
{"type":"track","messageId":"k7","userId":"w7","event":"Product Added","properties":{"product_id":"k1","price":60}},
{"type":"track","messageId":"k7c","userId":"w7","event":"Consent Changed","properties":{"consents":{"email_marketing":true}}},
{"type":"track","messageId":"k8","userId":"w8","event":"Product Added","properties":{"product_id":"k1","price":60}},
{"type":"track","messageId":"k9","userId":"w9","event":"Product Added","properties":{"product_id":"k1","price":30}},
{"type":"track","messageId":"k9c","userId":"w9","event":"Consent Changed","properties":{"consents":{"email_marketing":true}}},
{"type":"track","messageId":"k10","userId":"w10","event":"Product Added","properties":{"product_id":"k1","price":80}},
{"type":"track","messageId":"k10c","userId":"w10","event":"Consent Changed","properties":{"consents":{"email_marketing":false,"sms":true}}},
{"type":"track","messageId":"k30","userId":"w30","event":"Product Added","properties":{"product_id":"k1","price":25,"quantity":2}},
{"type":"track","messageId":"k30c","userId":"w30","event":"Consent Changed","properties":{"purpose":"email_marketing","granted":true}},
{"type":"identify","messageId":"t11","userId":"w11","traits":{"plan":"pro"}},
{"type":"identify","messageId":"t12","userId":"w12","traits":{"plan":"free"}},
{"type":"identify","messageId":"t13a","userId":"w13","timestamp":"$(ts 200)","traits":{"plan":"pro"}},
{"type":"identify","messageId":"t13b","userId":"w13","timestamp":"$(ts 100)","traits":{"plan":"free"}},
{"type":"identify","messageId":"t14a","userId":"w14","timestamp":"$(ts 200)","traits":{"plan":"free"}},
{"type":"identify","messageId":"t14b","userId":"w14","timestamp":"$(ts 100)","traits":{"plan":"pro","email":"w14@example.com"}},
{"type":"identify","messageId":"t15","userId":"w15","traits":{"preferences":{"style":"sport"}}},
{"type":"identify","messageId":"t16","userId":"w16","traits":{"preferences":{"style":"classic"}}},
{"type":"identify","messageId":"t17","userId":"w17","traits":{"style":"sport"}},
{"type":"track","messageId":"l18","userId":"w18","event":"Product Added to Wishlist","properties":{"product_id":"p1"}},
{"type":"track","messageId":"l19a","userId":"w19","event":"Product Added to Wishlist","timestamp":"$(ts 200)","properties":{"product_id":"p1"}},
{"type":"track","messageId":"l19b","userId":"w19","event":"Product Removed from Wishlist","timestamp":"$(ts 100)","properties":{"product_id":"p1"}},
{"type":"track","messageId":"l20a","userId":"w20","event":"Product Added to Wishlist","timestamp":"$(ts 300)","properties":{"product_id":"p1"}},
{"type":"track","messageId":"l20b","userId":"w20","event":"Product Added to Wishlist","timestamp":"$(ts 200)","properties":{"product_id":"p2"}},
{"type":"track","messageId":"l20c","userId":"w20","event":"Product Removed from Wishlist","timestamp":"$(ts 100)","properties":{"product_id":"p1"}},
{"type":"track","messageId":"r21","userId":"w21","event":"Review Written","properties":{"product_id":"p1","rating":5}},
{"type":"track","messageId":"r22","userId":"w22","event":"Review Written","properties":{"product_id":"p1","rating":4}},
{"type":"track","messageId":"r23","userId":"w23","event":"Review Written","properties":{"product_id":"p1","rating":"5"}},
{"type":"track","messageId":"r24a","userId":"w24","event":"Review Written","properties":{"product_id":"p1","rating":4}},
{"type":"track","messageId":"r24b","userId":"w24","event":"Review Written","properties":{"product_id":"p2","rating":5.0}},
{"type":"track","messageId":"r31","userId":"w31","event":"Review Posted","properties":{"product_id":"p1","rating":5}},
EOF
    order w25 w25-a $((9 * day)) misc ',"coupon":"SAVE10"'
    order w25 w25-b $((8 * day)) misc
    order w26 w26-a $((9 * day)) misc
    order w26 w26-b $((8 * day)) misc
    order w27 w27-a $((9 * day)) misc ',"coupon":""'
    order w27 w27-b $((8 * day)) misc
    order w28 w28-a $((9 * day)) misc ',"discount":5'
    order w28 w28-b $((8 * day)) misc
    order w32 w32-a $((9 * day)) misc ',"coupon":"A"'
    order w32 w32-b $((8 * day)) misc ',"coupon":"B"'
    order w33 w33-a $((9 * day)) misc ',"coupon":"A"'
    echo '{"type":"identify","messageId":"end","userId":"w34"}'
    echo ']}'
} >"$T/w.json"
batch "$T/w.json"
expect_code 200 "behaviour batch"
jcheck "behaviour batch: every event accepted" <<<'j["accepted"] == len(load(T + "/w.json")["batch"]) and j["rejected"] == 0'
expect_members "$SW1" "'w1', 'w4', 'w6'" "count(Product Viewed shoes 7d) >= 2 and not bought(shoes 30d)"
expect_members "$SW2" "'w7', 'w30'" "cart.value >= 50 and consent.email"
expect_members "$SW3" "'w11', 'w14'" 'traits.plan = "pro"'
expect_members "$SW4" "'w15'" 'preference.style = "sport"'
expect_members "$SW5" "'w18', 'w20'" "wishlist.count > 0"
expect_members "$SW6" "'w21', 'w24'" 'count(event = "Review Written", rating = 5) >= 1'
expect_members "$SW7" "'w25', 'w28', 'w32'" "orders >= 2 and discount_share >= 0.5"
for s in "$SW1" "$SW2" "$SW3" "$SW4" "$SW5" "$SW6" "$SW7" "$SQ" "$SA" "$S1"; do
    api GET "/v1/segments/$s"
    pyrun <<<'print(json.dumps({"rule": j["rule"], "sample": 1000}))'
    cp "$T/py.out" "$T/pv.json"
    api GET "/v1/segments/$s/members?limit=10000"
    cp "$T/body" "$T/sm.json"
    api POST /v1/segments/preview "@$T/pv.json"
    expect_code 200 "preview of segment $s's rule"
    jcheck "preview of segment $s's rule == its live members" <<<"j['sample'] == load('$T/sm.json')['members'] and j['count'] == len(j['sample'])"
done
api GET "/v1/segments/$A_DEAL/members?limit=10000"
jcheck "built-in Deal hunters: three orders needed" <<<'j["members"] == []'
api GET "/v1/customers/w7?timeline=50"
jcheck "w7 entered Cart and email with the batch" <<<"segev(jall, $SW2) == [('Segment Entered', {'segment_id': $SW2, 'segment': 'Cart and email'})]"
post track '{"messageId":"k7c2","userId":"w7","event":"Consent Changed","properties":{"purpose":"email","granted":false}}' accepted
expect_members "$SW2" "'w30'" "w7 withdraws email consent"
post track '{"messageId":"k30o","userId":"w30","event":"Order Completed","properties":{"order_id":"w30-o","revenue":50}}' accepted
expect_members "$SW2" "" "w30's order empties the cart"
api GET "/v1/customers/w30?timeline=50"
jcheck "w30: entered, then exited" <<<"[e for e, _ in segev(jall, $SW2)] == ['Segment Exited', 'Segment Entered']"
post identify '{"messageId":"t12b","userId":"w12","traits":{"plan":"pro"}}' accepted
expect_members "$SW3" "'w11', 'w12', 'w14'" "w12 upgrades to pro"
post track '{"messageId":"l18b","userId":"w18","event":"Product Removed from Wishlist","properties":{"product_id":"p1"}}' accepted
expect_members "$SW5" "'w20'" "w18 empties the wishlist"
post track '{"messageId":"r22b","userId":"w22","event":"Review Written","properties":{"rating":5}}' accepted
expect_members "$SW6" "'w21', 'w22', 'w24'" "w22 writes a five-star review"
post track "$(order w26 w26-c 3600 misc ',"coupon":"X"' | sed 's/,$//; s/"type":"track",//')" accepted
post track "$(order w26 w26-d 1800 misc ',"coupon":"Y"' | sed 's/,$//; s/"type":"track",//')" accepted
expect_members "$SW7" "'w25', 'w26', 'w28', 'w32'" "w26: two more orders with coupons (2 of 4)"
post track "$(order w1 w1-o 600 shoes | sed 's/,$//; s/"type":"track",//')" accepted
expect_members "$SW1" "'w4', 'w6'" "w1 buys shoes"

# ---- tenancy: B cannot see or change A's segments ----
KEY=$B_KEY
for p in "/v1/segments/$S1" "/v1/segments/$S1/members" "/v1/segments/$S1/members.csv" "/v1/segments/$S1/counts"; do
    api GET "$p"
    expect_error 404 not_found None "B reads A's $p"
    jcheck "B's 404 says nothing of A" <<<'"Big spenders" not in raw and "c1" not in raw'
done
api PUT "/v1/segments/$S1" '{"name":"B was here","rule":"orders >= 0"}'
expect_code 404 "B replaces A's segment"
api PATCH "/v1/segments/$S1" '{"name":"B was here"}'
expect_code 404 "B renames A's segment"
api DELETE "/v1/segments/$S1"
expect_code 404 "B deletes A's segment"
api POST "/v1/segments/$S1/refresh"
expect_code 404 "B refreshes A's segment"
api GET /v1/segments
jcheck "B's list: B's built-ins only" <<<"[x['id'] for x in j['segments']] == [x['id'] for x in load('$T/listB0.json')['segments']]"
post track '{"messageId":"c1-o","userId":"c1","event":"Order Completed","properties":{"order_id":"o-c1","revenue":1000}}' accepted
post track '{"messageId":"bx","userId":"b-only","event":"Order Completed","properties":{"order_id":"b-1","revenue":20}}' accepted
seg_post "Big spenders" "revenue >= 100"
SB=$SID
jcheck "B's own segment: B's customers" <<<"j['count'] == 1 and j['id'] not in [x['id'] for x in load('$T/list2.json')['segments']]"
expect_members "$SB" "'c1'" "B's Big spenders"
api POST /v1/segments/preview '{"rule":"orders >= 1","sample":1000}'
jcheck "B's preview: B's customers only" <<<'sorted(m["userId"] for m in j["sample"]) == ["b-only", "c1"] and j["count"] == 2'
api GET "/v1/segments/$A_RFM"
expect_code 404 "B reads A's built-in"
KEY=$A_KEY
api GET "/v1/segments/$SB"
expect_code 404 "A reads B's segment"
expect_members "$S1" "$BIG" "A's Big spenders untouched by B"
api GET "/v1/segments/$S1"
jcheck "A's segment keeps its name and rule" <<<"j['name'] == 'Big spenders 2026' and j['rule'] == 'revenue >= 150'"
api GET "/v1/customers/c1?timeline=50"
jcheck "A's c1 got no event from B's order" <<<"segev(jall, $S1) == [] and j['aggregates']['revenue_minor'] == 15000"
api GET /v1/segments
jcheck "A's list has nothing of B" <<<"$SB not in [x['id'] for x in j['segments']]"
# a shop created while the server runs gets its built-ins with its first event
# (docs/api.yaml, GET /v1/segments)
cli c shop create "Seg Shop C" --data "$D" --format json
C_KEY=$(key_of "$T/out")
KEY=$C_KEY post track '{"messageId":"c-1","userId":"c-one","event":"Order Completed","properties":{"order_id":"c-o1","revenue":10}}' accepted
KEY=$C_KEY api GET /v1/segments
jcheck "shop C (created while serving) has its 17 built-ins after its first event" <<<'len(j["segments"]) == 17'

# ---- /metrics ----
api GET /metrics
cp "$T/body" "$T/m1.txt"
for m in patron_segments patron_segment_members patron_segment_bytes patron_segment_events_total \
    'patron_segment_group_seconds\{quantile="0.5"\}' 'patron_segment_group_seconds\{quantile="0.99"\}'; do
    check "metric $m" test -n "$(metric "$m" "$T/m1.txt")"
done
for n in patron_segments patron_segment_members patron_segment_bytes patron_segment_events_total patron_segment_group_seconds; do
    check "metric $n has HELP and TYPE" grep -q "^# TYPE $n " "$T/m1.txt"
done
# metrics_match NAME METRICS-FILE: patron_segments and patron_segment_members
# agree with every shop's list.
metrics_match() {
    local k
    : >"$T/all_lists.jsonl"
    for k in "$A_KEY" "$B_KEY" "$C_KEY"; do
        KEY=$k api GET /v1/segments
        cat "$T/body" >>"$T/all_lists.jsonl"
        echo >>"$T/all_lists.jsonl"
    done
    pyrun <<EOF
ls = [json.loads(l)["segments"] for l in open("$T/all_lists.jsonl") if l.strip()]
print(sum(len(s) for s in ls))
print(sum(x["count"] for s in ls for x in s))
EOF
    check "$1: patron_segments = every shop's segments ($(sed -n 1p "$T/py.out"))" test "$(metric patron_segments "$2")" = "$(sed -n 1p "$T/py.out")"
    check "$1: patron_segment_members = the sum of the counts ($(sed -n 2p "$T/py.out"))" test "$(metric patron_segment_members "$2")" = "$(sed -n 2p "$T/py.out")"
}
metrics_match "metrics" "$T/m1.txt"
KEY=$A_KEY
check "patron_segment_bytes > 0" test "$(metric patron_segment_bytes "$T/m1.txt")" -gt 0
check "patron_segment_events_total grew" test "$(metric patron_segment_events_total "$T/m1.txt")" -gt "$(metric patron_segment_events_total "$T/m0.txt")"

# ---- restart on the same data ----
A_CUST=(c1 c2 c3 c4 c5 c6 c7 p1 p2 p3 w1 w2 w4 w6 w7 w12 w14 w18 w22 w25 w26 w30 "anon-1?anonymous=1&" "anon-2?anonymous=1&")
snap() { # FILE: A's segments with members and counts, and customers' segment events
    local p s
    api GET /v1/segments
    {
        cat "$T/body"
        echo
        pyrun "$T/body" <<<'print(" ".join(str(x["id"]) for x in j["segments"] if x["builtin"] is None))'
        for s in $(cat "$T/py.out"); do
            api GET "/v1/segments/$s/members?limit=10000"
            [[ $code == 200 ]] || bad "snapshot: members of $s: HTTP $code"
            cat "$T/body"
            echo
            api GET "/v1/segments/$s/counts"
            cat "$T/body"
            echo
        done
        for p in "${A_CUST[@]}"; do
            [[ $p == *\?* ]] || p="$p?"
            api GET "/v1/customers/${p}timeline=1000"
            [[ $code == 200 ]] || bad "snapshot: GET $p: HTTP $code"
            cat "$T/body"
            echo
        done
    } >"$1"
}
sleep 1.1 # live RFM boundaries catch up (--rfm-refresh 1)
snap "$T/before.jsonl"
stop_server main
start_server main2 --data "$D" --listen 127.0.0.1:0 --log off --rfm-refresh 1
snap "$T/after.jsonl"
jcheck "restart: segments, ids, counts, members and segment events unchanged" <<EOF
a = [json.loads(l) for l in open("$T/before.jsonl") if l.strip()]
b = [json.loads(l) for l in open("$T/after.jsonl") if l.strip()]
rfm = lambda s: "rfm." in s["rule"]  # RFM ranks are recomputed from fresh boundaries at start
stable = lambda l: [s for s in l["segments"] if not rfm(s)]
keep = set(s["id"] for s in a[0]["segments"] if not rfm(s))
ev = lambda doc: [x for x in segev(doc) if x[1]["segment_id"] in keep]
len(a) == len(b) == 1 + 2 * len([s for s in a[0]["segments"] if s["builtin"] is None]) + ${#A_CUST[@]}
[s["id"] for s in a[0]["segments"]] == [s["id"] for s in b[0]["segments"]]
first_diff(stable(a[0]), stable(b[0])) == "same"
first_diff([d for d in a[1:] if "members" in d], [d for d in b[1:] if "members" in d]) == "same"
[d["id"] for d in a[1:] if "timeline" in d] == [d["id"] for d in b[1:] if "timeline" in d]
first_diff([ev(d) for d in a[1:] if "timeline" in d], [ev(d) for d in b[1:] if "timeline" in d]) == "same"
[d for d in b[1:] if "days" in d][0]["days"][-1] == {"date": "$(today)", "count": 4}
all(d["days"][-1]["count"] == len(m["members"]) for d, m in zip([d for d in b[1:] if "days" in d], [d for d in b[1:] if "members" in d]))
EOF
post track '{"messageId":"c4-o2","userId":"c4","event":"Order Completed","properties":{"order_id":"o-c4b","revenue":60}}' accepted
expect_members "$S1" "$BIG, 'c4'" "live membership after the restart"
api GET "/v1/customers/c4?timeline=50"
jcheck "c4: entered again after the restart" <<<"[e for e, _ in segev(jall, $S1)] == ['Segment Entered', 'Segment Exited']"
# a merge moves the membership to the merged profile; an erased customer leaves silently
post identify '{"messageId":"c7-merge","userId":"c7","anonymousId":"anon-1"}' accepted
expect_members "$S1" "'c1', 'c4', 'c6', 'c7', 'anon-2'" "anon-1 merged into c7"
api GET "/v1/customers/c7?timeline=50"
jcheck "the merge: anon-1 exits, c7 enters" <<EOF
segev(jall, $S1) == [("Segment Entered", {"segment_id": $S1, "segment": "Big spenders 2026"}), ("Segment Exited", {"segment_id": $S1, "segment": "Big spenders 2026"})]
[(t["body"].get("userId"), t["body"].get("anonymousId")) for t in jall["timeline"] if is_seg_event(t) and t["body"]["properties"]["segment_id"] == $S1] == [("c7", None), (None, "anon-1")]
EOF
api DELETE /v1/customers/c6
expect_code 200 "erase c6"
expect_members "$S1" "'c1', 'c4', 'c7', 'anon-2'" "an erased customer is no member"
api GET /metrics
cp "$T/body" "$T/m2.txt"
metrics_match "metrics after the restart" "$T/m2.txt"
stop_server main2
finish_serve
