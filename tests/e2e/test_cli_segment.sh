#!/usr/bin/env bash
# `patron segment eval` on a small hand-checked order export: exact members of
# order, money (currency units), recency, window and gap rules; RFM segments
# agreeing with `patron rfm`; --count, --rules (name,count CSV), --members,
# stdin, default as-of; rule errors with their position (exit 1) and usage
# errors (exit 2). On the full UCI Online Retail file (../shared/data, skipped
# when absent) every RFM segment's members equal `patron rfm`'s.
source "$(dirname "$0")/lib.sh"

# As of 2026-11-01T00:00:00Z:
#   a: 3 orders, 50 + 60 + 40 = 150.00, last 1 day ago, gaps 10 and 20 days
#   b: 1 order, exactly 100.00, 153 days ago
#   c: 1 order, 99.99, 12 days ago
#   d: 4 orders of 10.00, last 7 days ago, gaps 2, 2 and 50 days (median 2, mean 18)
#   e: 1 order, 500.00, 365 days ago
#   f: only an order at the as-of instant, which is not seen (as in patron rfm)
cat >"$T/orders.csv" <<'CSV'
order_id,customer_id,ordered_at,amount
1,a,2026-10-01,50.00
2,a,2026-10-11,60.00
4,b,2026-06-01,100.00
5,c,2026-10-20,99.99
6,d,2026-09-01,10.00
7,d,2026-09-03,10.00
8,d,2026-09-05,10.00
3,a,2026-10-31,40.00
9,d,2026-10-25,10.00
10,e,2025-11-01,500.00
11,f,2026-11-01T00:00:00Z,20.00
CSV
AS=(--as-of 2026-11-01)

# members WANT NAME RULE [ARGS...]: the printed ids (sorted) are WANT.
members() {
    local want=$1 name=$2 rule=$3
    shift 3
    run_patron segment eval "$rule" "$T/orders.csv" "${AS[@]}" "$@"
    expect_status 0 "$name"
    local got
    got=$(sort "$T/out" | tr '\n' ' ')
    if [[ $got == "$want" ]]; then ok; else bad "$name: $rule: members '$got', want '$want'"; fi
}
members "a d " "orders" "orders >= 3"
members "a b c d e " "an order at the as-of instant is not seen" "orders >= 1"
members "a b e " "revenue in currency units: >= 100 is 100.00" "revenue >= 100"
members "a b e " "revenue > 99.99" "revenue > 99.99"
members "c " "revenue between" "revenue between 99 and 99.995"
members "d " "revenue < 60 and > 0" "revenue < 60 and revenue > 0"
# f's only order is at the as-of instant: as of then f has not bought yet and is
# no customer of this export (patron rfm leaves f out too)
members "" "a customer known only from orders at or after as-of is no member" "orders = 0 or revenue < 1"
members "a b c e " "average_order_value" "average_order_value >= 50"
members "a " "average_order_value = 50" "average_order_value = 50"
members "a c d " "days_since_last_order" "days_since_last_order <= 12"
members "b " "days_since_last_order = 153" "days_since_last_order = 153"
members "e " "days_since_first_order" "days_since_first_order >= 365"
members "a " "orders_in(30d) >= 2 (2026-10-01 is 31 days back)" "orders_in(30d) >= 2"
members "a c d " "orders_in(30d) >= 1" "orders_in(30d) >= 1"
members "a d " "orders_in(9w)" "orders_in(9w) >= 2"
members "d " "median_days_between_orders" "median_days_between_orders <= 10"
members "a " "median of two gaps" "median_days_between_orders = 15"
members "d " "average_days_between_orders" "average_days_between_orders > 15"
members "a d " "a gap needs two orders" "median_days_between_orders exists"
members "b c e " "not" "not (orders >= 3 or revenue < 50)"
members "a c " "arithmetic" "revenue / orders > 2 * 24.99 and days_since_last_order < 30"
members "" "what an export does not know is missing" "consent.email or traits.vip exists or cart.value > 0"
members "a " "rfm.score" 'rfm.score = "544"'
members "d e " "rfm.m in" "rfm.m in (1, 5)"
members "a b c d e " "a multi-line rule with a comment" $'orders >= 1 # any buyer\n  and revenue > 0'

