#!/usr/bin/env bash
# `patron rfm --skip-bad`: on a generated file with malformed rows inserted
# between unchanged valid rows, skipping exactly the bad rows must give the
# result of the clean file (RFM-SPEC part A, "Clean data"), in every read mode;
# the rejects file lists exactly those rows.
source "$(dirname "$0")/lib.sh"
cd "$T" || exit 1
export LC_ALL=C

# gen_bad_count FILE: the "and N malformed rows" of gen's report on stderr, without separators.
gen_bad_count() {
    sed -n 's/.* and \([0-9,]*\) malformed rows.*/\1/p' "$1" | tr -d ,
}
# skipped_count: the "N bad rows skipped" of rfm's summary line in $T/err.
skipped_count() {
    sed -n 's/.* \([0-9,]*\) bad rows skipped.*/\1/p' "$T/err" | tr -d ,
}
# same_number A B NAME
same_number() {
    if [[ -n "$1" && "$1" == "$2" ]]; then ok; else bad "$3: '$1' != '$2'"; fi
}

# dirty_vs_clean LINES: one generated pair with --lines LINES.
dirty_vs_clean() {
    local L=$1 nbad mode th
    local gen=("$PATRON" gen --customers 2000 --orders 10000 --seed 7 --lines "$L")
    "${gen[@]}" --bad-fraction 0.05 --out dirty.csv 2>gen_dirty.err
    check "lines $L: gen dirty" test -s dirty.csv
    "${gen[@]}" --bad-fraction 0 --out clean.csv 2>gen_clean.err
    check "lines $L: gen clean" test -s clean.csv
    nbad=$(gen_bad_count gen_dirty.err)
    check "lines $L: gen reports some bad rows ($nbad)" test "${nbad:-0}" -gt 100
    check "lines $L: clean file has no bad rows" grep -q "valid rows, " gen_clean.err
    check "lines $L: clean file reports no malformed rows" bash -c '! grep -q malformed "$0"' gen_clean.err
    # The dirty file is the clean one plus exactly nbad lines.
    same_number $(($(wc -l <dirty.csv) - $(wc -l <clean.csv))) "$nbad" "lines $L: extra lines"

    run_patron rfm clean.csv --as-of 2026-11-01 --out want.csv
    expect_status 0 "lines $L: clean run"
    check "lines $L: clean run has 2000 customers" test "$(wc -l <want.csv)" -eq 2001

    # Without --skip-bad the dirty file stops at its first bad row.
    run_patron rfm dirty.csv --as-of 2026-11-01 --out stop.csv
    expect_status 1 "lines $L: dirty file without --skip-bad"
    expect_err_has "--skip-bad" "lines $L: the stop message mentions --skip-bad"
    cp "$T/err" "$T/err.stop"

    # 150000: blocks big enough for --threads 2 to split them.
    for mode in "" "PATRON_BLOCK_SIZE=100" "PATRON_BLOCK_SIZE=150000"; do
        for th in 1 2; do
            local tag="lines $L [$mode --threads $th]"
            rm -f a.csv rej.csv
            env $mode "$PATRON" rfm dirty.csv --skip-bad --rejects rej.csv --as-of 2026-11-01 \
                --out a.csv --threads $th >"$T/out" 2>"$T/err"
            status=$?
            expect_status 0 "$tag"
            same_file a.csv want.csv "$tag: same rows as the clean file"
            check_rejects "$tag" "$nbad" dirty.csv
        done
    done
    # Standard input: one pass, nothing to re-read.
    rm -f a.csv rej.csv
    "$PATRON" rfm - --skip-bad --rejects rej.csv --as-of 2026-11-01 --out a.csv \
        <dirty.csv >"$T/out" 2>"$T/err"
    status=$?
    expect_status 0 "lines $L [stdin]"
    same_file a.csv want.csv "lines $L [stdin]: same rows as the clean file"
    check_rejects "lines $L [stdin]" "$nbad" dirty.csv
    # Through a pipe with small blocks and two threads.
    rm -f a.csv rej.csv
    cat dirty.csv | PATRON_BLOCK_SIZE=100 "$PATRON" rfm - --skip-bad --rejects rej.csv \
        --as-of 2026-11-01 --out a.csv --threads 2 >"$T/out" 2>"$T/err"
    status=$?
    expect_status 0 "lines $L [pipe]"
    same_file a.csv want.csv "lines $L [pipe]: same rows as the clean file"
    check_rejects "lines $L [pipe]" "$nbad" dirty.csv

    # The stop-mode error names the first rejected row (same line and column).
    local first
    first=$(sed -n 2p rej.csv | cut -d, -f1,2 | tr , :)
    check "lines $L: stop message is the first reject ($first)" \
        grep -q "^dirty.csv:$first: " "$T/err.stop"
}

