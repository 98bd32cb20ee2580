#!/usr/bin/env python3
"""bench/serve/sqlite_ref.py BODIES DB

The reference for the batched-ingest benchmark: what a user would write instead
of Patron to keep incoming events durably - Python's sqlite3 module and one
events table. BODIES is `loadgen --mode dump` output: one /v1/batch request
body per line, the very events the server receives in the same run. Each line
is decoded (json) and written in one transaction (INSERT OR IGNORE, so a
re-sent messageId is a no-op as in Patron), on a WAL database with
synchronous=FULL: a commit is durable when it returns, as a 200 from Patron is.

It does less than Patron: no customer profiles, no orders table, no
aggregates; one row per event with its body, a unique messageId and an index
by user. The file is read into memory before the clock starts.

Prints one JSON line: events, batches, wall_s, events_per_s, db_bytes.
"""
import json
import os
import sqlite3
import sys
import time

SCHEMA = """
CREATE TABLE events(
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL,
    event TEXT NOT NULL,
    ts TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX events_user ON events(user_id, id);
"""


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: sqlite_ref.py BODIES DB")
    bodies, path = sys.argv[1], sys.argv[2]
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.unlink(path + suffix)
    with open(bodies, encoding="utf-8") as f:
        lines = f.readlines()
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.executescript(SCHEMA)
    insert = ("INSERT OR IGNORE INTO events(message_id, user_id, event, ts, body)"
              " VALUES (?, ?, ?, ?, ?)")
    n = 0
    t0 = time.monotonic()
    for line in lines:
        batch = json.loads(line)["batch"]
        rows = [(e["messageId"], e["userId"], e["event"], e["timestamp"],
                 json.dumps(e, separators=(",", ":"))) for e in batch]
        db.execute("BEGIN")
        db.executemany(insert, rows)
        db.execute("COMMIT")
        n += len(rows)
    wall = time.monotonic() - t0
    stored = db.execute("SELECT count(*) FROM events").fetchone()[0]
    db.close()
    if stored != n:
        sys.exit("sqlite_ref: %d events sent, %d stored" % (n, stored))
    size = sum(os.path.getsize(path + s) for s in ("", "-wal") if os.path.exists(path + s))
    print(json.dumps({"events": n, "batches": len(lines), "wall_s": round(wall, 3),
                      "events_per_s": round(n / wall), "db_bytes": size}))


if __name__ == "__main__":
    main()