# money stays in currency units whatever the file's decimals (none or one here)
printf 'order_id,customer_id,ordered_at,amount\n1,x,2026-10-01,100\n2,y,2026-10-01,99.9\n3,z,2026-10-02,150.5\n4,y,2026-10-03,1\n' >"$T/units.csv"
for r in "revenue >= 100|x y z " "revenue = 100.9|y " "revenue >= 150.5 or average_order_value = 50.45|y z "; do
    run_patron segment eval "${r%|*}" "$T/units.csv" --quiet
    expect_status 0 "units.csv: ${r%|*}"
    check "units.csv: ${r%|*}: $(sort "$T/out" | tr '\n' ' ')" test "$(sort "$T/out" | tr '\n' ' ')" = "${r#*|}"
done

# ---- RFM segments agree with patron rfm (same file, same as-of) ----
run_patron rfm "$T/orders.csv" "${AS[@]}" --out -
expect_status 0 "patron rfm --out -"
cp "$T/out" "$T/rfm.csv"
champs=$(awk -F, '$8 == "Champions" {print $1}' "$T/rfm.csv" | sort | tr '\n' ' ')
check "the small file has a Champion (a): '$champs'" test "$champs" = "a "
members "$champs" 'rfm.segment = "Champions" (= patron rfm)' 'rfm.segment = "Champions"'
members "$(awk -F, '$8 == "Lost" {print $1}' "$T/rfm.csv" | sort | tr '\n' ' ')" "Lost (= patron rfm)" 'rfm.segment = "Lost"'
# rules file of all eleven: name,count and the members equal patron rfm's rows
python3 - "$T/rfm_rules.txt" <<'EOF'
import sys
names = ["Champions", "Loyal Customers", "Potential Loyalists", "New Customers", "Promising",
         "Need Attention", "About to Sleep", "At Risk", "Can't Lose Them", "Hibernating", "Lost"]
with open(sys.argv[1], "w") as f:
    f.write("# every RFM segment\n")
    for n in names:
        f.write('%s\trfm.segment = "%s"\n' % (n, n))
EOF
check "rfm_rules.txt written" test -s "$T/rfm_rules.txt"
# cmp_rfm RFM-CSV NAME: $T/out (name,count) and $T/mem.csv (index,id) agree with the rows
cmp_rfm() {
    python3 - "$1" "$T/rfm_rules.txt" "$T/out" "$T/mem.csv" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
names = [l.split("\t")[0] for l in open(sys.argv[2]) if "\t" in l]
want = {n: sorted(r["customer_id"] for r in rows if r["segment"] == n) for n in names}
out = list(csv.reader(open(sys.argv[3])))
assert out[0] == ["name", "count"], out[0]
assert out[1:] == [[n, str(len(want[n]))] for n in names], out[1:]
got = {n: [] for n in names}
for line in open(sys.argv[4]):
    i, cid = line.rstrip("\n").split(",", 1)
    got[names[int(i) - 1]].append(cid)
assert {n: sorted(v) for n, v in got.items()} == want, "members differ"
assert sum(len(v) for v in want.values()) == len(rows)
EOF
}
run_patron segment eval --rules "$T/rfm_rules.txt" "$T/orders.csv" "${AS[@]}" --members "$T/mem.csv"
expect_status 0 "--rules with the eleven RFM segments"
check "eleven RFM rules = patron rfm (counts and members)" cmp_rfm "$T/rfm.csv"

