#!/usr/bin/env bash
# docs/api.yaml matches the server: every documented path and method is routed
# (not "no such route", not 405), undocumented paths are 404, and the methods
# the document does not list for a path are refused.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.sh"

spec="$ROOT/docs/api.yaml"
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
    url=${path//\{id\}/doc-customer}
    for m in GET POST PUT DELETE; do
        code=$(curl -s -o "$T/body" -w '%{http_code}' -X "$m" -H "Authorization: Bearer $key" \
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

# every route the server knows is documented: the route names of /metrics
curl -s "http://127.0.0.1:$port/metrics" | grep -o 'route="[a-z_]*"' | cut -d'"' -f2 | sort -u >"$T/server_routes"
declare -A doc=([track]=/v1/track [identify]=/v1/identify [alias]=/v1/alias [page]=/v1/page
    [screen]=/v1/screen [group]=/v1/group [batch]=/v1/batch [customers]=/v1/customers
    [customer]='/v1/customers/{id}' [export]='/v1/customers/{id}/export'
    [unmerge]='/v1/customers/{id}/unmerge' [import_orders]=/v1/import/orders
    [healthz]=/healthz [metrics]=/metrics [clv]=/v1/clv [segments]=/v1/segments
    [segment]='/v1/segments/{id}' [segment_preview]=/v1/segments/preview
    [segment_refresh]=/v1/segments/refresh [segment_members]='/v1/segments/{id}/members'
    [segment_members_csv]='/v1/segments/{id}/members.csv'
    [segment_counts]='/v1/segments/{id}/counts')
while read -r r; do
    p=${doc[$r]:-}
    if [[ -n "$p" ]] && grep -q "^$p " "$T/routes"; then ok; else bad "server route $r is not in docs/api.yaml"; fi
done <"$T/server_routes"
stop_server main
finish_serve
