#!/usr/bin/env bash
# `patron clv` end to end: the published CDNOW fits (BG/NBD, Pareto/NBD,
# Gamma-Gamma) and holdout on the real CDNOW sample, the per-customer rows, the
# tracking CSV and SVG chart, the same results from an order CSV and in days, a
# small hand-checked file, bad input and usage errors (docs/clv.md).
source "$(dirname "$0")/lib.sh"
cd "$T" || exit 1

# pycheck NAME [ARGS...] <<'PY' ... PY: runs the Python snippet read from stdin
# with sys.argv[1:] = ARGS. Every check(cond, what) / near(got, want, tol, what)
# in it is one assertion; a Python error is one failure.
pycheck() {
    local name=$1 line st
    shift
    local prelude='import sys, json, math, csv, datetime
def check(cond, what):
    print(("ok " if cond else "FAIL ") + what)
def near(got, want, tol, what):
    check(isinstance(got, (int, float)) and abs(got - want) <= tol,
          "%s: %r, want %r +- %g" % (what, got, want, tol))
'
    python3 -c "$prelude$(cat)" "$@" >"$T/py.out" 2>&1
    st=$?
    while IFS= read -r line; do
        case $line in
            "ok "*) ok ;;
            "FAIL "*) bad "$name: ${line#FAIL }" ;;
        esac
    done <"$T/py.out"
    [[ $st -eq 0 ]] || bad "$name: python3 exited with $st: $(tail -n 5 "$T/py.out")"
}

# first_err_is WANT NAME: the first stderr line is exactly WANT.
first_err_is() {
    local got
    got=$(head -n 1 "$T/err")
    if [[ "$got" == "$1" ]]; then ok; else bad "$2: first stderr line is '$got', want '$1'"; fi
}

OUT_HEADER='customer_id,x,t_x,T,monetary_value,p_alive,expected_purchases,expected_order_value,clv,next_order_date'

# ---------------------------------------------------------------------------
# The CDNOW sample (Fader, Hardie & Lee 2005): 2,357 customers, calibration
# weeks 1-39 (to 1997-09-30), holdout weeks 40-78.
CDNOW="$SHARED_DATA/cdnow_sample_transactions.txt"
if have_shared && [[ -f "$CDNOW" ]]; then
    run_patron clv "$CDNOW" --calibration-end 1997-09-30 --horizon 39w --format json \
        --out scores.csv --tracking tracking.csv --chart chart.svg
    expect_status 0 "cdnow sample"
    cp "$T/out" week.json

    pycheck "cdnow json" week.json <<'PY'
j = json.load(open(sys.argv[1]))
check(j["customers"] == 2357, "customers %r" % j["customers"])
check(j["customers_fitted"] == 2357, "customers_fitted %r" % j["customers_fitted"])
check(j["customers_after_calibration"] == 0, "customers_after_calibration")
check(j["calibration_end"] == "1997-09-30", "calibration_end")
check(j["time_unit"] == "week" and j["horizon"] == 39, "time unit, horizon")
check(j["repeat_purchases_calibration"] == 2457, "repeat purchases in calibration")
check(j["scored_with"] == "bgnbd", "scored_with")
# BG/NBD: published 0.243, 4.414, 0.793, 2.426, LL -9582.4 (Fader, Hardie & Lee 2005).
b = j["bgnbd"]
for k, v in (("r", 0.2426), ("alpha", 4.4136), ("a", 0.7929), ("b", 2.4259)):
    near(b["params"][k], v, 0.001, "bgnbd " + k)
near(b["log_likelihood"], -9582.43, 0.1, "bgnbd log-likelihood")
# Pareto/NBD: published BTYD fit 0.5534, 10.5802, 0.6061, 11.6562, LL -9594.98.
# beta is poorly determined (flat likelihood, se ~6): 2%.
p = j["pareto_nbd"]
near(p["params"]["r"], 0.5533, 0.001, "pareto_nbd r")
near(p["params"]["alpha"], 10.578, 0.01, "pareto_nbd alpha")
near(p["params"]["s"], 0.606, 0.001, "pareto_nbd s")
near(p["params"]["beta"], 11.67, 0.02 * 11.67, "pareto_nbd beta")
near(p["log_likelihood"], -9594.98, 0.1, "pareto_nbd log-likelihood")
# Gamma-Gamma: published 6.25, 3.74, 15.44 (Fader, Hardie & Lee 2005, JMR).
g = j["gamma_gamma"]
near(g["params"]["p"], 6.25, 0.01, "gamma_gamma p")
near(g["params"]["q"], 3.74, 0.01, "gamma_gamma q")
near(g["params"]["gamma"], 15.44, 0.02, "gamma_gamma gamma")
check(g["customers"] == 946, "gamma_gamma customers %r" % g["customers"])
for name, m in (("bgnbd", b), ("pareto_nbd", p), ("gamma_gamma", g)):
    se = m["std_errors"]
    check(set(se) == set(m["params"]), name + " std_errors for every parameter")
    for k, v in se.items():
        check(isinstance(v, float) and v > 0, "%s std error of %s: %r" % (name, k, v))
