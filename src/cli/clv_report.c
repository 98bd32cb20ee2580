/*
 * clv_report.c - what `patron clv` reports besides per-customer scores: the
 * holdout comparison, the weekly tracking curve (CSV and SVG) and the summary
 * (a table or one JSON object).
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/clv_cli.h"
#include "util/mem.h"
#include "util/par.h"
#include "util/timeutil.h"

static const char *const k_model_key[2] = {"bgnbd", "pareto_nbd"};
static const char *const k_model_label[2] = {"BG/NBD", "Pareto/NBD"};

/* One model's holdout sums over customers [lo, hi) of one part. */
struct hold_sums {
    double pred, mae, dist[CLV_BUCKETS], by_x[CLV_BUCKETS];
};
struct hold_job {
    const struct clv_run *r;
    const struct pt_clv_params *p;
    double t;
    struct hold_sums part[PT_PAR_PARTS];
};

static void hold_part(void *arg, int part, size_t lo, size_t hi)
{
    struct hold_job *j = arg;
    struct hold_sums *h = &j->part[part];
    memset(h, 0, sizeof *h);
    for (size_t i = lo; i < hi; i++) {
        struct pt_rfx c = clv_rfx(j->r, i);
        double e = pt_clv_expected(j->p, &c, j->t), rest = 1, q[CLV_BUCKETS - 1];
        h->pred += e;
        h->mae += fabs(e - j->r->co.hold[i]);
        pt_clv_pmf_all(j->p, &c, j->t, CLV_BUCKETS - 1, q);
        for (int k = 0; k < CLV_BUCKETS - 1; k++) {
            h->dist[k] += q[k];
            rest -= q[k];
        }
        h->dist[CLV_BUCKETS - 1] += rest > 0 ? rest : 0;
        h->by_x[c.x < CLV_BUCKETS - 1 ? (int)c.x : CLV_BUCKETS - 1] += e;
    }
}

int clv_holdout(struct clv_run *r)
{
    double t = (double)r->horizon_days / r->unit;
    for (size_t i = 0; i < r->co.n; i++) {
        uint32_t h = r->co.hold[i];
        int bx = r->co.rfx[i].x < CLV_BUCKETS - 1 ? (int)r->co.rfx[i].x : CLV_BUCKETS - 1;
        r->act_dist[h < CLV_BUCKETS - 1 ? h : CLV_BUCKETS - 1]++;
        r->act_by_x[bx] += h;
        r->n_by_x[bx]++;
    }
    for (int mi = 0; mi < 2; mi++) {
        struct clv_model_out *mo = &r->mod[mi];
        if (!mo->on)
            continue;
        struct hold_job j = {.r = r, .p = &mo->p, .t = t};
        pt_parallel(r->co.n, hold_part, &j);
        for (int k = 0; k < PT_PAR_PARTS; k++) { /* in part order: the same sums every run */
            const struct hold_sums *h = &j.part[k];
            mo->pred_total += h->pred;
            mo->mae += h->mae;
            for (int b = 0; b < CLV_BUCKETS; b++) {
                mo->dist[b] += h->dist[b];
                mo->by_x[b] += h->by_x[b];
            }
        }
        mo->mae /= (double)r->co.n;
        for (int k = 0; k < CLV_BUCKETS; k++)
            mo->by_x[k] = r->n_by_x[k] ? mo->by_x[k] / (double)r->n_by_x[k] : NAN;
    }
    for (int k = 0; k < CLV_BUCKETS; k++)
        r->act_by_x[k] = r->n_by_x[k] ? r->act_by_x[k] / (double)r->n_by_x[k] : NAN;
    return 0;
}

/* Last day of week k (1-based) of the tracking curve. */
static int64_t week_end(const struct clv_run *r, size_t k)
{
    int64_t e = r->co.day0 + 7 * (int64_t)k - 1, last = r->co.day0 + (int64_t)r->co.ndays - 1;
    return e < last ? e : last;
}

