#!/usr/bin/env bash
# Killing `patron serve` (SIGKILL) while its delivery thread is sending email
# neither loses nor duplicates a confirmed send (issue 7, "Delivery
# guarantees"; src/engine/engine_deliver.c). 300 customers enter an automation
# that sends each one transactional email through a slow real SMTP server
# (tests/e2e/py/smtp_sink.py --delay-ms: each message takes a while, so a kill
# lands mid-round). The server is killed three times at different moments
# (in the first round before anything is marked sent, just after some rounds
# were marked, in the middle of a later round) and started again on the same
# data; then the outbox drains. At the end:
#   - every customer has exactly one stored message, whose Message-ID is the
#     outbox message id (nothing lost, nothing twice in the mailbox);
#   - every outbox row is sent (no pending, dead or skipped);
#   - a redelivery is allowed only for a message whose "sent" mark the crash
#     lost, and the receiver drops it as a duplicate (by Message-ID): no
#     message that GET /v1/outbox?status=sent showed just before a kill is in
#     the sink's duplicate log.
source "$(dirname "$0")/lib.sh"

SYSPY=/usr/bin/python3
if ! "$SYSPY" -c 'import aiosmtpd' 2>/dev/null; then
    echo "skipping: $SYSPY lacks the module aiosmtpd (Debian: python3-aiosmtpd)"
    finish
    exit
fi
source "$E2E_DIR/serve_lib.sh"

D="$T/data"
N=300

# the slow SMTP server
"$SYSPY" "$E2E_DIR/py/smtp_sink.py" --port-file "$T/mail.port" --out "$T/mail" --delay-ms 12 \
    2>"$T/mail.err" &
_spids+=("$!")
for ((i = 0; i < 200; i++)); do
    [[ -s $T/mail.port ]] && break
    sleep 0.05
done
SMTP_PORT=$(cat "$T/mail.port" 2>/dev/null)
if [[ -n $SMTP_PORT ]]; then ok; else bad "the SMTP sink did not start: $(head -c 300 "$T/mail.err")"; fi

cli shop shop create "Crash" --data "$D" --format json
expect_status 0 "create the shop"
KEY=$(key_of "$T/out")