h = j["holdout"]
check(h["actual_repeat_purchases"] == 1882, "actual holdout purchases %r" % h["actual_repeat_purchases"])
# Both models under-forecast this holdout by about 12% (1,653 and 1,666 of
# 1,882). That is a property of the models on CDNOW, not of Patron: the
# "cdnow holdout from the sample file" check below recomputes the forecast from
# the transaction file and the *published* parameters and gets the same sums.
for k in ("bgnbd", "pareto_nbd"):
    near(h["predicted"][k], 1882, 0.15 * 1882, "predicted holdout purchases, " + k)
    check(0 < h["mean_absolute_error"][k] < 2, "mean absolute error, " + k)
d = h["customers_by_holdout_purchases"]
check(len(d["actual"]) == 8 and sum(d["actual"]) == 2357, "actual holdout distribution sums to 2357")
check(d["actual"][0] == 1673, "customers with no holdout purchase %r" % d["actual"][0])
for k in ("bgnbd", "pareto_nbd"):
    check(len(d[k]) == 8 and all(v >= 0 for v in d[k]), k + " holdout distribution: 8 values >= 0")
    near(sum(d[k]), 2357, 0.5, k + " holdout distribution sum")
bx = h["mean_holdout_purchases_by_calibration_x"]
check(all(len(bx[k]) == 8 for k in ("actual", "bgnbd", "pareto_nbd")), "by calibration x: 8 values")
PY

    # Per-customer rows, checked against the transaction file itself: same-day
    # purchases merged, x = purchase days - 1, t_x and T in weeks, mean repeat value.
    pycheck "cdnow --out" scores.csv "$CDNOW" "$OUT_HEADER,holdout_purchases" <<'PY'
rows = open(sys.argv[1]).read().split("\n")
check(rows[0] == sys.argv[3], "header: " + rows[0])
check(rows[-1] == "", "final newline")
rows = list(csv.DictReader(rows[:-1]))
check(len(rows) == 2357, "rows: %d" % len(rows))
by = {r["customer_id"]: r for r in rows}
c = by["00004"]  # sample customer 1
check(c["x"] == "2", "00004 x")
near(float(c["t_x"]), 30.43, 0.005, "00004 t_x")
near(float(c["T"]), 38.86, 0.005, "00004 T")
# The published worked example: E[Y(39) | x=2, t_x=30.43, T=38.86] = 1.226.
near(float(c["expected_purchases"]), 1.226, 0.001, "00004 expected purchases")
check(0 < float(c["p_alive"]) < 1, "00004 p_alive in (0,1)")
end = datetime.date(1997, 9, 30)
bad_dates = [r["customer_id"] for r in rows if r["next_order_date"] and
             not datetime.date.fromisoformat(r["next_order_date"]) > end]
check(not bad_dates, "next_order_date empty or after 1997-09-30: %s" % bad_dates[:5])
check(any(r["next_order_date"] for r in rows), "some next_order_date")
check(all(0 <= float(r["p_alive"]) <= 1 for r in rows), "p_alive in [0,1]")
check(all(float(r["expected_purchases"]) >= 0 for r in rows), "expected_purchases >= 0")
check(sum(int(r["holdout_purchases"]) for r in rows) == 1882, "holdout purchases sum to 1882")

# From the transaction file: customer -> {day: value}.
days = {}
for line in open(sys.argv[2]):
    f = line.split()
    if not f:
        continue
    d = datetime.date(int(f[2][:4]), int(f[2][4:6]), int(f[2][6:]))
    days.setdefault(f[0], {}).setdefault(d, 0.0)
    days[f[0]][d] += float(f[4])
