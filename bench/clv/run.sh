#!/usr/bin/env bash
# bench/clv/run.sh PATRON
#
# Side-by-side CLV benchmark: `patron clv` against scipy_ref.py, the same
# three likelihoods (BG/NBD, Pareto/NBD, Gamma-Gamma) written with NumPy and
# SciPy and fitted with scipy.optimize (see its header), on the same customers:
# SciPy reads the per-customer summary patron writes with --out.
#
# Data sets:
#   CDNOW   ../shared/data/cdnow_sample_transactions.txt (relative to the repo
#           root; skipped with a message when absent), calibration to
#           1997-09-30, 39-week horizon, as in Fader, Hardie & Lee (2005);
#   gen     `patron gen --customers $CUSTOMERS --orders $ORDERS --seed 2026`
#           (default 1000000 / 5000000: three years of orders ending before
#           2026-11-01), calibration to $CAL_END (default 2025-11-01), 52-week
#           horizon, so the last year is a holdout.
# For each, patron and SciPy run alternately REPEAT times (default 3). Reported
# (median of the runs, each figure separately): patron's own fit_seconds (per
# model) and score_seconds (writing --out: every customer's P(alive), expected
# purchases, spend, discounted CLV and next order date with the first model)
# from its JSON; SciPy's fit and score seconds (P(alive) and expected purchases
# of both purchase models plus the Gamma-Gamma spend, vectorised, not written
# anywhere); and the wall time and peak RSS of each whole process (/usr/bin/time).
# Then compare.py checks the two agree (log-likelihoods, patron's parameters
# under SciPy's likelihood, every customer's scores; exit status 1 if not) and
# reports the parameters' relative differences. Once per data set (untimed),
# patron runs again scored with Pareto/NBD to check those scores too
# (CHECK_PNBD=0 skips it).
# Output: Markdown tables and the checks on stdout (copy into docs/benchmarks.md).
# No timing thresholds: this is a measurement, not a test.
set -euo pipefail
patron=$(realpath "${1:?usage: run.sh PATRON}")
repeat=${REPEAT:-3}
py=${PYTHON:-/usr/bin/python3}
customers=${CUSTOMERS:-1000000}
orders=${ORDERS:-5000000}
cal_end=${CAL_END:-2025-11-01}
check_pnbd=${CHECK_PNBD:-1}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${BENCH_OUT:-$here/../out}
mkdir -p "$out/clv"
out=$(realpath "$out")
cdnow=$root/../shared/data/cdnow_sample_transactions.txt
rev=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$root" diff --quiet HEAD -- src 2>/dev/null || rev="$rev + uncommitted src/ changes"
[[ -z $(find "$root/src" -newer "$patron" -print -quit) ]] || rev="$rev; $patron is older than src/"
bin_sum=$(sha256sum "$patron")

if ! "$py" -c 'import numpy, scipy' 2>/dev/null; then
    echo "bench: $py has no numpy/scipy (Debian: python3-scipy; set PYTHON=...)" >&2
    exit 1
fi

# one_set NAME LABEL FILE PATRON-CLV-OPTIONS...
sets=()
failed=0
one_set() {
    local name=$1 label=$2 file=$3
    shift 3
    local dir="$out/clv/$name" horizon
    rm -rf "$dir"
    mkdir -p "$dir"
    echo "bench: $label: patron and SciPy, $repeat runs each" >&2
    for ((i = 1; i <= repeat; i++)); do
        /usr/bin/time -f "%e %M" -o "$dir/patron.$i.time" \
            "$patron" clv "$file" "$@" --format json --out "$dir/patron_scores.csv" --quiet \
            >"$dir/patron.$i.json" 2>"$dir/patron.$i.stderr" || {
            echo "bench: patron clv failed on $file:" >&2
            tail -5 "$dir/patron.$i.stderr" >&2
            exit 1
        }
        if ((i == 1)); then
            mv "$dir/patron_scores.csv" "$dir/summary.csv"
            horizon=$("$py" -c 'import json, sys; print(json.load(open(sys.argv[1]))["horizon"])' \
                "$dir/patron.1.json")
        elif ! cmp -s "$dir/patron_scores.csv" "$dir/summary.csv"; then
            echo "bench: patron's --out differs between runs on $file" >&2
            exit 1
        fi
        /usr/bin/time -f "%e %M" -o "$dir/scipy.$i.time" \
            "$py" "$here/scipy_ref.py" "$dir/summary.csv" --horizon "$horizon" --days-per-unit 7 \
            >"$dir/scipy.$i.json" 2>"$dir/scipy.$i.stderr" || {
            echo "bench: scipy_ref.py failed on $dir/summary.csv:" >&2
            tail -5 "$dir/scipy.$i.stderr" >&2
            exit 1
        }
    done
    if [[ $check_pnbd != 0 ]]; then
        "$patron" clv "$file" "$@" --model pareto_nbd,bgnbd,gamma_gamma --format json \
            --out "$dir/pnbd.csv" --quiet >"$dir/pnbd.json"
    fi
    "$py" "$here/compare.py" --dir "$dir" --label "$label" --repeat "$repeat" --days-per-unit 7 ||
        failed=1
    sets+=("$dir")
}

if [[ -s "$cdnow" ]]; then
    one_set cdnow "CDNOW sample" "$cdnow" --calibration-end 1997-09-30 --horizon 39w
else
    echo "bench: $cdnow not found: skipping the CDNOW data set" >&2
fi

csv="$out/orders_${customers}_${orders}.csv"
if [[ ! -s "$csv" ]]; then
    "$patron" gen --customers "$customers" --orders "$orders" --seed 2026 --out "$csv" 2>/dev/null
fi
one_set "gen_${customers}_${orders}" "gen $customers / $orders orders" "$csv" \
    --calibration-end "$cal_end" --horizon 52w

echo "patron at commit $rev (when the run started); $(nproc) cores; $(date -u +%Y-%m-%d); median of $repeat runs"
if [[ $(sha256sum "$patron") != "$bin_sum" ]]; then
    echo
    echo "**Warning: $patron was rebuilt during the run: the runs mix two binaries.**"
fi
echo
echo "| data set | customers | model | patron fit s | SciPy fit s | ratio | patron score s | SciPy score s | ratio | max param rel diff | LL patron - SciPy |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for d in "${sets[@]}"; do cat "$d/rows.md"; done
echo
echo "Whole processes (wall and peak RSS by /usr/bin/time; read, fit, score as each reports; rest = wall - the three):"
echo
echo "| data set | tool | wall s | peak RSS MiB | read s | fit s | score s | rest s |"
echo "|---|---|---|---|---|---|---|---|"
for d in "${sets[@]}"; do cat "$d/wall.md"; done
echo
echo "Agreement:"
echo
for d in "${sets[@]}"; do cat "$d/checks.md"; done
exit "$failed"
