#!/usr/bin/env bash
# `patron rfm` options and input variants on small hand-made files. Every
# expected output below is worked out by hand from RFM-SPEC.md (reasoning in
# the comments), not copied from the program.
source "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
export LC_ALL=C

HEAD='customer_id,recency,frequency,monetary,r,f,m,segment'

# rows_are NAME FILE: FILE equals the expected rows given on stdin.
rows_are() {
    cat >"$T/want.tmp"
    same_file "$2" "$T/want.tmp" "$1"
}

# ---------------------------------------------------------------------------
# Data set D: 5 customers, as of A = 2026-11-01T00:00:00Z.
#   customer 3:    order 8 at 2024-02-29           recency 976 (2024-02-29 ->
#                  2025-03-01 = 366, -> 2026-03-01 = 365, -> 2026-11-01 = 245)
#                  F 1, M 7.50
#   customer 7:    orders 2 (09-01), 3 (10-01)     recency 31, F 2, M 99.99+0.01 = 100.00
#   customer 42:   order 4 at 2025-11-01           recency 365, F 1, M 500.00
#   customer 100:  orders 5 (10-30), 6, 7          recency 2, F 3, M 20.5+20.5+9 = 50.00
#   customer 5484: order 1 at 2026-10-31T12:00     recency floor(0.5) = 0, F 1, M 10.00
# n = 5, so score = 1 + floor(5 (min_rank - 1) / 5) = min_rank.
#   R (worse = larger recency): 3 -> 1, 42 -> 2, 7 -> 3, 100 -> 4, 5484 -> 5
#   F (worse = fewer orders): the three 1s -> min-rank 1 -> 1; 7 (2) -> 4; 100 (3) -> 5
#   M (worse = less money): 7.50 -> 1, 10.00 -> 2, 50.00 -> 3, 100.00 -> 4, 500.00 -> 5
# Segments: 3 R1F1 Lost; 7 R3F4 Loyal Customers (R>=3, F>=4); 42 R2F1 Hibernating;
# 100 R4F5 Loyal Customers; 5484 R5F1 New Customers.
# Sorted numerically (all ids are integers): 3, 7, 42, 100, 5484.
# ---------------------------------------------------------------------------
cat >d.csv <<'CSV'
order_id,customer_id,ordered_at,amount
1,5484,2026-10-31T12:00:00Z,10.00
2,7,2026-09-01T00:00:00Z,99.99
3,7,2026-10-01T00:00:00Z,0.01
4,42,2025-11-01T00:00:00Z,500
5,100,2026-10-30T00:00:00Z,20.5
6,100,2026-10-20T00:00:00Z,20.5
7,100,2026-06-15T08:30:00Z,9.00
8,3,2024-02-29T00:00:00Z,7.5
CSV
cat >d.want <<CSV
$HEAD
3,976,1,7.50,1,1,1,Lost
7,31,2,100.00,3,4,4,Loyal Customers
42,365,1,500.00,2,1,5,Hibernating
100,2,3,50.00,4,5,3,Loyal Customers
5484,0,1,10.00,5,1,2,New Customers
CSV

run_patron rfm d.csv --as-of 2026-11-01 --out d.out
expect_status 0 "D"
same_file d.out d.want "D: rows"
# Without --as-of, A is 00:00Z of the day after the newest order (2026-10-31T12:00)
# = 2026-11-01: the same rows.
run_patron rfm d.csv --out d.out
expect_status 0 "D, default as-of"
same_file d.out d.want "D, default as-of: rows"

# ---- --out - : the rows on stdout, nothing else ----
run_patron rfm d.csv --as-of 2026-11-01 --out -
expect_status 0 "--out -"
same_file "$T/out" d.want "--out -: stdout is exactly the rows"
expect_err_has "Loyal Customers" "--out -: the summary goes to stderr"