# ---- --count, --rules, --members, stdin, default as-of ----
run_patron segment eval "orders >= 3" "$T/orders.csv" "${AS[@]}" --count
expect_status 0 "--count"
check "--count prints the number only" test "$(cat "$T/out")" = "2"
expect_err_has "as of 2026-11-01T00:00:00Z: 2 memberships" "summary on stderr"
run_patron segment eval "orders >= 3" "$T/orders.csv" "${AS[@]}" --count --quiet
check "--quiet: nothing on stderr" test ! -s "$T/err"
run_patron segment eval "orders >= 1" "$T/orders.csv" --count
expect_status 0 "default as-of"
check "default as-of is the day after the newest order: f is seen" test "$(cat "$T/out")" = "6"
expect_err_has "as of 2026-11-02T00:00:00Z" "default as-of named on stderr"
"$PATRON" segment eval "revenue >= 100" - "${AS[@]}" <"$T/orders.csv" >"$T/stdin.out" 2>"$T/err"
status=$?
expect_status 0 "FILE - reads standard input"
check "stdin gives the same members" test "$(sort "$T/stdin.out" | tr '\n' ' ')" = "a b e "
printf '# segments for the newsletter\n\nbig\trevenue >= 100\n  # an indented comment\r\norders >= 3\n\nquiet\tdays_since_last_order > 30\r\nnobody\tconsent.sms\n' >"$T/rules.txt"
run_patron segment eval --rules "$T/rules.txt" "$T/orders.csv" "${AS[@]}" --members "$T/m.csv"
expect_status 0 "--rules FILE --members FILE"
printf 'name,count\nbig,3\nrule2,2\nquiet,2\nnobody,0\n' >"$T/want.csv"
same_file "$T/out" "$T/want.csv" "--rules: name,count CSV (comments, blank lines and CRLF skipped; unnamed rule2)"
sort "$T/m.csv" >"$T/m.sorted"
printf '1,a\n1,b\n1,e\n2,a\n2,d\n3,b\n3,e\n' >"$T/m.want"
same_file "$T/m.sorted" "$T/m.want" "--members: rule_index,customer_id rows"
run_patron segment eval --rules "$T/rules.txt" "$T/orders.csv" "${AS[@]}"
same_file "$T/out" "$T/want.csv" "--rules without --members"

# ---- rule errors: exit 1 with the position ----
printf '# first\nok\torders >= 1\n\nbad\torders >= 3 and revenu > 1\nlater\trevenue > 1\n' >"$T/bad_rules.txt"
run_patron segment eval --rules "$T/bad_rules.txt" "$T/orders.csv" "${AS[@]}"
expect_status 1 "a bad rule in a rules file"
check "no output for a bad rules file" test ! -s "$T/out"
# FILE:LINE:COLUMN: message (the column counted in the rule or in the line)
check "FILE:LINE:COLUMN: message: $(head -c 200 "$T/err")" \
    grep -Eq "^$T/bad_rules.txt:4:(17|21): unknown attribute \"revenu\" \(did you mean revenue\?\)$" "$T/err"
printf 'orders >= 1\norders >= 30d\n' >"$T/bad2.txt"
run_patron segment eval --rules "$T/bad2.txt" "$T/orders.csv" "${AS[@]}"
expect_status 1 "a type error in a rules file"
check "type error: FILE:LINE:COLUMN: $(head -c 200 "$T/err")" \
    grep -Eq "^$T/bad2.txt:2:8: cannot compare a number with a duration" "$T/err"
