#!/usr/bin/env python3
"""seg_sqlite.py ORDERS.csv AS_OF_EPOCH RULES.tsv MEMBERS.csv: the segments in SQLite.

What a user with SQLite would run for the segments of rules.py, in an in-memory
database (Python's sqlite3 module, the system's SQLite):

  load     the order CSV into orders(customer_id, t, cents): integer ids, Unix
           seconds (unixepoch), exact integer cents; not part of the comparison;
  agg      agg.sql: one CREATE TABLE AS ... GROUP BY with the RFM ranks and the
           median gaps (window functions);
  queries  one SELECT customer_id FROM agg WHERE <rule> per rule, every member
           fetched by the client.

Prints one JSON line: {"load_s", "agg_s", "queries_s", "members"} (seconds on the
monotonic clock). Writes RULE_INDEX,CUSTOMER_ID per member to MEMBERS.csv after
the timing (rule index 1-based, as `patron segment eval --members`).
"""
import csv
import gc
import json
import os
import sqlite3
import sys
import time


def cents_of(s):
    whole, _, frac = s.partition(".")
    return int(whole) * 100 + int((frac + "00")[:2])


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: seg_sqlite.py ORDERS.csv AS_OF_EPOCH RULES.tsv MEMBERS.csv")
    path, as_of, rules_path, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "agg.sql")) as f:
        agg_sql = f.read().replace("@AS_OF@", str(as_of))
    rules = []
    with open(rules_path) as f:
        for line in f:
            name, _rule, sql = line.rstrip("\n").split("\t")
            rules.append((name, sql))

    db = sqlite3.connect(":memory:")
    db.execute("PRAGMA temp_store = MEMORY")
    t0 = time.monotonic()
    db.execute("CREATE TABLE orders (customer_id INTEGER, t INTEGER, cents INTEGER)")
    with open(path, newline="") as f:
        rd = csv.reader(f)
        head = next(rd)
        if head != ["order_id", "customer_id", "ordered_at", "amount"]:
            sys.exit(f"seg_sqlite.py: unexpected header {head}")
        db.executemany("INSERT INTO orders VALUES (?, unixepoch(?), ?)",
                       ((int(r[1]), r[2], cents_of(r[3])) for r in rd))
    db.commit()
    t1 = time.monotonic()
    db.execute(agg_sql)
    db.commit()
    t2 = time.monotonic()
    gc.disable()  # millions of result tuples: no cycle collection while timing
    queries_s, n = 0.0, 0
    with open(out, "w") as f:
        for i, (_name, sql) in enumerate(rules, 1):
            q0 = time.monotonic()
            rows = db.execute(f"SELECT customer_id FROM agg WHERE {sql}").fetchall()
            queries_s += time.monotonic() - q0
            n += len(rows)  # written outside the timed part
            f.write("".join(f"{i},{r[0]}\n" for r in rows))
            del rows
    print(json.dumps({"load_s": round(t1 - t0, 3), "agg_s": round(t2 - t1, 3),
                      "queries_s": round(queries_s, 3), "members": n}))


if __name__ == "__main__":
    main()