# ---- --format csv: 11 segments. Hand totals for D:
# Lost 1 customer (3), 7.50, 1 order; Loyal Customers 2 (7, 100), 150.00, 5 orders;
# Hibernating 1 (42), 500.00, 1 order; New Customers 1 (5484), 10.00, 1 order;
# every other segment 0. Revenue 667.50; customer shares 0.2/0.4/0.2/0.2.
run_patron rfm d.csv --as-of 2026-11-01 --format csv
expect_status 0 "--format csv"
check "csv: header + 11 segment rows" test "$(wc -l <"$T/out")" -eq 12
check "csv: header starts with segment,customers" grep -q '^segment,customers,' "$T/out"
printf '%s\n' "About to Sleep" "At Risk" "Can't Lose Them" "Champions" "Hibernating" "Lost" \
    "Loyal Customers" "Need Attention" "New Customers" "Potential Loyalists" "Promising" >names.want
tail -n +2 "$T/out" | cut -d, -f1 | sort >names.got
same_file names.got names.want "csv: the 11 segment names"
# Columns by header name, so the check does not depend on their order.
csv_col() { # SEGMENT COLUMN -> value
    awk -F, -v s="$1" -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) k[$i] = i; next }
        $1 == s { print $(k[c]) }' "$T/out"
}
check "csv: Loyal Customers has 2 customers" test "$(csv_col 'Loyal Customers' customers)" = 2
check "csv: Loyal Customers revenue 150.00" test "$(csv_col 'Loyal Customers' revenue)" = 150.00
check "csv: Loyal Customers 5 orders" test "$(csv_col 'Loyal Customers' orders)" = 5
check "csv: Lost revenue 7.50" test "$(csv_col Lost revenue)" = 7.50
check "csv: Hibernating revenue 500.00" test "$(csv_col Hibernating revenue)" = 500.00
check "csv: New Customers 1 customer" test "$(csv_col 'New Customers' customers)" = 1
check "csv: Champions 0 customers" test "$(csv_col Champions customers)" = 0
# Shares sum to 1; Loyal Customers' revenue share is 150/667.5 = 0.224719...
check "csv: shares sum to 1" awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) k[$i] = i; next }
    { c += $(k["customer_share"]); r += $(k["revenue_share"]) }
    END { exit !(c > 0.9999 && c < 1.0001 && r > 0.9999 && r < 1.0001) }' "$T/out"
check "csv: revenue share 150/667.5" awk -v v="$(csv_col 'Loyal Customers' revenue_share)" \
    'BEGIN { exit !(v > 0.22471 && v < 0.22473) }'

# ---- --format json ----
run_patron rfm d.csv --as-of 2026-11-01 --format json
expect_status 0 "--format json"
check "json parses" python3 -c 'import json,sys; json.load(sys.stdin)' <"$T/out"
check "json: totals and segments" python3 -c '
import json, sys
d = json.load(sys.stdin)
seg = {s["segment"]: s for s in d["segments"]}
assert d["as_of"] == "2026-11-01T00:00:00Z", d["as_of"]
assert d["customers"] == 5 and d["orders"] == 8, d
assert abs(d["revenue"] - 667.50) < 1e-9, d["revenue"]
assert len(d["segments"]) == 11
assert sum(s["customers"] for s in d["segments"]) == 5
assert abs(sum(s["customer_share"] for s in d["segments"]) - 1) < 1e-4
assert abs(sum(s["revenue_share"] for s in d["segments"]) - 1) < 1e-4
assert seg["Loyal Customers"]["customers"] == 2 and seg["Loyal Customers"]["orders"] == 5
assert seg["Lost"]["customers"] == 1 and seg["Hibernating"]["customers"] == 1
assert seg["New Customers"]["customers"] == 1 and seg["Champions"]["customers"] == 0
' <"$T/out"

# ---- --format table (the default) ----
run_patron rfm d.csv --as-of 2026-11-01 --format table
expect_status 0 "--format table"
check "table: as-of and totals" grep -qF "2026-11-01T00:00:00Z: 5 customers, 8 orders, revenue 667.50" "$T/out"
for s in Champions "Loyal Customers" "Potential Loyalists" "New Customers" Promising \
    "Need Attention" "About to Sleep" "At Risk" "Can't Lose Them" Hibernating Lost; do
    check "table: has '$s'" grep -qF "$s " "$T/out"