printf '# only comments\n\n' >"$T/none.txt"
run_patron segment eval --rules "$T/none.txt" "$T/orders.csv"
expect_status 1 "a rules file without rules"
expect_err_has "no rules" "a rules file without rules: message"
run_patron segment eval --rules "$T/no-such.txt" "$T/orders.csv"
expect_status 1 "a missing rules file"
run_patron segment eval "orders >= 3 and revenu > 1" "$T/orders.csv"
expect_status 1 "a bad rule"
expect_err_has '1:17: unknown attribute "revenu" (did you mean revenue?)' "a bad rule: position and suggestion"
check "a bad rule: nothing on stdout" test ! -s "$T/out"
run_patron segment eval "days_since_last_order > 30d" "$T/orders.csv"
expect_status 1 "a type error"
expect_err_has "1:23: cannot compare a number with a duration" "a type error: position and hint"
run_patron segment eval $'orders >= 1 and\n  (revenue > 1' "$T/orders.csv"
expect_status 1 "a syntax error on line 2"
expect_err_has "rule 2:" "a syntax error on line 2: its line"
run_patron segment eval "orders >= 1" "$T/no-such.csv"
expect_status 1 "a missing order file"
printf 'order_id,customer_id,ordered_at,amount\n1,a,2026-10-01,12.x5\n' >"$T/badrow.csv"
run_patron segment eval "orders >= 1" "$T/badrow.csv"
expect_status 1 "a bad row"

# ---- usage: exit 2; --help: exit 0 ----
while IFS='|' read -r name args; do
    read -r -a argv <<<"$args"
    run_patron "${argv[@]//@/$T/}"
    expect_status 2 "$name"
done <<'EOF'
segment without an action|segment
unknown action|segment frobnicate
eval without arguments|segment eval
eval without FILE|segment eval orders>=1
eval with an extra argument|segment eval orders>=1 @orders.csv @orders.csv
--rules without FILE|segment eval --rules @rules.txt
--members without --rules|segment eval orders>=1 @orders.csv --members @x.csv
unknown option|segment eval orders>=1 @orders.csv --bogus
--as-of that is no date|segment eval orders>=1 @orders.csv --as-of yesterday
--layout xls|segment eval orders>=1 @orders.csv --layout xls
--rules without its value|segment eval --rules
EOF
run_patron segment eval --help
expect_status 0 "segment eval --help"
check "help: usage and options" grep -q -- "usage: patron segment eval RULE FILE" "$T/out"
check "help names --rules, --members, --count, --as-of" bash -c "grep -q -- --rules '$T/out' && grep -q -- --members '$T/out' && grep -q -- --count '$T/out' && grep -q -- --as-of '$T/out'"
run_patron segment --help
expect_status 0 "segment --help"
check "segment --help prints the usage" grep -q "usage: patron segment eval" "$T/out"

# ---- the full UCI Online Retail file ----
if [[ -f "$SHARED_DATA/online_retail.csv" ]]; then
    uci="$SHARED_DATA/online_retail.csv"
    run_patron rfm "$uci" --format json
    expect_status 0 "patron rfm on online_retail.csv"
    want=$(python3 -c 'import json,sys; print([s["customers"] for s in json.load(open(sys.argv[1]))["segments"] if s["segment"] == "Champions"][0])' "$T/out")
    run_patron segment eval 'rfm.segment = "Champions"' "$uci" --count
    expect_status 0 "segment eval on online_retail.csv"
    check "online_retail.csv: Champions $(cat "$T/out") = patron rfm's $want" test "$(cat "$T/out")" = "$want"
    check "online_retail.csv has Champions" test "${want:-0}" -gt 0
    run_patron rfm "$uci" --out -
    cp "$T/out" "$T/uci_rfm.csv"
    run_patron segment eval --rules "$T/rfm_rules.txt" "$uci" --members "$T/mem.csv"
    expect_status 0 "--rules over online_retail.csv"
    check "online_retail.csv: eleven RFM rules = patron rfm (counts and members)" cmp_rfm "$T/uci_rfm.csv"
    run_patron segment eval 'orders >= 1' "$uci" --count
    check "online_retail.csv: every customer of patron rfm has orders ($(cat "$T/out"))" test "$(cat "$T/out")" = "$(($(wc -l <"$T/uci_rfm.csv") - 1))"
else
    echo "skipping the online_retail.csv checks: $SHARED_DATA/online_retail.csv is absent"
fi
finish
