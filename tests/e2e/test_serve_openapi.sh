#!/usr/bin/env bash
# docs/api.yaml matches the server: every documented path and method is routed
# (not "no such route", not 405), undocumented paths are 404, and the methods
# the document does not list for a path are refused. The document must also be
# valid YAML and, where the Python package openapi-spec-validator is installed,
# a valid OpenAPI 3.0 document whose examples fit their schemas.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.sh"

spec="$ROOT/docs/api.yaml"

# the document itself: YAML (PyYAML), then OpenAPI 3.0 and its examples when the
# validators are installed (pip install openapi-spec-validator)
if python3 -c 'import yaml' 2>/dev/null; then
    check "docs/api.yaml is valid YAML" python3 -c 'import sys, yaml; yaml.safe_load(open(sys.argv[1]))' "$spec"
    if python3 -c 'import openapi_spec_validator, openapi_schema_validator' 2>/dev/null; then
        check "docs/api.yaml is valid OpenAPI and its examples fit their schemas" python3 - "$spec" <<'PY'
import sys, yaml
from openapi_spec_validator import validate
from openapi_schema_validator import OAS30Validator
doc = yaml.safe_load(open(sys.argv[1]))
validate(doc)

def resolve(x):
    while isinstance(x, dict) and "$ref" in x:
        node = doc
        for part in x["$ref"][2:].split("/"):
            node = node[part]
        x = node
    return x

def deref(x, depth=0):
    if depth > 60:
        raise SystemExit("$ref nesting too deep")
    if isinstance(x, dict):
        if "$ref" in x:
            return deref(resolve(x), depth + 1)
        return {k: deref(v, depth + 1) for k, v in x.items()}
    if isinstance(x, list):
        return [deref(v, depth + 1) for v in x]
    return x

bad = []
def check(schema, value, where):
    errs = list(OAS30Validator(deref(schema)).iter_errors(value))
    if errs:
        bad.append("%s: %s" % (where, errs[0].message))

def media(obj, where):
    for ct, m in (resolve(obj).get("content") or {}).items():
        if "json" not in ct or "schema" not in m:
            continue
        if "example" in m:
            check(m["schema"], m["example"], where)
        for name, ex in (m.get("examples") or {}).items():
            check(m["schema"], resolve(ex)["value"], "%s (%s)" % (where, name))

for path, item in doc["paths"].items():
    for method, op in item.items():
        if method == "parameters":
            continue
        if "requestBody" in op:
            media(op["requestBody"], "%s %s request" % (method.upper(), path))
        for status, resp in op.get("responses", {}).items():
            media(resp, "%s %s %s" % (method.upper(), path, status))
for name, schema in doc["components"]["schemas"].items():
    if "example" in schema:
        check(schema, schema["example"], "schema " + name)
for b in bad:
    print("example does not fit its schema:", b, file=sys.stderr)
sys.exit(1 if bad else 0)
PY
    else
        echo "note: openapi-spec-validator not installed; docs/api.yaml checked as YAML only" >&2
    fi