done
check "table: Loyal Customers row shows 2 customers" grep -qE '^Loyal Customers +2 ' "$T/out"
run_patron rfm d.csv --as-of 2026-11-01
same_file "$T/out" <("$PATRON" rfm d.csv --as-of 2026-11-01 --format table 2>/dev/null) \
    "table is the default format"

# ---- as-of as an instant with an offset ----
# 2026-11-01T02:00:00+02:00 and 2026-10-31T23:00:00-01:00 are both A itself.
for a in 2026-11-01T02:00:00+02:00 2026-10-31T23:00:00-01:00 2026-11-01T00:00:00Z \
    2026-11-01T00:00:00 2026-11-01T00:00:00.000Z; do
    run_patron rfm d.csv --as-of "$a" --out d.out
    expect_status 0 "as-of $a"
    same_file d.out d.want "as-of $a = 2026-11-01"
done
# 2026-10-31T14:00:00+02:00 = 2026-10-31T12:00:00Z: customer 5484's only order is at
# the as-of instant, so it is ignored and n = 4. Recencies lose half a day:
# 3: 975.5 -> 975, 7: 30.5 -> 30, 42: 364.5 -> 364, 100: 1.5 -> 1.
# Score = 1 + floor(5 (rank - 1) / 4): rank 1 -> 1, 2 -> 2, 3 -> 3, 4 -> 4.
#   R: 3 rank 1, 42 rank 2, 7 rank 3, 100 rank 4.
#   F: 3 and 42 (1 order) rank 1 -> 1; 7 (2) rank 3 -> 3; 100 (3) rank 4 -> 4.
#   M: 7.50 -> 1, 50.00 -> 2, 100.00 -> 3, 500.00 -> 4.
# Segments: 3 R1F1 Lost; 7 R3F3 Need Attention; 42 R2F1 Hibernating;
# 100 R4F4 Loyal Customers.
run_patron rfm d.csv --as-of 2026-10-31T14:00:00+02:00 --out d.out --format json
expect_status 0 "as-of with offset, half a day earlier"
rows_are "as-of with offset, half a day earlier: rows" d.out <<CSV
$HEAD
3,975,1,7.50,1,1,1,Lost
7,30,2,100.00,3,3,3,Need Attention
42,364,1,500.00,2,1,4,Hibernating
100,1,3,50.00,4,4,2,Loyal Customers
CSV
check "as-of with offset: json as_of in UTC" grep -q '"as_of": "2026-10-31T12:00:00Z"' "$T/out"

# ---- --columns ----
# D with other header names, an extra column (with a quoted comma) and the
# columns in another order: the same rows.
cat >cols.csv <<'CSV'
Id,Email,Date,Total,Extra
1,5484,2026-10-31T12:00:00Z,10.00,"a,b"
2,7,2026-09-01T00:00:00Z,99.99,
3,7,2026-10-01T00:00:00Z,0.01,x
4,42,2025-11-01T00:00:00Z,500,x
5,100,2026-10-30T00:00:00Z,20.5,x
6,100,2026-10-20T00:00:00Z,20.5,x
7,100,2026-06-15T08:30:00Z,9.00,x
8,3,2024-02-29T00:00:00Z,7.5,x
CSV
run_patron rfm cols.csv --as-of 2026-11-01 --out cols.out \
    --columns order_id=Id,customer_id=Email,ordered_at=Date,amount=Total
expect_status 0 "--columns"
same_file cols.out d.want "--columns: same rows as D"
awk -F, -v OFS=, 'NR == 1 { print "Total,Extra,Date,Email,Id"; next }
    { print $4, "y", $3, $2, $1 }' d.csv >cols2.csv
run_patron rfm cols2.csv --as-of 2026-11-01 --out cols.out \
    --columns order_id=Id,customer_id=Email,ordered_at=Date,amount=Total
