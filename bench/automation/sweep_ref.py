#!/usr/bin/env python3
"""sweep_ref.py - the data and the 20 time-trigger automations of the automation
benchmark (bench/automation/run.sh), and their twins in SQLite and pandas.

  sweep_ref.py times
      prints "T0 T1 TA TB": the Unix times the run uses (see below)
  sweep_ref.py gen N OUTDIR
      writes, for customers 1..N (the ids of `patron gen --customers N`):
        events.batches   POST /v1/batch bodies, one per line (1,000 events each):
                         Order Completed with one product line (replenishment),
                         Product Added (open carts), identify with a birthday trait
        extra_orders.csv order_id,customer,t,cents   (those Order Completed events)
        lines.csv        customer,product,t,qty      (their product lines)
        carts.csv        customer,value,since,t      (the carts, minor units)
        bdays.csv        customer,mmdd
        members_a.csv    user_id,points  (imported at TA: the points expire at TA + 12 months)
        members_b.csv    user_id,points  (imported at TB)
        lots.csv         customer,expires,left       (those imports as expiring lots)
  sweep_ref.py autos
      the 20 automation definitions for POST /v1/automations, one JSON per line
  sweep_ref.py sql NOW
      the SQLite twin of one sweep at NOW: per automation one INSERT INTO entries
      SELECT ... of the customers whose trigger occurs (with its key) and whose
      conditions hold, minus those already entered with the same key; one transaction
  sweep_ref.py pandas DIR NOW1 NOW2... (DIR: gen's OUTDIR with orders.csv, the
      `patron gen` file): the pandas twin; load (not compared), then one sweep per
      NOW; prints one JSON line {"load_s", "sweeps": [{"now", "s", "counts",
      "cond_checks"}]}: cond_checks, the occurrences not entered before whose
      conditions a sweep checks (Patron checks the same ones)

Time line of a run (all UTC): the orders of `patron gen --end 2026-11-01` fall in
the three years before T_END; the carts were put there after T_END; the
first sweep is at T1 = 2026-11-06 06:00. The members of group A were imported
at TA = 2025-11-20 (their points expire on 2026-11-20, within 30 days of T1),
group B at TB = 2026-01-20 (expire 2027-01-20: within 90 days, not 30). The
automations are created with the clock at T0 = 2000-01-01, where no trigger
occurs for anyone, so that the sweep the first creation starts enters nobody
and the first real sweep is at T1 with all 20 in place.

With CONDITIONS=0 in the environment every automation is without its
conditions (the same triggers): a diagnostic of the scan alone.

The semantics are those of src/engine/engine_auto_sweep.c: each trigger has an
occurrence key per customer (the last order's time, the cart's start, the
lot's expiry, the year, the newest due product line); a customer enters when
the key differs from the last one it entered with, if the conditions hold
(the conditions are not checked for a key already entered).
"""
import calendar
import json
import os
import sys
import time

DAY = 86400


def ts(s):
    return calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ"))


T0 = ts("2000-01-01T00:00:00Z")
T1 = ts("2026-11-06T06:00:00Z")
T_END = ts("2026-11-01T00:00:00Z")
TA = ts("2025-11-20T00:00:00Z")
TB = ts("2026-01-20T00:00:00Z")
EXP_A = ts("2026-11-20T00:00:00Z")  # TA + 12 months
EXP_B = ts("2027-01-20T00:00:00Z")  # TB + 12 months

PRODUCTS = ["lens-30", "vit-60", "coffee-1kg", "filter-90", "p-7"]