int clv_tracking(struct clv_run *r)
{
    size_t nd = r->co.ndays;
    r->weeks = (nd + 6) / 7;
    r->cal_weeks = (size_t)(r->end_day - r->co.day0 + 1) / 7;
    uint32_t *born = pt_calloc(nd ? nd : 1, sizeof *born);
    r->act_track = pt_alloc_array(r->weeks ? r->weeks : 1, sizeof *r->act_track);
    for (int mi = 0; mi < 2; mi++)
        if (r->mod[mi].on)
            r->mod[mi].track = pt_calloc(r->weeks ? r->weeks : 1, sizeof *r->mod[mi].track);
    if (!born || !r->act_track || (r->mod[0].on && !r->mod[0].track) ||
        (r->mod[1].on && !r->mod[1].track)) {
        pt_free(born);
        return PT_ENOMEM;
    }
    for (size_t i = 0; i < r->co.n; i++)
        born[r->co.first[i] - r->co.day0]++;
    double cum = 0;
    size_t d = 0;
    for (size_t k = 1; k <= r->weeks; k++) {
        int64_t e = week_end(r, k);
        for (; (int64_t)d <= e - r->co.day0; d++)
            cum += r->co.daily[d];
        r->act_track[k - 1] = cum;
        for (int mi = 0; mi < 2; mi++) {
            if (!r->mod[mi].on)
                continue;
            double s = 0;
            for (int64_t f = 0; f <= e - r->co.day0 && f <= r->end_day - r->co.day0; f++)
                if (born[f])
                    s += born[f] *
                         pt_clv_expected_new(&r->mod[mi].p, (double)(e - r->co.day0 - f) / r->unit);
            r->mod[mi].track[k - 1] = s;
        }
    }
    pt_free(born);
    return 0;
}

static void date_of(int64_t day, char out[11])
{
    char ts[21];
    pt_format_utc(day * 86400, ts);
    memcpy(out, ts, 10);
    out[10] = 0;
}

int clv_write_tracking(const struct clv_run *r, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f, "week,week_end,period,actual");
    for (int mi = 0; mi < 2; mi++)
        if (r->mod[mi].on)
            fprintf(f, ",%s", k_model_key[mi]);
    fputc('\n', f);
    for (size_t k = 1; k <= r->weeks; k++) {
        char ds[11];
        int64_t e = week_end(r, k);
        date_of(e, ds);
        fprintf(f, "%zu,%s,%s,%.0f", k, ds, e <= r->end_day ? "calibration" : "holdout",
                r->act_track[k - 1]);
        for (int mi = 0; mi < 2; mi++)
            if (r->mod[mi].on)
                fprintf(f, ",%.3f", r->mod[mi].track[k - 1]);
        fputc('\n', f);
    }
    int bad = ferror(f);
    if (f == stdout)
        return fflush(f) != 0 || bad ? -1 : 0;
    return (fclose(f) != 0 || bad) ? -1 : 0;
}

