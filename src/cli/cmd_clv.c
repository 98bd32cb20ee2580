/*
 * cmd_clv.c - `patron clv FILE`: fit BG/NBD, Pareto/NBD and Gamma-Gamma to an
 * order export, score every customer and compare with a holdout period.
 *
 * Reads FILE (an order CSV of `patron rfm`, or the CDNOW transaction format)
 * into a transaction log, builds the cohort summaries (clv/cohort.h), fits the
 * models (clv/clv.h), writes per-customer scores (--out) and hands the
 * holdout comparison, tracking curve and summary to clv_report.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/clv_cli.h"
#include "ingest/cdnow.h"
#include "ingest/orders.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/par.h"
#include "util/timeutil.h"

static const char k_help[] =
    "usage: patron clv FILE [options]\n"
    "\n"
    "Customer lifetime value: fits the BG/NBD and Pareto/NBD purchase models and\n"
    "the Gamma-Gamma spend model to an order history, prints their parameters with\n"
    "standard errors and log-likelihoods, and scores every customer: probability\n"
    "alive, expected purchases and value over the horizon, expected next order.\n"
    "When FILE has orders after --calibration-end, compares the forecast with them.\n"
    "FILE is a CSV file of `patron rfm` (order or UCI layouts), the CDNOW\n"
    "transaction format (whitespace separated: id [sample_id] yyyymmdd cds value),\n"
    "or - for a CSV on standard input. docs/clv.md has the details.\n"
    "\n"
    "options:\n"
    "  --calibration-end DATE  last day of the calibration period (included);\n"
    "                          default: the day of the newest order (no holdout)\n"
    "  --horizon DUR           forecast length, e.g. 39w, 273d, 1y (default 52w);\n"
    "                          also the holdout length\n"
    "  --time-unit U           week (default) or day: the unit of t_x, T and the\n"
    "                          scale parameters alpha and beta\n"
    "  --model LIST            bgnbd,pareto_nbd,gamma_gamma (default: all three);\n"
    "                          the first purchase model listed scores customers\n"
    "  --discount-rate R       monthly discount rate of CLV (default 0.01)\n"
    "  --out FILE              one row per customer (- = stdout): customer_id,x,\n"
    "                          t_x,T,monetary_value,p_alive,expected_purchases,\n"
    "                          expected_order_value,clv,next_order_date[,holdout]\n"
    "  --tracking FILE         weekly cumulative repeat purchases, actual and\n"
    "                          predicted, as CSV (- = stdout)\n"
    "  --chart FILE            the same as an SVG chart\n"
    "  --format FMT            table (default) or json\n"
    "  --layout L              auto (default), orders, uci, uci2, cdnow\n"
    "  --columns MAP           header names for the order layout (as patron rfm)\n"
    "  -q, --quiet             no progress or notes on stderr\n"
    "  -h, --help              this text\n"
    "\n"
    "A bad row stops the run with FILE:LINE:COLUMN: field 'NAME': reason and exit\n"
    "status 1. Exit status 2 is a usage error.\n";

/* Parse "39w", "273d", "1y" into days. */
static int parse_duration(const char *s, int64_t *days)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || v <= 0 || v > 100000 || end[0] == 0 || end[1] != 0)
        return -1;
    int mul = end[0] == 'd' ? 1 : end[0] == 'w' ? 7 : end[0] == 'y' ? 365 : 0;
    if (mul == 0)
        return -1;
    *days = v * mul;
    return 0;
}

static int parse_models(const char *s, struct clv_run *r)
{
    char buf[128];
    if (strlen(s) >= sizeof buf)
        return -1;
    memcpy(buf, s, strlen(s) + 1);
    int first = -1;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (strcmp(t, "bgnbd") == 0 || strcmp(t, "pareto_nbd") == 0) {
            enum pt_clv_model m = t[0] == 'b' ? PT_BGNBD : PT_PNBD;
            r->mod[m].on = 1;
            if (first < 0)
                first = (int)m;
        } else if (strcmp(t, "gamma_gamma") == 0) {
            r->use_gg = 1;
        } else {
            return -1;
        }
    }
    if (first < 0)
        return -1;
    r->score_with = (enum pt_clv_model)first;
    return 0;
}