# check_rejects TAG NBAD INPUT: rej.csv against the run's stderr and the input.
check_rejects() {
    local tag=$1 nbad=$2 input=$3
    check "$tag: rejects header" test "$(head -n 1 rej.csv)" = "line,column,field,reason,row"
    # Gen's bad rows hold no line break, so each reject is one line.
    same_number $(($(wc -l <rej.csv) - 1)) "$nbad" "$tag: rejects rows = bad rows from gen"
    same_number "$(skipped_count)" "$nbad" "$tag: 'bad rows skipped' = bad rows from gen"
    # Rows are listed in file order, each line once.
    check "$tag: rejects in line order" \
        bash -c 'tail -n +2 rej.csv | cut -d, -f1 | sort -n -c -u'
    # Every field name is one of the layout's or empty (CSV-level problems).
    check "$tag: rejects field names" \
        bash -c 'tail -n +2 rej.csv | cut -d, -f3 | grep -qvE "^(order_id|customer_id|ordered_at|amount|)$"; test $? -eq 1'
    # Deleting the rejected lines from the input gives back the clean file.
    tail -n +2 rej.csv | cut -d, -f1 >rej.lines
    awk 'NR == FNR { drop[$1] = 1; next } !(FNR in drop)' rej.lines "$input" >kept.csv
    same_file kept.csv clean.csv "$tag: input minus rejected lines = clean file"
}

for L in 1 3; do
    dirty_vs_clean "$L"
done

# --skip-bad without --rejects: same result and count.
"$PATRON" gen --customers 300 --orders 1000 --seed 11 --bad-fraction 0.1 --out d.csv 2>g.err
"$PATRON" gen --customers 300 --orders 1000 --seed 11 --bad-fraction 0 --out c.csv 2>/dev/null
run_patron rfm c.csv --as-of 2026-11-01 --out want.csv
expect_status 0 "small clean"
run_patron rfm d.csv --skip-bad --as-of 2026-11-01 --out a.csv
expect_status 0 "--skip-bad without --rejects"
same_file a.csv want.csv "--skip-bad without --rejects: same rows"
same_number "$(skipped_count)" "$(gen_bad_count g.err)" "--skip-bad without --rejects: count"

# A file whose every row is bad: nothing left, still a success.
printf '%s\n' 'order_id,customer_id,ordered_at,amount' '1,1,2026-01-01T00:00:00Z,x' \
    '2,,2026-01-01T00:00:00Z,1.00' >allbad.csv
run_patron rfm allbad.csv --skip-bad --rejects rej.csv --as-of 2026-11-01 --out a.csv
expect_status 0 "all rows bad"
same_number "$(skipped_count)" 2 "all rows bad: count"
check "all rows bad: no customer rows" test "$(cat a.csv)" = \
    "customer_id,recency,frequency,monetary,r,f,m,segment"
# Rejects rows are CSV: a row with quotes and commas is quoted, "" doubled.
printf '%s\n' 'order_id,customer_id,ordered_at,amount' '1,"a,b"x,2026-01-01T00:00:00Z,1.00' \
    '2,1,2026-01-01T00:00:00Z,1.00' >q.csv
run_patron rfm q.csv --skip-bad --rejects rej.csv --as-of 2026-11-01
expect_status 0 "quoted reject row"
check "quoted reject row: line 2, column 8 (the x), row quoted" test "$(sed -n 2p rej.csv)" = \
    '2,8,,text after the closing quote of a field,"1,""a,b""x,2026-01-01T00:00:00Z,1.00"'
finish
