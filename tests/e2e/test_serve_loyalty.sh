#!/usr/bin/env bash
# The loyalty API end to end against a real `patron serve` (routes in
# src/http/routes_loyalty.c): the programme (PUT/GET, canonical JSON, 400
# invalid_program naming the field, nothing changed by a bad document),
# purchase points (category multipliers, the tier's multiplier once reached,
# nothing for orders timestamped before the programme was first set - by
# design - even after it is set again), behaviour events with their caps, the
# member view, history pages, manual and batch points, enrolment, the rewards
# catalogue and every refusal of a redemption, vouchers (validation as typed,
# typos, use at checkout, used up), refunds taking points back, import (all
# or nothing, re-import skips), code pools (1,000 codes that validate), the
# referral QR PNG, the report against the members' own numbers, tenancy,
# Idempotency-Key retries of every write (the identical answer, replayed,
# nothing done twice; another request under the same key: 422), a restart
# that changes nothing, and the rate limit of failed voucher look-ups.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/serve_lib.sh"

day=86400
D="$T/data"

# csv_post PATH FILE [CURL ARGS...]: POST a CSV body; like api.
csv_post() {
    local p=$1 f=$2
    shift 2
    code=$(curl -s -o "$T/body" -D "$T/hdr" -w '%{http_code}' -X POST --max-time 30 \
        -H "Authorization: Bearer $KEY" -H 'Content-Type: text/csv' --data-binary "@$f" "$@" \
        "$URL$p") || code=000
}
# lerr HTTP CODE FIELD NAME: the last answer is an error with this status,
# code and field (FIELD as Python; an absent field counts as None).
lerr() {
    expect_code "$1" "$4"
    jcheck "$4" <<<"j['error']['code'] == '$2' and j['error'].get('field') == $3 and j['error']['message'] != ''"
}
# getv EXPR: print(EXPR) over the last body into $v.
getv() {
    pyrun "${2:-$T/body}" <<<"print($1)"
    v=$(cat "$T/py.out")
}
replay_hdr() { grep -qi '^idempotent-replayed: *true' "$T/hdr"; }
# first NAME WANT CMD...: the first answer of a request with an Idempotency-Key
# (CMD is api or csv_post with the header): status WANT, not marked replayed;
# kept for `replayed`.
first() {
    local name=$1 want=$2
    shift 2
    "$@"
    expect_code "$want" "$name"
    if replay_hdr; then bad "$name: the first answer says Idempotent-Replayed"; else ok; fi
    cp "$T/body" "$T/first.body"
    first_code=$code
}
# replayed NAME CMD...: the same request again: the same status and body,
# byte for byte, with Idempotent-Replayed: true.
replayed() {
    local name=$1
    shift
    "$@"
    if [[ $code == "$first_code" ]] && cmp -s "$T/body" "$T/first.body"; then ok; else
        bad "$name: retry answered HTTP $code $(head -c 200 "$T/body"), first $first_code $(head -c 200 "$T/first.body")"
    fi
    if replay_hdr; then ok; else bad "$name: retry without Idempotent-Replayed: true"; fi
}
# member USER [FILE]: GET the member view (200) into FILE.
member() {
    api GET "/v1/loyalty/members/$1"
    expect_code 200 "GET member $1"
    [[ -n ${2-} ]] && cp "$T/body" "$2"
    return 0
}
# balance_is USER N NAME
balance_is() {
    api GET "/v1/loyalty/members/$1"
    jcheck "$3: $1's balance" <<<"j['balance'] == $2"
}
# snap FILE: shop A's loyalty state as seen through the API (members, their
# histories, rewards, programme, report), one answer a line.
SNAP_USERS=(alice bob erin)
snap() {
    local u
    for u in "${SNAP_USERS[@]}"; do
        api GET "/v1/loyalty/members/$u"
        cat "$T/body"
        echo
        api GET "/v1/loyalty/members/$u/history?limit=1000"
        cat "$T/body"
        echo
    done >"$1"
    for p in /v1/loyalty/rewards /v1/loyalty/program /v1/loyalty/report; do
        api GET "$p"
        cat "$T/body"
        echo
    done >>"$1"
}
# alive NAME: the server is still running; if it died, say so and start it again.
alive() {
    if kill -0 "$SPID" 2>/dev/null; then ok; else
        bad "$1: the server died: $(grep -m3 -E 'ERROR|Sanitizer|SUMMARY|Abort' "$T/$srv.err" | tr '\n' ' ')"
        srv="main$((++restarts))"
        start_server "$srv" --data "$D" --listen 127.0.0.1:0 --log off --voucher-failures 30
    fi
}
srv=main
restarts=0

# Helpers in the checker: codes with their check symbol, the FIFO lots of a
# ledger, the PNG decoder for the QR code.
pyrun /dev/null <<'EOF'
import __main__, struct, zlib
ALPHA = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
def mkcode(data):
    """A code in printed form with the right check symbol."""
    s = data + ALPHA[sum((i + 1) * ALPHA.index(c) for i, c in enumerate(data)) % 31]
    return "-".join(s[i:i + 4] for i in range(0, 14, 4))
def is_code(c):
    s = c.replace("-", "")
    return re.fullmatch(r"[%s]{4}-[%s]{4}-[%s]{4}-[%s]{2}" % ((ALPHA,) * 4), c) is not None and \
        mkcode(s[:13]) == c
def lots(entries, now):
    """within_30_days, within_90_days, next of a ledger (entries oldest first):
    positive entries add lots, negative ones take from the oldest lots."""
    ls = []
    for e in entries:
        if e["points"] > 0:
            ls.append([e["expires"], e["points"]])
        else:
            n = -e["points"]
            for l in ls:
                k = min(l[1], n)
                l[1] -= k
                n -= k
    ls = [(secs(x), n) for x, n in ls if x and n > 0]
    nxt = None
    if ls:
        t = min(x for x, _ in ls)
        nxt = {"points": sum(n for x, n in ls if x == t), "on": iso(t)}
    return {"within_30_days": sum(n for x, n in ls if x <= now + 30 * 86400),
            "within_90_days": sum(n for x, n in ls if x <= now + 90 * 86400), "next": nxt}
def png(path):
    """(width, height, rows of 0/1 pixels: 1 = dark) of a 1-bit or 8-bit grey
    PNG, every chunk's CRC checked."""
    b = open(path, "rb").read()
    assert b[:8] == b"\x89PNG\r\n\x1a\n", "no PNG signature"
    pos, idat, ihdr = 8, b"", None
    while pos < len(b):
        n, typ = struct.unpack(">I4s", b[pos:pos + 8])
        data = b[pos + 8:pos + 8 + n]
        assert struct.unpack(">I", b[pos + 8 + n:pos + 12 + n])[0] == zlib.crc32(typ + data), "bad CRC"
        if typ == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", data)
        elif typ == b"IDAT":
            idat += data
        pos += 12 + n
    w, h, depth, ctype, _, _, interlace = ihdr
    assert ctype == 0 and depth in (1, 8) and interlace == 0, "not plain grey: %r" % (ihdr,)
    raw = zlib.decompress(idat)
    stride = (w * depth + 7) // 8
    rows, prev, p = [], bytearray(stride), 0
    for y in range(h):
        f, line = raw[p], bytearray(raw[p + 1:p + 1 + stride])
        p += 1 + stride
        for i in range(stride):
            a = line[i - 1] if i else 0
            c = prev[i - 1] if i else 0
            up = prev[i]
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + up) & 255
            elif f == 3: line[i] = (line[i] + (a + up) // 2) & 255
            elif f == 4:
                pa, pb, pc = abs(up - c), abs(a - c), abs(a + up - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else up if pb <= pc else c)) & 255
        prev = line
        if depth == 1:
            rows.append([0 if (line[x >> 3] >> (7 - (x & 7))) & 1 else 1 for x in range(w)])
        else:
            rows.append([1 if line[x] < 128 else 0 for x in range(w)])
    return w, h, rows
def qr_modules(path, scale):
    """The module matrix (1 = dark) of a QR PNG drawn at `scale` pixels a
    module with a 4-module quiet zone; checks every pixel of a module agrees."""
    w, h, px = png(path)
    assert w == h and w % scale == 0, "size %dx%d" % (w, h)
    n = w // scale - 8
    m = []
    for r in range(n + 8):
        row = []
        for c in range(n + 8):
            cell = [px[r * scale + y][c * scale + x] for y in range(scale) for x in range(scale)]
            assert len(set(cell)) == 1, "module %d,%d is not one colour" % (r, c)
            row.append(cell[0])
        m.append(row)
    quiet = all(m[r][c] == 0 for r in range(n + 8) for c in range(n + 8)
                if r < 4 or c < 4 or r >= n + 4 or c >= n + 4)
    return n, quiet, [row[4:n + 4] for row in m[4:n + 4]]
def finder_ok(m, r0, c0):
    for r in range(7):
        for c in range(7):
            ring = max(abs(r - 3), abs(c - 3))
            if m[r0 + r][c0 + c] != (0 if ring == 2 else 1):
                return False
    return True
for f in (mkcode, is_code, lots, png, qr_modules, finder_ok):
    setattr(__main__, f.__name__, f)