check(set(days) == set(by), "same customers as the file")
wrong = []
for cid, dv in days.items():
    cal = sorted(d for d in dv if d <= end)
    hold = [d for d in dv if end < d <= end + datetime.timedelta(weeks=39)]
    x, tx, T = len(cal) - 1, (cal[-1] - cal[0]).days / 7, (end - cal[0]).days / 7
    mv = sum(dv[d] for d in cal[1:]) / x if x else 0
    r = by.get(cid)
    if (r is None or int(r["x"]) != x or abs(float(r["t_x"]) - tx) > 1e-4 or
            abs(float(r["T"]) - T) > 1e-4 or abs(float(r["monetary_value"]) - mv) > 1e-3 or
            int(r["holdout_purchases"]) != len(hold)):
        wrong.append(cid)
check(not wrong, "x, t_x, T, monetary_value, holdout as computed from the file: %d differ %s"
      % (len(wrong), wrong[:5]))
PY

    # The holdout forecast from the sample file and the published parameters,
    # without Patron: (x, t_x, T) from the transactions, the conditional
    # expectations of BG/NBD (FHL 2005 eq. 10) and Pareto/NBD (Fader & Hardie
    # 2005 note) in plain Python. At the published parameters the sums are
    # ~1,654 and ~1,665: the ~12% under-forecast of 1,882 is the models'.
    pycheck "cdnow holdout from the sample file" "$CDNOW" week.json <<'PY'
def hyp2f1(a, b, c, z):
    s = term = 1.0
    n = 0
    while abs(term) > 1e-16 * abs(s) and n < 100000:
        term *= (a + n) * (b + n) / ((c + n) * (n + 1)) * z
        s += term
        n += 1
    return s
def bgnbd(r, al, a, b, x, tx, T, t):
    z = t / (al + T + t)  # Euler: 2F1(r+x, b+x; a+b+x-1; z) (1-z)^(r+x)
    e = (a + b + x - 1) / (a - 1) * (1 - (1 - z) ** (a - 1) * hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z))
    return e / (1 + a / (b + x - 1) * ((al + T) / (al + tx)) ** (r + x)) if x else e
def pnbd(r, al, s, be, x, tx, T, t):
    S = r + s + x
    def F(u):
        if al >= be:
            return hyp2f1(S, s + 1, S + 1, (al - be) / (al + u)) / (S * (al + u) ** S)
        return hyp2f1(S, r + x, S + 1, (be - al) / (be + u)) / (S * (be + u) ** S)
    pa = 1 / (1 + s * (F(tx) - F(T)) * math.exp((r + x) * math.log(al + T) + s * math.log(be + T)))
    return pa * (r + x) * (be + T) / ((al + T) * (s - 1)) * (1 - ((be + T) / (be + T + t)) ** (s - 1))
end = datetime.date(1997, 9, 30)
days = {}
for line in open(sys.argv[1]):
    f = line.split()
    if f:
        days.setdefault(f[0], set()).add(datetime.date(int(f[2][:4]), int(f[2][4:6]), int(f[2][6:])))
cust = []
hold = 0
for dv in days.values():
    cal = sorted(d for d in dv if d <= end)
    cust.append((len(cal) - 1, (cal[-1] - cal[0]).days / 7, (end - cal[0]).days / 7))
    hold += sum(1 for d in dv if d > end)
check(hold == 1882, "holdout purchase days in the file: %d" % hold)
j = json.load(open(sys.argv[2]))
pub_b = sum(bgnbd(0.243, 4.414, 0.793, 2.426, *c, 39) for c in cust)
pub_p = sum(pnbd(0.5534, 10.5802, 0.6061, 11.6562, *c, 39) for c in cust)
near(pub_b, 1654, 2, "BG/NBD holdout forecast at the published parameters")
near(pub_p, 1665, 2, "Pareto/NBD holdout forecast at the published parameters")
check(pub_b < 0.9 * 1882 and pub_p < 0.9 * 1882, "published fits under-forecast by over 10%")
# ... and Patron's sums are these formulas at its own parameters.
for k, fn in (("bgnbd", bgnbd), ("pareto_nbd", pnbd)):
    v = [j[k]["params"][n] for n in j[k]["params"]]
    mine = sum(fn(*v, *c, 39) for c in cust)
    near(j["holdout"]["predicted"][k], mine, 1e-4 * mine, k + " predicted = Python at Patron's parameters")