/* A round step for about n ticks over [0, max]. */
static double nice_step(double max, int n)
{
    double raw = max / n, p = pow(10, floor(log10(raw))), m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

int clv_write_chart(const struct clv_run *r, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    const double W = 880, H = 480, L = 80, R = 200, T = 50, B = 60;
    const double pw = W - L - R, ph = H - T - B;
    double ymax = 1;
    for (size_t k = 0; k < r->weeks; k++) {
        ymax = fmax(ymax, r->act_track[k]);
        for (int mi = 0; mi < 2; mi++)
            if (r->mod[mi].on)
                ymax = fmax(ymax, r->mod[mi].track[k]);
    }
    double step = nice_step(ymax, 6);
    ymax = ceil(ymax / step) * step;
    double xs = r->weeks > 1 ? pw / (double)(r->weeks - 1) : pw;
#define PX(k) (L + (double)(k)*xs)
#define PY(v) (T + ph - (v) / ymax * ph)
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-serif\" font-size=\"12\">\n",
            W, H, W, H);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f,
            "<text x=\"%.0f\" y=\"28\" font-size=\"16\">Cumulative repeat purchases: actual "
            "vs predicted</text>\n",
            L);
    for (double v = 0; v <= ymax + step / 2; v += step) {
        fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L,
                L + pw, PY(v), PY(v));
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.0f</text>\n", L - 6,
                PY(v) + 4, v);
    }
    size_t xstep = r->weeks > 26 ? 13 : r->weeks > 8 ? 4 : 1;
    for (size_t k = 0; k < r->weeks; k += xstep)
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%zu</text>\n", PX(k),
                T + ph + 18, k + 1);
    fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">week</text>\n", L + pw / 2,
            H - 14);
    fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n", L,
            L + pw, T + ph, T + ph);
    if (r->cal_weeks >= 1 && r->cal_weeks < r->weeks) {
        double x = PX(r->cal_weeks - 1);
        fprintf(f,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#888\" "
                "stroke-dasharray=\"2,3\"/>\n",
                x, x, T, T + ph);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#555\">calibration end</text>\n", x + 4,
                T + 12);
    }
    static const char *const color[3] = {"#111", "#1f77b4", "#ff7f0e"};
    static const char *const dash[3] = {"", " stroke-dasharray=\"6,4\"",
                                        " stroke-dasharray=\"2,2\""};
    for (int s = 0; s < 3; s++) {
        const double *v = s == 0 ? r->act_track : r->mod[s - 1].on ? r->mod[s - 1].track : NULL;
        if (v == NULL)
            continue;
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"", color[s],
                dash[s]);
        for (size_t k = 0; k < r->weeks; k++)
            fprintf(f, "%s%.1f,%.1f", k ? " " : "", PX(k), PY(v[k]));
        fprintf(f, "\"/>\n");
        double ly = T + 20 + 22 * s;
        fprintf(f,
                "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                "stroke-width=\"2\"%s/>\n",
                L + pw + 16, L + pw + 46, ly, ly, color[s], dash[s]);
        fprintf(f, "<text x=\"%.1f\" y=\"%.1f\">%s</text>\n", L + pw + 52, ly + 4,
                s == 0 ? "actual" : k_model_label[s - 1]);
    }
#undef PX
#undef PY
    fprintf(f, "</svg>\n");
    int bad = ferror(f);
    return (fclose(f) != 0 || bad) ? -1 : 0;
}

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* Notes on a fit whose maximum lies at infinity (docs/clv.md, "Fits at the
 * boundary"); returns how many of the two were written. */
#define CLV_HUGE 1e4
static int model_notes(const struct clv_run *r, int mi, char note[2][200])
{
    const double *v = r->mod[mi].p.v;
    int n = 0;
    if (v[0] > CLV_HUGE && v[1] > CLV_HUGE)
        snprintf(note[n++], 200,
                 "r and alpha grow without bound: purchase rates look the same for every "
                 "customer (r/alpha = %.4g per %s)",
                 v[0] / v[1], r->unit_name);
    if (v[2] > CLV_HUGE && v[3] > CLV_HUGE)
        snprintf(note[n++], 200,
                 mi == 0 ? "a and b grow without bound: the chance to drop out after a purchase "
                           "looks the same for every customer (a/(a+b) = %.4g)"
                         : "s and beta grow without bound: dropout rates look the same for every "
                           "customer (s/beta = %.4g per %s)",
                 mi == 0 ? v[2] / (v[2] + v[3]) : v[2] / v[3], r->unit_name);
    return n;
}

static json_t *model_json(const struct clv_run *r, int mi)
{
    static const char *const names[2][4] = {{"r", "alpha", "a", "b"}, {"r", "alpha", "s", "beta"}};
    const struct clv_model_out *mo = &r->mod[mi];
    json_t *o = json_object(), *p = json_object(), *se = json_object();
    for (int k = 0; k < 4; k++) {
        json_object_set_new(p, names[mi][k], num(mo->p.v[k]));
        json_object_set_new(se, names[mi][k], num(mo->fit.se[k]));
    }
    json_object_set_new(o, "params", p);
    json_object_set_new(o, "std_errors", se);
    json_object_set_new(o, "log_likelihood", num(mo->fit.ll));
    json_object_set_new(o, "fit_seconds", num(mo->seconds));
    json_object_set_new(o, "evaluations", json_integer(mo->fit.evals));
    char note[2][200];
    json_t *notes = json_array();
    for (int k = 0, nn = model_notes(r, mi, note); k < nn; k++)
        json_array_append_new(notes, json_string(note[k]));
    json_object_set_new(o, "notes", notes);
    return o;
}

static json_t *darr(const double *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, num(v[i]));
    return a;
}

