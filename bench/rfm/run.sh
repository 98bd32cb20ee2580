#!/usr/bin/env bash
# bench/rfm/run.sh PATRON [SIZES]
#
# Side-by-side RFM benchmark: for each size (customers/orders, default
# "100000/1000000 1000000/10000000") it generates the data with `patron gen`,
# then runs on the same file, in this run:
#   patron rfm                          (this project)
#   pandas   (rfm_pandas.py)            what an analyst would write
#   SQLite   (rfm_sqlite.sh)            .import + one query, in memory
#   PostgreSQL (rfm_pg.sh)              COPY + one query, throw-away cluster on 127.0.0.1
# checks that all four per-customer outputs are byte-identical, and prints wall
# time, peak memory (max RSS of the measured process; for PostgreSQL the psql
# client only, the server is not counted) and each tool's time / patron's time.
# Each tool runs REPEAT times (default 3); the median wall time is reported.
# Results go to stdout as a Markdown table (copy it into docs/benchmarks.md).
set -euo pipefail
patron=$(realpath "${1:?usage: run.sh PATRON [SIZES]}")
sizes=${2:-"100000/1000000 1000000/10000000"}
repeat=${REPEAT:-3}
here=$(cd "$(dirname "$0")" && pwd)
out=${BENCH_OUT:-$here/../out}
mkdir -p "$out"
out=$(realpath "$out")
port=${PGPORT_BENCH:-55439}
asof=2026-11-01
asof_epoch=1793491200

pgdir="$out/pg"
cleanup() { "$here/pg_cluster.sh" stop "$pgdir" >/dev/null 2>&1 || true; }
trap cleanup EXIT
"$here/pg_cluster.sh" start "$pgdir" "$port" >&2

# measure NAME OUTFILE CMD... -> sets $wall (median seconds) and $rss (MiB of that run)
measure() {
    local name=$1 outfile=$2
    shift 2
    local times=() rsss=()
    for ((i = 0; i < repeat; i++)); do
        rm -f "$outfile"
        /usr/bin/time -f "%e %M" -o "$out/time.txt" "$@" >"$out/$name.stdout" 2>"$out/$name.stderr" || {
            echo "bench: $name failed:" >&2
            tail -5 "$out/$name.stderr" >&2
            exit 1
        }
        read -r t m <"$out/time.txt"
        times+=("$t")
        rsss+=("$m")
    done
    local idx
    idx=$(for i in "${!times[@]}"; do echo "${times[$i]} $i"; done | sort -n | sed -n "$(((repeat + 1) / 2))p" | cut -d' ' -f2)
    wall=${times[$idx]}
    rss=$(awk -v k="${rsss[$idx]}" 'BEGIN { printf "%.0f", k / 1024 }')
}

echo "| data (customers / orders) | file | tool | wall s (median of $repeat) | peak RSS MiB | time vs patron |"
echo "|---|---|---|---|---|---|"
for size in $sizes; do
    c=${size%/*}
    n=${size#*/}
    csv="$out/orders_${c}_${n}.csv"
    if [[ ! -s "$csv" ]]; then
        "$patron" gen --customers "$c" --orders "$n" --seed 2026 --out "$csv" 2>/dev/null
    fi
    mb=$(du -m "$csv" | cut -f1)
    declare -A W R
    measure patron "$out/patron.csv" "$patron" rfm "$csv" --as-of "$asof" --out "$out/patron.csv" -q
    W[patron]=$wall R[patron]=$rss
    measure pandas "$out/pandas.csv" /usr/bin/python3 "$here/rfm_pandas.py" "$csv" --as-of "$asof" --out "$out/pandas.csv"
    W[pandas]=$wall R[pandas]=$rss
    measure sqlite "$out/sqlite.csv" "$here/rfm_sqlite.sh" "$csv" "$asof_epoch" "$out/sqlite.csv"
    W[sqlite]=$wall R[sqlite]=$rss
    measure postgres "$out/postgres.csv" "$here/rfm_pg.sh" "$csv" "$asof_epoch" "$out/postgres.csv" "$port"
    W[postgres]=$wall R[postgres]=$rss
    for t in pandas sqlite postgres; do
        if ! cmp -s "$out/patron.csv" "$out/$t.csv"; then
            echo "bench: $t output differs from patron's on $csv" >&2
            diff "$out/patron.csv" "$out/$t.csv" | head -5 >&2
            exit 1
        fi
    done
    for t in patron pandas sqlite postgres; do
        ratio=$(awk -v a="${W[$t]}" -v b="${W[patron]}" 'BEGIN { printf "%.1fx", a / b }')
        mem=${R[$t]}
        [[ $t == postgres ]] && mem="$mem (client)"
        echo "| $c / $n | $mb MB | $t | ${W[$t]} | $mem | $ratio |"
    done
done
echo
echo "outputs identical (cmp) for every size: patron = pandas = SQLite = PostgreSQL"
