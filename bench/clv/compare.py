#!/usr/bin/env python3
"""bench/clv/compare.py --dir DIR --label LABEL --repeat N [--days-per-unit D]

The bookkeeping half of bench/clv/run.sh for one data set. DIR holds, for
i = 1..N, patron.i.json / scipy.i.json (the two tools' JSON summaries) and
patron.i.time / scipy.i.time ("wall-seconds max-RSS-KiB" from /usr/bin/time),
plus summary.csv (patron's --out, scored with BG/NBD) and, when the Pareto/NBD
check ran, pnbd.json / pnbd.csv (the same run scored with Pareto/NBD).

Writes DIR/rows.md (rows of the timing table), DIR/wall.md (rows of the whole-
process table) and DIR/checks.md (the agreement checks), and exits 1 if a
check fails:
 - each model's maximised log-likelihood, patron's against SciPy's, within
   1e-3 + 1e-9 |LL| for BG/NBD and Pareto/NBD (same data; patron prints ten
   significant digits) and 1e-7 |LL| for Gamma-Gamma (the summary file gives
   the mean spend m to six digits only, so the data differ slightly);
 - SciPy's likelihood evaluated at patron's parameters against patron's
   reported maximum, with the same tolerances;
 - every customer's P(alive), expected purchases and expected spend from the
   SciPy formulas at patron's parameters against patron's --out within
   1e-4 relative plus the printed precision (1e-6 for the first two, 1e-4
   for money), and finite where patron's are.
Parameter differences are reported, not judged: along the flat directions of
these likelihoods two good optimisers stop ~1e-4 apart.
"""
import argparse
import json
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scipy_ref as ref  # noqa: E402

MODELS = ("bgnbd", "pareto_nbd", "gamma_gamma")
LABEL = {"bgnbd": "BG/NBD", "pareto_nbd": "Pareto/NBD", "gamma_gamma": "Gamma-Gamma"}


def load_runs(d, tool, n):
    runs = []
    for i in range(1, n + 1):
        with open(os.path.join(d, f"{tool}.{i}.json")) as f:
            j = json.load(f)
        with open(os.path.join(d, f"{tool}.{i}.time")) as f:
            wall, rss = f.read().split()
        j["_wall"], j["_rss_mib"] = float(wall), float(rss) / 1024
        runs.append(j)
    return runs


def med(runs, get):
    vals = [get(j) for j in runs]
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def fmt_s(v):
    if v is None:
        return "n/r"
    return f"{v:.4f}" if v < 0.1 else f"{v:.3f}" if v < 10 else f"{v:.1f}"


def ratio(a, b):
    return f"{a / b:.1f}x" if a is not None and b else "-"


def params_of(j, model):
    return np.array([j[model]["params"][k] for k in ref.NAMES[model]], dtype=float)


def ll_of(model, p, data):
    x, tx, T, m = data
    with np.errstate(all="ignore"):
        if model == "gamma_gamma":
            k = (x > 0) & (m > 0)
            return float(np.sum(ref.gg_ll(p, x[k], m[k])))
        k = T > 0
        fn = ref.bgnbd_ll if model == "bgnbd" else ref.pnbd_ll
        return float(np.sum(fn(p, x[k], tx[k], T[k])))


def read_scores(path):
    """p_alive, expected_purchases, expected_order_value of patron's --out (empty = NaN)."""
    conv = {c: (lambda s: float(s) if s else np.nan) for c in (5, 6, 7)}
    return np.loadtxt(path, delimiter=",", skiprows=1, usecols=(5, 6, 7), quotechar='"',
                      converters=conv, dtype=np.float64, ndmin=2).T


def diff(ours, theirs, abs_tol):
    """Compare SciPy's values with patron's printed ones. Returns (max relative
    difference among values >= 0.01, max absolute difference, row of the worst
    absolute difference, how many disagree by more than 1e-4 relative +
    abs_tol, how many are finite in patron's but not in SciPy's)."""
    both = np.isfinite(ours) & np.isfinite(theirs)
    o, t = ours[both], theirs[both]
    ad = np.abs(o - t)
    big = np.abs(t) >= 0.01
    rel = float(np.max(ad[big] / np.abs(t[big]))) if big.any() else 0.0
    worst = int(np.flatnonzero(both)[np.argmax(ad)]) if ad.size else -1
    over = int(np.sum(ad > 1e-4 * np.abs(t) + abs_tol))
    bad = int(np.sum(np.isfinite(theirs) & ~np.isfinite(ours)))
    return rel, (float(ad.max()) if ad.size else 0.0), worst, over, bad