static json_t *summary_json(const struct clv_run *r)
{
    json_t *o = json_object();
    char ds[11];
    json_object_set_new(o, "customers", json_integer((json_int_t)r->co.n));
    json_object_set_new(o, "customers_fitted", json_integer((json_int_t)r->fitted));
    json_object_set_new(o, "customers_after_calibration", json_integer((json_int_t)r->co.late));
    date_of(r->end_day, ds);
    json_object_set_new(o, "calibration_end", json_string(ds));
    json_object_set_new(o, "time_unit", json_string(r->unit_name));
    json_object_set_new(o, "horizon", num((double)r->horizon_days / r->unit));
    json_object_set_new(o, "discount_rate_monthly", num(r->discount));
    json_object_set_new(o, "repeat_purchases_calibration",
                        json_integer((json_int_t)r->co.repeat_cal));
    json_object_set_new(o, "scored_with", json_string(k_model_key[r->score_with]));
    json_object_set_new(o, "read_seconds", num(r->read_seconds));
    json_object_set_new(o, "score_seconds", num(r->score_seconds));
    for (int mi = 0; mi < 2; mi++)
        if (r->mod[mi].on)
            json_object_set_new(o, k_model_key[mi], model_json(r, mi));
    if (r->use_gg) {
        json_t *g = json_object(), *p = json_object(), *se = json_object();
        json_object_set_new(p, "p", num(r->gg.p));
        json_object_set_new(p, "q", num(r->gg.q));
        json_object_set_new(p, "gamma", num(r->gg.gamma));
        json_object_set_new(se, "p", num(r->gg_fit.se[0]));
        json_object_set_new(se, "q", num(r->gg_fit.se[1]));
        json_object_set_new(se, "gamma", num(r->gg_fit.se[2]));
        json_object_set_new(g, "params", p);
        json_object_set_new(g, "std_errors", se);
        json_object_set_new(g, "log_likelihood", num(r->gg_fit.ll));
        json_object_set_new(g, "fit_seconds", num(r->gg_seconds));
        json_object_set_new(g, "evaluations", json_integer(r->gg_fit.evals));
        json_object_set_new(g, "customers", json_integer((json_int_t)r->gg_n));
        json_object_set_new(g, "mean_order_value", num(pt_gg_mean(&r->gg, 0, 0)));
        json_object_set_new(o, "gamma_gamma", g);
    }
    if (r->holdout) {
        json_t *h = json_object(), *pred = json_object(), *mae = json_object();
        json_t *dist = json_object(), *byx = json_object();
        double ad[CLV_BUCKETS];
        for (int k = 0; k < CLV_BUCKETS; k++)
            ad[k] = (double)r->act_dist[k];
        json_object_set_new(h, "actual_repeat_purchases",
                            json_integer((json_int_t)r->co.repeat_hold));
        json_object_set_new(h, "seconds", num(r->holdout_seconds));
        json_object_set_new(dist, "actual", darr(ad, CLV_BUCKETS));
        json_object_set_new(byx, "actual", darr(r->act_by_x, CLV_BUCKETS));
        for (int mi = 0; mi < 2; mi++)
            if (r->mod[mi].on) {
                json_object_set_new(pred, k_model_key[mi], num(r->mod[mi].pred_total));
                json_object_set_new(mae, k_model_key[mi], num(r->mod[mi].mae));
                json_object_set_new(dist, k_model_key[mi], darr(r->mod[mi].dist, CLV_BUCKETS));
                json_object_set_new(byx, k_model_key[mi], darr(r->mod[mi].by_x, CLV_BUCKETS));
            }
        json_object_set_new(h, "predicted", pred);
        json_object_set_new(h, "mean_absolute_error", mae);
        json_object_set_new(h, "customers_by_holdout_purchases", dist);
        json_object_set_new(h, "mean_holdout_purchases_by_calibration_x", byx);
        json_object_set_new(o, "holdout", h);
    }
    return o;
}