# ---- the 20 automations -------------------------------------------------------
# (trigger JSON, conditions or None, SQL of the conditions over customers c
# (NOW substituted), pandas mask of the conditions over DataFrame c)
AUTOS = [
    ({"type": "days_since_last_order", "days": 30}, "days_since_last_order <= 37",
     "@NOW@ - c.last_t < 38 * 86400", lambda c, n: n - c.last_t < 38 * DAY),
    ({"type": "days_since_last_order", "days": 60}, "orders >= 2 and days_since_last_order <= 75",
     "c.orders >= 2 AND @NOW@ - c.last_t < 76 * 86400",
     lambda c, n: (c.orders >= 2) & (n - c.last_t < 76 * DAY)),
    ({"type": "days_since_last_order", "days": 90}, "revenue >= 100 and days_since_last_order <= 120",
     "c.rev >= 10000 AND @NOW@ - c.last_t < 121 * 86400",
     lambda c, n: (c.rev >= 10000) & (n - c.last_t < 121 * DAY)),
    ({"type": "days_since_last_order", "days": 180}, "orders >= 3 and revenue >= 250",
     "c.orders >= 3 AND c.rev >= 25000", lambda c, n: (c.orders >= 3) & (c.rev >= 25000)),
    ({"type": "days_since_last_order", "days": 365}, None, None, None),
    ({"type": "days_since_last_order", "days": 730}, "orders >= 2",
     "c.orders >= 2", lambda c, n: c.orders >= 2),
    ({"type": "rhythm_missed", "factor": 1.5, "min_orders": 3}, None, None, None),
    ({"type": "rhythm_missed", "factor": 2, "min_orders": 2}, "revenue >= 200",
     "c.rev >= 20000", lambda c, n: c.rev >= 20000),
    ({"type": "rhythm_missed", "factor": 3, "min_orders": 5}, None, None, None),
    ({"type": "cart_abandoned", "idle": "1h"}, None, None, None),
    ({"type": "cart_abandoned", "idle": "24h", "min_value": 10000}, None, None, None),
    ({"type": "cart_abandoned", "idle": "3d"}, "orders >= 2",
     "c.orders >= 2", lambda c, n: c.orders >= 2),
    ({"type": "points_expiring", "within": "30d"}, None, None, None),
    ({"type": "points_expiring", "within": "90d"}, "points >= 2000",
     "c.points >= 2000", lambda c, n: c.points >= 2000),
    ({"type": "birthday"}, None, None, None),
    ({"type": "birthday"}, "orders >= 2", "c.orders >= 2", lambda c, n: c.orders >= 2),
    ({"type": "replenishment", "products": [{"product": "lens-30", "days_per_unit": 30}],
      "before": "5d"}, None, None, None),
    ({"type": "replenishment", "products": [{"product": "vit-60", "days_per_unit": 60},
                                            {"product": "coffee-1kg", "days_per_unit": 14}],
      "before": "3d"}, None, None, None),
    ({"type": "replenishment", "products": [{"product": "filter-90", "days_per_unit": 90}]},
     None, None, None),
    ({"type": "days_since_last_order", "days": 14},
     "days_since_first_order >= 365 and days_since_last_order <= 21",
     "@NOW@ - c.first_t >= 365 * 86400 AND @NOW@ - c.last_t < 22 * 86400",
     lambda c, n: (n - c.first_t >= 365 * DAY) & (n - c.last_t < 22 * DAY)),
]

if os.environ.get("CONDITIONS", "1") == "0":  # (a diagnostic: the same triggers, no conditions)
    AUTOS = [(t, None, None, None) for t, _c, _s, _p in AUTOS]

DUR = {"s": 1, "m": 60, "h": 3600, "d": DAY, "w": 7 * DAY}


def dur(s):
    return int(s[:-1]) * DUR[s[-1]]


def name_of(i, trig):
    t = trig["type"]
    extra = {"days_since_last_order": lambda: "%dd" % trig["days"],
             "rhythm_missed": lambda: "x%s" % trig.get("factor", 1.5),
             "cart_abandoned": lambda: trig["idle"],
             "points_expiring": lambda: trig["within"],
             "replenishment": lambda: "+".join(p["product"] for p in trig["products"])}
    return ("bench %02d %s %s" % (i + 1, t, extra.get(t, lambda: "")())).strip()


def cmd_autos():
    for i, (trig, cond, _sql, _pd) in enumerate(AUTOS):
        d = {"name": name_of(i, trig), "trigger": trig,
             "steps": [{"type": "tag", "add": "bench-%02d" % (i + 1)}]}
        if cond:
            d["conditions"] = cond
        print(json.dumps(d))


# ---- the data -----------------------------------------------------------------
M64 = (1 << 64) - 1