near(bgnbd(0.243, 4.414, 0.793, 2.426, 2, 30.43, 38.86, 39), 1.226, 0.0005, "Python: BG/NBD worked example")
PY

    # Tracking CSV and chart.
    pycheck "cdnow --tracking" tracking.csv <<'PY'
rows = list(csv.DictReader(open(sys.argv[1])))
check(list(rows[0].keys()) == ["week", "week_end", "period", "actual", "bgnbd", "pareto_nbd"],
      "tracking header %s" % list(rows[0].keys()))
check(len(rows) == 78, "78 weeks: %d" % len(rows))
check([int(r["week"]) for r in rows] == list(range(1, 79)), "weeks 1..78")
check(rows[-1]["actual"] == "4339", "week 78 actual %s (2457 + 1882)" % rows[-1]["actual"])
check(rows[-1]["week_end"] == "1998-06-30", "week 78 ends 1998-06-30")
cal = [r for r in rows if r["period"] == "calibration"]
check(len(cal) == 39 and cal[-1]["week"] == "39", "weeks 1-39 are calibration")
check(cal[-1]["actual"] == "2457" and cal[-1]["week_end"] == "1997-09-30", "week 39: 2457 on 1997-09-30")
check(all(r["period"] == "holdout" for r in rows[39:]), "weeks 40-78 are holdout")
for k in ("actual", "bgnbd", "pareto_nbd"):
    v = [float(r[k]) for r in rows]
    check(all(a <= b for a, b in zip(v, v[1:])), k + " is cumulative (non-decreasing)")
# docs/clv.md: the week-78 cumulative figure within 5%.
for k in ("bgnbd", "pareto_nbd"):
    near(float(rows[-1][k]), 4339, 0.05 * 4339, "week 78 cumulative " + k)
    near(float(rows[38][k]), 2457, 0.05 * 2457, "week 39 cumulative " + k)
PY
    pycheck "cdnow --chart" chart.svg <<'PY'
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
check(root.tag == "{http://www.w3.org/2000/svg}svg", "root is svg: " + root.tag)
lines = root.findall(".//{http://www.w3.org/2000/svg}polyline")
check(len(lines) == 3, "one polyline per series (actual, BG/NBD, Pareto/NBD): %d" % len(lines))
for pl in lines:
    pts = pl.get("points").split()
    check(len(pts) == 78 and all(len(p.split(",")) == 2 for p in pts), "78 points")
text = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
check("BG/NBD" in text and "Pareto/NBD" in text and "actual" in text, "legend")
PY

    # The same data as an order CSV (one row per transaction; same-day purchases
    # are separate orders and merge by day as in the CDNOW reader).
    awk 'BEGIN { print "order_id,customer_id,ordered_at,amount" }
         NF == 5 { d = $3; printf "%d,%s,%s-%s-%s,%s\n", NR, $1,
                   substr(d, 1, 4), substr(d, 5, 2), substr(d, 7, 2), $5 }' "$CDNOW" |
        tr -d '\r' >orders.csv
    run_patron clv orders.csv --calibration-end 1997-09-30 --horizon 39w --format json \
        --out scores_csv.csv
    expect_status 0 "order CSV"
    cp "$T/out" csv.json
    pycheck "order CSV = CDNOW format" week.json csv.json <<'PY'
a, b = (json.load(open(f)) for f in sys.argv[1:3])
for j in (a, b):
    for k in [k for k in j if k.endswith("_seconds")]:
        del j[k]
    for m in ("bgnbd", "pareto_nbd", "gamma_gamma"):
        del j[m]["fit_seconds"]
    del j["holdout"]["seconds"]
check(a == b, "same JSON summary (without timings)")
PY
    same_file scores_csv.csv scores.csv "order CSV: same --out rows"

    # Standard input: auto assumes CSV there; --layout cdnow reads CDNOW.
    run_patron clv - --layout cdnow --calibration-end 1997-09-30 --horizon 39w --format json <"$CDNOW"
    expect_status 0 "stdin, --layout cdnow"
    pycheck "stdin = file" week.json "$T/out" <<'PY'