struct sink_ctx {
    struct pt_txlog *log;
};

static int sink_batch(void *arg, const struct pt_order *o, size_t n, struct pt_err *e)
{
    struct sink_ctx *s = arg;
    for (size_t i = 0; i < n; i++) {
        if (o[i].flags & PT_ORDER_CANCEL)
            continue;
        int rc = pt_txlog_add(s->log, o[i].cid, o[i].cid_len, o[i].chash,
                              pt_floor_div(o[i].t, 86400), o[i].amount);
        if (rc)
            return pt_err_set(e, rc, rc == PT_ENOMEM ? "out of memory" : "a date out of range");
    }
    return 0;
}

static void sink_reset(void *arg)
{
    struct sink_ctx *s = arg;
    pt_txlog_release(s->log);
    pt_txlog_init(s->log);
}

static int read_all(int fd, struct pt_buf *b)
{
    for (;;) {
        if (pt_buf_reserve(b, 1 << 16))
            return PT_ENOMEM;
        ssize_t k = read(fd, b->data + b->len, 1 << 16);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return PT_EIO;
        if (k == 0)
            return 0;
        b->len += (size_t)k;
    }
}

static int load(struct clv_run *r, int layout_cdnow, enum pt_layout layout, const char *columns,
                struct pt_err *e)
{
    int fd = strcmp(r->file, "-") == 0 ? 0 : open(r->file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return pt_err_set(e, PT_EIO, "%s: %s", r->file, strerror(errno));
    struct sink_ctx sc = {&r->log};
    struct pt_order_sink sink = {.ctx = &sc, .batch = sink_batch, .reset = sink_reset};
    struct pt_ingest_stats st;
    const char *name = fd == 0 ? "stdin" : r->file;
    int rc;
    if (fd != 0 && layout == PT_LAYOUT_AUTO && layout_cdnow < 0) {
        char head[4096];
        ssize_t k = pread(fd, head, sizeof head, 0);
        layout_cdnow = k > 0 && pt_cdnow_sniff(head, (size_t)k);
    }
    if (layout_cdnow > 0) {
        struct pt_buf b;
        pt_buf_init(&b);
        rc = read_all(fd, &b);
        if (rc)
            rc =
                pt_err_set(e, rc, "%s: %s", name, rc == PT_EIO ? strerror(errno) : "out of memory");
        else
            rc = pt_ingest_cdnow(b.data, b.len, name, &sink, &st, e);
        pt_buf_release(&b);
        r->scale = 2;
    } else {
        struct cli_progress pr;
        struct stat sb;
        cli_progress_init(&pr, "reading", fd != 0 && fstat(fd, &sb) == 0 ? (uint64_t)sb.st_size : 0,
                          1);
        pr.on &= !r->quiet;
        struct pt_ingest_opts io = {.name = name,
                                    .layout = layout,
                                    .columns = columns,
                                    .progress = cli_progress_update,
                                    .pctx = &pr};
        rc = pt_ingest_orders(fd, &io, &sink, &st, e);
        cli_progress_done(&pr);
        r->scale = st.scale;
    }
    if (fd != 0)
        close(fd);
    return rc;
}

static double now_s(void)
{
    return pt_mono_now();
}

static int fit_all(struct clv_run *r, struct pt_err *e)
{
    size_t n = r->co.n;
    struct pt_rfx *c = pt_alloc_array(n, sizeof *c);
    double *x = pt_alloc_array(n, sizeof *x), *m = pt_alloc_array(n, sizeof *m);
    int rc = 0;
    if (!c || !x || !m) {
        rc = pt_err_set(e, PT_ENOMEM, "out of memory");
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (r->co.rfx[i].T > 0)
            c[k++] = clv_rfx(r, i);
    r->fitted = k;
    for (int mi = 0; mi < 2 && rc == 0; mi++) {
        struct clv_model_out *mo = &r->mod[mi];
        if (!mo->on)
            continue;
        if (!r->quiet && isatty(2))
            fprintf(stderr, "patron clv: fitting %s to %zu customers\n",
                    pt_clv_model_name((enum pt_clv_model)mi), k);
        double t0 = now_s();
        rc = pt_clv_fit((enum pt_clv_model)mi, c, k, &mo->p, &mo->fit, e);
        mo->seconds = now_s() - t0;
    }
    if (rc == 0 && r->use_gg) {
        double div = pow(10, r->scale);
        for (size_t i = 0; i < n; i++) {
            x[i] = r->co.rfx[i].x;
            m[i] = r->co.m[i] / div;
            if (x[i] > 0 && !(m[i] > 0))
                x[i] = 0; /* repeat purchases worth nothing (free orders) carry no spend */
            r->gg_n += x[i] > 0;
        }
        double t0 = now_s();
        rc = pt_gg_fit(x, m, n, &r->gg, &r->gg_fit, e);
        r->gg_seconds = now_s() - t0;
    }
out:
    pt_free(c);
    pt_free(x);
    pt_free(m);
    return rc;
}

static void put_id(struct pt_buf *b, const char *id, uint32_t len)
{
    if (!memchr(id, ',', len) && !memchr(id, '"', len)) {
        pt_buf_add(b, id, len);
        return;
    }
    pt_buf_addc(b, '"');
    for (uint32_t k = 0; k < len; k++) {
        if (id[k] == '"')
            pt_buf_addc(b, '"');
        pt_buf_addc(b, id[k]);
    }
    pt_buf_addc(b, '"');
}

/* ",v" with at most `dec` decimals (trailing zeros dropped); "," alone for a
 * value that cannot be computed. Hand-made: printf's %g was a third of the
 * scoring time. */
static void put_num(struct pt_buf *b, double v, int dec)
{
    static const int64_t p10[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
    pt_buf_addc(b, ',');
    if (!isfinite(v))
        return;
    if (fabs(v) >= 1e12 || (v != 0 && fabs(v) < 1e-3)) { /* small: keep 6 significant digits */
        pt_buf_printf(b, "%.6g", v);
        return;
    }
    int64_t sc = llround(fabs(v) * (double)p10[dec]);
    if (sc == 0) {
        pt_buf_addc(b, '0');
        return;
    }
    if (v < 0)
        pt_buf_addc(b, '-');
    pt_buf_add_i64(b, sc / p10[dec]);
    int64_t frac = sc % p10[dec];
    if (frac == 0)
        return;
    char d[8];
    int n = dec;
    while (frac % 10 == 0) {
        frac /= 10;
        n--;
    }
    for (int k = n - 1; k >= 0; k--) {
        d[k] = (char)('0' + frac % 10);
        frac /= 10;
    }
    pt_buf_addc(b, '.');
    pt_buf_add(b, d, (size_t)n);
}

struct score_job {
    const struct clv_run *r;
    struct pt_buf out[PT_PAR_PARTS];
    int failed[PT_PAR_PARTS];
};

/* Scores and formats the rows of customers [lo, hi) into this part's buffer. */
static void score_part(void *arg, int part, size_t lo, size_t hi)
{
    struct score_job *sj = arg;
    const struct clv_run *r = sj->r;
    struct pt_buf *b = &sj->out[part];
    const struct pt_clv_params *p = &r->mod[r->score_with].p;
    double div = pow(10, r->scale), horizon = (double)r->horizon_days / r->unit;
    double period = 365.25 / 12 / r->unit, max_t = 3652.5 / r->unit;
    for (size_t i = lo; i < hi; i++) {
        struct pt_rfx c = clv_rfx(r, i);
        uint32_t len;
        const char *id = pt_idmap_id(&r->log.ids, r->co.id[i], &len);
        put_id(b, id, len);
        pt_buf_addc(b, ',');
        pt_buf_add_i64(b, (int64_t)c.x);
        put_num(b, c.tx, 6);
        put_num(b, c.T, 6);
        double mv = r->co.m[i] / div;
        put_num(b, mv, 4);
        double aov = r->use_gg ? pt_gg_mean(&r->gg, c.x > 0 && mv > 0 ? c.x : 0, mv) : NAN;
        struct pt_clv_scores sc;
        pt_clv_score(p, &c, horizon, period, r->discount, isfinite(aov) ? aov : NAN, max_t, &sc);
        put_num(b, sc.p_alive, 6);
        put_num(b, sc.expected, 6);
        put_num(b, aov, 4);
        put_num(b, sc.value, 4);
        double t = sc.next_t;
        pt_buf_addc(b, ',');
        if (isfinite(t)) {
            char ts[21];
            pt_format_utc((r->end_day + (int64_t)ceil(t * r->unit)) * 86400, ts);
            pt_buf_add(b, ts, 10);
        }
        if (r->holdout) {
            pt_buf_addc(b, ',');
            pt_buf_add_i64(b, r->co.hold[i]);
        }
        if (pt_buf_addc(b, '\n')) {
            sj->failed[part] = 1;
            return;
        }
    }
}

static int write_scores(const struct clv_run *r, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
    if (f == NULL)
        return -1;
    fprintf(f,
            "customer_id,x,t_x,T,monetary_value,p_alive,expected_purchases,"
            "expected_order_value,clv,next_order_date%s\n",
            r->holdout ? ",holdout_purchases" : "");
    struct score_job sj = {.r = r};
    for (int k = 0; k < PT_PAR_PARTS; k++)
        pt_buf_init(&sj.out[k]);
    pt_parallel(r->co.n, score_part, &sj);
    int bad = 0;
    for (int k = 0; k < PT_PAR_PARTS; k++) {
        if (sj.failed[k]) {
            bad = 1;
            errno = ENOMEM;
        }
        if (!bad && sj.out[k].len && fwrite(sj.out[k].data, 1, sj.out[k].len, f) != sj.out[k].len)
            bad = 1;
        pt_buf_release(&sj.out[k]);
    }
    bad |= ferror(f);
    if (f != stdout)
        bad |= fclose(f) != 0;
    else
        bad |= fflush(f) != 0;
    return bad ? -1 : 0;
}

static int usage(const char *msg, const char *arg)
{
    fprintf(stderr, "patron clv: %s%s%s%s\nTry 'patron clv --help'.\n", msg, arg ? " \"" : "",
            arg ? arg : "", arg ? "\"" : "");
    return PT_EXIT_USAGE;
}

static void release(struct clv_run *r)
{
    pt_txlog_release(&r->log);
    pt_cohort_release(&r->co);
    for (int i = 0; i < 2; i++)
        pt_free(r->mod[i].track);
    pt_free(r->act_track);
}

int cmd_clv(int argc, char **argv)
{
    static const struct option opts[] = {{"calibration-end", required_argument, 0, 'e'},
                                         {"horizon", required_argument, 0, 'H'},
                                         {"time-unit", required_argument, 0, 'u'},
                                         {"model", required_argument, 0, 'm'},
                                         {"discount-rate", required_argument, 0, 'd'},
                                         {"out", required_argument, 0, 'o'},
                                         {"tracking", required_argument, 0, 't'},
                                         {"chart", required_argument, 0, 'c'},
                                         {"format", required_argument, 0, 'f'},
                                         {"layout", required_argument, 0, 'l'},
                                         {"columns", required_argument, 0, 'C'},
                                         {"quiet", no_argument, 0, 'q'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    struct clv_run r = {
        .format = "table", .horizon_days = 364, .unit = 7, .unit_name = "week", .discount = 0.01};
    r.mod[0].on = r.mod[1].on = r.use_gg = 1;
    enum pt_layout layout = PT_LAYOUT_AUTO;
    int cdnow = -1, ch;
    const char *columns = NULL;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        char *end;
        switch (ch) {
        case 'e': {
            int64_t t;
            if (cli_parse_instant(optarg, &t) || t % 86400 != 0)
                return usage("--calibration-end: expected a date YYYY-MM-DD, got", optarg);
            r.end_day = t / 86400;
            r.have_end = 1;
            break;
        }
        case 'H':
            if (parse_duration(optarg, &r.horizon_days) || r.horizon_days > 1826)
                return usage("--horizon: expected a length like 39w, 273d or 1y, at most 5y, got",
                             optarg);
            break;
        case 'u':
            if (strcmp(optarg, "week") && strcmp(optarg, "day"))
                return usage("--time-unit: expected week or day, got", optarg);
            r.unit = optarg[0] == 'w' ? 7 : 1;
            r.unit_name = optarg[0] == 'w' ? "week" : "day";
            break;
        case 'm':
            r.mod[0].on = r.mod[1].on = r.use_gg = 0;
            if (parse_models(optarg, &r))
                return usage("--model: expected a list of bgnbd, pareto_nbd, gamma_gamma with at "
                             "least one purchase model, got",
                             optarg);
            break;
        case 'd':
            errno = 0;
            r.discount = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(r.discount >= 0 && r.discount < 1))
                return usage("--discount-rate: expected a monthly rate 0 <= R < 1, got", optarg);
            break;
        case 'o':
            r.out = optarg;
            break;
        case 't':
            r.tracking = optarg;
            break;
        case 'c':
            r.chart = optarg;
            break;
        case 'f':
            if (strcmp(optarg, "table") && strcmp(optarg, "json"))
                return usage("--format: expected table or json, got", optarg);
            r.format = optarg;
            break;
        case 'l':
            cdnow = strcmp(optarg, "cdnow") == 0;
            if (!cdnow) {
                int l;
                if (cli_parse_layout(optarg, &l))
                    return usage("--layout: expected auto, orders, uci, uci2 or cdnow, got",
                                 optarg);
                layout = (enum pt_layout)l;
                if (layout == PT_LAYOUT_AUTO)
                    cdnow = -1;
            }
            break;
        case 'C':
            columns = optarg;
            break;
        case 'q':
            r.quiet = 1;
            break;
        case 'h':
            fputs(k_help, stdout);
            return PT_EXIT_OK;
        default:
            return usage("bad option", NULL);
        }
    }
    if (optind != argc - 1)
        return usage("expected one FILE (or -)", NULL);
    if (r.chart && (strlen(r.chart) < 4 || strcmp(r.chart + strlen(r.chart) - 4, ".svg")))
        return usage("--chart: the chart is SVG; name the file *.svg, got", r.chart);
    r.file = argv[optind];
    pt_txlog_init(&r.log);
    struct pt_err e = {0};
    double t0 = now_s();
    int rc = load(&r, cdnow, layout, columns, &e);
    if (rc == 0 && r.log.n == 0)
        rc = pt_err_set(&e, PT_EPARSE, "%s: no orders", r.file);
    if (rc == 0) {
        if (!r.have_end) {
            int64_t mx = INT64_MIN;
            for (size_t i = 0; i < r.log.n; i++) {
                int64_t d = (int64_t)(r.log.key[i] & 0xffffffffu) - ((int64_t)1 << 31);
                mx = d > mx ? d : mx;
            }
            r.end_day = mx;
        }
        rc = pt_cohort_build(&r.log, r.end_day, r.horizon_days, &r.co, &e);
        r.read_seconds = now_s() - t0;
    }
    if (rc == 0) {
        r.holdout = r.co.day_max > r.end_day;
        rc = fit_all(&r, &e);
    }
    double th = now_s();
    if (rc == 0 && (r.holdout ? clv_holdout(&r) : 0))
        rc = pt_err_set(&e, PT_ENOMEM, "out of memory");
    r.holdout_seconds = now_s() - th;
    if (rc == 0 && (r.tracking || r.chart) && clv_tracking(&r))
        rc = pt_err_set(&e, PT_ENOMEM, "out of memory");
    const char *failed = NULL;
    double t1 = now_s();
    if (rc == 0 && r.out && write_scores(&r, r.out))
        failed = r.out;
    r.score_seconds = now_s() - t1;
    if (rc == 0 && !failed && r.tracking && clv_write_tracking(&r, r.tracking))
        failed = r.tracking;
    if (rc == 0 && !failed && r.chart && clv_write_chart(&r, r.chart))
        failed = r.chart;
    if (failed)
        rc = pt_err_set(&e, PT_EIO, "%s: %s", failed, strerror(errno));
    if (rc) {
        fprintf(stderr, "patron clv: %s\n", e.msg);
        release(&r);
        return cli_exit_code(rc);
    }
    /* With rows on stdout the summary goes to stderr, so a pipe gets only rows. */
    int piped = (r.out && strcmp(r.out, "-") == 0) || (r.tracking && strcmp(r.tracking, "-") == 0);
    clv_print(&r, piped ? stderr : stdout, strcmp(r.format, "json") == 0);
    release(&r);
    return fflush(stdout) ? PT_EXIT_FAIL : PT_EXIT_OK;
}