__main__.ALPHA = ALPHA
EOF

# ---- shops: A (id 1), B (id 2), and C with id 257 (256 + 1: the same slot
# of the voucher look-up limiter as A if the limiter hashes shops into 256) ----
cli a shop create "Loyalty A" --data "$D" --format json
expect_status 0 "create shop A"
A_KEY=$(key_of "$T/out")
cli b shop create "Loyalty B" --data "$D" --format json
expect_status 0 "create shop B"
B_KEY=$(key_of "$T/out")
cli filler shop create "Filler" --data "$D" --format json
expect_status 0 "create filler shop"
# (the store is SQLite: $D/patron.db; shops.id is the shop's number)
sql() { python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
r = c.execute(sys.argv[2]).fetchall()
c.commit()
print("\n".join(str(x[0]) for x in r))' "$D/patron.db" "$1"; }
sql "UPDATE shops SET id = 256 WHERE id = 3"
cli c shop create "Loyalty C" --data "$D" --format json
expect_status 0 "create shop C"
C_KEY=$(key_of "$T/out")
check "shop ids 1, 2 and 257" test "$(sql "SELECT id FROM shops WHERE name LIKE 'Loyalty %' ORDER BY id" | tr '\n' ' ')" = "1 2 257 "
KEY=$A_KEY
start_server main --data "$D" --listen 127.0.0.1:0 --log off --voucher-failures 30

# ---- before there is a programme ----
api GET /v1/loyalty/program
lerr 404 not_found None "GET programme before any"
api GET /v1/loyalty/report
lerr 404 not_found None "report before a programme"
post track "{\"userId\":\"carol\",\"messageId\":\"c-0\",\"event\":\"Order Completed\",\"timestamp\":\"$(ts $day)\",\"properties\":{\"order_id\":\"o-c0\",\"revenue\":30}}" accepted
post track '{"userId":"bob","messageId":"b-ident","event":"Product Viewed","properties":{"product_id":"p"}}' accepted
api POST /v1/loyalty/members/bob/points '{"points":5}'
lerr 409 no_program None "points before a programme"
api POST /v1/loyalty/members/bob ''
lerr 409 no_program None "enrolment before a programme"
printf 'user_id,points\nx1,5\n' >"$T/x1.csv"
csv_post /v1/loyalty/import "$T/x1.csv"
lerr 409 no_program None "import before a programme"
api DELETE /v1/loyalty/program ''
expect_code 405 "DELETE programme"
api GET /v1/loyalty/points
expect_code 405 "GET /v1/loyalty/points"
KEY="" api GET /v1/loyalty/program
expect_code 401 "programme without a key"

# ---- the programme ----
cat >"$T/prog.json" <<'EOF'
{"currency": "PLN", "point_value": 2,
 "earn": {"points_per_unit": 1, "categories": {"shoes": 2, "gift-cards": 0},
          "events": {"Review Written": {"points": 50, "max_per_day": 1, "max_total": 3},
                     "Newsletter Subscribed": {"points": 20, "max_total": 1}}},
 "tiers": {"levels": [{"name": "Silver", "threshold": 50000, "multiplier": 1.5},
                      {"name": "Gold", "threshold": 200000, "multiplier": 2, "free_shipping": true}]},
 "expiry": {"months": 2},
 "referral": {"referrer_points": 100, "friend_points": 50, "link": "https://shop.example/r/{code}"}}
EOF
SET0=$(date -u +%s)
api PUT /v1/loyalty/program "@$T/prog.json"
expect_code 201 "PUT programme (the first: created)"
SET1=$(date -u +%s)
cp "$T/body" "$T/prog.canon"
# the canonical form: every default spelt out, names sorted, in this order
cat >"$T/prog.want" <<'EOF'
{"enabled": true, "currency": "PLN", "point_value": 2,
 "earn": {"points_per_unit": 1, "rounding": "floor", "categories": {"gift-cards": 0, "shoes": 2},
          "default_multiplier": 1, "max_per_order": 0, "max_per_day": 0,
          "events": {"Newsletter Subscribed": {"points": 20, "max_per_day": 0, "max_total": 1},
                     "Review Written": {"points": 50, "max_per_day": 1, "max_total": 3}}},
 "bonuses": {"intensify": null, "comeback": null},
 "tiers": {"basis": "spend", "window_days": 365, "review_months": 12,
           "levels": [{"name": "Silver", "threshold": 50000, "multiplier": 1.5, "free_shipping": false},
                      {"name": "Gold", "threshold": 200000, "multiplier": 2, "free_shipping": true}]},
 "expiry": {"months": 2}, "refunds": {"allow_debt": false}, "pilot": null,
 "referral": {"referrer_points": 100, "friend_points": 50, "return_window_days": 14,
              "link": "https://shop.example/r/{code}"}}
EOF
jcheck "PUT programme: the canonical form" <<EOF
j == load("$T/prog.want")
raw == json.dumps(load("$T/prog.want"), separators=(",", ":"))
EOF
check "programme answer is JSON" grep -qi '^content-type: application/json' "$T/hdr"
api GET /v1/loyalty/program
expect_code 200 "GET programme"
same_file "$T/body" "$T/prog.canon" "GET programme = the PUT answer"
# the canonical form PUT back is the same programme
api PUT /v1/loyalty/program "@$T/prog.canon"
expect_code 200 "PUT the canonical form"
same_file "$T/body" "$T/prog.canon" "canonical form is a fixed point"

# bad documents: 400 naming the field; the programme stays as it was
bad_prog() { # NAME FIELD(Python) BODY
    api PUT /v1/loyalty/program "$3"
    lerr 400 invalid_program "$2" "bad programme: $1"
    api GET /v1/loyalty/program
    same_file "$T/body" "$T/prog.canon" "bad programme ($1) changed nothing"
}
bad_prog "misspelt key" '"earn.categries"' '{"earn":{"categries":{"shoes":2}}}'
api PUT /v1/loyalty/program '{"earn":{"categries":{"shoes":2}}}'
jcheck "misspelt key: did you mean" <<<'"did you mean \"categories\"" in j["error"]["message"]'
bad_prog "thresholds not rising" '"tiers.levels[1].threshold"' '{"tiers":{"levels":[{"name":"S","threshold":100},{"name":"G","threshold":100}]}}'
bad_prog "duplicate tier name" '"tiers.levels[1].name"' '{"tiers":{"levels":[{"name":"S","threshold":1},{"name":"S","threshold":2}]}}'
bad_prog "rounding" '"earn.rounding"' '{"earn":{"rounding":"up"}}'
bad_prog "4 decimals" '"earn.points_per_unit"' '{"earn":{"points_per_unit":1.0005}}'
bad_prog "event without points" '"earn.events.Review Written.points"' '{"earn":{"events":{"Review Written":{"max_total":1}}}}'
bad_prog "negative multiplier" '"earn.categories.shoes"' '{"earn":{"categories":{"shoes":-1}}}'
bad_prog "link without {code}" '"referral.link"' '{"referral":{"link":"https://x.example/r"}}'
bad_prog "currency" '"currency"' '{"currency":"pln"}'
bad_prog "pilot with both" '"pilot"' '{"pilot":{"segment":1,"customers":["a"]}}'
bad_prog "expiry months" '"expiry.months"' '{"expiry":{"months":121}}'
bad_prog "not JSON" None '{"earn": '
bad_prog "a list" None '[1]'
pyrun /dev/null <<<"json.dump({'pilot': {'customers': ['c%06d' % i for i in range(20000)]}}, open('$T/huge.json', 'w'))"
api PUT /v1/loyalty/program "@$T/huge.json"
lerr 413 invalid_program '"pilot.customers"' "20,000 pilot ids: over the limit"
api GET /v1/loyalty/program
same_file "$T/body" "$T/prog.canon" "too large a programme changed nothing"

# ---- purchase points ----
order() { # USER ORDER_ID PROPERTIES-JSON-REST [TIMESTAMP]
    post track "{\"userId\":\"$1\",\"messageId\":\"m-$2\",\"event\":\"Order Completed\"${4:+,\"timestamp\":\"$4\"},\"properties\":{\"order_id\":\"$2\",$3}}" accepted
}
order alice o-a1 '"revenue":100,"products":[{"product_id":"s1","category":"shoes","price":60,"quantity":1},{"product_id":"h1","category":"hats","price":40,"quantity":1}]'
member alice
jcheck "shoes x2 + hats x1: 160 points" <<'EOF'
j["balance"] == 160 and j["earned"] == 160 and j["tier"] is None
j["value"] == {"amount": 320, "currency": "PLN"}
EOF
order alice o-a2 '"revenue":50.55,"products":[{"product_id":"g1","category":"gift-cards","price":50.55,"quantity":1}]'
order alice o-a3 '"revenue":399.99'
member alice
jcheck "gift cards earn 0, 399.99 without lines floors to 399; Silver reached" <<'EOF'
j["balance"] == 559
j["tier"]["name"] == "Silver" and j["tier"]["multiplier"] == 1.5 and j["tier"]["free_shipping"] is False
abs(secs(j["tier"]["review_on"]) - NOW - 365 * 86400) < 3 * 86400
j["progress"] == {"basis": "spend", "qualifying": 55054, "next_tier": {"name": "Gold", "threshold": 200000, "remaining": 144946}}
EOF
order alice o-a4 '"revenue":100,"products":[{"product_id":"s2","category":"shoes","price":25,"quantity":2},{"product_id":"h2","category":"hats","price":50,"quantity":1}]'
member alice
jcheck "Silver: 150 x 1.5 = 225" <<'EOF'
j["balance"] == 784 and j["earned"] == 784
j["progress"]["qualifying"] == 65054 and j["progress"]["next_tier"]["remaining"] == 134946
EOF
api GET "/v1/loyalty/members/alice/history"
jcheck "purchase entries" <<'EOF'
[(e["kind"], e["points"], e["reason"], e["ref"]) for e in j["entries"]] == [("earn", 225, "purchase", "o-a4"), ("earn", 399, "purchase", "o-a3"), ("earn", 160, "purchase", "o-a1")]
all(e["expires"] is not None and 58 * 86400 <= secs(e["expires"]) - secs(e["at"]) <= 62 * 86400 for e in j["entries"])
j["next_before"] is None
EOF
order bob o-b1 '"revenue":20.40'
balance_is bob 20 "floor of 20.40"
# orders timestamped before the programme was first set earn nothing (by design)
api GET /v1/loyalty/members/carol
lerr 404 not_found None "carol's order came before the programme: not a member"
order frank o-f1 '"revenue":500' "$(iso $((SET0 - 3600)))"
api GET /v1/loyalty/members/frank
lerr 404 not_found None "an order timestamped before the programme earns nothing"
order carol o-c1 '"revenue":10'
member carol
jcheck "carol's later order earns; the early one does not" <<'EOF'
j["balance"] == 10 and j["earned"] == 10
EOF
api GET /v1/loyalty/members/carol/history
jcheck "carol's ledger: o-c1 only" <<<'[e["ref"] for e in j["entries"]] == ["o-c1"]'
# set again later: what counts is when it was first set
while (($(date -u +%s) <= SET1 + 2)); do sleep 0.2; done
api PUT /v1/loyalty/program "@$T/prog.json"
expect_code 200 "PUT the programme again"
order gina o-g0 '"revenue":7' "$(iso $((SET1 + 1)))"
order gina o-g00 '"revenue":9' "$(iso $((SET0 - 60)))"
member gina
jcheck "after a re-PUT, an order between the first PUT and the re-PUT earns; one before does not" <<<'j["balance"] == 7'

# ---- behaviour events: per-day and total caps ----
event() { # USER MESSAGE_ID NAME [TIMESTAMP]
    post track "{\"userId\":\"$1\",\"messageId\":\"$2\",\"event\":\"$3\"${4:+,\"timestamp\":\"$4\"}}" accepted
}
event alice r-a1 "Review Written"
event alice r-a2 "Review Written"
event alice r-a3 "Review Written" "$(ts $((-day)))"
event alice r-a4 "Review Written" "$(ts $((-2 * day)))"
event alice r-a5 "Review Written" "$(ts $((-3 * day)))"
event alice n-a1 "Newsletter Subscribed"
event alice n-a2 "Newsletter Subscribed"
event alice p-a1 "Page Viewed"
api GET "/v1/loyalty/members/alice/history?limit=100"
cp "$T/body" "$T/alice_h1.json"
jcheck "events: one review a day, three in all; one newsletter" <<'EOF'
ev = [(e["reason"], e["ref"], e["points"]) for e in reversed(j["entries"]) if e["reason"].startswith("event:")]
revs = sorted(r for x, r, _ in ev if x.endswith("Review Written"))
revs == ["r-a1", "r-a3", "r-a4"]
[(r, p) for x, r, p in ev if x == "event:Newsletter Subscribed"] == [("n-a1", 20)]
all(p == 50 for x, _, p in ev if x == "event:Review Written")
EOF
member alice
jcheck "alice after the events: 784 + 150 + 20" <<'EOF'
j["balance"] == 954 and j["earned"] == 954
j["tier"]["name"] == "Silver"
EOF

# ---- the member view ----
member alice "$T/alice.json"
jcheck "member view: fields" <<EOF
sorted(j) == ["balance", "earned", "expired", "expiring", "member_since", "progress", "redeemed", "referral", "rewards", "tier", "user_id", "value"]
j["user_id"] == "alice" and j["redeemed"] == 0 and j["expired"] == 0
j["value"] == {"amount": 1908, "currency": "PLN"}
abs(secs(j["member_since"]) - NOW) < 600
j["rewards"] == []
is_code(j["referral"]["code"]) and j["referral"]["link"] == "https://shop.example/r/" + j["referral"]["code"]
j["referral"]["referred_by"] is None
j["expiring"] == lots(list(reversed(load("$T/alice_h1.json")["entries"])), $(date -u +%s))
j["expiring"]["within_30_days"] == 0 and j["expiring"]["within_90_days"] == 954
EOF
getv 'j["referral"]["code"]' "$T/alice.json"
ALICE_REF=$v
# a friend's first order with alice's code (typed in lower case)
order dave o-d1 "\"revenue\":40,\"referral_code\":\"$(tr '[:upper:]' '[:lower:]' <<<"$ALICE_REF")\""
member dave
jcheck "dave: referred by alice" <<'EOF'
j["balance"] == 40 and j["referral"]["referred_by"] == "alice"
j["referral"]["code"] != load(T + "/alice.json")["referral"]["code"]
EOF

# ---- history pages ----
api GET "/v1/loyalty/members/alice/history?limit=4"
expect_code 200 "history page 1"
cp "$T/body" "$T/h_p1.json"
getv 'j["next_before"]'
NB=$v
api GET "/v1/loyalty/members/alice/history?limit=4&before=$NB"
expect_code 200 "history page 2"
cp "$T/body" "$T/h_p2.json"
jcheck "history pages: 4 + 3, newest first, together the whole ledger" <<EOF
p1 = load("$T/h_p1.json")
p2 = j
all_ = load("$T/alice_h1.json")
len(p1["entries"]) == 4 and p1["next_before"] == p1["entries"][-1]["id"]
len(p2["entries"]) == 3 and p2["next_before"] is None
p1["entries"] + p2["entries"] == all_["entries"]
[e["id"] for e in all_["entries"]] == sorted((e["id"] for e in all_["entries"]), reverse=True)
all(sorted(e) == ["at", "expires", "id", "kind", "points", "reason", "ref"] for e in all_["entries"])
EOF
for q in limit=0 limit=1001 limit=x; do
    api GET "/v1/loyalty/members/alice/history?$q"
    lerr 400 invalid_query '"limit"' "history?$q"
done
api GET "/v1/loyalty/members/alice/history?before=abc"
lerr 400 invalid_query '"before"' "history?before=abc"
api GET "/v1/loyalty/members/nobody/history"
lerr 404 not_found None "history of a non-member"

# ---- manual points ----
api POST /v1/loyalty/members/bob/points '{"points":30,"kind":"earn","reason":"birthday"}'
expect_code 201 "manual earn"
jcheck "manual earn: the answer" <<<'sorted(j) == ["balance", "duplicate", "entry", "points", "user_id"] and j["user_id"] == "bob" and j["points"] == 30 and j["balance"] == 50 and j["duplicate"] is False'
api POST /v1/loyalty/members/bob/points '{"points":-10,"reason":"correction"}'
expect_code 201 "manual adjustment"
jcheck "adjustment: balance 40" <<<'j["balance"] == 40'
api POST /v1/loyalty/members/bob/points '{"points":-41,"reason":"too much"}'
lerr 409 insufficient_points '"points"' "taking more than the balance"
balance_is bob 40 "after a refused adjustment"
api GET /v1/loyalty/members/bob/history
jcheck "bob's ledger" <<'EOF'
[(e["kind"], e["points"], e["reason"]) for e in j["entries"]] == [("adjust", -10, "manual:correction"), ("earn", 30, "manual:birthday"), ("earn", 20, "purchase")]
EOF
member bob
jcheck "bob: earned counts earn entries" <<<'j["earned"] == 50 and j["balance"] == 40'
api POST /v1/loyalty/members/bob/points '{"points":0}'
lerr 400 invalid_field '"points"' "points 0"
api POST /v1/loyalty/members/bob/points '{"points":"5"}'
lerr 400 invalid_field '"points"' "points as a string"
api POST /v1/loyalty/members/bob/points '{"points":5,"kind":"bonus"}'
lerr 400 invalid_field '"kind"' "unknown kind"
api POST /v1/loyalty/members/bob/points '{"points":-5,"kind":"earn"}'
lerr 400 invalid_field '"points"' "negative earn"
api POST /v1/loyalty/members/bob/points '{"points":5,"reason":""}'
lerr 400 invalid_field '"reason"' "empty reason"
api POST /v1/loyalty/members/bob/points 'nope'
lerr 400 invalid_json None "points: not JSON"
api POST /v1/loyalty/members/nobody/points '{"points":5}'
lerr 404 not_found None "points for an unknown customer"
balance_is bob 40 "after refused requests"

# ---- enrolment ----
api POST /v1/loyalty/members/erin ''
expect_code 201 "enrol erin"
cp "$T/body" "$T/erin_enrol.json"
jcheck "enrolment answer" <<'EOF'
sorted(j) == ["balance", "member_since", "referral_code", "user_id"]
j["user_id"] == "erin" and j["balance"] == 0 and is_code(j["referral_code"]) and abs(secs(j["member_since"]) - NOW) < 600
EOF
api POST /v1/loyalty/members/erin ''
expect_code 200 "enrol erin again"
same_file "$T/body" "$T/erin_enrol.json" "enrolling again: the same member"
member erin
jcheck "erin's view" <<EOF
j["balance"] == 0 and j["tier"] is None and j["rewards"] == [] and j["referral"]["code"] == load("$T/erin_enrol.json")["referral_code"]
j["expiring"] == {"within_30_days": 0, "within_90_days": 0, "next": None}
EOF
api POST /v1/loyalty/members/frank ''
expect_code 201 "enrol frank (known from an order before the programme)"
jcheck "frank: enrolled with 0 points (the early order still earns nothing)" <<<'j["balance"] == 0'

# ---- batch points ----
cat >"$T/batch.json" <<'EOF'
{"operations": [{"user_id": "bob", "points": 5},
                {"user_id": "erin", "points": 40, "idempotency_key": "b-1", "reason": "promo"},
                {"user_id": "nobody", "points": 5},
                {"user_id": "erin", "points": -1000}]}
EOF
api POST /v1/loyalty/points "@$T/batch.json"
expect_code 200 "batch points"
jcheck "batch: one result per operation" <<'EOF'
[r["status"] for r in j["results"]] == [201, 201, 404, 409]
j["results"][0]["result"]["balance"] == 45 and j["results"][1]["result"]["balance"] == 40
j["results"][2]["result"]["error"]["code"] == "not_found"
j["results"][3]["result"]["error"]["code"] == "insufficient_points"
EOF
api POST /v1/loyalty/points "@$T/batch.json"
expect_code 200 "batch again"
jcheck "batch again: the keyed operation is a duplicate, the other one is applied again" <<'EOF'
[r["status"] for r in j["results"]] == [201, 200, 404, 409]
j["results"][1]["result"]["duplicate"] is True and j["results"][1]["result"]["balance"] == 40
j["results"][0]["result"]["balance"] == 50
EOF
balance_is bob 50 "batch"
balance_is erin 40 "batch"
api POST /v1/loyalty/points '{"operations":[{"user_id":"bob","points":5},{"user_id":"erin","points":0}]}'
lerr 400 invalid_field '"operations[1].points"' "batch with a bad operation"
api POST /v1/loyalty/points '{"operations":[{"user_id":"bob","points":5},{"points":3}]}'
lerr 400 invalid_field '"operations[1].user_id"' "batch without user_id"
balance_is bob 50 "a refused batch applies none of its operations"
api POST /v1/loyalty/points '{"operations":[]}'
lerr 400 invalid_field '"operations"' "empty batch"
api POST /v1/loyalty/points '{"ops":[]}'
lerr 400 invalid_json '"operations"' "batch without operations"

# ---- rewards ----
reward() { # JSON -> $RID
    api POST /v1/loyalty/rewards "$1"
    expect_code 201 "POST reward $(head -c 60 <<<"$1")"
    getv 'j["id"]'
    RID=$v
}
reward '{"name":"Tote bag","cost":300,"stock":2,"voucher":{"type":"amount","value":2000,"currency":"PLN"}}'
R1=$RID
cp "$T/body" "$T/r1.json"
jcheck "reward: the answer" <<'EOF'
sorted(j) == ["active", "created", "definition", "id", "stock", "updated"]
j["active"] is True and j["stock"] == 2 and j["created"] == j["updated"] and abs(secs(j["created"]) - NOW) < 600
j["definition"] == {"name": "Tote bag", "description": None, "cost": 300, "stock": 2, "valid_from": None, "valid_to": None, "per_member_limit": 0, "min_tier": None, "voucher": {"type": "amount", "value": 2000, "currency": "PLN", "valid_days": 0, "max_uses": 1}}
EOF
reward '{"name":"10% off","cost":100,"per_member_limit":1,"voucher":{"type":"percent","value":10,"max_uses":0}}'
R2=$RID
jcheck "unlimited stock is null" <<<'j["stock"] is None and j["definition"]["stock"] is None and j["definition"]["per_member_limit"] == 1'
reward '{"name":"Gold gift","cost":10,"min_tier":"Gold","voucher":{"type":"free_shipping"}}'
R3=$RID
reward "{\"name\":\"Not yet\",\"cost\":10,\"valid_from\":\"$(ts $((-10 * day)))\",\"voucher\":{\"type\":\"percent\",\"value\":5}}"
R4=$RID
reward '{"name":"Over","cost":10,"valid_from":"2020-01-01T00:00:00Z","valid_to":"2021-01-01T00:00:00Z","voucher":{"type":"percent","value":5}}'
R5=$RID
reward '{"name":"Withdrawn","cost":10,"voucher":{"type":"percent","value":5}}'
R6=$RID
reward '{"name":"Sticker","cost":40,"voucher":{"type":"amount","value":100}}'
R7=$RID
api DELETE "/v1/loyalty/rewards/$R6" ''
expect_code 200 "DELETE reward"
jcheck "a deleted reward is withdrawn" <<<"j['id'] == $R6 and j['active'] is False"
api GET /v1/loyalty/rewards
expect_code 200 "GET rewards"
cp "$T/body" "$T/rewards0.json"
jcheck "rewards list" <<EOF
[w["id"] for w in j["rewards"]] == [$R1, $R2, $R3, $R4, $R5, $R6, $R7]
[w["active"] for w in j["rewards"]] == [True, True, True, True, True, False, True]
j["rewards"][0] == load("$T/r1.json")
EOF
api GET "/v1/loyalty/rewards/$R1"
jcheck "GET one reward" <<<"j == load('$T/r1.json')"
api GET /v1/loyalty/rewards/99999
lerr 404 not_found None "unknown reward"
api GET /v1/loyalty/rewards/abc
lerr 404 not_found None "reward id not a number"
bad_reward() { # NAME FIELD BODY
    api POST /v1/loyalty/rewards "$3"
    lerr 400 invalid_reward "$2" "bad reward: $1"
}
bad_reward "no name" '"name"' '{"cost":10,"voucher":{"type":"percent","value":5}}'
bad_reward "cost 0" '"cost"' '{"name":"x","cost":0,"voucher":{"type":"percent","value":5}}'
bad_reward "voucher type" '"voucher.type"' '{"name":"x","cost":5,"voucher":{"type":"gift"}}'
bad_reward "percent 150" '"voucher.value"' '{"name":"x","cost":5,"voucher":{"type":"percent","value":150}}'
bad_reward "unknown key" '"colour"' '{"name":"x","cost":5,"colour":"red","voucher":{"type":"percent","value":5}}'
bad_reward "no voucher" '"voucher"' '{"name":"x","cost":5}'
bad_reward "valid_to before valid_from" '"valid_to"' '{"name":"x","cost":5,"valid_from":"2030-01-01T00:00:00Z","valid_to":"2029-01-01T00:00:00Z","voucher":{"type":"percent","value":5}}'
api PUT "/v1/loyalty/rewards/$R2" '{"description":"Ten percent off"}'
expect_code 200 "PUT reward (partial)"
jcheck "PUT: description set, the rest kept" <<'EOF'
j["definition"]["description"] == "Ten percent off" and j["definition"]["name"] == "10% off" and j["definition"]["cost"] == 100
j["definition"]["per_member_limit"] == 1 and j["stock"] is None and secs(j["updated"]) >= secs(j["created"])
EOF
cp "$T/body" "$T/r2.json"
api PUT "/v1/loyalty/rewards/$R2" '{"cost":-1}'
lerr 400 invalid_reward '"cost"' "PUT a bad cost"
api GET "/v1/loyalty/rewards/$R2"
jcheck "a refused PUT changed nothing" <<<"j == load('$T/r2.json')"
api PUT /v1/loyalty/rewards/99999 '{"cost":5}'
lerr 404 not_found None "PUT unknown reward"
api GET /v1/loyalty/rewards
jcheck "refused rewards were not added" <<<"len(j['rewards']) == 7"

# ---- redemptions: every refusal ----
redeem() { api POST "/v1/loyalty/members/$1/redemptions" "{\"reward_id\":$2}"; }
redeem alice "$R1"
expect_code 201 "alice redeems the tote bag"
cp "$T/body" "$T/red1.json"
jcheck "redemption: the answer" <<EOF
sorted(j) == ["balance", "points", "redemption", "reward", "user_id", "voucher"]
j["reward"] == $R1 and j["user_id"] == "alice" and j["points"] == 300 and j["balance"] == 654
sorted(j["voucher"]) == ["code", "currency", "expires", "max_uses", "type", "uses", "value"]
is_code(j["voucher"]["code"])
{k: v for k, v in j["voucher"].items() if k != "code"} == {"type": "amount", "value": 2000, "currency": "PLN", "max_uses": 1, "uses": 0, "expires": None}
EOF
getv 'j["voucher"]["code"]' "$T/red1.json"
V1=$v
redeem alice "$R1"
expect_code 201 "alice redeems the last tote bag"
getv 'j["voucher"]["code"]'
V1B=$v
check "two redemptions, two codes" test "$V1" != "$V1B"
api GET "/v1/loyalty/rewards/$R1"
jcheck "stock 2 -> 0" <<<'j["stock"] == 0'
redeem bob "$R1"
lerr 409 out_of_stock None "out of stock"
redeem bob "$R2"
lerr 409 insufficient_points None "bob cannot afford it"
redeem alice "$R2"
expect_code 201 "alice redeems 10% off"
getv 'j["voucher"]["code"]'
V2=$v
jcheck "percent voucher, unlimited uses" <<<'j["voucher"]["type"] == "percent" and j["voucher"]["value"] == 10 and j["voucher"]["max_uses"] == 0 and j["balance"] == 254'
redeem alice "$R2"
lerr 409 limit_reached None "per-member limit"
redeem alice "$R3"
lerr 409 tier_required None "needs Gold"
redeem alice "$R4"
lerr 409 reward_not_yet_valid None "not valid yet"
redeem alice "$R5"
lerr 409 reward_expired None "no longer valid"
redeem alice "$R6"
lerr 409 reward_withdrawn None "withdrawn"
redeem alice 99999
lerr 404 not_found None "redeem an unknown reward"
redeem nobody "$R7"
lerr 404 not_found None "redeem for an unknown customer"
api POST /v1/loyalty/members/alice/redemptions '{"reward_id":"1"}'
lerr 400 invalid_field '"reward_id"' "reward_id as a string"
member alice
jcheck "alice after three redemptions and the refusals" <<'EOF'
j["balance"] == 254 and j["redeemed"] == 700 and j["earned"] == 954
j["expiring"]["within_90_days"] == 254
EOF
api GET "/v1/loyalty/members/alice/history?limit=100"
cp "$T/body" "$T/alice_h2.json"
jcheck "redemption entries" <<EOF
[(e["kind"], e["points"], e["ref"], e["reason"]) for e in j["entries"][:3]] == [("redeem", -100, "$R2", "reward"), ("redeem", -300, "$R1", "reward"), ("redeem", -300, "$R1", "reward")]
len(j["entries"]) == len(load("$T/alice_h1.json")["entries"]) + 3
EOF
member alice
jcheck "expiring: the oldest lots were spent first" <<EOF
j["expiring"] == lots(list(reversed(load("$T/alice_h2.json")["entries"])), $(date -u +%s))
EOF
jcheck "rewards within reach: open, affordable, and not at the member's limit" <<<"[w['id'] for w in j['rewards']] == [$R7]"
member bob
jcheck "bob (50 points): the sticker only" <<<"j['rewards'] == [{'id': $R7, 'name': 'Sticker', 'cost': 40}]"
api GET "/v1/loyalty/rewards/$R2"
jcheck "unlimited stock stays unlimited" <<<'j["stock"] is None'

# ---- vouchers ----
api GET "/v1/vouchers/$V1"
expect_code 200 "GET voucher"
cp "$T/body" "$T/v1.json"
jcheck "voucher: valid" <<EOF
j == {"code": "$V1", "valid": True, "state": "valid", "type": "amount", "value": 2000, "currency": "PLN", "uses": 0, "max_uses": 1, "expires": None}
EOF
lower=$(tr '[:upper:]' '[:lower:]' <<<"${V1//-/}")
api GET "/v1/vouchers/$lower"
expect_code 200 "voucher typed in lower case without dashes"
same_file "$T/body" "$T/v1.json" "lower case, no dashes: the same voucher"
pyrun /dev/null <<EOF
c = "$V1".replace("-", "")
typo = ALPHA[(ALPHA.index(c[0]) + 1) % 31] + c[1:]
swap = c[0] + c[2] + c[1] + c[3:] if c[1] != c[2] else c[0] + c[1] + c[3] + c[2] + c[4:]
print(typo); print(swap); print(mkcode("23456789ABCDE") if "$V1" != mkcode("23456789ABCDE") else mkcode("33456789ABCDE"))
EOF
TYPO=$(sed -n 1p "$T/py.out")
SWAP=$(sed -n 2p "$T/py.out")
UNKNOWN=$(sed -n 3p "$T/py.out")
api GET "/v1/vouchers/$TYPO"
lerr 404 not_found None "one mistyped character"
jcheck "the typo is named: the check character" <<<'"check" in j["error"]["message"]'
api GET "/v1/vouchers/$SWAP"
lerr 404 not_found None "two neighbours swapped"
jcheck "the swap is caught by the check character" <<<'"check" in j["error"]["message"]'
api GET "/v1/vouchers/${V1:0:5}O${V1:6}"
lerr 404 not_found None "a look-alike O"
jcheck "O is not used in codes" <<<'"not used in codes" in j["error"]["message"]'
api GET "/v1/vouchers/$UNKNOWN"
lerr 404 not_found None "a well-formed code nobody issued"
# use at checkout
api POST "/v1/vouchers/$V1/redeem" '{"order_id":"ord-100"}'
expect_code 200 "use the voucher"
cp "$T/body" "$T/use1.json"
jcheck "use: the answer" <<<"j['duplicate'] is False and j['voucher']['code'] == '$V1' and j['voucher']['uses'] == 1 and j['voucher']['max_uses'] == 1"
api POST "/v1/vouchers/$V1/redeem" '{"order_id":"ord-100"}'
expect_code 200 "the same order again"
jcheck "the same order: a duplicate, not a second use" <<<'j["duplicate"] is True and j["voucher"]["uses"] == 1'
api POST "/v1/vouchers/$V1/redeem" '{"order_id":"ord-101"}'
lerr 409 used_up None "a second order: used up"
api GET "/v1/vouchers/$V1"
jcheck "used up: the refused use is not counted" <<<'j["valid"] is False and j["state"] == "used_up" and j["uses"] == 1'
api POST "/v1/vouchers/$V1/redeem" '{"order_id":"ord-101"}'
lerr 409 used_up None "the refused order retried: still used up"
api POST "/v1/vouchers/$V1/redeem" '{"order_id":"ord-100"}'
expect_code 200 "the order that used it, retried after the refusals"
jcheck "still the duplicate of its own use" <<<'j["duplicate"] is True'
api POST "/v1/vouchers/$V1B/redeem" ''
lerr 400 missing_field '"order_id"' "use without order_id or key"
api POST "/v1/vouchers/$V1B/redeem" '{"order_id":5}'
lerr 400 invalid_field '"order_id"' "order_id as a number"
api POST "/v1/vouchers/$UNKNOWN/redeem" '{"order_id":"x"}'
lerr 404 not_found None "use an unknown code"
api POST "/v1/vouchers/$(tr '[:upper:]' '[:lower:]' <<<"${V1B//-/}")/redeem" '{"order_id":"ord-300"}'
expect_code 200 "use a voucher typed in lower case"
jcheck "the canonical code in the answer" <<<"j['voucher']['code'] == '$V1B' and j['voucher']['uses'] == 1"
api POST "/v1/vouchers/$V2/redeem" '{"order_id":"ord-200"}'
expect_code 200 "unlimited voucher, first use"
api POST "/v1/vouchers/$V2/redeem" '{"order_id":"ord-201"}'
expect_code 200 "unlimited voucher, second use"
api GET "/v1/vouchers/$V2"
jcheck "unlimited voucher: valid after two uses" <<<'j["valid"] is True and j["uses"] == 2 and j["max_uses"] == 0'
api POST "/v1/vouchers/$V2" '{}'
expect_code 405 "POST /v1/vouchers/{code}"

# ---- refunds take points back ----
order hank o-h1 '"revenue":200'
balance_is hank 200 "hank's order"
post track '{"userId":"hank","messageId":"rf-1","event":"Order Refunded","properties":{"order_id":"o-h1","revenue":50}}' accepted
balance_is hank 150 "a quarter refunded: 50 back"
post track '{"userId":"hank","messageId":"rf-2","event":"Order Refunded","properties":{"order_id":"o-h1"}}' accepted
balance_is hank 0 "the rest refunded"
post track '{"userId":"hank","messageId":"rf-3","event":"Order Refunded","properties":{"order_id":"o-h1"}}' accepted
api GET /v1/loyalty/members/hank/history
jcheck "hank's ledger: 200 earned, 50 and 150 reversed" <<'EOF'
[(e["kind"], e["points"], e["ref"]) for e in reversed(j["entries"]) if e["points"] != 0] == [("earn", 200, "o-h1"), ("reverse", -50, "o-h1"), ("reverse", -150, "o-h1")]
all(e["reason"] == "refund" for e in j["entries"] if e["kind"] == "reverse")
EOF
member hank
jcheck "hank: balance 0, earned stays 200" <<<'j["balance"] == 0 and j["earned"] == 200'
order ivan o-i1 '"revenue":100'
api POST /v1/loyalty/members/ivan/points '{"points":-80}'
expect_code 201 "ivan spends 80"
post track '{"userId":"ivan","messageId":"rf-i","event":"Order Refunded","properties":{"order_id":"o-i1"}}' accepted
member ivan
jcheck "a refund never takes the balance below 0" <<<'j["balance"] == 0'
api GET /v1/loyalty/report
jcheck "no debt" <<<'j["liability"]["debt"] == 0'

# ---- import ----
printf 'user_id,points,tier,joined\nimp-1,250,,2024-01-15\nimp-2,600,Gold,\nimp-3,0,,\nerin,0,,2023-03-01T12:00:00Z\n' >"$T/imp.csv"
csv_post /v1/loyalty/import "$T/imp.csv"
expect_code 200 "import"
jcheck "import: 4 members" <<<'j == {"imported": 4, "skipped": 0}'
member imp-1
jcheck "imp-1: balance and join date" <<<'j["balance"] == 250 and j["member_since"] == "2024-01-15T00:00:00Z" and j["earned"] == 0 and j["tier"] is None'
member imp-2
jcheck "imp-2: Gold" <<<'j["balance"] == 600 and j["tier"]["name"] == "Gold" and j["tier"]["free_shipping"] is True'
member imp-3
jcheck "imp-3: 0 points" <<<'j["balance"] == 0'
member erin
jcheck "erin (a member already): the earlier join date of the import, balance kept" <<<'j["member_since"] == "2023-03-01T12:00:00Z" and j["balance"] == 40'
api GET /v1/loyalty/members/imp-1/history
jcheck "imp-1's ledger: one import entry" <<<'[(e["kind"], e["points"], e["reason"]) for e in j["entries"]] == [("adjust", 250, "import")]'
csv_post /v1/loyalty/import "$T/imp.csv"
expect_code 200 "re-import"
jcheck "re-import skips every member" <<<'j == {"imported": 0, "skipped": 4}'
balance_is imp-1 250 "after the re-import"
printf 'user_id,points\nimp-4,10\nimp-5,1x\n' >"$T/bad.csv"
csv_post /v1/loyalty/import "$T/bad.csv"
lerr 400 invalid_import '"line 3"' "a bad points value"
jcheck "the message names line and column" <<<'"line 3" in j["error"]["message"] and "points" in j["error"]["message"]'
printf 'user_id,points,tier\nimp-6,10,\nimp-7,10,Platinum\n' >"$T/bad-tier.csv"
csv_post /v1/loyalty/import "$T/bad-tier.csv"
lerr 400 invalid_import '"line 3"' "an unknown tier"
printf 'user_id,points,email\nimp-8,10,x@y\n' >"$T/bad-col.csv"
csv_post /v1/loyalty/import "$T/bad-col.csv"
lerr 400 invalid_import '"line 1"' "an unknown column"
for u in imp-4 imp-6 imp-8; do
    api GET "/v1/loyalty/members/$u"
    lerr 404 not_found None "a bad file imported nobody ($u)"
    api GET "/v1/customers/$u"
    expect_code 404 "a bad file created no customer ($u)"
done

# ---- code pools ----
api POST /v1/voucher-pools '{"name":"x","count":0,"type":"percent","value":5}'
lerr 400 invalid_field '"count"' "pool of 0"
api POST /v1/voucher-pools '{"name":"x","count":5000001,"type":"percent","value":5}'
lerr 400 invalid_field '"count"' "pool over the limit"
api POST /v1/voucher-pools '{"count":5,"type":"percent","value":5}'
lerr 400 invalid_field '"name"' "pool without a name"
api POST /v1/voucher-pools '{"name":"x","count":5,"type":"gift"}'
lerr 400 invalid_pool '"type"' "pool of an unknown type"
api POST /v1/voucher-pools '{"name":"x","count":5,"type":"percent","value":150}'
lerr 400 invalid_pool '"value"' "pool of 150 percent"
api POST /v1/voucher-pools '{"name":"x","count":5,"type":"percent","value":5,"prefix":"SUMMER"}'
lerr 400 invalid_field '"prefix"' "pool with a prefix (not supported yet)"
api GET /v1/voucher-pools/99999/codes.csv
lerr 404 not_found None "unknown pool"
api GET /v1/voucher-pools/abc/codes.csv
expect_code 404 "pool id not a number"
api GET /v1/voucher-pools
expect_code 405 "GET /v1/voucher-pools"
api POST /v1/voucher-pools '{"name":"Spring 15","count":1000,"type":"percent","value":15,"max_uses":1}'
expect_code 201 "POST voucher pool"
alive "after POST /v1/voucher-pools"
POOL=1
if [[ $code == 201 ]]; then
    cp "$T/body" "$T/pool.json"
    jcheck "pool: the answer" <<'EOF'
sorted(j) == ["count", "created", "id", "name", "redrawn"]
j["name"] == "Spring 15"
j["count"] == 1000 and j["redrawn"] == 0 and abs(secs(j["created"]) - NOW) < 600
EOF
    getv 'j["id"]' "$T/pool.json"
    POOL=$v
    code=$(curl -s -o "$T/codes.csv" -D "$T/hdr" -w '%{http_code}' -H "Authorization: Bearer $KEY" "$URL/v1/voucher-pools/$POOL/codes.csv") || code=000
    expect_code 200 "GET codes.csv"
    check "codes.csv is CSV" grep -qi '^content-type: text/csv' "$T/hdr"
    jcheck "1,000 distinct codes" "$T/codes.csv" <<'EOF'
lines = raw.splitlines()
lines[0] == "code,type,value,currency,max_uses,uses,expires"
rows = [l.split(",") for l in lines[1:]]
len(rows) == 1000 and len(set(r[0] for r in rows)) == 1000
all(is_code(r[0]) for r in rows)
all(r[1:] == ["percent", "15", "", "1", "0", ""] for r in rows)
EOF
    # a sample of 50 validates (valid look-ups do not count against the limit)
    pyrun "$T/codes.csv" <<EOF
import http.client, random
codes = [l.split(",")[0] for l in raw.splitlines()[1:]]
conn = http.client.HTTPConnection("127.0.0.1", int("$URL".rsplit(":", 1)[1]), timeout=30)
bad = []
for c in random.Random(5).sample(codes, 50) if len(codes) >= 50 else ["none"]:
    conn.request("GET", "/v1/vouchers/" + c, headers={"Authorization": "Bearer $KEY"})
    r = conn.getresponse()
    b = json.loads(r.read())
    if r.status != 200 or b.get("valid") is not True or b.get("type") != "percent" or b.get("value") != 15:
        bad.append((c, r.status, b))
print("ok" if not bad else "FAIL %r" % bad[:3])
EOF
    if [[ $(cat "$T/py.out") == ok ]]; then ok; else bad "50 pool codes validate: $(head -c 400 "$T/py.out")"; fi
    getv 'raw.splitlines()[7].split(",")[0]' "$T/codes.csv"
    PCODE=$v
    api POST "/v1/vouchers/$PCODE/redeem" '{"order_id":"ord-pool-1"}'
    expect_code 200 "use a pool code"
    api GET "/v1/vouchers/$PCODE"
    jcheck "the pool code is used up" <<<'j["state"] == "used_up" and j["uses"] == 1'
    api GET "/v1/voucher-pools/$POOL"
    expect_code 404 "a pool has no other resource"
else
    bad "code pool: no pool, its checks skipped"
fi

# ---- the referral QR code ----
code=$(curl -s -o "$T/qr.png" -D "$T/hdr" -w '%{http_code}' -H "Authorization: Bearer $KEY" "$URL/v1/loyalty/members/alice/qr.png") || code=000
expect_code 200 "GET qr.png"
check "qr.png is image/png" grep -qi '^content-type: image/png' "$T/hdr"
if python3 -c 'import PIL' 2>/dev/null; then
    if python3 - "$T/qr.png" <<'EOF'; then ok; else bad "PIL cannot read the QR PNG"; fi
import sys
from PIL import Image
im = Image.open(sys.argv[1]); im.load()
assert im.format == "PNG" and im.size[0] == im.size[1]
EOF
fi
jcheck "qr.png: a QR code drawn at 8 pixels a module" /dev/null <<EOF
q = qr_modules("$T/qr.png", 8)
n = q[0]
m = q[2]
(n - 17) % 4 == 0 and n >= 29
q[1]
finder_ok(m, 0, 0) and finder_ok(m, 0, n - 7) and finder_ok(m, n - 7, 0)
all(m[6][c] == (1 if c % 2 == 0 else 0) for c in range(8, n - 8)) and all(m[r][6] == (1 if r % 2 == 0 else 0) for r in range(8, n - 8))
EOF
code=$(curl -s -o "$T/qr4.png" -w '%{http_code}' -H "Authorization: Bearer $KEY" "$URL/v1/loyalty/members/alice/qr.png?scale=4") || code=000
expect_code 200 "GET qr.png?scale=4"
jcheck "scale=4: the same code at half the size" /dev/null <<EOF
qr_modules("$T/qr4.png", 4)[2] == qr_modules("$T/qr.png", 8)[2]
EOF
for s in 0 33; do
    api GET "/v1/loyalty/members/alice/qr.png?scale=$s"
    lerr 400 invalid_query '"scale"' "qr.png?scale=$s"
done
api GET /v1/loyalty/members/nobody/qr.png
lerr 404 not_found None "qr of a non-member"
api POST /v1/loyalty/members/alice/qr.png ''
expect_code 405 "POST qr.png"

# ---- the report ----
MEMBERS=(alice bob carol dave erin frank gina hank ivan imp-1 imp-2 imp-3)
for u in "${MEMBERS[@]}"; do
    api GET "/v1/loyalty/members/$u"
    [[ $code == 200 ]] || bad "report: GET member $u: HTTP $code"
    cat "$T/body"
    echo
    api GET "/v1/loyalty/members/$u/history?limit=1000"
    cat "$T/body"
    echo
done >"$T/members.jsonl"
api GET /v1/loyalty/report
expect_code 200 "report"
cp "$T/body" "$T/report.json"
jcheck "report: the members' own numbers" <<EOF
ls = [json.loads(l) for l in open("$T/members.jsonl")]
views = ls[0::2]
hists = ls[1::2]
j["members"] == len(views) == ${#MEMBERS[@]}
j["liability"]["points"] == sum(v["balance"] for v in views if v["balance"] > 0)
j["liability"]["value"] == {"amount": 2 * j["liability"]["points"], "currency": "PLN"}
j["liability"]["debt"] == 0
j["earned"] == sum(v["earned"] for v in views) and j["redeemed"] == sum(v["redeemed"] for v in views) == 700
j["expired"] == 0
abs(j["redemption_rate"] - j["redeemed"] / j["issued"]) < 1e-4
len(j["top"]) == 10 and [t["balance"] for t in j["top"]] == sorted((v["balance"] for v in views), reverse=True)[:10]
j["top"][0] == {"user_id": "imp-2", "balance": 600, "earned": 0, "tier": "Gold"}
all(t["balance"] == {v["user_id"]: v["balance"] for v in views}[t["user_id"]] for t in j["top"])
es = [e for h in hists for e in h["entries"]]
months = sorted(set(e["at"][:7] for e in es))
[m["month"] for m in j["months"]] == months
[m["earned"] for m in j["months"]] == [sum(e["points"] for e in es if e["at"][:7] == mo and e["kind"] == "earn") for mo in months]
[m["redeemed"] for m in j["months"]] == [-sum(e["points"] for e in es if e["at"][:7] == mo and e["kind"] == "redeem") for mo in months]
[m["expired"] for m in j["months"]] == [0 for mo in months]
[m["adjusted"] for m in j["months"]] == [sum(e["points"] for e in es if e["at"][:7] == mo and e["kind"] == "adjust") for mo in months]
[m["reversed"] for m in j["months"]] == [sum(e["points"] for e in es if e["at"][:7] == mo and e["kind"] == "reverse") for mo in months]
EOF
api GET "/v1/loyalty/report?top=3"
jcheck "report?top=3" <<<"j['top'] == load('$T/report.json')['top'][:3]"
for q in top=-1 top=1001; do
    api GET "/v1/loyalty/report?$q"
    lerr 400 invalid_query '"top"' "report?$q"
done

# ---- retries with an Idempotency-Key ----
snap "$T/s0.txt"
first "PUT programme with a key" 200 api PUT /v1/loyalty/program "@$T/prog.json" -H 'Idempotency-Key: k-prog'
replayed "PUT programme retried" api PUT /v1/loyalty/program "@$T/prog.json" -H 'Idempotency-Key: k-prog'
api PUT /v1/loyalty/program '{"currency":"EUR"}' -H 'Idempotency-Key: k-prog'
lerr 422 idempotency_key_reused None "PUT programme: same key, another document"
api GET /v1/loyalty/program
same_file "$T/body" "$T/prog.canon" "the 422 changed no programme"
snap "$T/s1.txt"
same_file "$T/s0.txt" "$T/s1.txt" "programme retries changed nothing else"

first "points with a key" 201 api POST /v1/loyalty/members/bob/points '{"points":7,"reason":"retry test"}' -H 'Idempotency-Key: k-pts'
snap "$T/s2.txt"
replayed "points retried" api POST /v1/loyalty/members/bob/points '{"points":7,"reason":"retry test"}' -H 'Idempotency-Key: k-pts'
replayed "points retried twice" api POST /v1/loyalty/members/bob/points '{"points":7,"reason":"retry test"}' -H 'Idempotency-Key: k-pts'
api POST /v1/loyalty/members/bob/points '{"points":8,"reason":"retry test"}' -H 'Idempotency-Key: k-pts'
lerr 422 idempotency_key_reused None "points: same key, other points"
api POST /v1/loyalty/members/erin/points '{"points":7,"reason":"retry test"}' -H 'Idempotency-Key: k-pts'
lerr 422 idempotency_key_reused None "points: same key and body, another member"
api POST /v1/loyalty/rewards '{"name":"x","cost":5,"voucher":{"type":"percent","value":5}}' -H 'Idempotency-Key: k-pts'
lerr 422 idempotency_key_reused None "the key of a points request on another endpoint"
snap "$T/s3.txt"
same_file "$T/s2.txt" "$T/s3.txt" "points retries and 422s changed nothing"
balance_is bob 57 "7 points added once"

first "refused points with a key" 409 api POST /v1/loyalty/members/bob/points '{"points":-100000}' -H 'Idempotency-Key: k-err'
replayed "refused points retried" api POST /v1/loyalty/members/bob/points '{"points":-100000}' -H 'Idempotency-Key: k-err'

first "batch with a key" 200 api POST /v1/loyalty/points '{"operations":[{"user_id":"bob","points":3},{"user_id":"erin","points":4}]}' -H 'Idempotency-Key: k-batch'
snap "$T/s4.txt"
replayed "batch retried" api POST /v1/loyalty/points '{"operations":[{"user_id":"bob","points":3},{"user_id":"erin","points":4}]}' -H 'Idempotency-Key: k-batch'
api POST /v1/loyalty/points '{"operations":[{"user_id":"bob","points":3}]}' -H 'Idempotency-Key: k-batch'
lerr 422 idempotency_key_reused None "batch: same key, other operations"
snap "$T/s5.txt"
same_file "$T/s4.txt" "$T/s5.txt" "batch retries changed nothing"
balance_is bob 60 "batch applied once"
balance_is erin 44 "batch applied once"

first "enrol with a key" 201 api POST /v1/loyalty/members/jane '' -H 'Idempotency-Key: k-enrol'
replayed "enrol retried" api POST /v1/loyalty/members/jane '' -H 'Idempotency-Key: k-enrol'
api POST /v1/loyalty/members/june '' -H 'Idempotency-Key: k-enrol'
lerr 422 idempotency_key_reused None "enrol: same key, another member"
api GET /v1/loyalty/members/june
lerr 404 not_found None "the 422 enrolled nobody"

api GET /v1/loyalty/rewards
cp "$T/body" "$T/rw_before.json"
first "POST reward with a key" 201 api POST /v1/loyalty/rewards '{"name":"Keyed","cost":25,"stock":3,"voucher":{"type":"percent","value":5}}' -H 'Idempotency-Key: k-rw'
getv 'j["id"]'
RK=$v
replayed "POST reward retried" api POST /v1/loyalty/rewards '{"name":"Keyed","cost":25,"stock":3,"voucher":{"type":"percent","value":5}}' -H 'Idempotency-Key: k-rw'
api POST /v1/loyalty/rewards '{"name":"Keyed 2","cost":25,"voucher":{"type":"percent","value":5}}' -H 'Idempotency-Key: k-rw'
lerr 422 idempotency_key_reused None "POST reward: same key, another reward"
api GET /v1/loyalty/rewards
jcheck "one reward added by the three requests" <<<"[w['id'] for w in j['rewards']] == [w['id'] for w in load('$T/rw_before.json')['rewards']] + [$RK]"
first "PUT reward with a key" 200 api PUT "/v1/loyalty/rewards/$RK" '{"stock":7}' -H 'Idempotency-Key: k-rwput'
replayed "PUT reward retried" api PUT "/v1/loyalty/rewards/$RK" '{"stock":7}' -H 'Idempotency-Key: k-rwput'
api PUT "/v1/loyalty/rewards/$RK" '{"stock":8}' -H 'Idempotency-Key: k-rwput'
lerr 422 idempotency_key_reused None "PUT reward: same key, another stock"
api GET "/v1/loyalty/rewards/$RK"
jcheck "stock 7" <<<'j["stock"] == 7'

member alice "$T/alice_k0.json"
first "redeem with a key" 201 api POST /v1/loyalty/members/alice/redemptions "{\"reward_id\":$RK}" -H 'Idempotency-Key: k-red'
cp "$T/body" "$T/red_k.json"
snap "$T/s6.txt"
replayed "redeem retried" api POST /v1/loyalty/members/alice/redemptions "{\"reward_id\":$RK}" -H 'Idempotency-Key: k-red'
replayed "redeem retried twice" api POST /v1/loyalty/members/alice/redemptions "{\"reward_id\":$RK}" -H 'Idempotency-Key: k-red'
api POST /v1/loyalty/members/alice/redemptions "{\"reward_id\":$R7}" -H 'Idempotency-Key: k-red'
lerr 422 idempotency_key_reused None "redeem: same key, another reward"
snap "$T/s7.txt"
same_file "$T/s6.txt" "$T/s7.txt" "redeem retries: balance, history, stock unchanged"
api GET "/v1/loyalty/rewards/$RK"
jcheck "one taken from the stock" <<<'j["stock"] == 6'
jcheck "one redemption paid once" "$T/s7.txt" <<EOF
a0 = load("$T/alice_k0.json")
a1 = json.loads(raw.splitlines()[0])
a1["balance"] == a0["balance"] - 25
EOF
getv 'j["voucher"]["code"]' "$T/red_k.json"
VK=$v
first "voucher use with a key, no order" 200 api POST "/v1/vouchers/$V2/redeem" '' -H 'Idempotency-Key: k-use'
replayed "voucher use retried" api POST "/v1/vouchers/$V2/redeem" '' -H 'Idempotency-Key: k-use'
api GET "/v1/vouchers/$V2"
jcheck "the keyed use counted once" <<<'j["uses"] == 3'
api POST "/v1/vouchers/$VK/redeem" '' -H 'Idempotency-Key: k-use'
lerr 422 idempotency_key_reused None "voucher use: same key, another code"
api GET "/v1/vouchers/$VK"
jcheck "the 422 used nothing" <<<'j["uses"] == 0'

first "DELETE reward with a key" 200 api DELETE "/v1/loyalty/rewards/$RK" '' -H 'Idempotency-Key: k-rwdel'
replayed "DELETE reward retried" api DELETE "/v1/loyalty/rewards/$RK" '' -H 'Idempotency-Key: k-rwdel'

printf 'user_id,points\nimp-9,77\n' >"$T/imp9.csv"
first "import with a key" 200 csv_post /v1/loyalty/import "$T/imp9.csv" -H 'Idempotency-Key: k-imp'
jcheck "keyed import: 1 member" <<<'j == {"imported": 1, "skipped": 0}'
replayed "import retried" csv_post /v1/loyalty/import "$T/imp9.csv" -H 'Idempotency-Key: k-imp'
balance_is imp-9 77 "imported once"

first "pool with a key" 201 api POST /v1/voucher-pools '{"name":"Keyed pool","count":5,"type":"amount","value":500}' -H 'Idempotency-Key: k-pool'
alive "after a keyed pool"
if [[ $code == 201 ]]; then
    getv 'j["id"]'
    PK=$v
    jcheck "keyed pool: its name" <<<'j["name"] == "Keyed pool"'
    replayed "pool retried" api POST /v1/voucher-pools '{"name":"Keyed pool","count":5,"type":"amount","value":500}' -H 'Idempotency-Key: k-pool'
    alive "after a keyed pool retried"
    api GET "/v1/voucher-pools/$PK/codes.csv"
    expect_code 200 "the keyed pool's codes"
    check "the keyed pool has 5 codes" test "$(grep -c . "$T/body")" = 6
    api GET "/v1/voucher-pools/$((PK + 1))/codes.csv"
    lerr 404 not_found None "the retry made no second pool"
else
    bad "keyed pool: no pool, its retry checks skipped"
fi

api POST /v1/loyalty/members/bob/points '{"points":1}' -H "Idempotency-Key: $(printf 'k%.0s' {1..256})"
lerr 400 invalid_header '"Idempotency-Key"' "a 256-byte key"
api POST /v1/loyalty/members/bob/points '{"points":1}' -H 'Idempotency-Key;'
lerr 400 invalid_header '"Idempotency-Key"' "an empty key"
balance_is bob 60 "refused keys changed nothing"

# ---- tenancy: shop B sees nothing of A ----
member alice "$T/alice_t0.json"
api GET "/v1/vouchers/$V2"
cp "$T/body" "$T/v2_t0.json"
KEY=$B_KEY
api GET /v1/loyalty/members/alice
lerr 404 not_found None "B: A's member"
api GET /v1/loyalty/members/alice/history
lerr 404 not_found None "B: A's member's history"
api GET /v1/loyalty/members/alice/qr.png
lerr 404 not_found None "B: A's member's QR"
api GET /v1/loyalty/rewards
expect_code 200 "B: rewards"
jcheck "B: no rewards of A" <<<'j == {"rewards": []}'
api GET "/v1/loyalty/rewards/$R1"
lerr 404 not_found None "B: A's reward"
api PUT "/v1/loyalty/rewards/$R7" '{"cost":1}'
lerr 404 not_found None "B: PUT A's reward"
api DELETE "/v1/loyalty/rewards/$R7" ''
lerr 404 not_found None "B: DELETE A's reward"
api GET "/v1/vouchers/$V2"
lerr 404 not_found None "B: A's voucher"
api POST "/v1/vouchers/$V2/redeem" '{"order_id":"b-1"}'
lerr 404 not_found None "B: use A's voucher"
api GET "/v1/voucher-pools/$POOL/codes.csv"
lerr 404 not_found None "B: A's code pool"
api GET /v1/loyalty/program
lerr 404 not_found None "B: no programme of its own"
api PUT /v1/loyalty/program '{"currency":"EUR"}' -H 'Idempotency-Key: k-prog'
expect_code 201 "B: PUT its programme with a key A used"
jcheck "B's programme is its own" <<<'j["currency"] == "EUR" and j["tiers"]["levels"] == []'
api POST /v1/loyalty/members/alice/points '{"points":5}'
lerr 404 not_found None "B: points for A's customer"
api POST /v1/loyalty/members/alice/redemptions "{\"reward_id\":$R7}"
lerr 404 not_found None "B: redeem A's reward"
api POST /v1/loyalty/members/alice ''
expect_code 201 "B: enrol its own alice"
jcheck "B's alice starts at 0" <<<'j["balance"] == 0'
api GET /v1/loyalty/report
jcheck "B's report: its one member" <<<'j["members"] == 1 and j["liability"]["points"] == 0 and j["top"][0]["user_id"] == "alice"'
KEY=$A_KEY
member alice
jcheck "A's alice unchanged by B" <<<"j == load('$T/alice_t0.json')"
api GET "/v1/vouchers/$V2"
same_file "$T/body" "$T/v2_t0.json" "A's voucher unchanged by B"
api GET /v1/loyalty/program
same_file "$T/body" "$T/prog.canon" "A's programme unchanged by B"

# ---- a restart changes nothing ----
SNAP_USERS=(alice bob carol dave erin hank imp-1 imp-2)
snap "$T/r0.txt"
api GET "/v1/vouchers/$V1"
cp "$T/body" "$T/v1_r0.json"
stop_server "$srv"
srv=main-restart
start_server "$srv" --data "$D" --listen 127.0.0.1:0 --log off --voucher-failures 30
snap "$T/r1.txt"
same_file "$T/r0.txt" "$T/r1.txt" "after a restart: members, ledgers, rewards, programme, report"
api GET "/v1/vouchers/$V1"
same_file "$T/body" "$T/v1_r0.json" "after a restart: the voucher"
first_code=201
cp "$T/red_k.json" "$T/first.body"
replayed "a keyed redemption retried after the restart" api POST /v1/loyalty/members/alice/redemptions "{\"reward_id\":$RK}" -H 'Idempotency-Key: k-red'

# ---- failed voucher look-ups are rate limited per key ----
# (the server was just restarted: the allowance is a fresh 30)
urls=()
for i in $(seq 1 40); do urls+=(-o /dev/null "$URL/v1/vouchers/NOPE-$i"); done
curl -s -H "Authorization: Bearer $A_KEY" -w '%{http_code}\n' "${urls[@]}" >"$T/burst.txt"
jcheck "40 failed look-ups at once: 30 answered 404, then 429" "$T/burst.txt" <<'EOF'
c = raw.split()
len(c) == 40 and set(c) <= {"404", "429"}
"429" in c and c.index("429") in (30, 31) and all(x == "429" for x in c[c.index("429"):])
EOF
api GET /v1/vouchers/NOPE-41
lerr 429 rate_limited None "A is rate limited"
check "429 has Retry-After" grep -qiE '^retry-after: *[0-9]+' "$T/hdr"
api GET "/v1/vouchers/$V2"
lerr 429 rate_limited None "over the allowance, valid codes are refused too"
api POST /v1/vouchers/NOPE-45/redeem '{"order_id":"rl-1"}'
lerr 429 rate_limited None "over the allowance, malformed codes on redeem"
KEY=$B_KEY api GET /v1/vouchers/NOPE-B1
lerr 404 not_found None "B's key is not limited by A's failures"
# Shop C (id 257) against A (id 1): one shop's look-ups must not reset another's
# allowance (ids 1 and 257 share a slot of a limiter of 256 slots indexed by id).
KEY=$C_KEY api GET /v1/vouchers/NOPE-C1
lerr 404 not_found None "C's first failed look-up"
api GET /v1/vouchers/NOPE-44
lerr 429 rate_limited None "A stays limited after another shop's (C, id 257) failed look-up"
KEY=$C_KEY api GET /v1/vouchers/NOPE-C2
lerr 404 not_found None "C is not limited by A's failures"

stop_server "$srv"
finish_serve
