#!/usr/bin/env python3
"""bench/clv/scipy_ref.py SUMMARY [--horizon H] [--days-per-unit D] [--scores-out FILE]

The reference for bench/clv/run.sh: the same three likelihoods as `patron clv`,
written the way a user with NumPy and SciPy would, fitted by maximum likelihood
and used to score every customer.

SUMMARY is the per-customer file `patron clv --out FILE` writes (columns
customer_id,x,t_x,T,monetary_value,...; t_x and T in the run's time unit), so
both tools work on the same customers. That file prints t_x and T rounded;
they are whole days divided by the unit, so they are put back on whole days
(--days-per-unit, 7 for weeks) before anything else. The mean spend m is
rounded too (4 decimals), so the Gamma-Gamma data differ by that much.

Models (parameters are positive; the optimiser works on their logarithms):
  BG/NBD      Fader, Hardie & Lee (2005), "Counting Your Customers the Easy
              Way", eq. 6 for the likelihood, eq. 10 for expected purchases.
  Pareto/NBD  Fader & Hardie (2005), "A Note on Deriving the Pareto/NBD Model
              and Related Expressions", eq. 22, with its two 2F1 terms put in
              Euler-transformed form (below) so they stay finite.
  Gamma-Gamma Fader, Hardie & Lee (2005), "RFM and CLV", JMR 42(4): customers
              with x > 0, m = mean value of the repeat purchases.

Fitting: scipy.optimize.minimize, method L-BFGS-B with SciPy's own central
finite-difference gradient (jac="3-point"; no hand-written derivatives), on
the mean negative log-likelihood, from all parameters = 1, with tolerances
tighter than SciPy's defaults (ftol 1e-12, gtol 1e-7) so the optimum can be
compared to patron's. (With the default forward differences L-BFGS-B stops
about 5e-4 away in relative terms on the flat directions of these
likelihoods, in the same time; Nelder-Mead gets as close as 3-point but
needs about 5 times the evaluations.)
Customers with equal (x, t_x, T) are fitted once with a weight (np.unique),
as patron does; customers with T = 0 carry no information and are left out
of the purchase-model fits, as patron does.

Output: one JSON object on stdout with each model's parameters, maximised
log-likelihood, evaluations, fit seconds and score seconds.
"""
import argparse
import json
import sys
import time

import numpy as np
from scipy import optimize, special

FIT_OPTIONS = {"ftol": 1e-12, "gtol": 1e-7, "maxiter": 5000, "maxfun": 50000}


def read_summary(path, days_per_unit):
    cols = np.loadtxt(path, delimiter=",", skiprows=1, usecols=(1, 2, 3, 4), quotechar='"',
                      dtype=np.float64, ndmin=2)
    x, tx, T, m = cols.T
    if days_per_unit > 0:
        tx = np.rint(tx * days_per_unit) / days_per_unit
        T = np.rint(T * days_per_unit) / days_per_unit
    return np.ascontiguousarray(x), np.ascontiguousarray(tx), np.ascontiguousarray(T), \
        np.ascontiguousarray(m)


def compress(x, tx, T):
    """Distinct (x, t_x, T) rows and how many customers have each."""
    rows, w = np.unique(np.column_stack((x, tx, T)), axis=0, return_counts=True)
    return rows[:, 0].copy(), rows[:, 1].copy(), rows[:, 2].copy(), w.astype(np.float64)


def fit(neg_mean_ll, dim):
    """Minimise over log-parameters; returns (params, result)."""
    def f(lp):
        v = neg_mean_ll(np.exp(lp))
        return v if np.isfinite(v) else np.inf
    with np.errstate(all="ignore"):
        res = optimize.minimize(f, np.zeros(dim), method="L-BFGS-B", jac="3-point",
                                options=FIT_OPTIONS)
    return np.exp(res.x), res


# --- BG/NBD -----------------------------------------------------------------

def bgnbd_ll(params, x, tx, T):
    """Per-customer log-likelihood, FHL 2005 eq. 6 in log space."""
    r, alpha, a, b = params
    ln_a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    ln_a2 = (special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b)
             - special.gammaln(a + b + x))
    ln_a3 = -(r + x) * np.log(alpha + T)
    # A4 only for x > 0 (b + x - 1 may be negative when x = 0)
    ln_a4 = np.where(x > 0,
                     np.log(a) - np.log(b + np.maximum(x, 1) - 1) - (r + x) * np.log(alpha + tx),
                     -np.inf)
    return ln_a1 + ln_a2 + special.logsumexp(np.stack((ln_a3, ln_a4)), axis=0)