a, b = (json.load(open(f)) for f in sys.argv[1:3])
check(a["bgnbd"]["params"] == b["bgnbd"]["params"], "same BG/NBD parameters")
check(a["holdout"]["actual_repeat_purchases"] == b["holdout"]["actual_repeat_purchases"], "same holdout")
PY
    run_patron clv - --calibration-end 1997-09-30 <"$CDNOW"
    expect_status 1 "CDNOW on stdin without --layout cdnow"
    expect_err_has "unknown header" "CDNOW on stdin without --layout cdnow"

    # --time-unit day: shape parameters unchanged, scale parameters x7, and the
    # log-likelihood shifted by the Jacobian: each repeat purchase time's
    # density is per day instead of per week, LL_day = LL_week - 2457 ln 7.
    run_patron clv "$CDNOW" --calibration-end 1997-09-30 --horizon 273d --time-unit day \
        --format json --out scores_day.csv
    expect_status 0 "--time-unit day"
    cp "$T/out" day.json
    pycheck "--time-unit day" week.json day.json scores.csv scores_day.csv <<'PY'
w, d = (json.load(open(f)) for f in sys.argv[1:3])
check(d["time_unit"] == "day" and d["horizon"] == 273, "time unit day, horizon 273")
def rel(a, b, tol, what):
    check(abs(a / b - 1) <= tol, "%s: %r vs %r" % (what, a, b))
for m, shape, scale in (("bgnbd", ("r", "a", "b"), ("alpha",)), ("pareto_nbd", ("r", "s"), ("alpha", "beta"))):
    for k in shape:
        rel(d[m]["params"][k], w[m]["params"][k], 0.005, m + " " + k + " unchanged")
    for k in scale:
        rel(d[m]["params"][k], 7 * w[m]["params"][k], 0.005, m + " " + k + " x7")
    near(d[m]["log_likelihood"], w[m]["log_likelihood"] - 2457 * math.log(7), 0.01,
         m + " log-likelihood - 2457 ln 7")
    rel(d["holdout"]["predicted"][m], w["holdout"]["predicted"][m], 0.001, m + " same holdout forecast")
rw = {r["customer_id"]: r for r in csv.DictReader(open(sys.argv[3]))}
rd = list(csv.DictReader(open(sys.argv[4])))
check(len(rd) == 2357, "2357 rows in days")
c = [r for r in rd if r["customer_id"] == "00004"][0]
check(c["t_x"] == "213" and c["T"] == "272", "00004 in days: t_x 213, T 272")
check(all(abs(float(r["T"]) - 7 * float(rw[r["customer_id"]]["T"])) < 1e-3 for r in rd), "T x7")
PY

    # The master file has a header line; its first customers must read the same
    # way (the header is skipped, not a customer).
    head -n 201 "$SHARED_DATA/cdnow_master_transactions.txt" >master_head.txt
    run_patron clv master_head.txt --calibration-end 1997-09-30 --format json --quiet
    expect_status 0 "master file head (with a header line)"
    n=$(tail -n +2 master_head.txt | awk '{ print $1 }' | sort -u | wc -l)
    check "master head: $n customers" grep -q "\"customers\": $n," "$T/out"

else
    echo "skipping the CDNOW sample checks: $CDNOW not found (a clone without ../shared)"
fi

