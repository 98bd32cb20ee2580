#!/usr/bin/env bash
# Loyalty redemptions under concurrency against a real `patron serve`: 500
# members imported with their balances (450 with 1000 points, 25 with 150 and
# 25 with 50: short on purpose), a reward of cost 100 with a stock of 100, then
# 2,000 redemption requests at once (4 per member, each with its own
# Idempotency-Key, 64 keep-alive connections; tests/e2e/py/loyalty_load.py):
# exactly 100 answers 201, every other one 409 out_of_stock or (only for a
# short member) insufficient_points; no balance below zero and each one equal
# to the import less 100 per 201; the stock 0; 100 distinct voucher codes that
# each validate; the report's redeemed total 100 x 100 and its liability the
# sum of the balances. Then 200 retries of answered requests (same key, same
# body) at once: the identical answers, replayed, nothing issued twice. Last,
# the same request sent three times at once under one key (a client retrying
# before the first answer came): one redemption per key, three identical
# answers.
source "$(dirname "$0")/lib.sh"
source "$E2E_DIR/serve_lib.sh"

D="$T/data"
LOAD="$E2E_DIR/py/loyalty_load.py"
WORKERS=64

cli a shop create "Loyalty Load" --data "$D" --format json
expect_status 0 "create shop"
KEY=$(key_of "$T/out")
start_server main --data "$D" --listen 127.0.0.1:0 --log off
PORT=${URL##*:}

# load NAME REQUESTS RESULTS [SEED]: the requests at once; all must get an answer.
load() {
    local t0=$SECONDS
    if python3 "$LOAD" "$PORT" "$KEY" "$2" "$3" "$WORKERS" "${4:-1}" 2>"$T/load.err"; then ok; else
        bad "$1: not every request got an answer: $(head -c 600 "$T/load.err")"
    fi
    echo "$1: $(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$2") requests in $((SECONDS - t0)) s" >&2
}
# balances FILE: GET every member at once; FILE gets {user_id: member view}.
balances() {
    pyrun /dev/null <<EOF
json.dump([{"method": "GET", "path": "/v1/loyalty/members/" + u, "body": None, "key": None}
           for u in load("$T/members.json")], open("$T/get.json", "w"))
EOF
    load "GET members" "$T/get.json" "$T/get.out.json"
    pyrun /dev/null <<EOF
ms = load("$T/members.json")
res = load("$T/get.out.json")
bad = [(u, r and r["status"]) for u, r in zip(ms, res) if not r or r["status"] != 200]
print("ok" if not bad else "FAIL %s" % bad[:5])
json.dump({u: json.loads(r["body"]) for u, r in zip(ms, res) if r and r["status"] == 200}, open("$1", "w"))
EOF
    if [[ $(cat "$T/py.out") == ok ]]; then ok; else bad "GET members: $(cat "$T/py.out")"; fi
}

# ---- programme, 500 members by import, the reward ----
api PUT /v1/loyalty/program '{"currency":"PLN","earn":{"points_per_unit":1}}'
expect_code 201 "PUT programme (the first: created)"
pyrun /dev/null <<EOF
ms = ["m%03d" % i for i in range(500)]
start = {u: 1000 if i < 450 else 150 if i < 475 else 50 for i, u in enumerate(ms)}
json.dump(ms, open("$T/members.json", "w"))
json.dump(start, open("$T/start.json", "w"))
with open("$T/members.csv", "w") as f:
    f.write("user_id,points\n")
    for u in ms:
        f.write("%s,%d\n" % (u, start[u]))
EOF
code=$(curl -s -o "$T/body" -w '%{http_code}' -X POST -H "Authorization: Bearer $KEY" \
    -H 'Content-Type: text/csv' --data-binary "@$T/members.csv" "$URL/v1/loyalty/import")
expect_code 200 "import 500 members"
jcheck "import: 500 members" <<<'j == {"imported": 500, "skipped": 0}'
api POST /v1/loyalty/rewards '{"name":"Limited mug","cost":100,"stock":100,"voucher":{"type":"percent","value":10}}'
expect_code 201 "POST reward"
pyrun <<<'print(j["id"])'
RID=$(cat "$T/py.out")
balances "$T/bal0.json"
jcheck "every member starts with the imported balance" "$T/bal0.json" <<EOF
start = load("$T/start.json")
len(j) == 500 and all(j[u]["balance"] == start[u] for u in start)
EOF