fi
data="$T/data"
key=$("$PATRON" shop create "Doc shop" --data "$data" --format json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
start_server main --data "$data" --listen 127.0.0.1:0 --log off
pid=$SPID
port=${URL##*:}

# paths and their methods, read from the document's "paths:" section (two-space
# indented path keys, four-space indented methods)
python3 - "$spec" >"$T/routes" <<'PY'
import re, sys
paths, cur, in_paths = {}, None, False
for line in open(sys.argv[1]):
    if re.match(r"^paths:\s*$", line):
        in_paths = True
        continue
    if in_paths and re.match(r"^\S", line):
        break
    m = re.match(r"^  (/\S*):\s*$", line)
    if in_paths and m:
        cur = m.group(1)
        paths[cur] = []
        continue
    m = re.match(r"^    (get|post|put|delete|patch):", line)
    if in_paths and cur and m:
        paths[cur].append(m.group(1).upper())
for p, ms in paths.items():
    print(p, " ".join(ms))
PY
n=$(wc -l <"$T/routes")
check "the document lists routes ($n)" test "$n" -ge 14

while read -r path methods; do
    # every path parameter ({id}, {user_id}, {code}, ...) gets the same made-up value
    url=$(sed -E 's#^/v1/automations/\{id\}#/v1/automations/999#; s/\{[A-Za-z_]+\}/doc-customer/g' <<<"$path")
    for m in GET POST PUT DELETE; do
        code=$(curl -g -s -o "$T/body" -w '%{http_code}' -X "$m" -H "Authorization: Bearer $key" \
            -H 'Content-Type: application/json' "http://127.0.0.1:$port$url")
        if [[ " $methods " == *" $m "* ]]; then
            if [[ $code == 405 ]] || grep -q 'no such route' "$T/body"; then
                bad "$m $path is documented but the server answers $code: $(head -c 200 "$T/body")"
            else ok; fi
        elif [[ $m != GET || " $methods " != *" HEAD "* ]]; then
            if [[ $code == 405 || $code == 404 ]]; then ok; else
                bad "$m $path is not documented but the server answers $code"
            fi
        fi
    done
done <"$T/routes"

# an undocumented path is not routed
code=$(curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $key" "http://127.0.0.1:$port/v1/nothing")
check "undocumented path is 404 ($code)" test "$code" = 404
check "404 body is the error shape" python3 -c "import json;d=json.load(open('$T/body'));assert d['error']['code']=='not_found', d"

# every route the server knows is documented: the route names of /metrics (a
# route name that serves several paths lists them all, separated by spaces)
curl -s "http://127.0.0.1:$port/metrics" | grep -o 'route="[a-z_]*"' | cut -d'"' -f2 | sort -u >"$T/server_routes"
declare -A doc=([track]=/v1/track [identify]=/v1/identify [alias]=/v1/alias [page]=/v1/page
    [screen]=/v1/screen [group]=/v1/group [batch]=/v1/batch [customers]=/v1/customers
    [customer]='/v1/customers/{id}' [export]='/v1/customers/{id}/export'
    [unmerge]='/v1/customers/{id}/unmerge' [import_orders]=/v1/import/orders
    [healthz]=/healthz [metrics]=/metrics [clv]=/v1/clv [segments]=/v1/segments
    [segment]='/v1/segments/{id}' [segment_preview]=/v1/segments/preview
    [segment_refresh]=/v1/segments/refresh [segment_members]='/v1/segments/{id}/members'
    [segment_members_csv]='/v1/segments/{id}/members.csv'
    [segment_counts]='/v1/segments/{id}/counts'
    [loyalty_program]=/v1/loyalty/program [loyalty_report]=/v1/loyalty/report
    [loyalty_import]=/v1/loyalty/import
    [loyalty_points]='/v1/loyalty/points /v1/loyalty/members/{user_id}/points'
    [loyalty_rewards]='/v1/loyalty/rewards /v1/loyalty/rewards/{reward_id}'
    [loyalty_member]='/v1/loyalty/members/{user_id}'
    [loyalty_history]='/v1/loyalty/members/{user_id}/history'
    [loyalty_redeem]='/v1/loyalty/members/{user_id}/redemptions'
    [loyalty_qr]='/v1/loyalty/members/{user_id}/qr.png'
    [voucher]='/v1/vouchers/{code}' [voucher_redeem]='/v1/vouchers/{code}/redeem'
    [voucher_pools]='/v1/voucher-pools /v1/voucher-pools/{pool_id}/codes.csv'
    [templates]=/v1/templates [template]='/v1/templates/{id}'
    [template_preview]='/v1/templates/{id}/preview' [automations]=/v1/automations
    [automation]='/v1/automations/{id}' [automation_pause]='/v1/automations/{id}/pause'
    [automation_resume]='/v1/automations/{id}/resume'
    [automation_trigger]='/v1/automations/{id}/trigger' [outbox]=/v1/outbox
    [messaging_settings]=/v1/messaging/settings [track_open]='/t/o/{token}.gif'
    [track_click]='/t/c/{token}' [unsubscribe]='/u/{token}')
while read -r r; do
    ps=${doc[$r]:-}
    [[ -n "$ps" ]] || { bad "server route $r is not in docs/api.yaml (nor in this test's map)"; continue; }
    for p in $ps; do
        if awk -v p="$p" '$1 == p { f = 1 } END { exit !f }' "$T/routes"; then ok; else
            bad "server route $r: $p is not in docs/api.yaml"
        fi
    done
done <"$T/server_routes"
stop_server main
finish_serve
