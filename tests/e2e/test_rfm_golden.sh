#!/usr/bin/env bash
# patron rfm against golden outputs computed by independent implementations
# (bench/rfm/rfm_pandas.py, rfm_sqlite.sh); see tests/fixtures/README.md.
source "$(dirname "$0")/lib.sh"
G="$ROOT/tests/fixtures/golden"

# Generated data: the generator's bytes are pinned, then the RFM rows.
"$PATRON" gen --customers 3000 --orders 20000 --seed 11 --lines 3 --out "$T/gen.csv" 2>/dev/null
sum=$(sha256sum "$T/gen.csv" | cut -d' ' -f1)
if [[ $sum == 7d1c6d987e35f2f950da489bde93d1fb44a505ca183a59824c2c0acab60a6533 ]]; then ok; else
    bad "patron gen output changed (sha256 $sum): regenerate the golden with bench/rfm/rfm_pandas.py"
fi
for threads in 1 2; do
    for blk in "" 4096 333; do
        PATRON_BLOCK_SIZE=$blk run_patron rfm "$T/gen.csv" --as-of 2026-11-01 --threads $threads --out "$T/gen.rfm.csv"
        expect_status 0 "gen threads=$threads block=$blk"
        same_file "$T/gen.rfm.csv" "$G/gen_3000_20000_s11_l3.rfm.csv" "gen golden threads=$threads block=$blk"
    done
done
run_patron rfm - --as-of 2026-11-01 --out "$T/gen.rfm.csv" <"$T/gen.csv"
same_file "$T/gen.rfm.csv" "$G/gen_3000_20000_s11_l3.rfm.csv" "gen golden from stdin"
# Rows of each order shuffled apart: general mode must give the same result.
{ head -1 "$T/gen.csv"; tail -n +2 "$T/gen.csv" | sort -t, -k4,4 -k1,1n; } >"$T/shuffled.csv"
run_patron rfm "$T/shuffled.csv" --as-of 2026-11-01 --out "$T/gen.rfm.csv"
same_file "$T/gen.rfm.csv" "$G/gen_3000_20000_s11_l3.rfm.csv" "gen golden, order rows not adjacent"

# UCI Online Retail excerpt shipped with the repo.
run_patron rfm "$ROOT/tests/fixtures/online_retail_head8k.csv" --out "$T/h.csv"
expect_status 0 "uci excerpt"
same_file "$T/h.csv" "$G/online_retail_head8k.rfm.csv" "uci excerpt golden"

# Full UCI files from the shared data folder.
if have_shared; then
    for f in online_retail online_retail_ii_2009_2010; do
        run_patron rfm "$SHARED_DATA/$f.csv" --out "$T/u.csv"
        expect_status 0 "$f"
        same_file "$T/u.csv" "$G/$f.rfm.csv" "$f golden"
        PATRON_BLOCK_SIZE=65536 run_patron rfm - --threads 2 --out "$T/u.csv" <"$SHARED_DATA/$f.csv"
        same_file "$T/u.csv" "$G/$f.rfm.csv" "$f golden (stdin, small blocks)"
    done
    run_patron rfm "$SHARED_DATA/online_retail.csv" --format json
    check "uci rows without customer" grep -q '"rows_without_customer": 135080' "$T/out"
    check "uci as-of" grep -q '"as_of": "2011-12-10T00:00:00Z"' "$T/out"
else
    echo "skipping the full UCI files: $SHARED_DATA not found (a clone without ../shared)"
fi
finish