static void print_table(const struct clv_run *r, FILE *f)
{
    static const char *const names[2][4] = {{"r", "alpha", "a", "b"}, {"r", "alpha", "s", "beta"}};
    char g1[32], g2[32];
    fprintf(f, "%s customers (%s fitted: T > 0), calibration end ", cli_group(r->co.n, g1),
            cli_group(r->fitted, g2));
    char ds[11];
    date_of(r->end_day, ds);
    fprintf(f, "%s, time unit %s, horizon %.4g %ss\n", ds, r->unit_name,
            (double)r->horizon_days / r->unit, r->unit_name);
    for (int mi = 0; mi < 2; mi++) {
        const struct clv_model_out *mo = &r->mod[mi];
        if (!mo->on)
            continue;
        fprintf(f, "\n%s  log-likelihood %.3f  (fit %.3f s)\n", k_model_label[mi], mo->fit.ll,
                mo->seconds);
        for (int k = 0; k < 4; k++)
            fprintf(f, "  %-6s %12.4f  (se %.4f)\n", names[mi][k], mo->p.v[k], mo->fit.se[k]);
        char note[2][200];
        for (int k = 0, nn = model_notes(r, mi, note); k < nn; k++)
            fprintf(f, "  note: %s\n", note[k]);
    }
    if (r->use_gg) {
        fprintf(f, "\nGamma-Gamma (%zu repeat customers)  log-likelihood %.3f\n", r->gg_n,
                r->gg_fit.ll);
        fprintf(f,
                "  p      %12.4f  (se %.4f)\n  q      %12.4f  (se %.4f)\n"
                "  gamma  %12.4f  (se %.4f)\n  mean order value %.2f\n",
                r->gg.p, r->gg_fit.se[0], r->gg.q, r->gg_fit.se[1], r->gg.gamma, r->gg_fit.se[2],
                pt_gg_mean(&r->gg, 0, 0));
    }
    if (!r->holdout)
        return;
    fprintf(f, "\nHoldout: %s repeat purchases actual", cli_group(r->co.repeat_hold, g1));
    for (int mi = 0; mi < 2; mi++)
        if (r->mod[mi].on)
            fprintf(f, ", %s %.1f (%+.1f%%, MAE %.3f)", k_model_label[mi], r->mod[mi].pred_total,
                    100 * (r->mod[mi].pred_total / (double)r->co.repeat_hold - 1), r->mod[mi].mae);
    fprintf(f, "\n\n%-22s", "holdout purchases");
    for (int k = 0; k < CLV_BUCKETS; k++)
        fprintf(f, k < CLV_BUCKETS - 1 ? "%9d" : "%8d+", k);
    fprintf(f, "\n%-22s", "customers, actual");
    for (int k = 0; k < CLV_BUCKETS; k++)
        fprintf(f, "%9llu", (unsigned long long)r->act_dist[k]);
    for (int mi = 0; mi < 2; mi++)
        if (r->mod[mi].on) {
            fprintf(f, "\n%-22s", k_model_label[mi]);
            for (int k = 0; k < CLV_BUCKETS; k++)
                fprintf(f, "%9.1f", r->mod[mi].dist[k]);
        }
    fprintf(f, "\n\n%-22s", "calibration x");
    for (int k = 0; k < CLV_BUCKETS; k++)
        fprintf(f, k < CLV_BUCKETS - 1 ? "%9d" : "%8d+", k);
    fprintf(f, "\n%-22s", "mean holdout, actual");
    for (int k = 0; k < CLV_BUCKETS; k++)
        fprintf(f, "%9.3f", r->act_by_x[k]);
    for (int mi = 0; mi < 2; mi++)
        if (r->mod[mi].on) {
            fprintf(f, "\n%-22s", k_model_label[mi]);
            for (int k = 0; k < CLV_BUCKETS; k++)
                fprintf(f, "%9.3f", r->mod[mi].by_x[k]);
        }
    fputc('\n', f);
}

void clv_print(const struct clv_run *r, FILE *f, int json)
{
    if (!json) {
        print_table(r, f);
        return;
    }
    json_t *o = summary_json(r);
    json_dumpf(o, f, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    fputc('\n', f);
    json_decref(o);
}