def h64(x):
    """splitmix64's finaliser"""
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def money(c):
    return "%d.%02d" % (c // 100, c % 100)


def mmdd_of(k):
    """day k (0..365) of a leap year as (month, day)"""
    t = time.gmtime(ts("2000-01-01T00:00:00Z") + k * DAY)
    return t.tm_mon, t.tm_mday


def cmd_gen(n, out):
    os.makedirs(out, exist_ok=True)
    f = {k: open(os.path.join(out, k), "w") for k in
         ("events.batches", "extra_orders.csv", "lines.csv", "carts.csv", "bdays.csv",
          "members_a.csv", "members_b.csv", "lots.csv")}
    f["extra_orders.csv"].write("order_id,customer,t,cents\n")
    f["lines.csv"].write("customer,product,t,qty\n")
    f["carts.csv"].write("customer,value,since,t\n")
    f["bdays.csv"].write("customer,mmdd\n")
    f["members_a.csv"].write("user_id,points\n")
    f["members_b.csv"].write("user_id,points\n")
    f["lots.csv"].write("customer,expires,left\n")
    batch = []
    nev = 0

    def ev(s):
        nonlocal nev
        batch.append(s)
        nev += 1
        if len(batch) == 1000:
            flush()

    def flush():
        if batch:
            f["events.batches"].write('{"batch":[' + ",".join(batch) + "]}\n")
            batch.clear()

    def order(i, oid, t, prod, qty, price):
        cents = price * qty
        ev('{"type":"track","event":"Order Completed","userId":"%d","messageId":"%s",'
           '"timestamp":"%s","properties":{"order_id":"%s","revenue":%s,"products":'
           '[{"product_id":"%s","price":%s,"quantity":%d}]}}'
           % (i, oid, iso(t), oid, money(cents), prod, money(price), qty))
        f["extra_orders.csv"].write("%s,%d,%d,%d\n" % (oid, i, t, cents))
        f["lines.csv"].write("%d,%s,%d,%d\n" % (i, prod, t, qty))

    for i in range(1, n + 1):
        h = h64(i)
        r10 = i % 10
        if i % 20 == 1:  # an order with a product line, some an earlier one of the same product
            d = 1 + h % 150
            t = T1 - d * DAY + (h >> 10) % 3600
            prod = PRODUCTS[(h >> 24) % len(PRODUCTS)]
            qty = 1 + (h >> 32) % 3
            price = 1000 + (h >> 40) % 9000
            if (h >> 50) % 4 == 0:
                order(i, "r2-%d" % i, t - 30 * DAY, prod, 2, price)
            order(i, "r-%d" % i, t, prod, qty, price)
        elif r10 == 3:  # an open cart, put there after the last order
            t = T1 - (600 + h % (5 * DAY + 6 * 3600 - 600))
            price = 500 + (h >> 30) % 20000
            qty = 1 + (h >> 45) % 3
            ev('{"type":"track","event":"Product Added","userId":"%d","messageId":"c-%d",'
               '"timestamp":"%s","properties":{"product_id":"p-%d","price":%s,"quantity":%d}}'
               % (i, i, iso(t), (h >> 20) % 500, money(price), qty))
            f["carts.csv"].write("%d,%d,%d,%d\n" % (i, price * qty, t, t))
        if r10 == 5:  # a birthday
            m, d = mmdd_of((h >> 8) % 366)
            ev('{"type":"identify","userId":"%d","messageId":"b-%d","traits":'
               '{"birthday":"%04d-%02d-%02d"}}' % (i, i, 1950 + (h >> 20) % 55, m, d))
            f["bdays.csv"].write("%d,%d\n" % (i, m * 100 + d))
        if r10 in (0, 5):  # a loyalty member
            pts = 100 + (h >> 12) % 5000
            f["members_a.csv" if r10 == 0 else "members_b.csv"].write("%d,%d\n" % (i, pts))
            f["lots.csv"].write("%d,%d,%d\n" % (i, EXP_A if r10 == 0 else EXP_B, pts))
    flush()
    for x in f.values():
        x.close()
    print(json.dumps({"events": nev}))


# ---- SQLite -------------------------------------------------------------------
def trigger_sql(trig, now):
    """(FROM-clause additions, WHERE predicate, key expression) over customers c"""
    t = trig["type"]
    if t == "days_since_last_order":
        return "", "c.orders > 0 AND %d - c.last_t >= %d" % (now, trig["days"] * DAY), "c.last_t"
    if t == "rhythm_missed":
        mo = max(trig.get("min_orders", 3), 2)
        f = float(trig.get("factor", 1.5))
        return "", ("c.orders >= %d AND c.last_t > c.first_t AND CAST(%d - c.last_t AS REAL) >= "
                    "%r * (CAST(c.last_t - c.first_t AS REAL) / (c.orders - 1))" % (mo, now, f)), \
            "c.last_t"
    if t == "cart_abandoned":
        return "", ("c.cart_value > 0 AND c.cart_value >= %d AND %d - c.cart_t >= %d"
                    % (trig.get("min_value", 0), now, dur(trig["idle"]))), \
            "CASE WHEN c.cart_since != 0 THEN c.cart_since ELSE c.cart_t END"
    if t == "points_expiring":
        return (" JOIN (SELECT customer, min(expires) AS k FROM lots WHERE left > 0 AND expires > %d"
                " AND expires <= %d GROUP BY customer) x ON x.customer = c.id"
                % (now, now + dur(trig["within"]))), "1", "x.k"
    if t == "birthday":
        g = time.gmtime(now)
        today = g.tm_mon * 100 + g.tm_mday
        leap = g.tm_mon == 2 and g.tm_mday == 28 and not calendar.isleap(g.tm_year)
        return "", ("c.bday IN (%d, 229)" % today if leap else "c.bday = %d" % today), \
            str(g.tm_year)
    if t == "replenishment":
        before = dur(trig.get("before", "0s"))
        days = " ".join("WHEN '%s' THEN %d" % (p["product"], p["days_per_unit"])
                        for p in trig["products"])
        prods = ",".join("'%s'" % p["product"] for p in trig["products"])
        return ((" JOIN (SELECT customer, max(t) AS k FROM ("
                 "SELECT l.customer, l.t, sum(l.qty) AS qty, CASE l.product %s END AS days"
                 " FROM lines l JOIN (SELECT customer, product, max(t) AS t FROM lines"
                 " WHERE product IN (%s) GROUP BY customer, product) m"
                 " ON l.customer = m.customer AND l.product = m.product AND l.t = m.t"
                 " GROUP BY l.customer, l.product)"
                 " WHERE %d >= t + qty * days * 86400 - %d AND %d < t + qty * days * 86400 + 14 * 86400"
                 " GROUP BY customer) x ON x.customer = c.id") % (days, prods, now, before, now)), \
            "1", "x.k"
    raise ValueError(t)


def cmd_sql(now):
    print("BEGIN;")
    for i, (trig, _cond, csql, _pd) in enumerate(AUTOS):
        join, pred, key = trigger_sql(trig, now)
        where = pred
        if csql:
            where += " AND " + csql.replace("@NOW@", str(now))
        print("INSERT INTO entries SELECT %d, c.id, %s, %d FROM customers c%s WHERE %s AND NOT EXISTS"
              " (SELECT 1 FROM entries e WHERE e.auto = %d AND e.customer = c.id AND e.key = %s);"
              % (i + 1, key, now, join, where, i + 1, key))
    print("COMMIT;")


# ---- pandas -------------------------------------------------------------------
def cmd_pandas(d, nows):
    import numpy as np
    import pandas as pd

    t0 = time.monotonic()
    o = pd.read_csv(os.path.join(d, "orders.csv"), dtype={"customer_id": np.int64, "amount": str})
    # exact integer cents from the decimal text
    parts = o["amount"].str.split(".", n=1, expand=True)
    frac = parts[1].fillna("").str.pad(2, side="right", fillchar="0").str[:2].astype(np.int64)
    cents = parts[0].astype(np.int64) * 100 + frac
    t = pd.to_datetime(o["ordered_at"], utc=True).astype("int64") // 10**9
    orders = pd.DataFrame({"customer": o["customer_id"], "t": t, "cents": cents})
    x = pd.read_csv(os.path.join(d, "extra_orders.csv"))
    orders = pd.concat([orders, x[["customer", "t", "cents"]]], ignore_index=True)
    c = orders.groupby("customer").agg(orders=("t", "size"), first_t=("t", "min"),
                                       last_t=("t", "max"), rev=("cents", "sum"))
    carts = pd.read_csv(os.path.join(d, "carts.csv")).set_index("customer")
    c = c.join(carts.rename(columns={"value": "cart_value", "since": "cart_since", "t": "cart_t"}))
    c = c.join(pd.read_csv(os.path.join(d, "bdays.csv")).set_index("customer").rename(
        columns={"mmdd": "bday"}))
    lots = pd.read_csv(os.path.join(d, "lots.csv"))
    c = c.join(lots.groupby("customer")["left"].sum().rename("points"))
    c[["cart_value", "cart_since", "cart_t", "bday"]] = \
        c[["cart_value", "cart_since", "cart_t", "bday"]].fillna(0).astype(np.int64)
    lines = pd.read_csv(os.path.join(d, "lines.csv"))
    load_s = time.monotonic() - t0

    seen = [pd.Series(dtype=np.int64) for _ in AUTOS]  # per automation: customer -> last key

    def occurrences(trig, now):
        """Series customer -> key of the customers whose trigger occurs"""
        t = trig["type"]
        if t == "days_since_last_order":
            m = (c.orders > 0) & (now - c.last_t >= trig["days"] * DAY)
            return c.last_t[m]
        if t == "rhythm_missed":
            mo = max(trig.get("min_orders", 3), 2)
            f = float(trig.get("factor", 1.5))
            k = (c.last_t - c.first_t).astype(np.float64) / (c.orders - 1).astype(np.float64)
            m = (c.orders >= mo) & (c.last_t > c.first_t) & \
                ((now - c.last_t).astype(np.float64) >= f * k)
            return c.last_t[m]
        if t == "cart_abandoned":
            m = (c.cart_value > 0) & (c.cart_value >= trig.get("min_value", 0)) & \
                (now - c.cart_t >= dur(trig["idle"]))
            return c.cart_since.where(c.cart_since != 0, c.cart_t)[m]
        if t == "points_expiring":
            l = lots[(lots.left > 0) & (lots.expires > now) & (lots.expires <= now + dur(trig["within"]))]
            return l.groupby("customer")["expires"].min()
        if t == "birthday":
            g = time.gmtime(now)
            today = g.tm_mon * 100 + g.tm_mday
            m = c.bday == today
            if g.tm_mon == 2 and g.tm_mday == 28 and not calendar.isleap(g.tm_year):
                m |= c.bday == 229
            return pd.Series(g.tm_year, index=c.index[m], dtype=np.int64)
        if t == "replenishment":
            days = {p["product"]: p["days_per_unit"] for p in trig["products"]}
            l = lines[lines["product"].isin(list(days))]
            last = l.groupby(["customer", "product"])["t"].transform("max")
            l = l[l.t == last].groupby(["customer", "product"], as_index=False).agg(
                t=("t", "first"), qty=("qty", "sum"))
            out = l.t + l.qty * l["product"].map(days) * DAY
            due = (now >= out - dur(trig.get("before", "0s"))) & (now < out + 14 * DAY)
            return l[due].groupby("customer")["t"].max()
        raise ValueError(t)

    sweeps = []
    for now in nows:
        t0 = time.monotonic()
        counts, evals = [], 0
        for i, (trig, _cond, _csql, cpd) in enumerate(AUTOS):
            occ = occurrences(trig, now)
            prev = seen[i].reindex(occ.index)
            new = occ[prev.isna() | (prev != occ)]
            if cpd is not None:
                evals += len(new)  # occurrences whose conditions are checked
                new = new[cpd(c.loc[new.index], now).to_numpy()]
            counts.append(int(len(new)))
            if len(new):
                s = seen[i]
                seen[i] = pd.concat([s[~s.index.isin(new.index)], new.astype(np.int64)])
        sweeps.append({"now": now, "s": round(time.monotonic() - t0, 4), "counts": counts,
                       "cond_checks": evals})
    print(json.dumps({"load_s": round(load_s, 2), "customers": int(len(c)), "sweeps": sweeps}))


def main(argv):
    if len(argv) >= 1 and argv[0] == "times":
        print(T0, T1, TA, TB)
    elif len(argv) == 3 and argv[0] == "gen":
        cmd_gen(int(argv[1]), argv[2])
    elif len(argv) == 1 and argv[0] == "autos":
        cmd_autos()
    elif len(argv) == 2 and argv[0] == "sql":
        cmd_sql(int(argv[1]))
    elif len(argv) >= 3 and argv[0] == "pandas":
        cmd_pandas(argv[1], [int(x) for x in argv[2:]])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
