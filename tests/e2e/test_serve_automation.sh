#!/usr/bin/env bash
# Marketing automation end to end (issue 7; routes in src/http/routes_automation.c,
# behaviour in src/engine/engine_auto*.c and engine_deliver.c) against a real
# `patron serve` with a real SMTP server (tests/e2e/py/smtp_sink.py, aiosmtpd)
# and real webhook receivers (tests/e2e/py/webhook_sink.py), all on 127.0.0.1.
# The clock is injected (--test-clock FILE): days of waits run in
# milliseconds. After each move of the clock a harmless request wakes the
# engine, and the checks poll the API with a deadline (no fixed sleeps).
#
# Covered: messaging settings (defaults, every key, refusals naming the
# field, nothing changed by a bad document); templates (create / replace /
# read / list / delete, syntax errors with line and column, previews with the
# profile, loyalty, recently viewed products and HTML escaping); automations
# (canonical definition, refusals with exact field paths, stats, a new version
# while customers are inside, pause / resume with held messages and waits
# ending meanwhile, delete); an event journey with per-customer content,
# transactional vs marketing and consent; the issue's win-back journey
# (reward voucher, wait for an order 7 days, points or a pool voucher);
# frequency caps; best hour and quiet hours; control groups (stable across a
# restart); webhooks (signature, JSON escaping, retry after 503, 400 = dead,
# gave up after N attempts); hard bounces and suppression; tracking (click,
# open, forged tokens, unsubscribe); the time triggers (cart abandoned, days
# since the last order, rhythm missed, replenishment, points expiring,
# birthday, tier changed, segment entered); tenancy; Idempotency-Key; a
# restart that loses nothing and sends nothing twice.
#
# Clock steps: S0 = day 0 10:05 UTC (set-up and the immediate journeys),
# S1 = +36 min, S2 = +40 min, restart, S3 = day 2 10:05, S4 = day 8 10:05.
# Marketing email goes at each customer's best hour: customers without orders
# get the default hour 10, so the clock stays in 10:xx.
source "$(dirname "$0")/lib.sh"

SYSPY=/usr/bin/python3
if ! "$SYSPY" -c 'import aiosmtpd' 2>/dev/null; then
    echo "skipping: $SYSPY lacks the module aiosmtpd (Debian: python3-aiosmtpd)"
    finish
    exit
fi
source "$E2E_DIR/serve_lib.sh"

D="$T/data"
day=86400
C0=$(($(date -u +%s) / day * day + 10 * 3600 + 5 * 60)) # today 10:05:00 UTC
CLK=$C0
echo "$C0" >"$T/clock"

# ---- helpers ----

# sink NAME SCRIPT ARGS...: a sink in the background, its files in $T/NAME,
# its port in $SINK_PORT (stopped at exit with the servers).
sink() {
    local name=$1 script=$2 i
    shift 2
    "$SYSPY" "$E2E_DIR/py/$script" --port-file "$T/$name.port" --out "$T/$name" "$@" \
        2>"$T/$name.err" &
    _spids+=("$!")
    SINK_PORT=""
    for ((i = 0; i < 200; i++)); do
        [[ -s $T/$name.port ]] && break
        sleep 0.05
    done
    SINK_PORT=$(cat "$T/$name.port" 2>/dev/null)
    if [[ -n $SINK_PORT ]]; then ok; else bad "sink $name did not start: $(head -c 300 "$T/$name.err")"; fi
}

serve() { # NAME [PORT]
    start_server "$1" --data "$D" --listen "127.0.0.1:${2:-0}" --log off --test-clock "$T/clock" \
        --automation-sweep 1 --smtp "smtp://127.0.0.1:$SMTP_PORT" --mail-from shop@patron.test \
        --delivery-attempts 3 --delivery-backoff 60
}

# poke: a request that makes the engine run a group (and so its due timers,
# sweeps and deliveries) now instead of within its idle second.
poke() {
    curl -s -o /dev/null --max-time 10 -H "Authorization: Bearer $A_KEY" \
        -H 'Content-Type: application/json' -d '{"user_id":"nobody"}' \
        "$URL/v1/automations/999999999/trigger"
}

# at SECONDS: the clock is C0 + SECONDS.
at() {
    CLK=$((C0 + $1))
    echo "$CLK" >"$T/clock.new"
    mv "$T/clock.new" "$T/clock"
    poke
}