# ---- 2,000 redemptions at once ----
pyrun /dev/null <<EOF
reqs = [{"method": "POST", "path": "/v1/loyalty/members/%s/redemptions" % u,
         "body": json.dumps({"reward_id": $RID}), "key": "r1-%s-%d" % (u, k)}
        for u in load("$T/members.json") for k in range(4)]
json.dump(reqs, open("$T/r1.json", "w"))
EOF
load "2,000 redemptions" "$T/r1.json" "$T/r1.out.json" 7
jcheck "2,000 redemptions: the answers" "$T/r1.out.json" <<EOF
reqs = load("$T/r1.json")
start = load("$T/start.json")
res = [dict(r, user=q["path"].split("/")[4], j=json.loads(r["body"])) for q, r in zip(reqs, j)]
won = [r for r in res if r["status"] == 201]
lost = [r for r in res if r["status"] != 201]
len(res) == 2000 and not any(r["retried"] or r["replayed"] for r in res)
len(won) == 100
all(r["status"] == 409 and r["j"]["error"]["code"] in ("out_of_stock", "insufficient_points") for r in lost)
sum(r["j"]["error"]["code"] == "out_of_stock" for r in lost) >= 1500
# the well-funded never run short; the short never get what they cannot afford
all(start[r["user"]] < 400 for r in lost if r["j"]["error"]["code"] == "insufficient_points")
all(start[r["user"]] >= 100 for r in won)
all(r["j"]["user_id"] == r["user"] and r["j"]["reward"] == $RID and r["j"]["points"] == 100 for r in won)
len(set(r["j"]["voucher"]["code"] for r in won)) == 100
len(set(r["j"]["redemption"] for r in won)) == 100
all(r["j"]["voucher"]["type"] == "percent" and r["j"]["voucher"]["value"] == 10 and r["j"]["voucher"]["uses"] == 0 for r in won)
wins = {u: sorted(r["j"]["balance"] for r in won if r["user"] == u) for u in start}
all(wins[u] == sorted(start[u] - 100 * k for k in range(1, len(wins[u]) + 1)) for u in start)
all(min(wins[u], default=0) >= 0 for u in start)
EOF
pyrun "$T/r1.out.json" <<EOF
reqs = load("$T/r1.json")
won = {}
codes = []
for q, r in zip(reqs, j):
    if r["status"] == 201:
        u = q["path"].split("/")[4]
        won[u] = won.get(u, 0) + 1
        codes.append(json.loads(r["body"])["voucher"]["code"])
json.dump(won, open("$T/won.json", "w"))
json.dump([{"method": "GET", "path": "/v1/vouchers/" + c, "body": None, "key": None} for c in codes],
          open("$T/vget.json", "w"))
EOF
balances "$T/bal1.json"
jcheck "after the rush: balances" "$T/bal1.json" <<EOF
start = load("$T/start.json")
won = load("$T/won.json")
all(j[u]["balance"] >= 0 for u in start)
all(j[u]["balance"] == start[u] - 100 * won.get(u, 0) for u in start)
all(j[u]["redeemed"] == 100 * won.get(u, 0) for u in start)
EOF
api GET "/v1/loyalty/rewards/$RID"
expect_code 200 "GET reward"
jcheck "the stock is used up" <<<'j["stock"] == 0 and j["definition"]["stock"] == 0 and j["active"] is True'
api GET /v1/loyalty/report
expect_code 200 "report"
cp "$T/body" "$T/report1.json"
jcheck "report after the rush" <<EOF
bal = load("$T/bal1.json")
j["members"] == 500
j["redeemed"] == 100 * 100
j["liability"]["points"] == sum(m["balance"] for m in bal.values())
j["liability"]["debt"] == 0
sum(m["redeemed"] for m in j["months"]) == 100 * 100
EOF
load "look up the 100 vouchers" "$T/vget.json" "$T/vget.out.json"
jcheck "each voucher issued validates" "$T/vget.out.json" <<'EOF'
len(j) == 100 and all(r["status"] == 200 for r in j)
all(json.loads(r["body"])["valid"] is True and json.loads(r["body"])["state"] == "valid" for r in j)
EOF