def check_scores(model, pj, csv, data, horizon, lines, fails):
    x, tx, T, m = data
    pa_p, ex_p, gg_p = read_scores(csv)
    p = params_of(pj, model)
    with np.errstate(all="ignore"):
        score = ref.bgnbd_score if model == "bgnbd" else ref.pnbd_score
        pa, ex = score(p, x, tx, T, horizon)
        gg = ref.gg_score(params_of(pj, "gamma_gamma"), x, m)
    # patron prints probabilities and purchases with 6 decimals, money with 4
    for name, ours, theirs, tol in (("P(alive)", pa, pa_p, 1e-6),
                                    ("expected purchases", ex, ex_p, 1e-6),
                                    ("expected spend (Gamma-Gamma)", gg, gg_p, 1e-4)):
        rel, ad, i, over, bad = diff(ours, theirs, tol)
        ok = over == 0 and bad == 0
        where = (f" (row {i + 1}: x={x[i]:g}, t_x={tx[i]:.6g}, T={T[i]:.6g}: "
                 f"SciPy {ours[i]:.9g}, patron {theirs[i]:.9g})") if i >= 0 else ""
        lines.append(f"- {LABEL[model]} scores, {name}: max relative difference {rel:.1e} "
                     f"(values >= 0.01), max absolute difference {ad:.1e}{where}"
                     f"{'' if over == 0 else f'; {over} beyond 1e-4 relative + {tol:g}'}"
                     f"{'' if bad == 0 else f'; {bad} not finite in SciPy'}"
                     f"{'' if ok else '  **FAIL**'}")
        if not ok:
            fails.append(f"{LABEL[model]} {name}")
    pred = pj.get("holdout", {}).get("predicted", {}) if model == "bgnbd" else {}
    for mdl in ("bgnbd", "pareto_nbd"):
        if mdl in pred:
            with np.errstate(all="ignore"):
                fn = ref.bgnbd_score if mdl == "bgnbd" else ref.pnbd_score
                tot = float(np.sum(fn(params_of(pj, mdl), x, tx, T, horizon)[1]))
            lines.append(f"- {LABEL[mdl]} expected holdout purchases, all customers, at patron's "
                         f"parameters: SciPy {tot:.3f}, patron {pred[mdl]:.3f} "
                         f"(relative difference {abs(tot / pred[mdl] - 1):.1e})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--label", required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--days-per-unit", type=float, default=7.0)
    a = ap.parse_args()
    d = a.dir
    pr, sr = load_runs(d, "patron", a.repeat), load_runs(d, "scipy", a.repeat)
    p0, s0 = pr[0], sr[0]
    horizon = p0["horizon"]
    data = ref.read_summary(os.path.join(d, "summary.csv"), a.days_per_unit)
    customers = f"{p0['customers']:,}"
    if p0.get("customers_after_calibration"):
        # the others first bought after the calibration end
        customers += f" of {p0['customers'] + p0['customers_after_calibration']:,}"

    rows, lines, fails = [], [f"**{a.label}** ({customers} customers, "
                                  f"{p0['customers_fitted']:,} with T > 0)", ""], []
    for model in MODELS:
        pf = med(pr, lambda j: j[model].get("fit_seconds"))
        sf = med(sr, lambda j: j[model]["fit_seconds"])
        ss = med(sr, lambda j: j[model]["score_seconds"])
        pp, sp = params_of(p0, model), params_of(s0, model)
        rel = np.abs(pp / sp - 1)
        ll_p, ll_s = p0[model]["log_likelihood"], s0[model]["log_likelihood"]
        ll_at_p = ll_of(model, pp, data)
        tol = 1e-7 * abs(ll_s) if model == "gamma_gamma" else 1e-3 + 1e-9 * abs(ll_s)
        ok = abs(ll_p - ll_s) <= tol and abs(ll_at_p - ll_p) <= tol
        if not ok:
            fails.append(f"{LABEL[model]} log-likelihood")
        rows.append(f"| {a.label} | {customers} | {LABEL[model]} | {fmt_s(pf)} | {fmt_s(sf)} | "
                    f"{ratio(sf, pf)} | - | {fmt_s(ss)} | - | {rel.max():.1e} | "
                    f"{ll_p - ll_s:+.2g} |")
        names = ref.NAMES[model]
        lines.append(f"- {LABEL[model]}: patron " +
                     ", ".join(f"{k} {v:.6g}" for k, v in zip(names, pp)) + "; SciPy " +
                     ", ".join(f"{k} {v:.6g}" for k, v in zip(names, sp)) +
                     " (relative differences " + ", ".join(f"{v:.1e}" for v in rel) + ")")
        lines.append(f"  log-likelihood: patron {ll_p:.10g}, SciPy {ll_s:.10g}, SciPy's at "
                     f"patron's parameters {ll_at_p:.10g} (tolerance {tol:.2g})"
                     f"{'' if ok else '  **FAIL**'}; SciPy: {s0[model]['evaluations']} "
                     f"evaluations, {s0[model]['message']}")
    # totals: the two purchase models (patron does not report its Gamma-Gamma fit time)
    pf = med(pr, lambda j: j["bgnbd"]["fit_seconds"] + j["pareto_nbd"]["fit_seconds"])
    sf = med(sr, lambda j: j["bgnbd"]["fit_seconds"] + j["pareto_nbd"]["fit_seconds"])
    psc, ssc = med(pr, lambda j: j["score_seconds"]), med(sr, lambda j: j["score_seconds"])
    rows.append(f"| {a.label} | {customers} | BG/NBD + Pareto/NBD fits; scoring | {fmt_s(pf)} | "
                f"{fmt_s(sf)} | {ratio(sf, pf)} | {fmt_s(psc)} | {fmt_s(ssc)} | "
                f"{ratio(ssc, psc)} | | |")

    wall = []
    for tool, runs in (("patron", pr), ("SciPy", sr)):
        w = med(runs, lambda j: j["_wall"])
        rss = med(runs, lambda j: j["_rss_mib"])
        rd = med(runs, lambda j: j["read_seconds"])
        fits = med(runs, lambda j: sum(j[m].get("fit_seconds", 0) for m in MODELS))
        sc = med(runs, lambda j: j["score_seconds"])
        rest = med(runs, lambda j: j["_wall"] - j["read_seconds"] - j["score_seconds"]
                   - sum(j[m].get("fit_seconds", 0) for m in MODELS))
        wall.append(f"| {a.label} | {tool} | {fmt_s(w)} | {rss:.0f} | {fmt_s(rd)} | "
                    f"{fmt_s(fits)} | {fmt_s(sc)} | {fmt_s(rest)} |")

    lines.append("")
    check_scores("bgnbd", p0, os.path.join(d, "summary.csv"), data, horizon, lines, fails)
    if os.path.exists(os.path.join(d, "pnbd.json")):
        with open(os.path.join(d, "pnbd.json")) as f:
            pn = json.load(f)
        # the same fits (deterministic), scored with Pareto/NBD
        check_scores("pareto_nbd", pn, os.path.join(d, "pnbd.csv"), data, horizon, lines, fails)
    for model in MODELS:
        bad = s0[model]["scores_not_finite"]
        if bad:
            lines.append(f"- SciPy's own {LABEL[model]} scores: {bad} not finite")
    if fails:
        lines.append("")
        lines.append("**Checks failed: " + ", ".join(fails) + "**")
    lines.append("")
    for name, text in (("rows.md", rows), ("wall.md", wall), ("checks.md", lines)):
        with open(os.path.join(d, name), "w") as f:
            f.write("\n".join(text) + "\n")
    if fails:
        print(f"bench: {a.label}: checks failed: {', '.join(fails)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