# ---------------------------------------------------------------------------
# A hand-checked file (CDNOW layout with a header). Calibration end 1997-03-31,
# horizon 4w: the holdout is 1997-04-01 .. 1997-04-28.
#  101: days 01-01 (two purchases, one day), 01-15, 02-12 (20 + 10 + 4: 34) ->
#       x 2, t_x 42 d = 6 w, T 89 d = 12.7143 w, mean repeat value (20 + 34) / 2
#       = 27 (the first day is excluded); holdout 04-01 (twice: one day) and
#       04-28 (the last holdout day) = 2; 04-29 is after the holdout.
#  102: only 03-31, the end date -> x 0, t_x 0, T 0 (not fitted, still scored);
#       holdout 04-10 = 1.
#  103: 02-01, 03-01 (a free order) -> x 1, t_x 28 d = 4 w, T 58 d = 8.28571 w,
#       mean repeat value 0; no holdout purchase.
#  104: first purchase 04-02, after the end -> not a customer, counted in
#       customers_after_calibration.
# The runs leave out Pareto/NBD (its likelihood for two customers has its
# maximum at infinity, and the fit takes ~1 s: see "runaway Pareto/NBD fits"
# at the end); the columns checked here do not depend on the model.
M='--model bgnbd,gamma_gamma'
cat >hand.txt <<'EOF'
customer_id date number_of_cds dollar_value
101 19970101 1 10.00
101 19970101 1 5.00
101 19970115 2 20.00
101 19970212 1 30.00
101 19970212 1 4.00
102 19970331 1 12.34
103 19970201 1 7.50
103 19970301 1 0.00
101 19970401 1 1.00
101 19970401 1 2.00
101 19970428 1 3.00
101 19970429 1 3.00
102 19970410 1 8.00
104 19970402 1 9.99
EOF
run_patron clv hand.txt --calibration-end 1997-03-31 --horizon 4w --format json --out hand.csv $M
expect_status 0 "hand-checked file"
cp "$T/out" hand.json
check "hand-checked header" cmp -s <(head -n 1 hand.csv) <(echo "$OUT_HEADER,holdout_purchases")
# hand_rows NAME FILE UNIT: FILE has the rows above, t_x and T in UNIT days
# (to the printed precision: 6 decimals, or 6 significant digits).
hand_rows() {
    pycheck "$1" "$2" "$3" <<'PY'
u = int(sys.argv[2])
want = {"101": (2, 42, 89, 27, 2), "102": (0, 0, 0, 0, 1), "103": (1, 28, 58, 0, 0)}
rows = list(csv.DictReader(open(sys.argv[1])))
check([r["customer_id"] for r in rows] == ["101", "102", "103"], "customers 101, 102, 103")
for r in rows:
    x, tx, T, mv, h = want[r["customer_id"]]
    c = r["customer_id"] + " "
    check(r["x"] == str(x), c + "x %s, want %d" % (r["x"], x))
    near(float(r["t_x"]), tx / u, 5e-5 * max(1, tx / u), c + "t_x")
    near(float(r["T"]), T / u, 5e-5 * max(1, T / u), c + "T")
    check(float(r["monetary_value"]) == mv, c + "monetary_value %s, want %d" % (r["monetary_value"], mv))
    check(r["holdout_purchases"] == str(h), c + "holdout_purchases %s, want %d" % (r["holdout_purchases"], h))
PY
}
hand_rows "hand-checked rows" hand.csv 7
pycheck "hand-checked json" hand.json hand.csv <<'PY'
j = json.load(open(sys.argv[1]))
check(j["customers"] == 3, "customers %r" % j["customers"])
check(j["customers_fitted"] == 2, "customers_fitted (T > 0) %r" % j["customers_fitted"])
check(j["customers_after_calibration"] == 1, "customers_after_calibration %r" % j["customers_after_calibration"])
check(j["repeat_purchases_calibration"] == 3, "repeat purchases in calibration")
check(j["holdout"]["actual_repeat_purchases"] == 3, "holdout purchases")
check(j["holdout"]["customers_by_holdout_purchases"]["actual"] == [1, 1, 1, 0, 0, 0, 0, 0], "holdout distribution")
check(j["gamma_gamma"]["customers"] == 1, "Gamma-Gamma skips the customer whose repeat purchase is free")
for r in csv.DictReader(open(sys.argv[2])):
    check(0 <= float(r["p_alive"]) <= 1, r["customer_id"] + " p_alive")
PY
# In days, and from the same file with CRLF line ends and a sample_id column.
run_patron clv hand.txt --calibration-end 1997-03-31 --horizon 28d --time-unit day --out day.csv \
    --quiet $M
expect_status 0 "hand-checked file in days"
hand_rows "hand-checked rows in days" day.csv 1
awk 'NR == 1 { print "id sample_id date cds value"; next } { print $1, "0001", $2, $3, $4 }' hand.txt |
    sed 's/$/\r/' >hand5.txt
run_patron clv hand5.txt --calibration-end 1997-03-31 --horizon 4w --out hand5.csv --quiet $M
expect_status 0 "hand-checked file, 5 fields, CRLF"
same_file hand5.csv hand.csv "5 fields and CRLF: same rows"
# No orders after the end: no holdout column, no holdout in the summary.
run_patron clv hand.txt --calibration-end 1997-06-30 --format json --out nohold.csv --quiet $M
expect_status 0 "no holdout"
check "no holdout: header" cmp -s <(head -n 1 nohold.csv) <(echo "$OUT_HEADER")
check "no holdout: no holdout key" bash -c "! grep -q '\"holdout\"' '$T/out'"