def bgnbd_fit(x, tx, T):
    keep = T > 0
    gx, gtx, gT, w = compress(x[keep], tx[keep], T[keep])
    n = w.sum()
    params, res = fit(lambda p: -np.dot(w, bgnbd_ll(p, gx, gtx, gT)) / n, 4)
    return params, -res.fun * n, res, len(w)


def bgnbd_score(params, x, tx, T, t):
    """P(alive) and expected purchases in (T, T + t]: FHL 2005 eq. 10."""
    r, alpha, a, b = params
    # P(alive) = 1 / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x))
    lo = np.where(x > 0,
                  np.log(a) - np.log(b + np.maximum(x, 1) - 1)
                  + (r + x) * (np.log(alpha + T) - np.log(alpha + tx)),
                  -np.inf)
    p_alive = special.expit(-lo)
    z = t / (alpha + T + t)
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
    # 1 - ((alpha + T) / (alpha + T + t))^(r + x) 2F1(...), the product taken in logs
    inner = -np.expm1((r + x) * np.log1p(-z) + np.log(hyp))
    expected = (a + b + x - 1) / (a - 1) * inner * p_alive
    return p_alive, expected


# --- Pareto/NBD -------------------------------------------------------------
#
# Eq. 22: L = G(r+x) alpha^r beta^s / G(r)
#             * [ (alpha+T)^-(r+x) (beta+T)^-s + s/(r+s+x) (B(t_x) - B(T)) ]
# with, for alpha >= beta,
#   B(t) = 2F1(r+s+x, s+1; r+s+x+1; (alpha-beta)/(alpha+t)) / (alpha+t)^(r+s+x)
# and for alpha < beta
#   B(t) = 2F1(r+s+x, r+x; r+s+x+1; (beta-alpha)/(beta+t)) / (beta+t)^(r+s+x).
# Euler's transformation 2F1(a, b; c; z) = (1-z)^(c-a-b) 2F1(c-a, c-b; c; z)
# (here c - a = 1) gives, with 1 - z a ratio of the two bases,
#   alpha >= beta: B(t) = 2F1(1, r+x; r+s+x+1; z) (beta+t)^-s (alpha+t)^-(r+x)
#   alpha <  beta: B(t) = 2F1(1, s+1; r+s+x+1; z) (alpha+t)^(1-r-x) (beta+t)^-(s+1)
# whose 2F1 are series of positive terms; everything is then taken in logs.

def pnbd_log_b(params, x, t):
    r, alpha, s, beta = params
    c = r + s + x + 1
    if alpha >= beta:
        z = (alpha - beta) / (alpha + t)
        return (np.log(special.hyp2f1(1.0, r + x, c, z)) - s * np.log(beta + t)
                - (r + x) * np.log(alpha + t))
    z = (beta - alpha) / (beta + t)
    return (np.log(special.hyp2f1(1.0, s + 1, c, z)) + (1 - r - x) * np.log(alpha + t)
            - (s + 1) * np.log(beta + t))


def pnbd_parts(params, x, tx, T):
    """ln of the two terms in the bracket of eq. 22."""
    r, alpha, s, beta = params
    head = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    b_tx = pnbd_log_b(params, x, tx)
    b_T = pnbd_log_b(params, x, T)
    # ln(s / (r+s+x) (B(t_x) - B(T))); -inf when t_x = T (B(t) decreases in t)
    d = np.minimum(b_T - b_tx, 0.0)
    tail = np.log(s) - np.log(r + s + x) + b_tx + np.log(-np.expm1(d))
    return head, tail


def pnbd_ll(params, x, tx, T):
    r, alpha, s, beta = params
    head, tail = pnbd_parts(params, x, tx, T)
    return (special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
            + special.logsumexp(np.stack((head, tail)), axis=0))


def pnbd_fit(x, tx, T):
    keep = T > 0
    gx, gtx, gT, w = compress(x[keep], tx[keep], T[keep])
    n = w.sum()
    params, res = fit(lambda p: -np.dot(w, pnbd_ll(p, gx, gtx, gT)) / n, 4)
    return params, -res.fun * n, res, len(w)