# neml: how many messages the SMTP sink stored.
neml() {
    local f n=0
    for f in "$T"/mail/*.eml; do [[ -e $f ]] && n=$((n + 1)); done
    echo "$n"
}

n_srv=0
serve() {
    n_srv=$((n_srv + 1))
    start_server "s$n_srv" --data "$D" --listen 127.0.0.1:0 --log off \
        --smtp "smtp://127.0.0.1:$SMTP_PORT" --mail-from crash@patron.test
}

# crash NAME: snapshot the sent messages (ids into $T/sent.NAME), then SIGKILL
# the server at once and wait for it to be gone.
crash() {
    api GET "/v1/outbox?status=sent&limit=1000"
    if [[ $code == 200 ]]; then ok; else bad "$1: GET outbox before the kill: HTTP $code"; fi
    pyrun <<<"print('\n'.join(m['message_id'] for m in j['messages']))"
    kill -KILL "$SPID"
    wait "$SPID" 2>/dev/null
    cp "$T/py.out" "$T/sent.$1"
    # duplicates the sink logged up to now (later ones come after this kill)
    cat "$T/mail/duplicates.log" 2>/dev/null | grep -c . >"$T/dupn.$1"
    local p rest=()
    for p in "${_spids[@]}"; do [[ $p != "$SPID" ]] && rest+=("$p"); done
    _spids=("${rest[@]}")
    echo "$1: killed with $(grep -c . "$T/sent.$1") messages marked sent, $(neml) stored by the sink"
}

# sent_at_least N SECONDS: wait until the automation's stats show N sent.
sent_at_least() {
    local end=$((SECONDS + $2))
    while ((SECONDS < end)); do
        api GET "/v1/automations/$AID"
        pyrun <<<"print(j['stats']['messages']['sent'] if j else -1)"
        (($(cat "$T/py.out") >= $1)) && return 0
        sleep 0.05
    done
    return 1
}

serve
api PUT /v1/templates/receipt '{"name":"Receipt","channel":"email","subject":"Receipt for {{first_name}}","text":"Thanks {{first_name}} ({{customer.id}})."}'
expect_code 201 "template"
api POST /v1/automations '{"name":"Receipts","trigger":{"type":"event","event":"Crash Enter"},"steps":[{"type":"send","template":"receipt","transactional":true}]}'
expect_code 201 "automation"
AID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/body")
pyrun /dev/null <<EOF
json.dump({"batch": [{"type": "identify", "userId": "c%03d" % i, "messageId": "id-%d" % i,
                      "traits": {"first_name": "N%d" % i, "email": "c%03d@example.com" % i}}
                     for i in range($N)]}, open("$T/people.json", "w"))
json.dump({"batch": [{"type": "track", "userId": "c%03d" % i, "messageId": "enter-%d" % i,
                      "event": "Crash Enter"} for i in range($N)]}, open("$T/enter.json", "w"))
EOF
batch "$T/people.json"
expect_code 200 "$N customers"
batch "$T/enter.json"
expect_code 200 "$N customers enter"
api GET "/v1/automations/$AID"
jcheck "all entered, every message decided" <<<"j['stats']['entered'] == $N and sum(j['stats']['messages'].values()) == $N"

# kill 1: in the first round (64 messages a round), before any is marked sent
sleep 0.4
crash k1
serve
# kill 2: just after a round was marked sent
if sent_at_least 64 30; then ok; else bad "k2: no round marked sent within 30 s"; fi
crash k2
serve
# kill 3: in the middle of a later round
if sent_at_least 160 30; then ok; else bad "k3: 160 messages not marked sent within 30 s"; fi
sleep 0.3
crash k3
serve

# drain
if sent_at_least $N 60; then ok; else bad "the outbox did not drain within 60 s"; fi
api GET "/v1/outbox?limit=1000"
expect_code 200 "the outbox at the end"
cp "$T/body" "$T/outbox.end"
jcheck "the outbox: every message sent once" <<EOF
len(j["messages"]) == $N and j["next"] is None
[m for m in j["messages"] if m["status"] != "sent"] == []
sorted(m["user_id"] for m in j["messages"]) == ["c%03d" % i for i in range($N)]
all(m["address"] == m["user_id"] + "@example.com" for m in j["messages"])
EOF
api GET "/v1/outbox?status=pending"
jcheck "nothing pending" <<<"j['messages'] == []"
jcheck "the mailbox: one message per customer, none lost" /dev/null <<EOF
glob = __import__("glob")
ob = {m["message_id"]: m for m in load("$T/outbox.end")["messages"]}
ms = [json.load(open(f)) for f in glob.glob(T + "/mail/*.json")]
len(ms) == $N and len(glob.glob(T + "/mail/*.eml")) == $N
sorted(m["to"] for m in ms) == sorted("c%03d@example.com" % i for i in range($N))
sorted(m["message_id"] for m in ms) == sorted("<%s@patron.test>" % k for k in ob)
all(ob[m["message_id"].strip("<>").split("@")[0]]["address"] == m["to"] for m in ms)
all(m["subject"] == "Receipt for N%d" % int(m["to"][1:4]) for m in ms)
EOF
for k in k1 k2 k3; do
    jcheck "$k: no message marked sent before the kill was delivered again" /dev/null <<EOF
dup = [l.strip().strip("<>").split("@")[0] for l in open(T + "/mail/duplicates.log")] if os.path.exists(T + "/mail/duplicates.log") else []
before = set(l.strip() for l in open("$T/sent.$k") if l.strip())
sorted(set(dup[int(open("$T/dupn.$k").read()):]) & before) == []
EOF
done
jcheck "the sink's counters add up" /dev/null <<EOF
cnt = lambda n: int(open(T + "/mail/" + n).read())
dup = [l for l in open(T + "/mail/duplicates.log")] if os.path.exists(T + "/mail/duplicates.log") else []
cnt("received") == $N + cnt("duplicates") and cnt("duplicates") == len(dup)
EOF
echo "redeliveries dropped as duplicates: $(cat "$T/mail/duplicates")"
if grep -q 'Traceback' "$T/mail.err"; then bad "SMTP sink: $(head -c 300 "$T/mail.err")"; else ok; fi
finish_serve
