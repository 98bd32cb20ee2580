#!/usr/bin/env bash
# Basic `patron rfm` behaviour on a small hand-checked file.
source "$(dirname "$0")/lib.sh"

cat >"$T/orders.csv" <<'CSV'
order_id,customer_id,ordered_at,amount
1,1,2026-10-31T23:59:59Z,10.00
2,2,2026-10-01T00:00:00Z,20.5
3,2,2026-10-02T00:00:00Z,0.99
4,3,2025-01-01T12:00:00Z,150
5,4,2026-11-01T00:00:00Z,99.00
CSV
run_patron rfm "$T/orders.csv" --as-of 2026-11-01 --out "$T/rfm.csv"
expect_status 0 "basic run"
cat >"$T/want.csv" <<'CSV'
customer_id,recency,frequency,monetary,r,f,m,segment
1,0,1,10.00,4,1,1,Promising
2,30,2,21.49,2,4,2,At Risk
3,668,1,150.00,1,1,4,Lost
CSV
same_file "$T/rfm.csv" "$T/want.csv" "per-customer rows"
# n = 3 (customer 4's only order is at the as-of instant, so it is ignored):
# the best of three has min-rank 3 -> 1 + 5*2/3 = 4, hence no 5s.
expect_err_has "3 customers" "order at as-of is ignored"

# Default as-of: the day after the newest order (2026-11-01 here -> 2026-11-02).
run_patron rfm "$T/orders.csv" --format json
expect_status 0 "json summary"
check "json as_of" grep -q '"as_of": "2026-11-02T00:00:00Z"' "$T/out"
check "json customers" grep -q '"customers": 4' "$T/out"

# stdin
run_patron rfm - --as-of 2026-11-01 --out "$T/rfm2.csv" <"$T/orders.csv"
expect_status 0 "stdin"
same_file "$T/rfm2.csv" "$T/want.csv" "stdin gives the same rows"

run_patron rfm --help
expect_status 0 "help"
check "help mentions --thresholds" grep -q -- "--thresholds" "$T/out"
finish
