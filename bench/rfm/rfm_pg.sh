#!/bin/sh
# Reference RFM in PostgreSQL: rfm_pg.sh INPUT.csv AS_OF_EPOCH OUT.csv PORT
# Needs a server on 127.0.0.1:PORT that trusts user postgres (see pg_cluster.sh).
# The CSV goes in through COPY FROM STDIN, the result comes back through COPY TO STDOUT
# (CSV format quotes nothing here: no output field contains ',', '"' or a newline).
set -eu
[ $# -eq 4 ] || { echo "usage: $0 INPUT.csv AS_OF_EPOCH OUT.csv PORT" >&2; exit 2; }
case $2 in ''|*[!0-9-]*) echo "$0: AS_OF_EPOCH must be an integer" >&2; exit 2;; esac
here=$(cd "$(dirname "$0")" && pwd)
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
"$PGBIN/psql" -X -q -h 127.0.0.1 -p "$4" -U postgres -d postgres \
    -v as_of="$2" -f "$here/rfm_pg.sql" <"$1" >"$3"
