#!/usr/bin/env bash
# Cases found by review that were wrong once; each states the rule it checks.
source "$(dirname "$0")/lib.sh"
h=order_id,customer_id,ordered_at,amount
cd "$T" || exit 1

# A row that repeats an earlier, non-adjacent order with another customer is bad,
# also when it is the last row of the input (found at end of input).
printf '%s\n' $h 1,1,2026-01-01T00:00:00Z,1.00 2,1,2026-01-01T00:00:00Z,1.00 \
    1,2,2026-01-01T00:00:00Z,1.00 >f.csv
run_patron rfm f.csv --as-of 2026-11-01 --out o.csv
expect_status 1 "mismatch in the last row stops the run"
check "mismatch in the last row: message" grep -qF \
    "f.csv:4:3: field 'customer_id': order 1 belongs to customer \"1\" (line 2) (\"2\")" "$T/err"
run_patron rfm - --as-of 2026-11-01 <f.csv
expect_status 1 "mismatch in the last row, stdin"

# Several such rows: one reject per row, each with its own line, column and text.
printf '%s\n' $h 1,1,2026-01-01T00:00:00Z,1.00 2,1,2026-01-01T00:00:00Z,1.00 \
    1,2,2026-01-01T00:00:00Z,1.00 1,2,2026-01-02T00:00:00Z,1.00 3,1,2026-01-01T00:00:00Z,1.00 >g.csv
run_patron rfm g.csv --skip-bad --rejects rej.csv --out o.csv
expect_status 0 "mismatch rows skipped"
expect_err_has "2 bad rows skipped" "mismatch rows counted"
cat >want.csv <<'CSV'
line,column,field,reason,row
4,3,customer_id,"order 1 belongs to customer ""1"" (line 2)","1,2,2026-01-01T00:00:00Z,1.00"
5,3,customer_id,"order 1 belongs to customer ""1"" (line 2)","1,2,2026-01-02T00:00:00Z,1.00"
CSV
same_file rej.csv want.csv "one reject per mismatching row"

# --max-line-bytes N: at most N bytes of record, not counting the line end, on
# every path (plain lines take a fast path) and with or without a final newline.
l64="2,$(printf 'c%.0s' {1..31}),2026-01-01T00:00:00+00:00,1.00" # 64 bytes, general path
l65="2,$(printf 'c%.0s' {1..32}),2026-01-01T00:00:00+00:00,1.00"
p65="2,$(printf 'c%.0s' {1..38}),2026-01-01T00:00:00Z,1.00"       # 65 bytes, plain line
printf '%s\n' $h "$l64" >a.csv
printf '%s\r\n' $h "$l64" >b.csv
printf '%s\n%s' $h "$l64" >c.csv
for f in a b c; do
    run_patron rfm $f.csv --max-line-bytes 64 --quiet
    expect_status 0 "64-byte record accepted with --max-line-bytes 64 ($f)"
done
printf '%s\n' $h "$l65" >d.csv
printf '%s\n%s' $h "$l65" >e.csv
printf '%s\n' $h "$p65" >p.csv
for f in d e p; do
    run_patron rfm $f.csv --max-line-bytes 64 --quiet
    expect_status 1 "65-byte record refused with --max-line-bytes 64 ($f)"
    expect_err_has "$f.csv:2:1: line too long" "65-byte record message ($f)"
done

# A header-only file with --as-of reports that instant.
printf '%s\n' $h >h.csv
run_patron rfm h.csv --as-of 2026-11-01 --format json
check "header-only json as_of" grep -q '"as_of": "2026-11-01T00:00:00Z"' "$T/out"
run_patron rfm h.csv --as-of 2026-11-01
check "header-only table as_of" grep -q 'RFM as of 2026-11-01T00:00:00Z: 0 customers' "$T/out"

# Ids with a comma or a quote are quoted in the output (RFC 4180).
printf '%s\n' $h '1,"a,b",2026-01-01T00:00:00Z,1.00' '2,"x""y",2026-01-01T00:00:00Z,1.00' >q.csv
run_patron rfm q.csv --as-of 2026-11-01 --out q.out
check "quoted id with comma" grep -qxF '"a,b",304,1,1.00,1,1,1,Lost' q.out
check "quoted id with quote" grep -qxF '"x""y",304,1,1.00,1,1,1,Lost' q.out

# gen usage errors say the real range.
run_patron gen --customers 10 --orders 10 --lines 0
expect_status 2 "gen --lines 0"
expect_err_has 'patron gen: --lines: expected an integer 1..20, got "0"' "gen --lines 0 message"
run_patron gen --customers 10 --orders 10 --years 0
expect_err_has 'patron gen: --years: expected an integer 1..50, got "0"' "gen --years 0 message"

# --columns repeats add up; its usage errors carry the command's prefix.
printf '%s\n' Id,Email,Date,Total 1,a,2026-01-01,1.00 >cols.csv
run_patron rfm cols.csv --columns order_id=Id --columns customer_id=Email,ordered_at=Date,amount=Total
expect_status 0 "repeated --columns combine"
run_patron rfm cols.csv --columns order_id
expect_status 2 "bad --columns"
expect_err_has 'patron rfm: --columns: expected ROLE=HEADER, got "order_id"' "--columns message prefix"
run_patron rfm cols.csv --thresholds ''
expect_status 2 "empty --thresholds"
run_patron rfm cols.csv --thresholds 'r=7,14,30,90;r=1,2,3,4'
expect_status 2 "duplicate r= in --thresholds"
finish
