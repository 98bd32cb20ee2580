#!/bin/sh
# Throw-away PostgreSQL 15 cluster for the RFM benchmark.
#   pg_cluster.sh start DIR PORT   create DIR/data (if needed) and start the server
#   pg_cluster.sh stop DIR         stop the server whose pid is in DIR/data/postmaster.pid
# The server listens on 127.0.0.1:PORT only (socket files in DIR), trusts local
# connections as user postgres, and runs with fsync=off, synchronous_commit=off and
# full_page_writes=off: fast but NOT crash-safe, acceptable only for this disposable
# bench cluster. PostgreSQL refuses to run as root, so as root everything runs as the
# `postgres` system user.
set -eu
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
usage() { echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2; }
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

[ $# -ge 2 ] || usage
dir=$2
case $1 in
start)
    [ $# -eq 3 ] || usage
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    [ "$(id -u)" -ne 0 ] || chown postgres: "$dir"
    if [ ! -f "$dir/data/PG_VERSION" ]; then
        as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres --auth=trust \
            --encoding=UTF8 --locale=C >"$dir/initdb.log"
    fi
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o \
        "-c listen_addresses=127.0.0.1 -p $3 -c unix_socket_directories='$dir' \
         -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
    echo "postgres pid $(head -n 1 "$dir/data/postmaster.pid") on 127.0.0.1:$3"
    ;;
stop)
    [ $# -eq 2 ] || usage
    pidfile=$dir/data/postmaster.pid
    [ -f "$pidfile" ] || { echo "$0: no server running in $dir" >&2; exit 1; }
    pid=$(head -n 1 "$pidfile")
    kill -INT "$pid"            # SIGINT = "fast" shutdown of this postmaster only
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    echo "postgres pid $pid stopped"
    ;;
*) usage ;;
esac