# ---------------------------------------------------------------------------
# Bad input: exit status 1 and FILE:LINE:COLUMN: field 'NAME': reason ("value").
# Nothing is written to --out: the scores are written only after the input was
# read and the models fitted; a file already there is left as it was.
# bad_file NAME CONTENT WANT: f.txt holds CONTENT; the run must fail with WANT.
bad_file() {
    local name=$1
    printf '%s' "$2" >f.txt
    rm -f never.csv
    echo keep >kept.csv
    run_patron clv f.txt --calibration-end 1997-03-31 --out never.csv
    expect_status 1 "$name"
    first_err_is "patron clv: $3" "$name"
    if [[ ! -e never.csv ]]; then ok; else bad "$name: --out file created"; fi
    if [[ ! -s "$T/out" ]]; then ok; else bad "$name: stdout not empty"; fi
    run_patron clv f.txt --calibration-end 1997-03-31 --out kept.csv
    check "$name: an existing --out file is left alone" cmp -s kept.csv <(echo keep)
}
bad_file "impossible date" $'101 19970101 1 10.00\n101 19970231 1 5.00\n' \
    "f.txt:2:5: field 'date': no such date (\"19970231\")"
bad_file "month 13" $'101 19971301 1 10.00\n' \
    "f.txt:1:5: field 'date': no such date (\"19971301\")"
bad_file "short date" $'101 1997011 1 10.00\n' \
    "f.txt:1:5: field 'date': not a yyyymmdd date (\"1997011\")"
bad_file "dollar value not a number" $'101 19970101 1 10.00\n101  19970201 1 5.0x\n' \
    "f.txt:2:17: field 'dollar_value': not a number (\"5.0x\")"
bad_file "dollar value negative" $'101 19970101 1 -10.00\n' \
    "f.txt:1:16: field 'dollar_value': negative (\"-10.00\")"
bad_file "dollar value 3 decimals" $'101 19970101 1 10.001\n' \
    "f.txt:1:16: field 'dollar_value': more than 2 decimals (\"10.001\")"
bad_file "cds not a number" $'101 19970101 1 10.00\n101\t19970201\tx\t5.00\r\n' \
    "f.txt:2:14: field 'number_of_cds': not an integer (\"x\")"
bad_file "sample file: bad date" $'101 0001 19970101 1 10.00\n102 0002 19970229 1 5.00\n' \
    "f.txt:2:10: field 'date': no such date (\"19970229\")"
bad_file "too few fields" $'101 19970101 1 10.00\n101 19970201 1\n' \
    "f.txt:2: expected 4 fields like line 1, got 3"
bad_file "too many fields" $'101 19970101 1 10.00\n101 19970201 1 5.00 9\n' \
    "f.txt:2: expected 4 fields like line 1, got 5"
bad_file "header only" $'customer_id date number_of_cds dollar_value\n' "f.txt: no transactions"
bad_file "all first purchases after the end" $'101 19970401 1 10.00\n' \
    "no customer made a first purchase on or before the calibration end"

# The field count message must point at the first data line: here line 2 (after
# a header with 4 fields), not line 1.
printf '%s\n' 'customer_id date number_of_cds dollar_value' '101 0001 19970101 1 10.00' \
    '101 19970201 1 5.00' >f.txt
run_patron clv f.txt
expect_status 1 "field count after a header"
expect_err_has "f.txt:3: expected 5 fields" "field count after a header: line 3"
if ! grep -q "like line 1" "$T/err"; then ok; else
    bad "field count after a header: the message refers to line 1 (the header): $(head -n 1 "$T/err")"
fi

run_patron clv nonexistent.txt --out never.csv
expect_status 1 "nonexistent FILE"
first_err_is "patron clv: nonexistent.txt: No such file or directory" "nonexistent FILE"
check "nonexistent FILE: no --out" test ! -e never.csv

# ---- usage errors: exit 2, the message names the option, nothing written ----
# usage NAME TEXT ARGS...: exit 2 and stderr has TEXT.
usage() {
    local name=$1 text=$2
    shift 2
    rm -f never.csv
    run_patron clv hand.txt --out never.csv "$@"
    expect_status 2 "$name"
    expect_err_has "$text" "$name"
    if [[ ! -e never.csv ]]; then ok; else bad "$name: --out file created"; fi
}
usage "--horizon 5x" '--horizon: expected a length like 39w, 273d or 1y, at most 5y, got "5x"' --horizon 5x
usage "--horizon 6y" '--horizon' --horizon 6y
usage "--horizon 0w" '--horizon' --horizon 0w
usage "--horizon w" '--horizon' --horizon w
usage "--time-unit month" '--time-unit: expected week or day, got "month"' --time-unit month
usage "--model foo" '--model' --model foo
usage "--model gamma_gamma alone" '--model' --model gamma_gamma
usage "--model bgnbd,foo" '--model' --model bgnbd,foo
usage "--discount-rate -1" '--discount-rate: expected a monthly rate 0 <= R < 1, got "-1"' --discount-rate -1
usage "--discount-rate 1" '--discount-rate' --discount-rate 1
usage "--discount-rate x" '--discount-rate' --discount-rate x
usage "--chart x.png" '--chart: the chart is SVG; name the file *.svg, got "x.png"' --chart x.png
usage "--calibration-end 1997-13-01" \
    '--calibration-end: expected a date YYYY-MM-DD, got "1997-13-01"' --calibration-end 1997-13-01