# ---- 200 retries of answered requests at once ----
pyrun "$T/r1.out.json" <<EOF
reqs = load("$T/r1.json")
won = [i for i, r in enumerate(j) if r["status"] == 201]
lost = [i for i, r in enumerate(j) if r["status"] != 201]
pick = won + lost[::len(lost) // 100][:100]
json.dump(pick, open("$T/pick.json", "w"))
json.dump([reqs[i] for i in pick], open("$T/r2.json", "w"))
print(len(pick))
EOF
check "200 retries picked" test "$(cat "$T/py.out")" = 200
load "200 retries" "$T/r2.json" "$T/r2.out.json" 11
jcheck "retries: the recorded answers" "$T/r2.out.json" <<EOF
first = load("$T/r1.out.json")
pick = load("$T/pick.json")
len(j) == 200 and all(r["replayed"] for r in j)
all(r["status"] == first[i]["status"] and r["body"] == first[i]["body"] for r, i in zip(j, pick))
EOF
balances "$T/bal2.json"
jcheck "retries changed no balance" "$T/bal2.json" <<<"j == load('$T/bal1.json')"
api GET "/v1/loyalty/rewards/$RID"
jcheck "retries: the stock stays 0" <<<'j["stock"] == 0'
api GET /v1/loyalty/report
jcheck "retries: report unchanged" <<<"j['redeemed'] == 10000 and j == load('$T/report1.json')"
# the 100 winners' ledgers hold one redeem entry per win
pyrun /dev/null <<EOF
json.dump([{"method": "GET", "path": "/v1/loyalty/members/%s/history?limit=100" % u, "body": None,
            "key": None} for u in sorted(load("$T/won.json"))], open("$T/hist.json", "w"))
EOF
load "winners' histories" "$T/hist.json" "$T/hist.out.json"
jcheck "one redeem entry per win" "$T/hist.out.json" <<EOF
won = load("$T/won.json")
users = sorted(won)
hs = [json.loads(r["body"])["entries"] for r in j]
all(r["status"] == 200 for r in j)
all(sum(e["kind"] == "redeem" for e in h) == won[u] for u, h in zip(users, hs))
all(e["points"] == -100 and e["ref"] == "$RID" for h in hs for e in h if e["kind"] == "redeem")
EOF

# ---- one key sent three times at once: one redemption ----
api POST /v1/loyalty/rewards '{"name":"Big stock","cost":100,"stock":1000,"voucher":{"type":"amount","value":500}}'
expect_code 201 "POST second reward"
pyrun <<<'print(j["id"])'
RID2=$(cat "$T/py.out")
pyrun /dev/null <<EOF
users = load("$T/members.json")[:100]
json.dump([{"method": "POST", "path": "/v1/loyalty/members/%s/redemptions" % u,
            "body": json.dumps({"reward_id": $RID2}), "key": "r3-" + u} for u in users for _ in range(3)],
          open("$T/r3.json", "w"))
EOF
load "100 keys x 3 at once" "$T/r3.json" "$T/r3.out.json" 5
jcheck "a key sent three times at once: one redemption, three identical answers" "$T/r3.out.json" <<'EOF'
groups = [j[i:i + 3] for i in range(0, 300, 3)]
all(len(set((r["status"], r["body"]) for r in g)) == 1 for g in groups)
all(g[0]["status"] == 201 for g in groups)
all(sum(not r["replayed"] for r in g) == 1 for g in groups)
len(set(json.loads(g[0]["body"])["voucher"]["code"] for g in groups)) == 100
EOF
api GET "/v1/loyalty/rewards/$RID2"
jcheck "second reward: 100 taken" <<<'j["stock"] == 900'
balances "$T/bal3.json"
jcheck "each of the 100 paid once" "$T/bal3.json" <<EOF
before = load("$T/bal1.json")
users = set(load("$T/members.json")[:100])
all(j[u]["balance"] == before[u]["balance"] - (100 if u in users else 0) for u in before)
EOF
api GET /v1/loyalty/report
jcheck "report: redeemed 100 x 100 + 100 x 100" <<EOF
bal = load("$T/bal3.json")
j["redeemed"] == 20000 and j["liability"]["points"] == sum(m["balance"] for m in bal.values())
EOF

stop_server main
finish_serve
