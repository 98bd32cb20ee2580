#!/bin/sh
# Reference RFM in SQLite: rfm_sqlite.sh INPUT.csv AS_OF_EPOCH OUT.csv
# Loads the orders-layout CSV into an in-memory database with the sqlite3 CLI and runs
# rfm_sqlite.sql. List mode with a ',' separator writes the CSV without any quoting
# (the CLI's csv mode would quote fields containing spaces). The header is printed
# explicitly because the CLI prints none for an empty result.
set -eu
[ $# -eq 3 ] || { echo "usage: $0 INPUT.csv AS_OF_EPOCH OUT.csv" >&2; exit 2; }
case $2 in ''|*[!0-9-]*) echo "$0: AS_OF_EPOCH must be an integer" >&2; exit 2;; esac
here=$(cd "$(dirname "$0")" && pwd)
sqlite3 -batch -bail :memory: <<SQL
.parameter set @as_of $2
.import --csv "$1" orders_raw
.headers off
.mode list
.separator , "\n"
.output "$3"
.print customer_id,recency,frequency,monetary,r,f,m,segment
.read "$here/rfm_sqlite.sql"
SQL
