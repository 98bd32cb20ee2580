#!/usr/bin/env bash
# seg_pg.sh ORDERS.csv AS_OF_EPOCH RULES.tsv MEMBERS.csv PORT: the segments in PostgreSQL.
#
# What a user with PostgreSQL would run for the segments of rules.py, against a
# server on 127.0.0.1:PORT that trusts user postgres (bench/rfm/pg_cluster.sh),
# each step one psql process timed here (connection included, a few ms):
#   load     COPY the CSV into a text table, then orders(customer_id, t, cents)
#            as bigints (exact cents from numeric); ANALYZE; not part of the
#            comparison;
#   agg      agg.sql: one CREATE TABLE AS ... GROUP BY with the RFM ranks and
#            the median gaps (window functions);
#   queries  one COPY (SELECT RULE_INDEX, customer_id FROM agg WHERE <rule>) TO
#            STDOUT per rule, in one psql session, into MEMBERS.csv.
# Prints one JSON line {"load_s", "agg_s", "queries_s", "members"}. The tables live
# in a database of their own, dropped at the start.
set -euo pipefail
[[ $# -eq 5 ]] || { echo "usage: $0 ORDERS.csv AS_OF_EPOCH RULES.tsv MEMBERS.csv PORT" >&2; exit 2; }
csv=$1 as_of=$2 rules=$3 members=$4 port=$5
case $as_of in '' | *[!0-9]*) echo "$0: AS_OF_EPOCH must be an integer" >&2; exit 2 ;; esac
here=$(cd "$(dirname "$0")" && pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
db=patron_segments
psql() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres "$@"; }
now() { echo "$EPOCHREALTIME"; }

psql -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
settings="SET client_min_messages = warning; SET work_mem = '256MB';"

t0=$(now)
psql -d "$db" >/dev/null <<SQL
$settings
CREATE TABLE orders_raw (order_id text, customer_id text, ordered_at timestamptz, amount numeric);
\\copy orders_raw FROM '$csv' WITH (FORMAT csv, HEADER match)
CREATE TABLE orders AS
  SELECT customer_id::bigint AS customer_id, extract(epoch FROM ordered_at)::bigint AS t,
         (amount * 100)::bigint AS cents
  FROM orders_raw;
DROP TABLE orders_raw;
ANALYZE orders;
SQL
t1=$(now)
{
    echo "$settings"
    sed "s/@AS_OF@/$as_of/g" "$here/agg.sql"
} | psql -d "$db" >/dev/null
t2=$(now)
{
    echo "$settings"
    awk -F'\t' '{ printf "COPY (SELECT %d, customer_id FROM agg WHERE %s) TO STDOUT WITH (FORMAT csv);\n", NR, $3 }' "$rules"
} | psql -d "$db" >"$members"
t3=$(now)
n=$(wc -l <"$members")
awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v n="$n" 'BEGIN {
    printf "{\"load_s\": %.3f, \"agg_s\": %.3f, \"queries_s\": %.3f, \"members\": %d}\n", b - a, c - b, d - c, n }'
