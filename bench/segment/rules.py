#!/usr/bin/env python3
"""rules.py N SEED OUT.tsv: N segment rules of mixed kinds, each with its SQL twin.

Writes one rule per line: NAME <TAB> RULE (docs/segments.md) <TAB> SQL predicate.
`cut -f1,2` is a rules file for `patron segment eval --rules` and for the
segments of `patron serve`; the third column is the same rule as a WHERE clause
over the per-customer table `agg` that seg_sqlite.py and seg_pg.sql build:

  customer_id  orders  cents (revenue, integer cents)
  dl, df       days since the last / first order = (as_of - t) div 86400
  span         last - first order time, seconds
  o30 o90 o180 o365   orders with t > as_of - W days (orders_in(Wd))
  med2         twice the median gap between consecutive orders, seconds
               (NULL below 2 orders)
  r f m seg    RFM scores and segment (RFM-SPEC.md)

Every translation is exact, in integers: money as cents against threshold*100,
averages multiplied out (revenue / orders >= A  <=>  cents >= 100 * A * orders),
days as whole seconds. Thresholds are whole numbers, so the doubles Patron
compares (cents / 100.0, span / (orders - 1) / 86400.0, ...) land exactly on
them when the integers do (see docs/benchmarks.md, "Segments").

A comparison with a missing value is false in Patron and `not` inverts it
(docs/segments.md, "Missing values"); the SQL side never has NULLs where a
rule could negate them: gap rules are written (orders >= 2 AND ...), which is
false, not NULL, for one-order customers.
"""
import random
import sys

RFM_SEGMENTS = ["Champions", "Loyal Customers", "Potential Loyalists", "New Customers",
                "Promising", "Need Attention", "About to Sleep", "Can't Lose Them",
                "At Risk", "Hibernating", "Lost"]
WINDOWS = [30, 90, 180, 365]
DAY = 86400


def q(s):  # rule string literal
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def sq(s):  # SQL string literal
    return "'" + s.replace("'", "''") + "'"


def seglist(rng):
    k = rng.randint(1, 4)
    return sorted(rng.sample(RFM_SEGMENTS, k), key=RFM_SEGMENTS.index)


# Each template returns (short name, rule, SQL predicate).
def t_orders(rng):
    n = rng.randint(2, 12)
    return f"orders_ge_{n}", f"orders >= {n}", f"orders >= {n}"


def t_revenue(rng):
    x = rng.choice([50, 100, 150, 200, 250, 300, 400, 500, 750, 1000, 1500, 2000, 3000])
    return f"revenue_ge_{x}", f"revenue >= {x}", f"cents >= {x * 100}"


def t_aov(rng):
    a = rng.choice([10, 20, 25, 30, 40, 50, 60, 75, 100])
    b = a + rng.choice([10, 20, 25, 50, 100, 200])
    return (f"aov_{a}_{b}", f"average_order_value between {a} and {b}",
            f"cents >= {a * 100} * orders AND cents <= {b * 100} * orders")


def t_recent(rng):
    d = rng.choice([7, 14, 30, 45, 60, 90, 120, 180, 270, 365, 540, 730])
    return f"last_le_{d}d", f"days_since_last_order <= {d}", f"dl <= {d}"


def t_first(rng):
    d = rng.choice([30, 60, 90, 180, 365, 500, 730])
    if rng.random() < 0.5:
        return f"first_le_{d}d", f"days_since_first_order <= {d}", f"df <= {d}"
    return f"first_gt_{d}d", f"days_since_first_order > {d}", f"df > {d}"


def t_orders_in(rng):
    w = rng.choice(WINDOWS)
    k = rng.randint(1, 4 if w < 180 else 6)
    return f"orders_in_{w}d_ge_{k}", f"orders_in({w}d) >= {k}", f"o{w} >= {k}"


def t_avg_gap(rng):
    g = rng.choice([7, 14, 30, 45, 60, 90, 120, 180, 365])
    return (f"avg_gap_le_{g}d", f"average_days_between_orders <= {g}",
            f"(orders >= 2 AND span <= {g * DAY} * (orders - 1))")


def t_median_gap(rng):
    g = rng.choice([7, 14, 30, 60, 90, 180, 365])
    op = rng.choice(["<=", ">"])
    name = "le" if op == "<=" else "gt"
    return (f"median_gap_{name}_{g}d", f"median_days_between_orders {op} {g}",
            f"(orders >= 2 AND med2 {op} {2 * g * DAY})")