isoc() { iso "${1:-$CLK}"; }
# neml: how many messages the SMTP sink stored.
neml() {
    local f n=0
    for f in "$T"/mail/*.eml; do [[ -e $f ]] && n=$((n + 1)); done
    echo "$n"
}

# until_ok NAME PATH EXPR [SECONDS]: GET PATH (with $KEY) until the Python
# expression EXPR over it holds (default deadline 10 s); then one check.
until_ok() {
    local name=$1 path=$2 expr=$3 end=$((SECONDS + ${4:-10}))
    while :; do
        api GET "$path"
        pyrun <<EOF
try:
    print(bool($expr))
except Exception:
    print(False)
EOF
        [[ $(cat "$T/py.out") == True ]] && break
        ((SECONDS >= end)) && break
        sleep 0.1
    done
    jcheck "$name" <<<"$expr"
}

n_ev=0
# ev USER EVENT [PROPERTIES [UNIX-TIME]]: one track event, accepted.
ev() {
    local p=${3-}
    [[ -z $p ]] && p='{}'
    n_ev=$((n_ev + 1))
    post track "{\"userId\":\"$1\",\"messageId\":\"ev-$n_ev\",\"event\":\"$2\",\"properties\":$p,\"timestamp\":\"$(isoc "${4:-$CLK}")\"}" accepted
}
# ident USER TRAITS-JSON
ident() {
    n_ev=$((n_ev + 1))
    post identify "{\"userId\":\"$1\",\"messageId\":\"ev-$n_ev\",\"traits\":$2,\"timestamp\":\"$(isoc)\"}" accepted
}
# person USER FIRST-NAME EMAIL-CONSENT(true|false) [MORE-TRAITS]: identify with
# first_name and email USER@example.com, then the consent.
person() {
    ident "$1" "{\"first_name\":\"$2\",\"email\":\"$1@example.com\"${4:+,$4}}"
    ev "$1" "Consent Changed" "{\"consents\":{\"email_marketing\":$3}}"
}
# order USER ORDER-ID TOTAL [UNIX-TIME [PRODUCTS-JSON]]
order() {
    ev "$1" "Order Completed" "{\"order_id\":\"$2\",\"total\":$3,\"currency\":\"USD\"${5:+,\"products\":$5}}" "${4:-$CLK}"
}
# create_auto NAME JSON: POST /v1/automations (201); its id in $AID.
create_auto() {
    api POST /v1/automations "$2"
    expect_code 201 "create automation $1"
    AID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$T/body" 2>/dev/null)
}
# tmpl ID JSON: PUT a template (201).
tmpl() {
    api PUT "/v1/templates/$1" "$2"
    expect_code 201 "PUT template $1"
}
getv() {
    pyrun "${2:-$T/body}" <<<"print($1)"
    v=$(cat "$T/py.out")
}
replay_hdr() { grep -qi '^idempotent-replayed: *true' "$T/hdr"; }

# Helpers in the checker: the sinks' files.
pyrun /dev/null <<'EOF'
import __main__, glob, hashlib, hmac
def mails():
    """message id (the outbox's) -> the SMTP sink's summary."""
    out = {}
    for f in glob.glob(T + "/mail/*.json"):
        m = json.load(open(f, encoding="utf-8"))
        out[(m.get("message_id") or "").strip("<>").split("@")[0]] = m
    return out
def mails_to(addr):
    return [m for m in mails().values() if m.get("to") == addr]
def hooks(name):
    """Idempotency-Key -> the webhook sink's summary."""
    return {json.load(open(f))["key"]: json.load(open(f)) for f in glob.glob(T + "/" + name + "/*.json")}
def counter(name, what):
    try:
        return int(open(T + "/" + name + "/" + what).read())
    except OSError:
        return 0
def msgs(j, aut=None, user=None, status=None):
    return [m for m in j["messages"] if (aut is None or m["automation"] == aut) and
            (user is None or m.get("user_id") == user) and (status is None or m["status"] == status)]
def users(j, aut=None, status=None):
    return sorted(m.get("user_id") for m in msgs(j, aut, None, status))
def one(j, aut, user):
    l = msgs(j, aut, user)
    assert len(l) == 1, "%d messages for %s in automation %s" % (len(l), user, aut)
    return l[0]
def links(html, kind):
    return re.findall(r'(?:href|src)="(https?://[^"]*/%s/[^"]*)"' % kind, html or "")
def sig_ok(h, secret):
    want = "v1=" + hmac.new(secret.encode(), h["timestamp"].encode() + b"." + h["body"].encode(),
                            hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, h["signature"])
for f in (mails, mails_to, hooks, counter, msgs, users, one, links, sig_ok):
    setattr(__main__, f.__name__, f)
EOF

# ---- shops, sinks, the server ----
for s in A B C K T S; do
    cli "shop-$s" shop create "Shop $s" --data "$D" --format json
    expect_status 0 "create shop $s"
    eval "${s}_KEY=\$(key_of \"\$T/out\")"
done
sink mail smtp_sink.py --reject-rcpt 'bounce-'
SMTP_PORT=$SINK_PORT
serve main
KEY=$A_KEY

# ================= 1. messaging settings (shop S) =================
KEY=$S_KEY
api GET /v1/messaging/settings
expect_code 200 "GET settings (defaults)"
cp "$T/body" "$T/set.default"
jcheck "settings: the defaults" <<EOF
list(j) == ["from", "from_name", "links_base_url", "quiet_hours", "timezone_offset_minutes", "default_hour", "caps", "webhook_secret"]
j["from"] == "shop@patron.test" and j["from_name"] is None
j["links_base_url"] == "$URL"
j["quiet_hours"] == {"start": 21, "end": 8} and j["timezone_offset_minutes"] == 0 and j["default_hour"] == 10
j["caps"] == {"email": {"max": 2, "per": "7d"}, "webhook": {"max": 2, "per": "7d"}}
re.fullmatch("[0-9a-f]{64}", j["webhook_secret"]) is not None
EOF
S_SECRET=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["webhook_secret"])' "$T/body")
api PUT /v1/messaging/settings "@$T/set.default"
expect_code 200 "settings: the GET answer PUT back is accepted (from_name null)"
api GET /v1/messaging/settings
same_file "$T/body" "$T/set.default" "settings: the defaults PUT back change nothing"
KEY=$B_KEY api GET /v1/messaging/settings
jcheck "settings: each shop has its own webhook secret" <<<"j['webhook_secret'] != '$S_SECRET' and len(j['webhook_secret']) == 64"
KEY=$S_KEY
api PUT /v1/messaging/settings '{"from":"news@shop-s.test","from_name":"Shop S News","links_base_url":"https://links.shop-s.test/","quiet_hours":{"start":22,"end":7},"timezone_offset_minutes":120,"default_hour":9,"caps":{"email":{"max":3,"per":"14d"},"webhook":null},"webhook_secret":"s-secret-0123456789abcdef"}'
expect_code 200 "PUT settings with every key"
cp "$T/body" "$T/set.put"
jcheck "PUT settings: the canonical answer" <<'EOF'
j == {"from": "news@shop-s.test", "from_name": "Shop S News", "links_base_url": "https://links.shop-s.test", "quiet_hours": {"start": 22, "end": 7}, "timezone_offset_minutes": 120, "default_hour": 9, "caps": {"email": {"max": 3, "per": "14d"}, "webhook": None}, "webhook_secret": "s-secret-0123456789abcdef"}
EOF
api GET /v1/messaging/settings
same_file "$T/body" "$T/set.put" "GET settings = the PUT answer"
bad_set() { # NAME FIELD(Python) BODY
    api PUT /v1/messaging/settings "$3"
    expect_code 400 "bad settings: $1"
    jcheck "bad settings: $1: the error" <<<"j['error']['field'] == $2 and j['error']['message'] != '' and j['error']['code'] != ''"
    [[ $1 == "from not an address" ]] &&
        jcheck "bad settings: no (garbage) line/column in a message about a value" <<<"'(line ' not in j['error']['message']"
    api GET /v1/messaging/settings
    same_file "$T/body" "$T/set.put" "bad settings ($1) changed nothing"
}
bad_set "from not an address" '"from"' '{"from":"not-an-address"}'
bad_set "quiet start 24" '"quiet_hours.start"' '{"quiet_hours":{"start":24,"end":7}}'
bad_set "quiet without end" '"quiet_hours"' '{"quiet_hours":{"start":1}}'
bad_set "quiet unknown key" '"quiet_hours.stop"' '{"quiet_hours":{"start":1,"end":2,"stop":3}}'
bad_set "time zone" '"timezone_offset_minutes"' '{"timezone_offset_minutes":900}'
bad_set "default hour as a string" '"default_hour"' '{"default_hour":"9"}'
bad_set "cap max 0" '"caps.email.max"' '{"caps":{"email":{"max":0,"per":"7d"}}}'
bad_set "cap per 30m" '"caps.email.per"' '{"caps":{"email":{"max":2,"per":"30m"}}}'
bad_set "cap per not a duration" '"caps.webhook.per"' '{"caps":{"webhook":{"max":2,"per":"week"}}}'
bad_set "cap of an unknown channel" '"caps.sms"' '{"caps":{"sms":{"max":1,"per":"1d"}}}'
bad_set "short webhook secret" '"webhook_secret"' '{"webhook_secret":"short"}'
bad_set "links base ftp" '"links_base_url"' '{"links_base_url":"ftp://x.test"}'
bad_set "unknown key" '"colour"' '{"default_hour":8,"colour":"red"}'
bad_set "not JSON" None '{"from": '
api PUT /v1/messaging/settings '{"from": '
jcheck "bad settings JSON: line and column" <<<"'line 1' in j['error']['message'] and 'column' in j['error']['message']"
api DELETE /v1/messaging/settings
expect_code 405 "DELETE settings"
KEY="" api GET /v1/messaging/settings
expect_code 401 "settings without a key"

# ================= shop A: settings, programme, reward, pool, segment =================
KEY=$A_KEY
A_SECRET="a-webhook-secret-0123456789"
api PUT /v1/messaging/settings "{\"caps\":{\"email\":null,\"webhook\":null},\"quiet_hours\":null,\"webhook_secret\":\"$A_SECRET\"}"
expect_code 200 "PUT settings of shop A"
jcheck "shop A settings" <<<"j['caps'] == {'email': None, 'webhook': None} and j['quiet_hours'] is None and j['default_hour'] == 10"
api PUT /v1/loyalty/program '{"currency":"USD","earn":{"points_per_unit":1}}'
expect_code 201 "shop A: loyalty programme"
api POST /v1/loyalty/rewards '{"name":"15% off","cost":100,"voucher":{"type":"percent","value":15,"valid_days":30}}'
expect_code 201 "shop A: a reward"
getv 'j["id"]'
RID=$v
api POST /v1/voucher-pools '{"name":"WB20","count":5,"type":"percent","value":20}'
expect_code 201 "shop A: a voucher pool"
getv 'j["id"]'
POOL=$v
api POST /v1/segments '{"name":"Lapsed","rule":"traits.lapsed = true"}'
expect_code 201 "shop A: segment Lapsed"
getv 'j["id"]'
SEG=$v

sink hooks webhook_sink.py --secret "$A_SECRET"
WH1="http://127.0.0.1:$SINK_PORT"
sink flaky webhook_sink.py --secret "$A_SECRET" --fail-first 1
WH2="http://127.0.0.1:$SINK_PORT"
CLOSED=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

# ================= 2. templates (shop A) =================
person alice Alice true '"bio":"<script>alert(1)</script>","grp":"journey"'
ev alice "Product Viewed" '{"product_id":"p1","name":"Red Shoes","url":"https://shop.example/p/1?ref=mail&utm=x","price":59}'
ev alice "Product Viewed" '{"product_id":"p2","name":"Blue Hat","price":20}'
order alice o-a0 20 "$CLK" '[{"product_id":"p2","price":20,"quantity":1}]'
api POST /v1/loyalty/members/alice/points '{"points":250,"reason":"test"}'
expect_code 201 "alice: manual points"

api PUT /v1/templates/pv '{"name":"Preview","channel":"email","subject":"{{first_name}}: {{loyalty.points}} points","html":"<p>{{first_name}} {{bio}}</p>{{#products}}<li>{{name}}</li>{{/products}}","text":"{{first_name}} {{bio}} {{#products}}[{{name}}]{{/products}}"}'
expect_code 201 "PUT template: created"
cp "$T/body" "$T/pv.1"
jcheck "PUT template: the answer" <<EOF
sorted(j) == ["created", "id", "template", "updated"] and j["id"] == "pv"
j["template"] == {"name": "Preview", "channel": "email", "subject": "{{first_name}}: {{loyalty.points}} points", "html": "<p>{{first_name}} {{bio}}</p>{{#products}}<li>{{name}}</li>{{/products}}", "text": "{{first_name}} {{bio}} {{#products}}[{{name}}]{{/products}}"}
j["created"] == "$(isoc)" and j["updated"] == j["created"]
EOF
api PUT /v1/templates/pv '{"name":"Preview","channel":"email","subject":"{{first_name}}: {{loyalty.points}} points","html":"<p>{{first_name}} {{bio}}</p><ul>{{#products}}<li>{{name}}</li>{{/products}}</ul>","text":"{{first_name}} {{bio}} {{#products}}[{{name}}]{{/products}}"}'
expect_code 200 "PUT template again: replaced"
cp "$T/body" "$T/pv.2"
jcheck "replaced template" <<<"j['template']['html'].startswith('<p>{{first_name}} {{bio}}</p><ul>') and j['created'] == load('$T/pv.1')['created']"
api GET /v1/templates/pv
expect_code 200 "GET template"
same_file "$T/body" "$T/pv.2" "GET template = the PUT answer"
tmpl gone '{"name":"Gone","channel":"email","subject":"x","text":"y"}'
api GET /v1/templates
expect_code 200 "GET templates"
jcheck "templates list" <<<"sorted(t['id'] for t in j['templates']) == ['gone', 'pv'] and [t for t in j['templates'] if t['id'] == 'pv'] == [load('$T/pv.2')]"
api DELETE /v1/templates/gone
expect_code 204 "DELETE template"
api GET /v1/templates/gone
expect_error 404 not_found None "GET a deleted template"
api DELETE /v1/templates/gone
expect_code 404 "DELETE a deleted template"
api GET "/v1/templates/bad%20id"
expect_code 404 "template id with a space"
# syntax errors: line and column inside the part, field = the part; nothing changed
bad_tmpl() { # NAME FIELD(Python) BODY [TEXTS-IN-MESSAGE...]
    local name=$1 field=$2 body=$3 t
    shift 3
    api PUT /v1/templates/pv "$body"
    expect_code 400 "bad template: $name"
    jcheck "bad template: $name: field" <<<"j['error']['field'] == $field and j['error']['message'] != ''"
    for t in "$@"; do
        jcheck "bad template: $name: message has '$t'" <<<"'$t' in j['error']['message']"
    done
    api GET /v1/templates/pv
    same_file "$T/body" "$T/pv.2" "bad template ($name) changed nothing"
}
bad_tmpl "unclosed section in html" '"html"' '{"name":"P","channel":"email","subject":"s","html":"<p>Hi</p>\n<p>{{#items}}</p>"}' "line 2" "column 4" "items"
bad_tmpl "stray close in subject" '"subject"' '{"name":"P","channel":"email","subject":"Hi {{/x}}","text":"t"}' "line 1" "column 4"
bad_tmpl "unclosed tag in text" '"text"' '{"name":"P","channel":"email","subject":"s","text":"a\nb\n  {{name"}' "line 3" "column 3"
bad_tmpl "unknown key" '"footer"' '{"name":"P","channel":"email","subject":"s","text":"t","footer":"x"}'
bad_tmpl "email without subject" '"subject"' '{"name":"P","channel":"email","text":"t"}'
bad_tmpl "webhook with html" '"html"' '{"name":"P","channel":"webhook","html":"<p>x</p>","body":"{}"}'
bad_tmpl "channel sms" '"channel"' '{"name":"P","channel":"sms","body":"{}"}'
bad_tmpl "not JSON" None '{"name": "P",' "line 1"

# preview for alice: first name, loyalty points, recently viewed (not bought), escaping
api GET /v1/loyalty/members/alice
getv 'j["balance"]'
ABAL=$v
api POST /v1/templates/pv/preview '{"user_id":"alice"}'
expect_code 200 "preview for alice"
jcheck "preview: rendered for alice" <<EOF
j["template"] == "pv" and j["user_id"] == "alice" and j["body"] is None
$ABAL >= 250 and j["subject"] == "Alice: $ABAL points"
j["html"].startswith("<p>Alice &lt;script&gt;alert(1)&lt;/script&gt;</p>")
"<script" not in j["html"]
"<li>Red Shoes</li>" in j["html"] and "Blue Hat" not in j["html"]
j["text"] == "Alice <script>alert(1)</script> [Red Shoes]"
EOF
api POST /v1/templates/pv/preview '{"user_id":"nobody-at-all"}'
expect_code 404 "preview for an unknown customer"
api POST /v1/templates/nope/preview '{"user_id":"alice"}'
expect_code 404 "preview of an unknown template"
api POST /v1/templates/pv/preview '{"user":"alice"}'
expect_error 400 invalid_field '"user_id"' "preview without user_id"
api GET /v1/templates/pv/preview
expect_code 405 "GET preview"

# ================= 3. automations: definitions =================
api GET /v1/automations
cp "$T/body" "$T/autos.0"
bad_def() { # NAME FIELD(Python) BODY [TEXTS-IN-MESSAGE...]
    local name=$1 field=$2 body=$3 t
    shift 3
    api POST /v1/automations "$body"
    expect_code 400 "bad definition: $name"
    jcheck "bad definition: $name: field" <<<"j['error']['code'] == 'invalid_definition' and j['error']['field'] == $field"
    for t in "$@"; do
        jcheck "bad definition: $name: message has '$t'" <<<"'''$t''' in j['error']['message']"
    done
}
TRIG='"trigger":{"type":"event","event":"Never Happens"}'
bad_def "unknown key" '"colour"' "{\"name\":\"x\",$TRIG,\"steps\":[{\"type\":\"wait\",\"for\":\"1d\"}],\"colour\":1}"
bad_def "unknown step key" '"steps[0].foo"' "{\"name\":\"x\",$TRIG,\"steps\":[{\"type\":\"wait\",\"for\":\"1d\",\"foo\":1}]}"
bad_def "a key of another step type" '"steps[0].template"' "{\"name\":\"x\",$TRIG,\"steps\":[{\"type\":\"wait\",\"for\":\"1d\",\"template\":\"pv\"}]}"
bad_def "trigger type typo" '"trigger.type"' '{"name":"x","trigger":{"type":"evnt","event":"A"},"steps":[{"type":"wait","for":"1d"}]}' 'did you mean "event"'
bad_def "bad duration" '"steps[1].for"' "{\"name\":\"x\",$TRIG,\"steps\":[{\"type\":\"wait\",\"for\":\"1d\"},{\"type\":\"wait\",\"for\":\"7days\"}]}"
bad_def "nested bad duration" '"steps[0].on_timeout[1].for"' "{\"name\":\"x\",$TRIG,\"steps\":[{\"type\":\"wait_event\",\"event\":\"E\",\"timeout\":\"2d\",\"on_timeout\":[{\"type\":\"tag\",\"add\":\"t\"},{\"type\":\"wait\",\"for\":\"0d\"}]}]}"
bad_def "duration over 365d" '"steps[0].timeout"' "{\"name\":\"x\",$TRIG,\"steps\":[{\"type\":\"wait_event\",\"event\":\"E\",\"timeout\":\"400d\"}]}"
bad_def "missing template" '"steps[1].template"' "{\"name\":\"x\",$TRIG,\"steps\":[{\"type\":\"wait\",\"for\":\"1d\"},{\"type\":\"send\",\"template\":\"nope\"}]}" 'nope'
bad_def "nested missing template" '"steps[0].on_timeout[0].template"' "{\"name\":\"x\",$TRIG,\"steps\":[{\"type\":\"wait_event\",\"event\":\"E\",\"timeout\":\"2d\",\"on_timeout\":[{\"type\":\"send\",\"template\":\"nope2\"}]}]}" 'nope2'
bad_def "unknown reward" '"steps[0].reward"' "{\"name\":\"x\",$TRIG,\"steps\":[{\"type\":\"voucher\",\"reward\":987654}]}"
bad_def "unknown segment id" '"trigger.segment"' '{"name":"x","trigger":{"type":"segment_entered","segment":987654},"steps":[{"type":"wait","for":"1d"}]}'
bad_def "bad rule in conditions" '"conditions"' "{\"name\":\"x\",$TRIG,\"conditions\":\"orders >= 2 and\\n  revnue > 3\",\"steps\":[{\"type\":\"wait\",\"for\":\"1d\"}]}" "line 2" "column 3"
bad_def "bad rule in a branch" '"steps[0].if"' "{\"name\":\"x\",$TRIG,\"steps\":[{\"type\":\"branch\",\"if\":\"orders >>= 2\",\"then\":[{\"type\":\"tag\",\"add\":\"t\"}]}]}" "line 1"
bad_def "control share 0.7" '"control_share"' "{\"name\":\"x\",$TRIG,\"control_share\":0.7,\"steps\":[{\"type\":\"wait\",\"for\":\"1d\"}]}"
bad_def "no steps" '"steps"' "{\"name\":\"x\",$TRIG,\"steps\":[]}"
bad_def "webhook send without url" '"steps[0].url"' "{\"name\":\"x\",$TRIG,\"steps\":[{\"type\":\"send\",\"template\":\"pv\",\"channel\":\"webhook\"}]}"
bad_def "email template on the webhook channel" '"steps[0].template"' "{\"name\":\"x\",$TRIG,\"steps\":[{\"type\":\"send\",\"template\":\"pv\",\"channel\":\"webhook\",\"url\":\"https://h.test/x\"}]}"
bad_def "not JSON" None '{"name":'
api GET /v1/automations
same_file "$T/body" "$T/autos.0" "bad definitions created nothing"

# a good one: the canonical definition echoed, defaults written out
DEF1='{"name":"Canon","trigger":{"type":"event","event":"Never Happens"},"reentry":{"after":"2w"},"steps":[{"type":"wait_event","event":"Order Completed","timeout":"48h","on_event":[{"type":"points","points":50}],"on_timeout":[{"type":"tag","add":"lost"},{"type":"branch","if":"orders >= 1","then":[{"type":"send","template":"pv"}],"else":[{"type":"webhook","url":"https://hooks.test/x"}]}]},{"type":"voucher","pool":"WB20"},{"type":"tag","remove":"lost"}]}'
create_auto canon "$DEF1"
CANON=$AID
cp "$T/body" "$T/canon.1"
jcheck "canonical definition" <<EOF
sorted(j) == ["created", "definition", "id", "name", "status", "trigger", "updated", "version"]
j["name"] == "Canon" and j["status"] == "active" and j["version"] == 1 and j["trigger"] == "event"
j["created"] == "$(isoc)"
j["definition"] == {"name": "Canon", "trigger": {"type": "event", "event": "Never Happens"}, "conditions": None, "control_share": 0, "reentry": {"after": "14d"}, "exit_on": None, "steps": [{"type": "wait_event", "event": "Order Completed", "timeout": "2d", "on_event": [{"type": "points", "points": 50, "reason": None}], "on_timeout": [{"type": "tag", "add": "lost"}, {"type": "branch", "if": "orders >= 1", "then": [{"type": "send", "template": "pv", "channel": "email", "transactional": False}], "else": [{"type": "webhook", "url": "https://hooks.test/x"}]}]}, {"type": "voucher", "pool": "WB20"}, {"type": "tag", "remove": "lost"}]}
EOF
# the canonical definition posted again is the same definition
pyrun "$T/canon.1" <<<"json.dump(j['definition'], open('$T/canon.def', 'w'))"
api POST /v1/automations "@$T/canon.def"
expect_code 201 "POST the canonical definition"
jcheck "canonical form is a fixed point" <<<"j['definition'] == load('$T/canon.1')['definition'] and j['id'] != $CANON"
getv 'j["id"]'
CANON2=$v
api GET "/v1/automations/$CANON"
expect_code 200 "GET one automation"
jcheck "GET one automation: with stats" <<EOF
{k: v for k, v in j.items() if k != "stats"} == load("$T/canon.1")
j["stats"] == {"entered": 0, "control": 0, "active": 0, "done": 0, "exited": 0, "failed": 0, "messages": {"pending": 0, "sent": 0, "dead": 0, "held": 0, "skipped": 0}}
EOF
api GET /v1/automations
jcheck "list: both" <<<"[a['id'] for a in j['automations']] == [$CANON, $CANON2] and all('stats' in a for a in j['automations'])"
api PUT "/v1/automations/$CANON" '{"name":"Canon v2","trigger":{"type":"event","event":"Never Happens"},"steps":[{"type":"wait","for":"90m"}]}'
expect_code 200 "PUT a new version"
jcheck "version 2" <<EOF
j["version"] == 2 and j["name"] == "Canon v2" and j["created"] == load("$T/canon.1")["created"] and j["id"] == $CANON
j["definition"]["steps"] == [{"type": "wait", "for": "90m"}]
EOF
cp "$T/body" "$T/canon.2"
api PUT "/v1/automations/$CANON" '{"name":"Canon v3","trigger":{"type":"event","event":"X"},"steps":[{"type":"wait","for":"1y"}]}'
expect_error 400 invalid_definition '"steps[0].for"' "PUT a bad version"
api GET "/v1/automations/$CANON"
jcheck "a bad version changed nothing" <<<"{k: v for k, v in j.items() if k != 'stats'} == load('$T/canon.2')"
api PUT /v1/automations/987654 "$DEF1"
expect_error 404 not_found None "PUT an unknown automation"
api GET /v1/automations/987654
expect_error 404 not_found None "GET an unknown automation"
api GET /v1/automations/12x
expect_code 404 "automation id not a number"
api DELETE "/v1/automations/$CANON2"
expect_code 204 "DELETE an automation"
api GET "/v1/automations/$CANON2"
expect_code 404 "GET a deleted automation"
api DELETE "/v1/automations/$CANON2"
expect_code 404 "DELETE a deleted automation"
api POST "/v1/automations/$CANON2/pause"
expect_code 404 "pause a deleted automation"
api PUT "/v1/automations/$CANON2" "$DEF1"
expect_code 404 "PUT a deleted automation"
api GET /v1/automations
jcheck "list without the deleted one" <<<"[a['id'] for a in j['automations']] == [$CANON]"
api POST "/v1/automations/$CANON/trigger" '{}'
expect_error 400 invalid_field '"user_id"' "trigger without user_id"
api POST "/v1/automations/$CANON/trigger" '{"user_id":"nobody-at-all"}'
expect_error 404 not_found None "trigger an unknown customer"

# ================= 14. Idempotency-Key on POST /v1/automations =================
IDEM_DEF='{"name":"Idem","trigger":{"type":"event","event":"Never Happens"},"steps":[{"type":"wait","for":"1d"}]}'
api POST /v1/automations "$IDEM_DEF" -H "Idempotency-Key: idem-auto-1"
expect_code 201 "Idempotency-Key: first POST"
if replay_hdr; then bad "the first answer says Idempotent-Replayed"; else ok; fi
cp "$T/body" "$T/idem.1"
api POST /v1/automations "$IDEM_DEF" -H "Idempotency-Key: idem-auto-1"
expect_code 201 "Idempotency-Key: retry"
same_file "$T/body" "$T/idem.1" "retry: the same answer"
if replay_hdr; then ok; else bad "retry without Idempotent-Replayed: true"; fi
api POST /v1/automations '{"name":"Idem 2","trigger":{"type":"event","event":"Never"},"steps":[{"type":"wait","for":"1d"}]}' -H "Idempotency-Key: idem-auto-1"
expect_code 422 "Idempotency-Key reused for another definition"
api GET /v1/automations
jcheck "one automation made under the key" <<<"[a['name'] for a in j['automations']].count('Idem') == 1 and len([a for a in j['automations'] if a['name'].startswith('Idem')]) == 1"

# ================= the journeys of shop A =================
tmpl order_tx '{"name":"Receipt","channel":"email","subject":"Receipt {{order.order_id}} for {{first_name}}","html":"<p>Thanks {{first_name}}, your total is {{order.total}} {{event.properties.currency}}.</p>","text":"Thanks {{first_name}}, your total is {{order.total}} {{event.properties.currency}}."}'
tmpl order_mkt '{"name":"More","channel":"email","subject":"{{first_name}}, more for you","html":"<html><body><p>Hi {{first_name}}, after order {{event.properties.order_id}} ({{order.total}})</p><p><a href=\"https://shop.example/sale?src=mail&id=7\">Sale</a></p>{{#products}}<p><a href=\"{{url}}\">{{name}}</a></p>{{/products}}<p><a href=\"{{unsubscribe_url}}\">unsubscribe</a></p></body></html>","text":"Hi {{first_name}}, after order {{event.properties.order_id}} ({{order.total}}). Unsubscribe: {{unsubscribe_url}}"}'
create_auto journey '{"name":"Order journey","trigger":{"type":"event","event":"Order Completed"},"conditions":"traits.grp = \"journey\"","steps":[{"type":"send","template":"order_tx","transactional":true},{"type":"send","template":"order_mkt"},{"type":"tag","add":"ordered"}]}'
EJ=$AID
tmpl wb1 '{"name":"Win-back 15","channel":"email","subject":"We miss you, {{first_name}}","html":"<p>{{first_name}}, use {{voucher.code}} for 15% off.</p>","text":"{{first_name}}, use {{voucher.code}} for 15% off."}'
tmpl wb2 '{"name":"Win-back 20","channel":"email","subject":"Last chance, {{first_name}}","html":"<p>{{first_name}}, {{voucher.code}} gives 20% off.</p>","text":"{{first_name}}, {{voucher.code}} gives 20% off."}'
create_auto winback "{\"name\":\"Win-back\",\"trigger\":{\"type\":\"segment_entered\",\"segment\":$SEG},\"steps\":[{\"type\":\"voucher\",\"reward\":$RID},{\"type\":\"send\",\"template\":\"wb1\"},{\"type\":\"wait_event\",\"event\":\"Order Completed\",\"timeout\":\"7d\",\"on_event\":[{\"type\":\"points\",\"points\":500,\"reason\":\"welcome back\"}],\"on_timeout\":[{\"type\":\"voucher\",\"pool\":\"WB20\"},{\"type\":\"send\",\"template\":\"wb2\"}]}]}"
WB=$AID
tmpl v1 '{"name":"V1","channel":"email","subject":"Version 1 for {{first_name}}","text":"v1"}'
tmpl v2 '{"name":"V2","channel":"email","subject":"Version 2 for {{first_name}}","text":"v2"}'
create_auto versions '{"name":"Versions","trigger":{"type":"event","event":"V Enter"},"steps":[{"type":"wait","for":"1d"},{"type":"send","template":"v1"}]}'
VA=$AID
tmpl p1 '{"name":"P1","channel":"email","subject":"P1 {{first_name}}","text":"p1"}'
tmpl p_ev '{"name":"P ev","channel":"email","subject":"P event {{first_name}}","text":"p ev"}'
tmpl p_to '{"name":"P to","channel":"email","subject":"P timeout {{first_name}}","text":"p to"}'
create_auto pause '{"name":"Pausable","trigger":{"type":"event","event":"P Enter"},"steps":[{"type":"send","template":"p1"},{"type":"wait_event","event":"P Go","timeout":"1d","on_event":[{"type":"send","template":"p_ev"}],"on_timeout":[{"type":"send","template":"p_to"}]}]}'
PA=$AID
tmpl hb '{"name":"HB","channel":"email","subject":"Hello {{first_name}}","text":"hello"}'
create_auto bounce '{"name":"Bounce","trigger":{"type":"event","event":"HB Test"},"steps":[{"type":"send","template":"hb"}]}'
HB=$AID
api PUT /v1/templates/sms '{"name":"SMS","channel":"webhook","body":"{\"to\":\"{{phone}}\",\"text\":\"Hi {{first_name}}, code {{event.properties.code}}\",\"user\":\"{{customer.id}}\"}"}'
expect_code 201 "webhook template"
create_auto hooks "{\"name\":\"Hooks\",\"trigger\":{\"type\":\"event\",\"event\":\"Hook Test\"},\"steps\":[{\"type\":\"send\",\"template\":\"sms\",\"channel\":\"webhook\",\"url\":\"$WH1/sms\",\"transactional\":true},{\"type\":\"webhook\",\"url\":\"$WH1/run\"},{\"type\":\"send\",\"template\":\"sms\",\"channel\":\"webhook\",\"url\":\"$WH1/sms-marketing\"}]}"
W1=$AID
create_auto flaky "{\"name\":\"Flaky\",\"trigger\":{\"type\":\"event\",\"event\":\"Hook Test\"},\"steps\":[{\"type\":\"webhook\",\"url\":\"$WH2/flaky\"}]}"
W2=$AID
create_auto reject "{\"name\":\"Reject\",\"trigger\":{\"type\":\"event\",\"event\":\"Hook Test\"},\"steps\":[{\"type\":\"webhook\",\"url\":\"$WH1/reject\"}]}"
W3=$AID
create_auto closed "{\"name\":\"Closed\",\"trigger\":{\"type\":\"event\",\"event\":\"Hook Test\"},\"steps\":[{\"type\":\"webhook\",\"url\":\"http://127.0.0.1:$CLOSED/none\"}]}"
W4=$AID
create_auto quote "{\"name\":\"Quote\",\"trigger\":{\"type\":\"event\",\"event\":\"Hook Quote\"},\"steps\":[{\"type\":\"send\",\"template\":\"sms\",\"channel\":\"webhook\",\"url\":\"$WH1/sms-quote\",\"transactional\":true}]}"
W5=$AID

# ================= 4. an event journey, per-customer content (S0) =================
person bob Bob true '"grp":"journey"'
person carol Carol false '"grp":"journey"'
person dora Dora true # not in the journey's conditions
order alice o-a1 123.45
order bob o-b1 80
order carol o-c1 42.5
order dora o-d1 10
until_ok "journey: 6 messages decided, 5 sent" "/v1/outbox?automation=$EJ&limit=100" "len(msgs(j)) == 6 and len(msgs(j, status='sent')) == 5"
cp "$T/body" "$T/ej.out"
jcheck "journey: who got what" <<EOF
users(j) == ["alice", "alice", "bob", "bob", "carol", "carol"]
[m["template"] for m in sorted(msgs(j, user="carol"), key=lambda m: m["id"])] == ["order_tx", "order_mkt"]
c = {m["template"]: m for m in msgs(j, user="carol")}
c["order_tx"]["status"] == "sent" and c["order_tx"]["marketing"] is False
c["order_mkt"]["status"] == "skipped" and c["order_mkt"]["marketing"] is True and "no consent" in c["order_mkt"]["error"] and c["order_mkt"]["sent_at"] is None
all(m["error"] is None and m["attempts"] == 1 and m["sent_at"] == "$(isoc)" for m in msgs(j, status="sent"))
all(m["address"] == m["user_id"] + "@example.com" and m["channel"] == "email" for m in msgs(j))
EOF
# the emails as the SMTP server got them
jcheck "journey: the emails" <<EOF
ob = {(m["user_id"], m["template"]): m for m in load("$T/ej.out")["messages"]}
M = mails()
want = {"alice": ("Alice", "123.45", "o-a1"), "bob": ("Bob", "80", "o-b1"), "carol": ("Carol", "42.5", "o-c1")}
all(M[ob[(u, "order_tx")]["message_id"]]["subject"] == "Receipt %s for %s" % (o, n) for u, (n, t, o) in want.items())
all(M[ob[(u, "order_tx")]["message_id"]]["text"].strip() == "Thanks %s, your total is %s USD." % (n, t) for u, (n, t, o) in want.items())
all("<p>Thanks %s, your total is %s USD.</p>" % (n, t) in M[ob[(u, "order_tx")]["message_id"]]["html"] for u, (n, t, o) in want.items())
all(M[ob[(u, "order_mkt")]["message_id"]]["subject"] == n + ", more for you" for u, (n, t, o) in want.items() if u != "carol")
all("Hi %s, after order %s (%s)" % (n, o, t) in M[ob[(u, "order_mkt")]["message_id"]]["html"] for u, (n, t, o) in want.items() if u != "carol")
all("Hi %s, after order %s (%s)" % (n, o, t) in M[ob[(u, "order_mkt")]["message_id"]]["text"] for u, (n, t, o) in want.items() if u != "carol")
all(m["content_type"] == "multipart/alternative" and m["defects"] == [] and not m["bare_lf"] and m["max_line"] <= 998 for m in M.values())
all(M[m["message_id"]]["message_id"] == "<%s@patron.test>" % m["message_id"] for m in ob.values() if m["status"] == "sent")
all(M[m["message_id"]]["to"] == m["address"] and M[m["message_id"]]["envelope_to"] == [m["address"]] and M[m["message_id"]]["from_addr"] == "shop@patron.test" for m in ob.values() if m["status"] == "sent")
all(M[ob[(u, "order_mkt")]["message_id"]]["list_unsubscribe"].startswith("<$URL/u/" + ob[(u, "order_mkt")]["message_id"] + ".") for u in ("alice", "bob"))
all(M[ob[(u, "order_mkt")]["message_id"]]["list_unsubscribe_post"] == "List-Unsubscribe=One-Click" for u in ("alice", "bob"))
all(M[ob[(u, "order_tx")]["message_id"]]["list_unsubscribe"] is None for u in want)
ob[("carol", "order_mkt")]["message_id"] not in M and len(mails_to("carol@example.com")) == 1
len(mails_to("dora@example.com")) == 0
all(other not in M[m["message_id"]]["html"] + M[m["message_id"]]["text"] for m in ob.values() if m["status"] == "sent" for other in ("Alice", "Bob", "Carol") if other.lower() != m["user_id"])
EOF
api GET /v1/customers/carol
jcheck "journey: the tag step tagged carol" <<<"j['tags'] == ['ordered']"
api GET /v1/customers/dora
jcheck "journey: dora (other conditions) has no tag" <<<"j['tags'] == []"
api GET "/v1/automations/$EJ"
jcheck "journey: stats" <<<"j['stats']['entered'] == 3 and j['stats']['done'] == 3 and j['stats']['active'] == 0 and j['stats']['messages'] == {'pending': 0, 'sent': 5, 'dead': 0, 'held': 0, 'skipped': 1}"

# the outbox listing: filters, pages, bad queries
api GET "/v1/outbox?limit=1000"
cp "$T/body" "$T/ob.all"
api GET "/v1/outbox?status=skipped&limit=1000"
jcheck "outbox?status=skipped" <<<"j['messages'] == [m for m in load('$T/ob.all')['messages'] if m['status'] == 'skipped'] and len(j['messages']) >= 1"
api GET "/v1/outbox?user_id=alice&limit=1000"
jcheck "outbox?user_id=alice" <<<"j['messages'] == [m for m in load('$T/ob.all')['messages'] if m.get('user_id') == 'alice'] and len(j['messages']) == 2"
api GET "/v1/outbox?limit=2"
jcheck "outbox pages: the first" <<<"j['messages'] == load('$T/ob.all')['messages'][:2] and j['next'] == j['messages'][1]['id']"
getv 'j["next"]'
api GET "/v1/outbox?limit=2&before=$v"
jcheck "outbox pages: the second" <<<"j['messages'] == load('$T/ob.all')['messages'][2:4]"
api GET "/v1/outbox?status=bogus"
expect_error 400 invalid_query '"status"' "outbox?status=bogus"
api GET "/v1/outbox?limit=0"
expect_error 400 invalid_query '"limit"' "outbox?limit=0"
api POST /v1/outbox '{}'
expect_code 405 "POST /v1/outbox"

# ================= 11. tracking: click, open, forged tokens, unsubscribe =================
pyrun "$T/ej.out" <<'EOF'
ob = {(m["user_id"], m["template"]): m for m in j["messages"]}
a = mails()[ob[("alice", "order_mkt")]["message_id"]]
c = links(a["html"], "t/c")
print(ob[("alice", "order_mkt")]["message_id"])
print(([l for l in c if "sale" in l] + ["none"])[0])
print(([l for l in c if "p%2F1" in l] + ["none"])[0])
mid = ob[("alice", "order_mkt")]["message_id"]
print("yes" if ("/u/" + mid + ".") in a["html"] or ("%2Fu%2F" + mid + ".") in a["html"] else "no")
print((links(a["html"], "t/o") + ["none"])[0])
print(mails()[ob[("bob", "order_mkt")]["message_id"]]["list_unsubscribe"].strip("<>"))
EOF
mapfile -t L <"$T/py.out"
AMID=${L[0]}
if [[ ${L[3]} == yes && ${L[1]} != none && ${L[2]} != none && ${L[4]} != none ]]; then ok; else
    bad "alice's email: want tracked sale and product links, an unsubscribe link and a pixel: ${L[*]}"
fi
# click the literal link and the product link (whose URL has a '&')
for i in 1 2; do
    curl -s -o /dev/null -D "$T/hdr.c$i" -w '%{http_code}' --max-time 10 "${L[$i]}" >"$T/code.c$i"
done
check "click 1: 302" test "$(cat "$T/code.c1")" = 302
check "click 1: to the sale page" grep -qiF 'Location: https://shop.example/sale?src=mail&id=7' "$T/hdr.c1"
check "click 2: 302" test "$(cat "$T/code.c2")" = 302
if grep -qiF $'Location: https://shop.example/p/1?ref=mail&utm=x\r' "$T/hdr.c2"; then ok; else
    bad "click on the product link: want Location https://shop.example/p/1?ref=mail&utm=x, got $(grep -i '^location' "$T/hdr.c2")"
fi
# the open pixel
code=$(curl -s -o "$T/pixel" -D "$T/hdr.o" -w '%{http_code}' --max-time 10 "${L[4]}")
check "open pixel: 200" test "$code" = 200
check "open pixel: image/gif" grep -qi '^content-type: image/gif' "$T/hdr.o"
check "open pixel: a GIF" test "$(head -c 6 "$T/pixel")" = GIF89a
# forged tokens
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/t/c/$AMID.00000000000000000000000000000000?u=https%3A%2F%2Fshop.example%2Fsale")
check "forged click token: 404" test "$code" = 404
c1=${L[1]%%\?*}
code=$(curl -s -o /dev/null -w '%{http_code}' "$c1?u=https%3A%2F%2Fevil.example%2F")
check "a real click token with another URL: 404 (no open redirect)" test "$code" = 404
code=$(curl -s -o "$T/pixel2" -D "$T/hdr.o2" -w '%{http_code}' "$URL/t/o/$AMID.00000000000000000000000000000000.gif")
check "forged open token: 200 anyway" test "$code" = 200
check "forged open token: a GIF" test "$(head -c 6 "$T/pixel2")" = GIF89a
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/u/$AMID.00000000000000000000000000000000")
check "forged unsubscribe token: 404" test "$code" = 404
api GET "/v1/customers/alice?timeline=100"
jcheck "alice's profile: Email Opened and Email Clicked" <<EOF
op = [t for t in j["timeline"] if t["event"] == "Email Opened"]
cl = [t for t in j["timeline"] if t["event"] == "Email Clicked"]
len(op) == 1 and op[0]["body"]["properties"]["message_id"] == "$AMID" and op[0]["body"]["properties"]["automation_id"] == $EJ
"https://shop.example/sale?src=mail&id=7" in [t["body"]["properties"]["url"] for t in cl]
EOF
jcheck "alice's profile: the clicks recorded carry the URLs as written (no &amp;)" <<EOF
cl = [t for t in j["timeline"] if t["event"] == "Email Clicked"]
len(cl) in (1, 2) and set(t["body"]["properties"]["url"] for t in cl) <= {"https://shop.example/sale?src=mail&id=7", "https://shop.example/p/1?ref=mail&utm=x"}
all(t["body"]["properties"]["message_id"] == "$AMID" for t in cl)
j["consents"]["email_marketing"] is True
EOF
# unsubscribe: GET shows a page, POST unsubscribes
code=$(curl -s -o "$T/unsub.html" -D "$T/hdr.u" -w '%{http_code}' "${L[5]}")
check "unsubscribe page: 200" test "$code" = 200
check "unsubscribe page: a form that posts" grep -q '<form method="post"' "$T/unsub.html"
api GET /v1/customers/bob
jcheck "bob: still subscribed after the GET" <<<"j['consents']['email_marketing'] is True"
code=$(curl -s -o "$T/unsub2.html" -w '%{http_code}' -X POST "${L[5]}")
check "unsubscribe POST: 200" test "$code" = 200
check "unsubscribe POST: confirmed" grep -q 'unsubscribed' "$T/unsub2.html"
api GET "/v1/customers/bob?timeline=100"
jcheck "bob: unsubscribed" <<<"j['consents']['email_marketing'] is False and [t['body']['properties']['source'] for t in j['timeline'] if t['event'] == 'Consent Updated'] == ['unsubscribe link']"
order bob o-b2 15
until_ok "bob orders again: receipt sent, marketing skipped" "/v1/outbox?automation=$EJ&user_id=bob&limit=100" "len(msgs(j)) == 4 and len(msgs(j, status='sent')) == 3"
jcheck "bob's new marketing message: no consent" <<<"[m['error'] for m in msgs(j) if m['template'] == 'order_mkt' and m['status'] == 'skipped'] == ['no consent to email marketing']"
jcheck "bob: the receipt only after unsubscribing" /dev/null <<<"sorted(m['subject'] for m in mails_to('bob@example.com')) == ['Bob, more for you', 'Receipt o-b1 for Bob', 'Receipt o-b2 for Bob']"

# ================= 10. hard bounce =================
person bounce-hbd Hanna true
ev bounce-hbd "HB Test"
until_ok "hard bounce: dead" "/v1/outbox?automation=$HB&limit=100" "len(msgs(j, status='dead')) == 1"
jcheck "hard bounce: the reason" <<<"'hard bounce' in msgs(j)[0]['error'] and msgs(j)[0]['attempts'] == 1 and msgs(j)[0]['sent_at'] is None"
jcheck "hard bounce: the sink refused it" /dev/null <<<"counter('mail', 'rejected_rcpts') == 1 and mails_to('bounce-hbd@example.com') == []"
api POST "/v1/automations/$HB/trigger" '{"user_id":"bounce-hbd"}'
expect_code 200 "manual entry"
jcheck "manual entry (the same second as the last entry): entered" <<<"j['automation'] == $HB and j['entered'] is True and j.get('control', False) is False"
until_ok "hard bounce: the next marketing message is skipped" "/v1/outbox?automation=$HB&limit=100" "len(msgs(j)) == 2"
jcheck "suppressed" <<<"msgs(j)[0]['status'] == 'skipped' and 'suppressed' in msgs(j)[0]['error']"
jcheck "the sink got one attempt only" /dev/null <<<"counter('mail', 'rejected_rcpts') == 1"

# ================= 9. webhooks =================
ident hk '{"first_name":"Zoë <b>","phone":"+48 600 100 200"}'
ev hk "Hook Test" '{"code":"42"}'
ident hq '{"first_name":"Q \"Quote\" \\ Back","phone":"+48 600 100 201"}'
ev hq "Hook Quote" '{"code":"x\"y"}'
until_ok "webhooks: sms and run delivered" "/v1/outbox?automation=$W1&limit=100" "len(msgs(j, status='sent')) == 2 and len(msgs(j)) == 3"
cp "$T/body" "$T/w1.out"
jcheck "webhooks: the marketing webhook needs SMS consent" <<<"[m['error'] for m in msgs(j, status='skipped')] == ['no consent to sms']"
jcheck "webhooks: what the receiver got" /dev/null <<EOF
ob = {m["address"].rsplit("/", 1)[1]: m for m in load("$T/w1.out")["messages"]}
H = hooks("hooks")
sorted(k for k in H if H[k]["path"] != "/sms-quote") == sorted([ob["sms"]["message_id"], ob["run"]["message_id"]])
all(h["signature_ok"] is True and sig_ok(h, "$A_SECRET") and h["content_type"] == "application/json" for h in H.values())
all(int(h["timestamp"]) == $CLK for h in H.values())
json.loads(H[ob["sms"]["message_id"]]["body"]) == {"to": "+48 600 100 200", "text": "Hi Zoë <b>, code 42", "user": "hk"}
H[ob["sms"]["message_id"]]["path"] == "/sms" and H[ob["run"]["message_id"]]["path"] == "/run"
r = json.loads(H[ob["run"]["message_id"]]["body"])
r["message_id"] == ob["run"]["message_id"] and r["automation"] == $W1 and r["user_id"] == "hk" and r["run"] == ob["run"]["run"]
r["event"]["event"] == "Hook Test" and r["event"]["properties"] == {"code": "42"} and r["t"] == $CLK
counter("hooks", "bad_signatures") == 0
EOF
until_ok "webhook body with quotes: decided" "/v1/outbox?automation=$W5&limit=100" "len(msgs(j)) == 1 and msgs(j)[0]['status'] != 'pending'"
jcheck "webhook body: quotes and backslashes in values are escaped (valid JSON, sent)" <<<"msgs(j)[0]['status'] == 'sent' and msgs(j)[0]['error'] is None"
jcheck "webhook body: the quoted values arrive intact" /dev/null <<<"[json.loads(h['body']) for h in hooks('hooks').values() if h['path'] == '/sms-quote'] == [{'to': '+48 600 100 201', 'text': 'Hi Q \"Quote\" \\\\ Back, code x\"y', 'user': 'hq'}]"
until_ok "webhook answered 400: dead" "/v1/outbox?automation=$W3&limit=100" "len(msgs(j, status='dead')) == 1"
jcheck "webhook 400: the reason" <<<"'400' in msgs(j)[0]['error'] and msgs(j)[0]['attempts'] == 1"
until_ok "webhook answered 503: waits for a retry" "/v1/outbox?automation=$W2&limit=100" "msgs(j)[0]['attempts'] == 1 and msgs(j)[0]['status'] == 'pending'"
jcheck "webhook 503: the retry after the backoff" <<<"'503' in msgs(j)[0]['error'] and msgs(j)[0]['next_attempt'] == '$(isoc $((CLK + 60)))'"
until_ok "closed port: waits for a retry" "/v1/outbox?automation=$W4&limit=100" "msgs(j)[0]['attempts'] == 1 and msgs(j)[0]['status'] == 'pending'"
jcheck "closed port: next attempt after the backoff" <<<"msgs(j)[0]['next_attempt'] == '$(isoc $((CLK + 60)))' and msgs(j)[0]['error'] is not None"

# ================= 3b. a new version while a customer is inside; pause / resume =================
person v-old Oscar true
person v-new Nina true
ev v-old "V Enter"
api PUT "/v1/automations/$VA" '{"name":"Versions","trigger":{"type":"event","event":"V Enter"},"steps":[{"type":"wait","for":"1d"},{"type":"send","template":"v2"}]}'
expect_code 200 "versions: PUT version 2"
jcheck "versions: version 2" <<<"j['version'] == 2"
ev v-new "V Enter"
until_ok "versions: both inside" "/v1/automations/$VA" "j['stats']['entered'] == 2 and j['stats']['active'] == 2"
api POST "/v1/automations/$VA/trigger" '{"user_id":"v-old"}'
jcheck "manual entry of a customer inside: not entered" <<<"j['automation'] == $VA and j['entered'] is False"
person v-gone Gina true
ev v-gone "V Enter"
until_ok "versions: a third customer inside" "/v1/automations/$VA" "j['stats']['active'] == 3"
api DELETE /v1/customers/v-gone
expect_code 200 "erase a customer waiting inside an automation"
# exit_on: the run ends when the event comes
create_auto exit '{"name":"Exit","trigger":{"type":"event","event":"X Enter"},"exit_on":"X Leave","steps":[{"type":"wait","for":"1d"},{"type":"send","template":"hb"}]}'
XA=$AID
person x1 Xena true
person x2 Xavier true
ev x1 "X Enter"
ev x2 "X Enter"
ev x1 "X Leave"
until_ok "exit_on: x1 left, x2 still inside" "/v1/automations/$XA" "j['stats']['exited'] == 1 and j['stats']['active'] == 1"

# delete with a customer inside: the run ends, its wait sends nothing later
create_auto doomed '{"name":"Doomed","trigger":{"type":"event","event":"D Enter"},"steps":[{"type":"wait","for":"1d"},{"type":"send","template":"hb"}]}'
DOOM=$AID
person d1 Dana true
ev d1 "D Enter"
until_ok "delete: a customer waits inside" "/v1/automations/$DOOM" "j['stats']['active'] == 1"
api DELETE "/v1/automations/$DOOM"
expect_code 204 "delete an automation with a customer inside"
ev d1 "D Enter"

# pause: pa orders at 14:xx (best hour 14), so its first message waits in the outbox
person pa Paula true
person pb Pablo true
person pd Pedro true
order pa o-pa1 30 $((C0 - 10 * day + 4 * 3600 + 15 * 60)) # 14:20
order pa o-pa2 30 $((C0 - 3 * day + 4 * 3600 + 40 * 60)) # 14:45
ev pa "P Enter"
ev pb "P Enter"
ev pd "P Enter"
until_ok "pause: pb's and pd's first messages sent, pa's scheduled" "/v1/outbox?automation=$PA&limit=100" "len(msgs(j)) == 3 and len(msgs(j, status='sent')) == 2"
jcheck "7. best hour: pa's message at 14:00, not now" <<<"one(j, $PA, 'pa')['status'] == 'pending' and one(j, $PA, 'pa')['next_attempt'] == '$(isoc $((C0 + 4 * 3600 - 5 * 60)))'"
api POST "/v1/automations/$PA/pause"
expect_code 200 "pause"
jcheck "paused" <<<"j['status'] == 'paused'"
api GET "/v1/outbox?automation=$PA&limit=100"
jcheck "pause: pa's message is held" <<<"one(j, $PA, 'pa')['status'] == 'held' and one(j, $PA, 'pb')['status'] == 'sent'"
api POST "/v1/automations/$PA/trigger" '{"user_id":"pb"}'
expect_error 409 paused None "trigger while paused"
person pc Pia true
ev pc "P Enter" # no entry while paused
ev pa "P Go"    # pa's wait ends while paused (before the restart): taken when resumed
api GET "/v1/automations/$PA"
jcheck "paused: runs keep their state" <<<"j['status'] == 'paused' and j['stats']['entered'] == 3 and j['stats']['active'] == 3 and j['stats']['messages']['held'] == 1"

# ================= 6, 7. frequency cap, best hour and quiet hours (shop C) =================
KEY=$C_KEY
api PUT /v1/messaging/settings '{"caps":{"email":{"max":2,"per":"7d"}},"quiet_hours":{"start":13,"end":16}}'
expect_code 200 "shop C settings"
tmpl c_mkt '{"name":"C news","channel":"email","subject":"News for {{first_name}}","text":"news"}'
tmpl c_tx '{"name":"C receipt","channel":"email","subject":"Receipt for {{first_name}}","text":"receipt"}'
create_auto c-news '{"name":"C news","trigger":{"type":"event","event":"C Ping"},"steps":[{"type":"send","template":"c_mkt"}]}'
CM=$AID
create_auto c-receipt '{"name":"C receipt","trigger":{"type":"event","event":"C Receipt"},"steps":[{"type":"send","template":"c_tx","transactional":true}]}'
CT=$AID
person cc1 Cecilia true
for i in 1 2 3; do
    ev cc1 "C Ping"
    until_ok "cap: ping $i decided" "/v1/outbox?automation=$CM&limit=100" "len(msgs(j)) == $i"
done
jcheck "cap: the third marketing message is skipped" <<EOF
[m["status"] for m in sorted(msgs(j), key=lambda m: m["id"])][2] == "skipped" and all(m["status"] in ("pending", "sent") for m in sorted(msgs(j), key=lambda m: m["id"])[:2])
"frequency cap" in sorted(msgs(j), key=lambda m: m["id"])[2]["error"]
EOF
ev cc1 "C Receipt"
until_ok "cap: transactional bypasses it" "/v1/outbox?automation=$CT&limit=100" "len(msgs(j, status='sent')) == 1"
until_ok "cap: two marketing emails and the receipt arrived" "/v1/outbox?automation=$CM&limit=100" "len(msgs(j, status='sent')) == 2"
jcheck "cap: the sink" /dev/null <<<"len(mails_to('cc1@example.com')) == 3"
# best hour 11 (orders at 11:xx): today 11:00; best hour 14 inside quiet hours 13-16: 16:00
person cq0 Quentin true
person cq1 Quinn true
order cq0 o-cq0 10 $((C0 - 5 * day + 3600 + 10 * 60)) # 11:15
order cq1 o-cq1 10 $((C0 - 5 * day + 4 * 3600 + 10 * 60)) # 14:15
ev cq0 "C Ping"
ev cq1 "C Ping"
person cw Cwen true
order cw o-cw 10 $((C0 - 5 * day + 4 * 3600 + 30 * 60)) # 14:30
ev cw "C Ping"
until_ok "best hour: three messages scheduled" "/v1/outbox?automation=$CM&limit=100" "len(msgs(j, status='pending')) == 3"
jcheck "best hour and quiet hours" <<EOF
one(j, $CM, "cq0")["next_attempt"] == "$(isoc $((C0 + 3600 - 5 * 60)))"
one(j, $CM, "cq1")["next_attempt"] == "$(isoc $((C0 + 6 * 3600 - 5 * 60)))"
EOF
jcheck "best hour: nothing sent yet" /dev/null <<<"mails_to('cq0@example.com') == [] and mails_to('cq1@example.com') == []"
ev cw "Consent Changed" '{"consents":{"email_marketing":false}}' # before cw's message is due

# ================= 8. control group (shop K) =================
KEY=$K_KEY
api PUT /v1/messaging/settings '{"caps":{"email":null}}'
expect_code 200 "shop K settings"
tmpl k_mkt '{"name":"K","channel":"email","subject":"Hello {{first_name}}","text":"k"}'
create_auto control '{"name":"Control","trigger":{"type":"event","event":"K Enter"},"control_share":0.3,"steps":[{"type":"send","template":"k_mkt"}]}'
KC=$AID
pyrun /dev/null <<EOF
b = []
for i in range(60):
    u = "k%02d" % i
    b.append({"type": "identify", "userId": u, "messageId": "k-id-%d" % i, "timestamp": "$(isoc)",
              "traits": {"first_name": "K%d" % i, "email": u + "@example.com"}})
    b.append({"type": "track", "userId": u, "messageId": "k-c-%d" % i, "timestamp": "$(isoc)",
              "event": "Consent Changed", "properties": {"consents": {"email_marketing": True}}})
json.dump({"batch": b}, open("$T/k1.json", "w"))
json.dump({"batch": [{"type": "track", "userId": "k%02d" % i, "messageId": "k-e1-%d" % i, "timestamp": "$(isoc)", "event": "K Enter"} for i in range(60)]}, open("$T/k2.json", "w"))
json.dump({"batch": [{"type": "track", "userId": "k%02d" % i, "messageId": "k-e2-%d" % i, "timestamp": "$(isoc)", "event": "K Enter"} for i in range(60)]}, open("$T/k3.json", "w"))
EOF
batch "$T/k1.json"
expect_code 200 "shop K: 60 customers"
batch "$T/k2.json"
expect_code 200 "shop K: 60 enter"
until_ok "control: 60 entered" "/v1/automations/$KC" "j['stats']['entered'] == 60 and j['stats']['done'] + j['stats']['control'] == 60"
getv 'j["stats"]["control"]'
NCTL=$v
jcheck "control: some held out, most not" <<<"8 <= j['stats']['control'] <= 30"
until_ok "control: the others' emails sent" "/v1/outbox?automation=$KC&limit=1000" "len(msgs(j, status='sent')) == 60 - $NCTL and len(msgs(j)) == 60 - $NCTL"
cp "$T/body" "$T/kc.1"
jcheck "control: no email to the control group" /dev/null <<EOF
sent = set(users(load("$T/kc.1")))
ctl = set("k%02d" % i for i in range(60)) - sent
len(ctl) == $NCTL and all(mails_to(u + "@example.com") == [] for u in ctl)
all(len(mails_to(u + "@example.com")) == 1 for u in sent)
EOF

# ================= 12. time triggers (shop T): set-up =================
KEY=$T_KEY
api PUT /v1/messaging/settings '{"caps":{"email":null}}'
expect_code 200 "shop T settings"
api PUT /v1/loyalty/program '{"currency":"USD","tiers":{"levels":[{"name":"Silver","threshold":10000}]},"expiry":{"months":1}}'
expect_code 201 "shop T: programme with a tier and expiry"
tmpl tt '{"name":"T","channel":"email","subject":"{{automation.name}} for {{first_name}}","text":"t"}'
tauto() { # NAME TRIGGER-JSON GROUP
    create_auto "$1" "{\"name\":\"$1\",\"trigger\":$2,\"conditions\":\"traits.grp = \\\"$3\\\"\",\"steps\":[{\"type\":\"send\",\"template\":\"tt\"}]}"
}
tauto Cart '{"type":"cart_abandoned","idle":"30m"}' cart
TCART=$AID
tauto Since '{"type":"days_since_last_order","days":30}' since
TSINCE=$AID
tauto Rhythm '{"type":"rhythm_missed"}' rhythm
TRHY=$AID
tauto Replenish '{"type":"replenishment","products":[{"product":"lens-30","days_per_unit":15}],"before":"5d"}' repl
TREP=$AID
tauto Expiring '{"type":"points_expiring","within":"25d"}' pts
TPTS=$AID
tauto Birthday '{"type":"birthday"}' bday
TBDAY=$AID
tauto Tier '{"type":"tier_changed","direction":"up","tier":"Silver"}' tier
TTIER=$AID
person t-cart Carla true '"grp":"cart"'
ev t-cart "Product Added" '{"product_id":"sock","price":12,"quantity":2}'
person t-since Sid true '"grp":"since"'
order t-since o-s1 10 $((C0 - 31 * day))
person t-since2 Sidney true '"grp":"since"'
order t-since2 o-s2 10 $((C0 - 29 * day))
person t-rhy Rhea true '"grp":"rhythm"'
for d in 50 40 30; do order t-rhy "o-r1-$d" 10 $((C0 - d * day)); done
person t-rhy2 Rhoda true '"grp":"rhythm"'
for d in 12 8; do order t-rhy2 "o-r2-$d" 10 $((C0 - d * day)); done
order t-rhy2 o-r2-4 10 $((C0 - 4 * day - 3600))
person t-rhy3 Rhys true '"grp":"rhythm"'
for d in 50 40; do order t-rhy3 "o-r3-$d" 10 $((C0 - d * day)); done
person t-repl Renata true '"grp":"repl"'
order t-repl o-p1 40 $((C0 - 22 * day)) '[{"product_id":"lens-30","price":20,"quantity":2}]'
person t-repl2 Remy true '"grp":"repl"'
order t-repl2 o-p2 20 $((C0 - 22 * day)) '[{"product_id":"lens-30","price":20,"quantity":1}]'
person t-pts Petra true '"grp":"pts"'
api POST /v1/loyalty/members/t-pts/points '{"points":100,"kind":"earn","reason":"gift"}'
expect_code 201 "t-pts: points that expire in a month"
person t-pts2 Peter true '"grp":"pts"'
api POST /v1/loyalty/members/t-pts2 ''
expect_code 201 "t-pts2: a member without points"
BD2=$(date -u -d "@$((C0 + 2 * day))" +%m-%d)
BD0=$(date -u -d "@$C0" +%m-%d)
person t-bday Bea true "\"grp\":\"bday\",\"birthday\":\"1990-$BD2\""
person t-bday0 Bert true "\"grp\":\"bday\",\"birthday\":\"--$BD0\""
person t-tier Tina true '"grp":"tier"'
person t-tier2 Tom true '"grp":"tier"'
order t-tier o-t1 150 # 15,000 minor units: Silver
order t-tier2 o-t2 50
until_ok "tier changed: Tina enters (an event, no sweep needed)" "/v1/outbox?automation=$TTIER&limit=100" "users(j) == ['t-tier'] and msgs(j)[0]['status'] == 'sent'"
jcheck "tier changed: the email" /dev/null <<<"[m['subject'] for m in mails_to('t-tier@example.com')] == ['Tier for Tina']"
api GET /v1/loyalty/members/t-tier
jcheck "Tina is Silver" <<<"j['tier']['name'] == 'Silver'"

# ================= 5. win-back: entry (S0) =================
KEY=$A_KEY
person wb-walt Walt true
person wb-wendy Wendy true
ident wb-walt '{"lapsed":true}'
ident wb-wendy '{"lapsed":true}'
until_ok "win-back: both got the first voucher email" "/v1/outbox?automation=$WB&limit=100" "len(msgs(j, status='sent')) == 2"
cp "$T/body" "$T/wb.0"
pyrun "$T/wb.0" <<'EOF'
M = mails()
for u in ("wb-walt", "wb-wendy"):
    m = M[one(j, j["messages"][0]["automation"], u)["message_id"]]
    c = re.findall(r"use ([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2}) for 15% off", m["text"])
    print(c[0] if c else "none")
EOF
mapfile -t WBC <"$T/py.out"
check "win-back: two different codes" test "${WBC[0]}" != "${WBC[1]}" -a "${WBC[0]}" != none -a "${WBC[1]}" != none
for c in "${WBC[@]}"; do
    api GET "/v1/vouchers/$c"
    expect_code 200 "win-back: voucher $c is real"
    jcheck "win-back: voucher $c: 15% and valid" <<<"j['valid'] is True and j['type'] == 'percent' and j['value'] == 15"
done
jcheck "win-back: the emails" /dev/null <<<"[m['subject'] for m in mails_to('wb-walt@example.com')] == ['We miss you, Walt'] and '${WBC[0]}' in mails_to('wb-walt@example.com')[0]['html']"
api GET "/v1/automations/$WB"
jcheck "win-back: both waiting" <<<"j['stats']['entered'] == 2 and j['stats']['active'] == 2"

# ================= 13. tenancy =================
KEY=$B_KEY
api GET /v1/templates/pv
expect_code 404 "tenancy: B cannot read A's template"
api GET /v1/templates
jcheck "tenancy: B's template list is empty" <<<"j == {'templates': []}"
api PUT /v1/templates/pv '{"name":"B","channel":"email","subject":"s","text":"B"}'
expect_code 201 "tenancy: B's own template with the same id"
api DELETE /v1/templates/order_tx
expect_code 404 "tenancy: B cannot delete A's template"
api POST /v1/templates/order_tx/preview '{"user_id":"alice"}'
expect_code 404 "tenancy: B cannot preview A's template"
api GET "/v1/automations/$EJ"
expect_code 404 "tenancy: B cannot read A's automation"
api PUT "/v1/automations/$EJ" '{"name":"x","trigger":{"type":"event","event":"X"},"steps":[{"type":"wait","for":"1d"}]}'
expect_code 404 "tenancy: B cannot change A's automation"
api POST "/v1/automations/$EJ/pause"
expect_code 404 "tenancy: B cannot pause A's automation"
api DELETE "/v1/automations/$EJ"
expect_code 404 "tenancy: B cannot delete A's automation"
api POST "/v1/automations/$EJ/trigger" '{"user_id":"alice"}'
expect_code 404 "tenancy: B cannot trigger A's automation"
api GET /v1/automations
jcheck "tenancy: B has no automations" <<<"j == {'automations': []}"
api GET /v1/outbox
jcheck "tenancy: B's outbox is empty" <<<"j['messages'] == []"
api GET "/v1/outbox?user_id=alice"
expect_code 404 "tenancy: B's outbox knows no alice"
KEY=$A_KEY
api GET /v1/templates/pv
same_file "$T/body" "$T/pv.2" "tenancy: A's template unchanged"
api GET "/v1/automations/$EJ"
jcheck "tenancy: A's automation unchanged" <<<"j['status'] == 'active' and j['name'] == 'Order journey'"

# ================= S1: 36 minutes later =================
at $((36 * 60))
KEY=$A_KEY
until_ok "S1: the 503 webhook delivered on the retry" "/v1/outbox?automation=$W2&limit=100" "msgs(j)[0]['status'] == 'sent' and msgs(j)[0]['attempts'] == 2"
jcheck "S1: flaky receiver: one failure, one stored" /dev/null <<<"counter('flaky', 'failed_first') == 1 and counter('flaky', 'stored') == 1 and counter('flaky', 'requests') == 2 and all(h['signature_ok'] for h in hooks('flaky').values())"
until_ok "S1: closed port: second attempt failed" "/v1/outbox?automation=$W4&limit=100" "msgs(j)[0]['attempts'] == 2 and msgs(j)[0]['status'] == 'pending'"
jcheck "S1: closed port: backoff doubled" <<<"msgs(j)[0]['next_attempt'] == '$(isoc $((CLK + 120)))'"
KEY=$T_KEY
until_ok "S1: cart abandoned after 30 min idle" "/v1/outbox?automation=$TCART&limit=100" "users(j) == ['t-cart']"
until_ok "S1: 31 days since the last order" "/v1/outbox?automation=$TSINCE&limit=100" "users(j) == ['t-since']"
until_ok "S1: rhythm missed (every 10 days, 30 days ago)" "/v1/outbox?automation=$TRHY&limit=100" "users(j) == ['t-rhy']"
until_ok "S1: replenishment of 1 unit (15 days) due" "/v1/outbox?automation=$TREP&limit=100" "users(j) == ['t-repl2']"
until_ok "S1: birthday today" "/v1/outbox?automation=$TBDAY&limit=100" "users(j) == ['t-bday0']"
api GET "/v1/outbox?automation=$TPTS&limit=100"
jcheck "S1: no points expire within 25 days yet" <<<"msgs(j) == []"
ev t-cart2 "Product Added" '{"product_id":"sock","price":12}'
ident t-cart2 '{"first_name":"Cora","email":"t-cart2@example.com","grp":"cart"}'
ev t-cart2 "Consent Changed" '{"consents":{"email_marketing":true}}'

# ================= S2: 40 minutes after S0 =================
at $((40 * 60))
KEY=$A_KEY
until_ok "S2: closed port: dead after 3 attempts" "/v1/outbox?automation=$W4&limit=100" "msgs(j)[0]['status'] == 'dead'"
jcheck "S2: gave up after 3 attempts" <<<"msgs(j)[0]['attempts'] == 3 and msgs(j)[0]['error'].startswith('gave up after 3 attempts')"
KEY=$T_KEY
api GET "/v1/outbox?limit=1000"
jcheck "S2: no time trigger entered twice, Cora's cart not idle long enough" <<EOF
users(j, $TCART) == ["t-cart"] and users(j, $TSINCE) == ["t-since"] and users(j, $TRHY) == ["t-rhy"]
users(j, $TREP) == ["t-repl2"] and users(j, $TBDAY) == ["t-bday0"]
EOF

# ================= 15. restart =================
snap() { # FILE: what the API shows of shops A, C, K, T
    local k
    for k in "$A_KEY" "$C_KEY" "$K_KEY" "$T_KEY"; do
        KEY=$k api GET /v1/automations
        cat "$T/body"
        echo
        KEY=$k api GET "/v1/outbox?limit=1000"
        cat "$T/body"
        echo
        KEY=$k api GET /v1/templates
        python3 -c 'import json,sys; j = json.load(open(sys.argv[1])); j["templates"].sort(key=lambda t: t["id"]); print(json.dumps(j))' "$T/body"
    done >"$1"
}
# setsnap FILE: the messaging settings of shops A, C, K, T and S, one a line.
setsnap() {
    local k
    for k in "$A_KEY" "$C_KEY" "$K_KEY" "$T_KEY" "$S_KEY"; do
        KEY=$k api GET /v1/messaging/settings
        cat "$T/body"
        echo
    done >"$1"
}
snap "$T/snap.1"
setsnap "$T/set.1"
neml >"$T/neml.1"
stop_server main
# the same port again, so that links made before and after the restart agree
PORT1=${URL##*:}
for i in $(seq 40); do # (wait until the port can be bound again)
    python3 -c 'import socket, sys; s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$PORT1" 2>/dev/null && break
    sleep 0.25
done
serve main2 "$PORT1"
check "restart on the same port" test "$URL" = "http://127.0.0.1:$PORT1"
poke # the first group after the start: its sweep must enter nobody again
snap "$T/snap.2"
same_file "$T/snap.1" "$T/snap.2" "restart: automations, outbox and templates unchanged"
setsnap "$T/set.2"
pyrun /dev/null <<EOF
a = [json.loads(l) for l in open("$T/set.1")]
b = [json.loads(l) for l in open("$T/set.2")]
for n, x, y in zip("ACKTS", a, b):
    print("%s %s" % (n, "same" if x == y else "these keys: " + ", ".join(k for k in x if x[k] != y.get(k))))
EOF
while read -r shop what; do
    if [[ $what == same ]]; then ok; else bad "restart: shop $shop's messaging settings changed: $what"; fi
done <"$T/py.out"
KEY=$K_KEY
batch "$T/k3.json"
expect_code 200 "shop K: the same 60 enter again"
until_ok "control after the restart: 120 entered" "/v1/automations/$KC" "j['stats']['entered'] == 120 and j['stats']['done'] + j['stats']['control'] == 120"
jcheck "control after the restart: the same split" <<<"j['stats']['control'] == 2 * $NCTL"
until_ok "control after the restart: emails sent" "/v1/outbox?automation=$KC&limit=1000" "len(msgs(j, status='sent')) == 2 * (60 - $NCTL)"
jcheck "after the restart: unsubscribe links point to this server" /dev/null <<<"all(m['list_unsubscribe'].startswith('<$URL/u/') for m in mails().values() if m['to'].startswith('k'))"
jcheck "control after the restart: the same customers" /dev/null <<EOF
sent = set(users(load("$T/kc.1")))
ctl = set("k%02d" % i for i in range(60)) - sent
all(mails_to(u + "@example.com") == [] for u in ctl) and all(len(mails_to(u + "@example.com")) == 2 for u in sent)
EOF
KEY=$A_KEY
ev pd "P Go" # pd's wait ends while paused, after the restart
jcheck "restart: nothing sent twice so far" /dev/null <<<"counter('mail', 'duplicates') == 0 and counter('hooks', 'duplicates') == 0 and counter('flaky', 'duplicates') == 0"
check "restart: the old emails were not sent again" test "$(neml)" -eq $(($(cat "$T/neml.1") + 60 - NCTL))

# ================= S3: day 2 =================
at $((2 * day))
KEY=$A_KEY
# versions: the customer who entered under version 1 runs version 1
until_ok "S3: versions: both sent" "/v1/outbox?automation=$VA&limit=100" "len(msgs(j, status='sent')) == 2"
jcheck "S3: version 1 for the old entrant, version 2 for the new one" <<EOF
one(j, $VA, "v-old")["template"] == "v1" and one(j, $VA, "v-new")["template"] == "v2"
EOF
jcheck "S3: versions: the erased customer got nothing" <<<"users(j) == ['v-new', 'v-old']"
jcheck "S3: versions: the emails" /dev/null <<<"[m['subject'] for m in mails_to('v-old@example.com')] == ['Version 1 for Oscar'] and [m['subject'] for m in mails_to('v-new@example.com')] == ['Version 2 for Nina']"
until_ok "S3: exit_on: only x2 got the email" "/v1/outbox?automation=$XA&limit=100" "users(j) == ['x2'] and msgs(j)[0]['status'] == 'sent'"
api GET "/v1/outbox?automation=$DOOM&limit=100"
jcheck "S3: the deleted automation sent nothing" <<<"j['messages'] == []"
jcheck "S3: Dana got nothing" /dev/null <<<"mails_to('d1@example.com') == []"
# win-back: Walt comes back within 7 days
order wb-walt o-w1 25
until_ok "S3: win-back: Walt's run done" "/v1/automations/$WB" "j['stats']['done'] == 1 and j['stats']['active'] == 1"
api GET /v1/loyalty/members/wb-walt/history
jcheck "S3: win-back: 500 points for coming back" <<<"[(e['points'], e['ref']) for e in j['entries'] if e['points'] == 500] == [(500, 'automation:$WB')]"
api GET /v1/loyalty/members/wb-walt
jcheck "S3: win-back: Walt's balance has them" <<<"j['balance'] >= 500"
# pause: still paused, nothing moved; then resume
api GET "/v1/outbox?automation=$PA&limit=100"
jcheck "S3: paused: no new messages, pa's still held" <<<"len(msgs(j)) == 3 and one(j, $PA, 'pa')['status'] == 'held'"
api GET "/v1/automations/$PA"
jcheck "S3: paused: the runs still active" <<<"j['stats']['active'] == 3 and j['stats']['entered'] == 3"
api POST "/v1/automations/$PA/resume"
expect_code 200 "resume"
jcheck "resumed" <<<"j['status'] == 'active'"
# (a marketing message a pause held past its time waits for the customer's next best hour)
until_ok "S3: resumed: nothing held, waits moved on" "/v1/outbox?automation=$PA&limit=100" "len(msgs(j)) == 6 and len(msgs(j, status='held')) == 0 and len(msgs(j, status='sent')) == 4 and len(msgs(j, status='pending')) == 2"
jcheck "S3: resumed: the held message was rescheduled, not sent at once" <<<"all(m['next_attempt'] is not None and m['next_attempt'].endswith(':00:00Z') for m in msgs(j, status='pending') if m['user_id'] != 'pa')"
jcheck "S3: resumed: pb took its timeout, pd its event (received paused, after the restart)" <<EOF
sorted(m["template"] for m in msgs(j, user="pb")) == ["p1", "p_to"]
sorted(m["template"] for m in msgs(j, user="pd")) == ["p1", "p_ev"]
EOF
jcheck "S3: resumed: pa took its event, received paused before the restart (lost: the restart forgot it)" <<<"sorted(m['template'] for m in msgs(j, user='pa')) == ['p1', 'p_ev']"
jcheck "S3: resumed: pa's second message waits for pa's best hour" <<<"[m['next_attempt'] for m in msgs(j, user='pa') if m['template'] != 'p1'] == ['$(isoc $((C0 + 2 * day + 4 * 3600 - 5 * 60)))']"
jcheck "S3: pc never entered" <<<"msgs(j, user='pc') == []"
# shop C: the scheduled messages are due now
KEY=$C_KEY
until_ok "S3: scheduled messages sent" "/v1/outbox?automation=$CM&limit=100" "len(msgs(j, status='pending')) == 0 and len(msgs(j, status='sent')) == 4"
jcheck "S3: consent withdrawn while the message waited: skipped at delivery" <<<"one(j, $CM, 'cw')['status'] == 'skipped' and one(j, $CM, 'cw')['error'] == 'consent withdrawn before delivery'"
jcheck "S3: nothing to cw" /dev/null <<<"mails_to('cw@example.com') == []"
# time triggers
KEY=$T_KEY
until_ok "S3: time triggers on day 2" "/v1/outbox?limit=1000" "users(j, $TSINCE) == ['t-since', 't-since2'] and users(j, $TRHY) == ['t-rhy', 't-rhy2'] and users(j, $TBDAY) == ['t-bday', 't-bday0'] and users(j, $TCART) == ['t-cart', 't-cart2']"
jcheck "S3: not yet: replenishment of 2 units, expiring points" <<<"users(j, $TREP) == ['t-repl2'] and users(j, $TPTS) == []"
jcheck "S3: rhythm needs 3 orders" <<<"'t-rhy3' not in users(j, $TRHY)"

# ================= S4: day 8 =================
at $((8 * day))
KEY=$A_KEY
until_ok "S4: win-back: Wendy timed out" "/v1/automations/$WB" "j['stats']['done'] == 2 and j['stats']['active'] == 0"
until_ok "S4: win-back: Wendy's second email sent" "/v1/outbox?automation=$WB&limit=100" "len(msgs(j, status='sent')) == 3"
jcheck "S4: win-back: only Wendy got a second email" <<<"sorted(m['template'] for m in msgs(j, user='wb-wendy')) == ['wb1', 'wb2'] and [m['template'] for m in msgs(j, user='wb-walt')] == ['wb1']"
pyrun /dev/null <<'EOF'
m = [m for m in mails_to("wb-wendy@example.com") if m["subject"] == "Last chance, Wendy"]
c = re.findall(r"([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2}) gives 20% off", m[0]["text"]) if m else []
print(c[0] if c else "none")
EOF
WB2=$(cat "$T/py.out")
api GET "/v1/vouchers/$WB2"
expect_code 200 "S4: win-back: the pool voucher $WB2 is real"
jcheck "S4: win-back: 20% from the pool" <<<"j['valid'] is True and j['type'] == 'percent' and j['value'] == 20"
api GET "/v1/voucher-pools/$POOL/codes.csv"
check "S4: win-back: the code is one of the pool's" grep -q "^$WB2," "$T/body"
api GET /v1/loyalty/members/wb-wendy
expect_error 404 not_found None "S4: win-back: no points for Wendy (not even a member)"
KEY=$C_KEY
ev cc1 "C Ping"
until_ok "S4: cap: a week later cc1 gets marketing again" "/v1/outbox?automation=$CM&user_id=cc1&limit=100" "len(msgs(j, status='sent')) == 3 and len(msgs(j)) == 4"
KEY=$T_KEY
until_ok "S4: replenishment of 2 units and expiring points" "/v1/outbox?limit=1000" "users(j, $TREP) == ['t-repl', 't-repl2'] and users(j, $TPTS) == ['t-pts']"
jcheck "S4: no time trigger entered twice" <<EOF
users(j, $TCART) == ["t-cart", "t-cart2"] and users(j, $TSINCE) == ["t-since", "t-since2"]
users(j, $TRHY) == ["t-rhy", "t-rhy2"] and users(j, $TBDAY) == ["t-bday", "t-bday0"] and users(j, $TTIER) == ["t-tier"]
all(m["status"] == "sent" for m in j["messages"])
EOF
jcheck "S4: the time-trigger emails" /dev/null <<<"[m['subject'] for m in mails_to('t-repl@example.com')] == ['Replenish for Renata'] and [m['subject'] for m in mails_to('t-pts@example.com')] == ['Expiring for Petra'] and [m['subject'] for m in mails_to('t-cart@example.com')] == ['Cart for Carla']"

# ================= the end: nothing twice, sinks clean =================
jcheck "SMTP: no message delivered twice" /dev/null <<EOF
counter("mail", "duplicates") == 0 and counter("mail", "received") == len(mails())
len(mails()) == len(set(m["message_id"] for m in mails().values()))
EOF
jcheck "webhooks: none delivered twice" /dev/null <<<"counter('hooks', 'duplicates') == 0 and counter('flaky', 'duplicates') == 0"
for s in mail hooks flaky; do
    if grep -q 'Traceback' "$T/$s.err"; then bad "sink $s: $(head -c 300 "$T/$s.err")"; else ok; fi
done
finish_serve