expect_status 0 "--columns, other column order"
same_file cols.out d.want "--columns, other column order: same rows as D"
# Roles not named keep their canonical header.
sed '1s/amount/Total/' d.csv >cols3.csv
run_patron rfm cols3.csv --as-of 2026-11-01 --out cols.out --columns amount=Total
expect_status 0 "--columns for one role"
same_file cols.out d.want "--columns for one role: same rows as D"

# ---- quoted fields: "5484" is the id 5484 ----
cat >quoted.csv <<'CSV'
"order_id","customer_id","ordered_at","amount"
"1","5484","2026-10-31T12:00:00Z","10.00"
2,"7",2026-09-01T00:00:00Z,99.99
3,7,"2026-10-01T00:00:00Z",0.01
4,42,2025-11-01T00:00:00Z,"500"
5,"100",2026-10-30T00:00:00Z,20.5
"6",100,2026-10-20T00:00:00Z,20.5
7,100,2026-06-15T08:30:00Z,9.00
8,"3",2024-02-29T00:00:00Z,7.5
CSV
run_patron rfm quoted.csv --as-of 2026-11-01 --out q.out
expect_status 0 "quoted fields"
same_file q.out d.want "quoted fields: same rows as D"

# ---- UTF-8 BOM, CRLF, blank lines: same rows as D ----
{ printf '\xef\xbb\xbf'; cat d.csv; } >bom.csv
run_patron rfm bom.csv --as-of 2026-11-01 --out v.out
expect_status 0 "BOM"
same_file v.out d.want "BOM: same rows as D"
sed 's/$/\r/' d.csv >crlf.csv
run_patron rfm crlf.csv --as-of 2026-11-01 --out v.out
expect_status 0 "CRLF"
same_file v.out d.want "CRLF: same rows as D"
awk 'NR == 3 || NR == 6 { print "" } { print } END { print ""; print "" }' d.csv >blank.csv
run_patron rfm blank.csv --as-of 2026-11-01 --out v.out
expect_status 0 "blank lines"
same_file v.out d.want "blank lines: same rows as D"
{ printf '\xef\xbb\xbf'; sed 's/$/\r/' blank.csv; } >all.csv
run_patron rfm all.csv --as-of 2026-11-01 --out v.out
expect_status 0 "BOM + CRLF + blank lines"
same_file v.out d.want "BOM + CRLF + blank lines: same rows as D"
# No newline after the last row.
head -c -1 d.csv >noeol.csv
run_patron rfm noeol.csv --as-of 2026-11-01 --out v.out
expect_status 0 "no final newline"
same_file v.out d.want "no final newline: same rows as D"
# Times in the other accepted forms, same instants: a date (00:00:00Z), an
# offset, no zone (UTC), fractional seconds.
sed -e 's/2026-10-01T00:00:00Z/2026-10-01/' -e 's/2026-10-30T00:00:00Z/2026-10-30T02:00:00+02:00/' \
    -e 's/2025-11-01T00:00:00Z/2025-10-31T19:00:00-05:00/' -e 's/2024-02-29T00:00:00Z/2024-02-29T00:00:00/' \
    -e 's/2026-10-31T12:00:00Z/2026-10-31T12:00:00.250Z/' d.csv >times.csv
run_patron rfm times.csv --as-of 2026-11-01 --out v.out
expect_status 0 "time forms"
same_file v.out d.want "time forms: same rows as D"

# ---- ids that are not all integers: byte order ----
# D with ids renamed 3 -> b, 7 -> 10, 42 -> 9, 100 -> -17, 5484 -> é (C3 A9): same
# metrics and scores. -17 is not a non-negative integer, so the sort is by bytes:
# "-17" (2D) < "10" (31 30) < "9" (39) < "b" (62) < "é" (C3).
awk -F, -v OFS=, 'NR > 1 { m["3"] = "b"; m["7"] = "10"; m["42"] = "9"; m["100"] = "-17";
    m["5484"] = "\303\251"; $2 = m[$2] } { print }' d.csv >ids.csv