def t_rfm_segment(rng):
    segs = seglist(rng)
    neg = rng.random() < 0.25
    name = "rfm_" + ("not_" if neg else "") + "_".join(
        "".join(w[0] for w in s.replace("'", "").split()) for s in segs)
    rule = "rfm.segment " + ("not in" if neg else "in") + " (" + ", ".join(map(q, segs)) + ")"
    sql = "seg " + ("NOT IN" if neg else "IN") + " (" + ", ".join(map(sq, segs)) + ")"
    return name, rule, sql


def t_rfm_scores(rng):
    kind = rng.randrange(3)
    if kind == 0:
        a, b = rng.randint(2, 5), rng.randint(2, 5)
        return f"rfm_r{a}_f{b}", f"rfm.r >= {a} and rfm.f >= {b}", f"r >= {a} AND f >= {b}"
    if kind == 1:
        m = rng.randint(1, 5)
        r = rng.randint(1, 3)
        return f"rfm_m{m}_r{r}", f"rfm.m = {m} and rfm.r <= {r}", f"m = {m} AND r <= {r}"
    # F = 2 does not occur when over 20% of customers have one order (RFM-SPEC)
    s = str(rng.randint(1, 5)) + str(rng.choice([1, 3, 4, 5])) + str(rng.randint(1, 5))
    return f"rfm_score_{s}", f"rfm.score = {q(s)}", f"r = {s[0]} AND f = {s[1]} AND m = {s[2]}"


def t_and(rng):
    n = rng.randint(2, 6)
    d = rng.choice([30, 60, 90, 180])
    x = rng.choice([100, 200, 500])
    return (f"and_o{n}_l{d}_r{x}",
            f"orders >= {n} and days_since_last_order <= {d} and revenue >= {x}",
            f"orders >= {n} AND dl <= {d} AND cents >= {x * 100}")


def t_or(rng):
    x = rng.choice([500, 1000, 2000])
    w = rng.choice([90, 180])
    k = rng.randint(2, 4)
    return (f"or_r{x}_in{w}d_{k}", f"revenue >= {x} or orders_in({w}d) >= {k}",
            f"cents >= {x * 100} OR o{w} >= {k}")


def t_not(rng):
    d = rng.choice([90, 180, 365])
    n = rng.randint(2, 5)
    return (f"lapsed_o{n}_{d}d", f"orders >= {n} and not (days_since_last_order <= {d})",
            f"orders >= {n} AND NOT (dl <= {d})")


def t_mixed(rng):
    kind = rng.randrange(3)
    if kind == 0:
        segs = seglist(rng)
        x = rng.choice([100, 250, 500, 1000])
        return ("mix_" + str(len(segs)) + "seg_r" + str(x),
                "(" + " or ".join(f"rfm.segment = {q(s)}" for s in segs) + f") and revenue >= {x}",
                "(" + " OR ".join(f"seg = {sq(s)}" for s in segs) + f") AND cents >= {x * 100}")
    if kind == 1:
        k = rng.choice([2, 3])
        return (f"overdue_{k}x",  # lapsing relative to the customer's own cadence
                f"days_since_last_order > {k} * average_days_between_orders",
                f"(orders >= 2 AND dl * {DAY} * (orders - 1) > {k} * span)")
    g1 = rng.choice([14, 30, 60])
    g2 = g1 + rng.choice([30, 60, 120])
    d = rng.choice([30, 90])
    return (f"cadence_{g1}_{g2}_not{d}",
            f"average_days_between_orders between {g1} and {g2} and not orders_in({d}d) >= 1",
            f"(orders >= 2 AND span >= {g1 * DAY} * (orders - 1) AND span <= {g2 * DAY} * "
            f"(orders - 1)) AND NOT (o{d} >= 1)")


TEMPLATES = [t_orders, t_revenue, t_aov, t_recent, t_first, t_orders_in, t_avg_gap,
             t_median_gap, t_rfm_segment, t_rfm_scores, t_and, t_or, t_not, t_mixed]

# Segment of the live probe (run.sh part B): a first order of 6,000.00 placed
# now enters it. It is always rule 1.
PROBE = ("probe_new_big_spender", "revenue >= 5000 and days_since_first_order <= 30",
         "cents >= 500000 AND df <= 30")


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: rules.py N SEED OUT.tsv")
    n, seed, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    rng = random.Random(seed)
    rows, seen = [PROBE], {PROBE[1]}
    i = 0
    while len(rows) < n:
        name, rule, sql = TEMPLATES[i % len(TEMPLATES)](rng)
        i += 1
        if rule in seen:
            continue
        seen.add(rule)
        rows.append((name, rule, sql))
    with open(out, "w") as f:
        for k, (name, rule, sql) in enumerate(rows[:n], 1):
            f.write(f"s{k:03d}_{name}\t{rule}\t{sql}\n")


if __name__ == "__main__":
    main()