usage "--calibration-end 1997-02-29" '--calibration-end' --calibration-end 1997-02-29
usage "--calibration-end with a time" '--calibration-end' --calibration-end 1997-09-30T12:00:00Z
usage "--format xml" '--format' --format xml
usage "--layout foo" '--layout' --layout foo
usage "unknown option" 'bad option' --no-such-option
usage "two FILEs" 'expected one FILE' hand.txt
run_patron clv
expect_status 2 "missing FILE"
expect_err_has "expected one FILE" "missing FILE"

# ---------------------------------------------------------------------------
# --out - puts the rows on stdout; the summary must then go to stderr, as with
# `patron rfm --out -`, or stdout is not a CSV file.
run_patron clv hand.txt --calibration-end 1997-03-31 --horizon 4w --out - --quiet $M
expect_status 0 "--out -"
pycheck "--out -: stdout is only the rows" "$T/out" "$OUT_HEADER,holdout_purchases" <<'PY'
lines = open(sys.argv[1]).read().splitlines()
check(lines[:1] == [sys.argv[2]], "first line is the header")
check(len(lines) == 4, "4 lines (header + 3 customers), got %d; line 5: %r" % (len(lines), lines[4:5]))
check(all(len(l.split(",")) == 11 for l in lines), "every line has the 11 columns")
PY

# ---------------------------------------------------------------------------
# Runaway Pareto/NBD fits. Where the Pareto/NBD likelihood has its maximum at
# infinity (s and beta, or r and alpha, growing without bound), the fit follows
# the ridge until the likelihood stops improving and says so in a note. The
# limit below only catches a fit that never ends (a CDNOW case takes seconds;
# the sanitizer build is several times slower); speed is for bench/.
# runaway NAME NOTE ARGS...: patron clv ARGS --model pareto_nbd ends within 120 s
# with status 0, a finite log-likelihood, and a note naming NOTE (or none if NOTE
# is empty).
runaway() {
    local name=$1 note=$2
    shift 2
    timeout 120 "$PATRON" clv "$@" --model pareto_nbd --format json >"$T/out" 2>"$T/err"
    status=$?
    expect_status 0 "$name: Pareto/NBD fit ends"
    if [[ $status -eq 0 ]]; then
        pycheck "$name" "$T/out" "$note" <<'PY'
j = json.load(open(sys.argv[1]))
p = j["pareto_nbd"]
check(isinstance(p["log_likelihood"], float), "a finite log-likelihood")
notes = p["notes"]
if sys.argv[2]:
    check(len(notes) == 1 and notes[0].startswith(sys.argv[2]), "a note on %s, got %r" % (sys.argv[2], notes))
    k = ("r", "alpha") if sys.argv[2] == "r and alpha" else ("s", "beta")
    check(p["params"][k[0]] > 1e4 and p["params"][k[1]] > 1e4, "%s and %s are large: %r" % (k + (p["params"],)))
else:
    check(notes == [], "no note, got %r" % notes)
PY
    fi
}
# Two fitted customers: r, alpha -> inf.
runaway "hand-checked file" "r and alpha" hand.txt --calibration-end 1997-03-31 --horizon 4w
if have_shared && [[ -f "$CDNOW" ]]; then
    # The standard calibration: an interior maximum, no note.
    runaway "CDNOW, standard calibration" "" "$CDNOW" --calibration-end 1997-09-30
    # A calibration end a month after the last order of the CDNOW sample (no
    # holdout): a valid request; s, beta -> inf.
    runaway "CDNOW, calibration end after the last order" "s and beta" "$CDNOW" --calibration-end 1998-08-01
fi

run_patron clv --help
expect_status 0 "help"
for o in --calibration-end --horizon --time-unit --model --discount-rate --out --tracking --chart; do
    check "help mentions $o" grep -q -- "$o" "$T/out"
done
finish