def pnbd_score(params, x, tx, T, t):
    """P(alive) = head / (head + tail); expected purchases in (T, T + t]:
    P(alive) (r+x)(beta+T) / ((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)]."""
    r, alpha, s, beta = params
    head, tail = pnbd_parts(params, x, tx, T)
    p_alive = np.exp(head - np.logaddexp(head, tail))
    B = beta + T
    expected = p_alive * (r + x) * B / ((alpha + T) * (s - 1)) * -np.expm1(
        -(s - 1) * np.log1p(t / B))
    return p_alive, expected


# --- Gamma-Gamma ------------------------------------------------------------

def gg_ll(params, x, m):
    p, q, g = params
    px = p * x
    return (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(g)
            + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(g + x * m))


def gg_fit(x, m):
    keep = (x > 0) & (m > 0)
    gx, gm = x[keep], m[keep]
    n = len(gx)
    params, res = fit(lambda p: -np.sum(gg_ll(p, gx, gm)) / n, 3)
    return params, -res.fun * n, res, n


def gg_score(params, x, m):
    """E[M | x, m] = (gamma + x m) p / (p x + q - 1); p gamma / (q - 1) without repeats."""
    p, q, g = params
    xr = np.where((x > 0) & (m > 0), x, 0.0)
    return (g + xr * m) * p / (p * xr + q - 1)


NAMES = {"bgnbd": ("r", "alpha", "a", "b"), "pareto_nbd": ("r", "alpha", "s", "beta"),
         "gamma_gamma": ("p", "q", "gamma")}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[1])
    ap.add_argument("summary")
    ap.add_argument("--horizon", type=float, default=52.0, help="in time units (default 52)")
    ap.add_argument("--days-per-unit", type=float, default=7.0,
                    help="7 for weeks, 1 for days, 0 to take t_x and T as printed")
    ap.add_argument("--scores-out", help="write the scores as .npz (not timed)")
    args = ap.parse_args()

    t0 = time.perf_counter()
    x, tx, T, m = read_summary(args.summary, args.days_per_unit)
    out = {"customers": int(len(x)), "customers_fitted": int(np.sum(T > 0)),
           "read_seconds": time.perf_counter() - t0, "optimizer": "L-BFGS-B, jac=3-point",
           "optimizer_options": FIT_OPTIONS, "horizon": args.horizon}

    fits = {}
    for name, fn, data in (("bgnbd", bgnbd_fit, (x, tx, T)), ("pareto_nbd", pnbd_fit, (x, tx, T)),
                           ("gamma_gamma", gg_fit, (x, m))):
        t0 = time.perf_counter()
        with np.errstate(all="ignore"):
            params, ll, res, n = fn(*data)
        secs = time.perf_counter() - t0
        fits[name] = params
        out[name] = {"params": dict(zip(NAMES[name], map(float, params))),
                     "log_likelihood": float(ll), "fit_seconds": secs,
                     "evaluations": int(res.nfev), "iterations": int(res.nit),
                     "converged": bool(res.success), "message": str(res.message),
                     "groups" if name != "gamma_gamma" else "customers": int(n)}

    scores = {}
    total = 0.0
    for name in ("bgnbd", "pareto_nbd", "gamma_gamma"):
        t0 = time.perf_counter()
        with np.errstate(all="ignore"):
            if name == "bgnbd":
                s = bgnbd_score(fits[name], x, tx, T, args.horizon)
            elif name == "pareto_nbd":
                s = pnbd_score(fits[name], x, tx, T, args.horizon)
            else:
                s = (gg_score(fits[name], x, m),)
        secs = time.perf_counter() - t0
        total += secs
        scores[name] = s
        out[name]["score_seconds"] = secs
        out[name]["scores_not_finite"] = int(sum(np.sum(~np.isfinite(v)) for v in s))
    out["score_seconds"] = total
    if args.scores_out:
        np.savez(args.scores_out, bg_p_alive=scores["bgnbd"][0], bg_expected=scores["bgnbd"][1],
                 pnbd_p_alive=scores["pareto_nbd"][0], pnbd_expected=scores["pareto_nbd"][1],
                 gg_mean=scores["gamma_gamma"][0])
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