run_patron rfm ids.csv --as-of 2026-11-01 --out v.out
expect_status 0 "non-integer ids"
rows_are "non-integer ids: byte order" v.out <<CSV
$HEAD
-17,2,3,50.00,4,5,3,Loyal Customers
10,31,2,100.00,3,4,4,Loyal Customers
9,365,1,500.00,2,1,5,Hibernating
b,976,1,7.50,1,1,1,Lost
$(printf '\303\251'),0,1,10.00,5,1,2,New Customers
CSV
# All integers but one (5484 -> cust-abc): byte order for all, so "100" < "3" < "42"
# < "7" < "cust-abc".
sed 's/,5484,/,cust-abc,/' d.csv >mixed.csv
run_patron rfm mixed.csv --as-of 2026-11-01 --out v.out
expect_status 0 "mixed ids"
rows_are "mixed ids: byte order" v.out <<CSV
$HEAD
100,2,3,50.00,4,5,3,Loyal Customers
3,976,1,7.50,1,1,1,Lost
42,365,1,500.00,2,1,5,Hibernating
7,31,2,100.00,3,4,4,Loyal Customers
cust-abc,0,1,10.00,5,1,2,New Customers
CSV
# Order ids need not be integers either (only customer ids decide the sort).
sed 's/^\([0-9]\),/ord-\1,/' d.csv >oids.csv
run_patron rfm oids.csv --as-of 2026-11-01 --out v.out
expect_status 0 "non-integer order ids"
same_file v.out d.want "non-integer order ids: same rows as D"

# ---------------------------------------------------------------------------
# Data set M: orders of several rows; rows of one order not adjacent.
#   line 2 and line 10: order 5 of customer 1 (10-20 10.00, 10-10 5.55): one order,
#     time = earliest row = 10-10, amount 15.55.
#   order 6 of customer 2: three rows (10-30 1.00, 10-29 2.00, 10-31 3.00): time 10-29,
#     amount 6.00.
# Customer 1: orders 5 (10-10) and 7 (10-05, 1.00): recency = A - 10-10 = 22 (not 12,
#   the latest row), F 2, M 16.55.
# Customer 2: orders 6 (10-29) and 9 (09-01, 0.50): recency 3 (not 1), F 2 (not 4 rows), M 6.50.
# Customer 3: order 8 at 2026-01-01: recency 304, F 1, M 100.00.
# Customer 4: order 10 at 10-25: recency 7, F 1, M 40.00.
# Customer 5: orders 11, 12 (2025-06-01), 13 (2025-05-01): recency 518, F 3, M 180.00.
# n = 5, score = min-rank:
#   R: 5 (518) 1, 3 (304) 2, 1 (22) 3, 4 (7) 4, 2 (3) 5.
#   F: 3, 4 (1 order) rank 1 -> 1; 1, 2 (2 orders) rank 3 -> 3; 5 (3 orders) rank 5 -> 5.
#   M: 6.50 (2) 1, 16.55 (1) 2, 40.00 (4) 3, 100.00 (3) 4, 180.00 (5) 5.
# Segments: 1 R3F3 Need Attention; 2 R5F3 Potential Loyalists; 3 R2F1 Hibernating;
# 4 R4F1 Promising; 5 R1F5 Can't Lose Them.
# ---------------------------------------------------------------------------
cat >m.csv <<'CSV'
order_id,customer_id,ordered_at,amount
5,1,2026-10-20T00:00:00Z,10.00
6,2,2026-10-30T00:00:00Z,1.00
6,2,2026-10-29T00:00:00Z,2.00
6,2,2026-10-31T00:00:00Z,3.00
7,1,2026-10-05T00:00:00Z,1.00
8,3,2026-01-01T00:00:00Z,100.00
9,2,2026-09-01T00:00:00Z,0.50
10,4,2026-10-25T00:00:00Z,40.00
5,1,2026-10-10T00:00:00Z,5.55
11,5,2025-06-01T00:00:00Z,60.00
12,5,2025-06-01T00:00:00Z,60.00
13,5,2025-05-01T00:00:00Z,60.00
CSV
cat >m.want <<CSV
$HEAD
1,22,2,16.55,3,3,2,Need Attention
2,3,2,6.50,5,3,1,Potential Loyalists
3,304,1,100.00,2,1,4,Hibernating
4,7,1,40.00,4,1,3,Promising
5,518,3,180.00,1,5,5,Can't Lose Them
CSV
run_patron rfm m.csv --as-of 2026-11-01 --out m.out --format json
expect_status 0 "multi-row orders"
same_file m.out m.want "multi-row orders: rows"
# 9 orders (2 + 2 + 1 + 1 + 3) from 12 rows.
check "multi-row orders: 9 orders" grep -q '"orders": 9,' "$T/out"
check "multi-row orders: 12 rows" grep -q '"rows": 12,' "$T/out"
run_patron rfm - --as-of 2026-11-01 --out m.out <m.csv
expect_status 0 "multi-row orders, stdin"
same_file m.out m.want "multi-row orders, stdin: rows"
PATRON_BLOCK_SIZE=64 "$PATRON" rfm m.csv --as-of 2026-11-01 --out m.out --threads 2 2>"$T/err" >"$T/out"
status=$?
expect_status 0 "multi-row orders, small blocks"
same_file m.out m.want "multi-row orders, small blocks: rows"
# Row order does not matter: reversed rows give the same result.
{ head -n 1 m.csv; tail -n +2 m.csv | tac; } >mrev.csv
run_patron rfm mrev.csv --as-of 2026-11-01 --out m.out
expect_status 0 "multi-row orders, reversed"
same_file m.out m.want "multi-row orders, reversed: rows"

