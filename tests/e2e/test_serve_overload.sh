#!/usr/bin/env bash
# Overload: with a small write queue, concurrent batches beyond it get 503 with
# Retry-After and the error shape, and change nothing; every 200 is fully
# written; a retry after the storm is accepted.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.sh"

data="$T/data"
key=$("$PATRON" shop create "Busy shop" --data "$data" --format json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["api_key"])')
start_server main --data "$data" --listen 127.0.0.1:0 --log off --queue 1000 --threads 8
pid=$SPID
port=${URL##*:}
U="http://127.0.0.1:$port"

# 40 batches of 1000 events each, all at once
curls=()
python3 - "$T" <<'PY'
import json, sys
for r in range(1, 41):
    with open("%s/b%d.json" % (sys.argv[1], r), "w") as f:
        json.dump({"batch": [{"type": "track", "event": "Product Viewed", "userId": "u%d" % (i % 50),
                              "messageId": "r%d-%d" % (r, i),
                              "properties": {"product_id": "p%d" % i, "price": 1}}
                             for i in range(1000)]}, f)
PY
for r in $(seq 1 40); do
    curl -s -D "$T/h$r" -o "$T/o$r" -w '%{http_code}' -H "Authorization: Bearer $key" \
        --data-binary "@$T/b$r.json" "$U/v1/batch" >"$T/c$r" &
    curls+=($!)
done
wait "${curls[@]}"
ok200=0
n503=0
for r in $(seq 1 40); do
    c=$(cat "$T/c$r")
    if [[ $c == 200 ]]; then
        ok200=$((ok200 + 1))
    elif [[ $c == 503 ]]; then
        n503=$((n503 + 1))
        check "503 #$r has Retry-After" grep -qi '^Retry-After: 1' "$T/h$r"
        check "503 #$r has the error shape" python3 -c "import json;d=json.load(open('$T/o$r'));assert d['error']['code']=='overloaded', d"
        echo "$r" >>"$T/rejected"
    else
        bad "batch $r: status $c: $(head -c 200 "$T/o$r")"
    fi
done
check "some batches were refused with 503 ($n503 of 40)" test "$n503" -gt 0
check "some batches were accepted ($ok200 of 40)" test "$ok200" -gt 0
stored=$(curl -s "$U/metrics" | awk '$1 == "patron_events_total{status=\"accepted\"}" {print $2}')
check "exactly the accepted batches are stored ($stored events, $ok200 batches)" test "$stored" -eq $((ok200 * 1000))
check "rejections are counted" sh -c "curl -s '$U/metrics' | grep -q '^patron_overload_rejections_total $n503\$'"
# retrying the refused batches one by one now succeeds
if [[ -f "$T/rejected" ]]; then
    while read -r r; do
        c=$(curl -s -o "$T/o$r" -w '%{http_code}' -H "Authorization: Bearer $key" \
            --data-binary "@$T/b$r.json" "$U/v1/batch")
        check "retry of batch $r is accepted ($c)" test "$c" = 200
    done <"$T/rejected"
fi
stored=$(curl -s "$U/metrics" | awk '$1 == "patron_events_total{status=\"accepted\"}" {print $2}')
check "after the retries every batch is stored once ($stored)" test "$stored" -eq 40000
stop_server main
finish_serve