# ---------------------------------------------------------------------------
# Fixed thresholds r=7,14,30,90  f=1,2,4,8  m=50,100,250,1000 (upper bounds, inclusive:
# R=5 for 0-7 days, 4 for 8-14, 3 for 15-30, 2 for 31-90, 1 above; F=1 for 1 order,
# 2 for 2, 3 for 3-4, 4 for 5-8, 5 above; M=1 up to 50.00, 2 to 100.00, 3 to 250.00,
# 4 to 1000.00, 5 above). A = 2026-11-01.
#   10: 1 order 10-25 (7 d) 50.00        R5 F1 M1  New Customers
#   11: 1 order 10-24 (8 d) 50.01        R4 F1 M2  Promising
#   12: 10-24T12:00 (7.5 d -> 7) 100.00 + 2025-01-01 0.00
#                                        R5 F2 M2  Potential Loyalists
#   13: 08-02 (91 d) 100.00, 07-01 100.00, 06-01 50.01 = 250.01
#                                        R1 F3 M4  At Risk
#   14: 5 x 08-03 (90 d) 200.00 = 1000.00 R2 F4 M4  At Risk
#   15: 9 x 10-17 (15 d) 111.12 = 1000.08 R3 F5 M5  Loyal Customers
#   16: 4 x 10-18 (14 d) 62.50 = 250.00  R4 F3 M3  Potential Loyalists
#   17: 8 x 10-02 (30 d) 0.01 = 0.08     R3 F4 M1  Loyal Customers
#   18: 2 x 10-01 (31 d) 50.00 = 100.00  R2 F2 M2  Hibernating
#   19: 1 x 10-31T23:59:59 (0 d) 1000.01 R5 F1 M5  New Customers
#   20: 10 x 2020-01-01 (2496 d: 6 years with 2 leap days = 2192, + 304) 1.00 = 10.00
#                                        R1 F5 M1  Can't Lose Them
#   21: 6 x 10-27 (5 d) 30.00 = 180.00   R5 F4 M3  Champions
#   22: 1 order at A itself: ignored.
# ---------------------------------------------------------------------------
oid=0
# orders CUSTOMER COUNT TIME AMOUNT: COUNT one-row orders.
orders() {
    local i
    for ((i = 0; i < $2; i++)); do
        oid=$((oid + 1))
        echo "$oid,$1,$3,$4"
    done
}
{
    echo 'order_id,customer_id,ordered_at,amount'
    orders 10 1 2026-10-25T00:00:00Z 50.00
    orders 11 1 2026-10-24T00:00:00Z 50.01
    orders 12 1 2026-10-24T12:00:00Z 100.00
    orders 12 1 2025-01-01T00:00:00Z 0
    orders 13 1 2026-08-02T00:00:00Z 100.00
    orders 13 1 2026-07-01T00:00:00Z 100.00
    orders 13 1 2026-06-01T00:00:00Z 50.01
    orders 14 5 2026-08-03T00:00:00Z 200.00
    orders 15 9 2026-10-17T00:00:00Z 111.12
    orders 16 4 2026-10-18T00:00:00Z 62.50
    orders 17 8 2026-10-02T00:00:00Z 0.01
    orders 18 2 2026-10-01T00:00:00Z 50.00
    orders 19 1 2026-10-31T23:59:59Z 1000.01
    orders 20 10 2020-01-01T00:00:00Z 1.00
    orders 21 6 2026-10-27T00:00:00Z 30.00
    orders 22 1 2026-11-01T00:00:00Z 5.00
} >th.csv
cat >th.want <<CSV
$HEAD
10,7,1,50.00,5,1,1,New Customers
11,8,1,50.01,4,1,2,Promising
12,7,2,100.00,5,2,2,Potential Loyalists
13,91,3,250.01,1,3,4,At Risk
14,90,5,1000.00,2,4,4,At Risk
15,15,9,1000.08,3,5,5,Loyal Customers
16,14,4,250.00,4,3,3,Potential Loyalists
17,30,8,0.08,3,4,1,Loyal Customers
18,31,2,100.00,2,2,2,Hibernating
19,0,1,1000.01,5,1,5,New Customers
20,2496,10,10.00,1,5,1,Can't Lose Them
21,5,6,180.00,5,4,3,Champions
CSV
run_patron rfm th.csv --as-of 2026-11-01 --out th.out \
    --thresholds 'r=7,14,30,90;f=1,2,4,8;m=50,100,250,1000'
expect_status 0 "thresholds joined with ;"
same_file th.out th.want "thresholds joined with ;: rows"
run_patron rfm th.csv --as-of 2026-11-01 --out th.out --thresholds r=7,14,30,90 \
    --thresholds f=1,2,4,8 --thresholds m=50,100,250,1000
expect_status 0 "thresholds repeated"
same_file th.out th.want "thresholds repeated: rows"
# Money bands with cents (m=49.99,...):
# 50.00 > 49.99 -> M2 for customer 10; 50.01 -> M2 for 11 (<= 100).
run_patron rfm th.csv --as-of 2026-11-01 --out th.out --thresholds m=49.99,100,250,1000
expect_status 0 "money thresholds with cents"
check "money thresholds with cents: 50.00 -> M=2" grep -q '^10,7,1,50.00,[1-5],[1-5],2,' th.out

# Only r= given: F and M stay quintile-based. On D: recencies 976 and 365 -> R1,
# 31 -> R2, 2 and 0 -> R5; F and M as for D (F 1,4,1,5,1; M 1,4,5,3,2).
# Segments: 3 R1F1 Lost; 7 R2F4 At Risk; 42 R1F1 Lost; 100 R5F5 Champions;
# 5484 R5F1 New Customers.
run_patron rfm d.csv --as-of 2026-11-01 --out v.out --thresholds r=7,14,30,90
expect_status 0 "only r thresholds"
rows_are "only r thresholds: rows" v.out <<CSV
$HEAD
3,976,1,7.50,1,1,1,Lost
7,31,2,100.00,2,4,4,At Risk
42,365,1,500.00,1,1,5,Lost
100,2,3,50.00,5,5,3,Champions
5484,0,1,10.00,5,1,2,New Customers
CSV
finish
