/*
 * cmd_rfm.c - `patron rfm FILE`: RFM segmentation of an order export.
 *
 * Reads FILE (or stdin for "-") with ingest/orders, aggregates with rfm/, then
 * writes the per-customer rows (--out) and the per-segment summary (stdout, as
 * a table, CSV or JSON). Messages go to stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "ingest/fields.h"
#include "ingest/orders.h"
#include "rfm/rfm.h"
#include "util/buf.h"
#include "util/timeutil.h"

static const char k_help[] =
    "usage: patron rfm FILE [options]\n"
    "\n"
    "Recency, frequency and monetary value of every customer in an order export,\n"
    "their 1..5 scores and RFM segment (as docs/rfm.md and RFM-SPEC define them),\n"
    "and a summary per segment. FILE is a CSV file, or - for standard input.\n"
    "\n"
    "Input layouts (detected from the header):\n"
    "  order_id,customer_id,ordered_at,amount   one row per order or per order line\n"
    "  UCI Online Retail / Online Retail II     invoice lines (cancellations net out)\n"
    "\n"
    "options:\n"
    "  --as-of DATE|INSTANT   score as of this instant (2026-11-01 = 00:00:00Z);\n"
    "                         default: 00:00:00Z of the day after the newest order.\n"
    "                         Orders at or after it are ignored.\n"
    "  --out FILE             write one row per customer to FILE (- = stdout):\n"
    "                         customer_id,recency,frequency,monetary,r,f,m,segment\n"
    "  --format FMT           summary format: table (default), csv or json\n"
    "  --columns MAP          header names for the order layout, e.g.\n"
    "                         order_id=Id,customer_id=Email,ordered_at=Date,amount=Total\n"
    "  --layout L             auto (default), orders, uci, uci2\n"
    "  --thresholds SPEC      fixed-band scores instead of quintiles, e.g.\n"
    "                         r=7,14,30,90 (days: upper bounds of R=5,4,3,2),\n"
    "                         f=1,2,4,8 (orders: upper bounds of F=1,2,3,4),\n"
    "                         m=50,100,250,1000 (money: upper bounds of M=1,2,3,4);\n"
    "                         repeat the option or join specs with ';'\n"
    "  --skip-bad             skip bad rows instead of stopping at the first one\n"
    "  --rejects FILE         with --skip-bad: write each bad row and its reason\n"
    "                         (CSV: line,column,field,reason,row)\n"
    "  --threads N            parser/aggregator threads (default: all cores, max 8)\n"
    "  --max-line-bytes N     longest accepted record, without its line end\n"
    "                         (default 1048576)\n"
    "  --quiet                no summary line on stderr\n"
    "  -h, --help             this text\n"
    "\n"
    "A bad row stops the run with FILE:LINE:COLUMN: field 'NAME': reason (\"value\")\n"
    "and exit status 1. Exit status 2 is a usage error.\n";

struct rfm_args {
    const char *file, *out, *format, *columns, *rejects;
    char colbuf[1024];
    enum pt_layout layout;
    struct pt_rfm_opts ro;
    int skip_bad, quiet;
    size_t max_line;
};

/* "r=7,14,30,90" (several joined by ';') into the bands. */
static int parse_thresholds(const char *spec, struct pt_rfm_opts *ro)
{
    char buf[512];
    if (strlen(spec) >= sizeof buf) {
        fprintf(stderr, "patron rfm: --thresholds: too long\n");
        return -1;
    }
    memcpy(buf, spec, strlen(spec) + 1);
    char *save = NULL;
    int any = 0;
    for (char *tok = strtok_r(buf, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
        while (*tok == ' ')
            tok++;
        struct pt_rfm_bands *b = NULL;
        int money = 0;
        if (tok[0] == 'r' && tok[1] == '=')
            b = &ro->r;
        else if (tok[0] == 'f' && tok[1] == '=')
            b = &ro->f;
        else if (tok[0] == 'm' && tok[1] == '=') {
            b = &ro->m;
            money = 1;
        }
        if (b == NULL) {
            fprintf(stderr, "patron rfm: --thresholds: \"%s\": expected r=, f= or m=\n", tok);
            return -1;
        }
        if (b->on) {
            fprintf(stderr, "patron rfm: --thresholds: %c= given twice\n", tok[0]);
            return -1;
        }
        any = 1;
        char *p = tok + 2;
        for (int i = 0; i < 4; i++) {
            char *end = strchr(p, ',');
            size_t n = end ? (size_t)(end - p) : strlen(p);
            const char *why = NULL;
            int64_t v;
            int bad = money ? pt_parse_decimal(p, n, 2, 0, &v, &why)
                            : pt_parse_int(p, n, &v, &why) || v < 0;
            if (bad || (i > 0 && v <= b->b[i - 1]) || (i < 3 && end == NULL) ||
                (i == 3 && end != NULL)) {
                fprintf(stderr,
                        "patron rfm: --thresholds: \"%s\": need four increasing non-negative "
                        "%s, e.g. %c=%s\n",
                        tok, money ? "amounts" : "integers", tok[0],
                        tok[0] == 'r' ? "7,14,30,90" : tok[0] == 'f' ? "1,2,4,8" : "50,100,250,1000");
                return -1;
            }
            b->b[i] = v;
            p = end ? end + 1 : p + n;
        }
        b->on = 1;
    }
    if (!any) {
        fprintf(stderr, "patron rfm: --thresholds: empty; e.g. r=7,14,30,90\n");
        return -1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, struct rfm_args *a)
{
    static const struct option opts[] = {
        {"as-of", required_argument, 0, 'a'},   {"out", required_argument, 0, 'o'},
        {"format", required_argument, 0, 'F'},  {"columns", required_argument, 0, 'c'},
        {"layout", required_argument, 0, 'l'},  {"thresholds", required_argument, 0, 't'},
        {"skip-bad", no_argument, 0, 's'},      {"rejects", required_argument, 0, 'r'},
        {"threads", required_argument, 0, 'j'}, {"max-line-bytes", required_argument, 0, 'L'},
        {"quiet", no_argument, 0, 'q'},         {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    memset(a, 0, sizeof *a);
    a->format = "table";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "ho:j:q", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            if (cli_parse_instant(optarg, &a->ro.as_of)) {
                fprintf(stderr, "patron rfm: --as-of: \"%s\" is not a date or ISO-8601 instant\n",
                        optarg);
                return -1;
            }
            a->ro.have_as_of = 1;
            break;
        case 'o':
            a->out = optarg;
            break;
        case 'F':
            a->format = optarg;
            break;
        case 'c':
            /* Repeated --columns add up, like --thresholds. */
            if (a->columns == NULL) {
                snprintf(a->colbuf, sizeof a->colbuf, "%s", optarg);
            } else if (strlen(a->colbuf) + 1 + strlen(optarg) < sizeof a->colbuf) {
                size_t n = strlen(a->colbuf);
                snprintf(a->colbuf + n, sizeof a->colbuf - n, ",%s", optarg);
            } else {
                fprintf(stderr, "patron rfm: --columns: too long\n");
                return -1;
            }
            a->columns = a->colbuf;
            break;
        case 'l': {
            int l;
            if (cli_parse_layout(optarg, &l)) {
                fprintf(stderr, "patron rfm: --layout: expected auto, orders, uci or uci2\n");
                return -1;
            }
            a->layout = (enum pt_layout)l;
            break;
        }
        case 't':
            if (parse_thresholds(optarg, &a->ro))
                return -1;
            break;
        case 's':
            a->skip_bad = 1;
            break;
        case 'r':
            a->rejects = optarg;
            break;
        case 'j': {
            char *end;
            long n = strtol(optarg, &end, 10);
            if (*end || n < 1 || n > 8) {
                fprintf(stderr, "patron rfm: --threads: expected 1..8\n");
                return -1;
            }
            a->ro.threads = (int)n;
            break;
        }
        case 'L': {
            char *end;
            long long n = strtoll(optarg, &end, 10);
            if (*end || n < 64 || n > (1LL << 30)) {
                fprintf(stderr, "patron rfm: --max-line-bytes: expected 64..1073741824\n");
                return -1;
            }
            a->max_line = (size_t)n;
            break;
        }
        case 'q':
            a->quiet = 1;
            break;
        case 'h':
            fputs(k_help, stdout);
            exit(PT_EXIT_OK);
        default:
            fprintf(stderr, "Try 'patron rfm --help'.\n");
            return -1;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "patron rfm: %s\nTry 'patron rfm --help'.\n",
                optind == argc ? "missing FILE (use - for standard input)" : "more than one FILE");
        return -1;
    }
    a->file = argv[optind];
    if (strcmp(a->format, "table") && strcmp(a->format, "csv") && strcmp(a->format, "json")) {
        fprintf(stderr, "patron rfm: --format: expected table, csv or json\n");
        return -1;
    }
    if (a->rejects && !a->skip_bad) {
        fprintf(stderr, "patron rfm: --rejects needs --skip-bad\n");
        return -1;
    }
    return 0;
}

static double pct(uint64_t a, uint64_t b)
{
    return b ? 100.0 * (double)a / (double)b : 0.0;
}

static double ratio_money(int64_t a, int64_t b)
{
    return b ? (double)a / (double)b : 0.0;
}

/* Money average a/n in 10^-scale units, as text with 2 decimals, exact rounding. */
static void avg_money(struct pt_buf *b, int64_t total, uint64_t n, int scale)
{
    if (n == 0) {
        pt_buf_adds(b, "0.00");
        return;
    }
    /* Round total/n (in 10^-scale) to hundredths, half away from zero. */
    __int128 num = (__int128)total * (scale == 3 ? 1 : 10); /* now in 10^-3 */
    __int128 den = (__int128)n * 10;                          /* result in 10^-2 */
    __int128 q = num / den, r = num % den;
    if (2 * (r < 0 ? -r : r) >= den)
        q += num < 0 ? -1 : 1;
    pt_buf_add_money(b, (int64_t)q, 2);
}

/* Money text "1234567.89" (or "-...") with thousands separators, in place. */
static void group_money(struct pt_buf *m)
{
    char tmp[64];
    size_t len = m->len, o = 0;
    if (len == 0 || len >= 40)
        return;
    const char *s = m->data;
    const char *dot = memchr(s, '.', len);
    size_t ilen = dot ? (size_t)(dot - s) : len;
    size_t start = s[0] == '-' ? 1 : 0;
    if (start)
        tmp[o++] = '-';
    for (size_t i = start; i < ilen; i++) {
        if (i > start && (ilen - i) % 3 == 0)
            tmp[o++] = ',';
        tmp[o++] = s[i];
    }
    memcpy(tmp + o, s + ilen, len - ilen);
    o += len - ilen;
    pt_buf_reset(m);
    pt_buf_add(m, tmp, o);
}

static void write_summary(const struct rfm_args *a, const struct pt_rfm_result *res,
                          const struct pt_ingest_stats *st, FILE *f)
{
    struct pt_buf b, m;
    pt_buf_init(&b);
    pt_buf_init(&m);
    char asof[21], g1[32], g2[32];
    pt_format_utc(res->as_of, asof);
    uint64_t n = res->n;
    int show_asof = n > 0 || a->ro.have_as_of;
    if (!strcmp(a->format, "json")) {
        pt_buf_printf(&b, "{\"as_of\": \"%s\", \"customers\": %llu, \"orders\": %llu, \"revenue\": ",
                      show_asof ? asof : "", (unsigned long long)n, (unsigned long long)res->orders);
        pt_rfm_add_money2(&b, res->revenue, res->scale);
        pt_buf_printf(&b,
                      ", \"input\": {\"layout\": \"%s\", \"rows\": %llu, \"bad_rows\": %llu, "
                      "\"rows_without_customer\": %llu, \"customers_without_orders\": %llu, "
                      "\"mode\": \"%s\"},\n"
                      " \"segments\": [",
                      pt_layout_name(st->layout), (unsigned long long)st->rows,
                      (unsigned long long)st->bad_rows, (unsigned long long)st->no_customer,
                      (unsigned long long)res->dropped, st->general_mode ? "general" : "streaming");
        for (int s = 0; s < PT_RFM_NSEG; s++) {
            const struct pt_rfm_segstat *x = &res->seg_stat[s];
            pt_buf_printf(&b, "%s\n  {\"segment\": \"%s\", \"customers\": %llu, "
                              "\"customer_share\": %.6f, \"revenue\": ",
                          s ? "," : "", pt_rfm_segment_names[s],
                          (unsigned long long)x->customers, n ? (double)x->customers / (double)n : 0);
            pt_rfm_add_money2(&b, x->revenue, res->scale);
            pt_buf_printf(&b, ", \"revenue_share\": %.6f, \"orders\": %llu, \"avg_order_value\": ",
                          ratio_money(x->revenue, res->revenue), (unsigned long long)x->orders);
            avg_money(&b, x->revenue, x->orders, res->scale);
            pt_buf_printf(&b, ", \"avg_recency_days\": %.2f}",
                          x->customers ? (double)x->recency_sum / (double)x->customers : 0.0);
        }
        pt_buf_adds(&b, "\n]}\n");
    } else if (!strcmp(a->format, "csv")) {
        pt_buf_adds(&b, "segment,customers,customer_share,revenue,revenue_share,orders,"
                        "avg_order_value,avg_recency_days\n");
        for (int s = 0; s < PT_RFM_NSEG; s++) {
            const struct pt_rfm_segstat *x = &res->seg_stat[s];
            pt_buf_printf(&b, "%s,%llu,%.6f,", pt_rfm_segment_names[s],
                          (unsigned long long)x->customers,
                          n ? (double)x->customers / (double)n : 0);
            pt_rfm_add_money2(&b, x->revenue, res->scale);
            pt_buf_printf(&b, ",%.6f,%llu,", ratio_money(x->revenue, res->revenue),
                          (unsigned long long)x->orders);
            avg_money(&b, x->revenue, x->orders, res->scale);
            pt_buf_printf(&b, ",%.2f\n",
                          x->customers ? (double)x->recency_sum / (double)x->customers : 0.0);
        }
    } else {
        pt_buf_printf(&b, "RFM as of %s: %s customers, %s orders, revenue ", show_asof ? asof : "-",
                      cli_group(n, g1), cli_group(res->orders, g2));
        pt_buf_reset(&m);
        pt_rfm_add_money2(&m, res->revenue, res->scale);
        group_money(&m);
        pt_buf_add(&b, m.data, m.len);
        pt_buf_printf(&b, "\n\n%-20s %10s %7s %16s %7s %11s %12s\n", "segment", "customers",
                      "share", "revenue", "share", "avg order", "avg recency");
        for (int s = 0; s < PT_RFM_NSEG; s++) {
            const struct pt_rfm_segstat *x = &res->seg_stat[s];
            pt_buf_reset(&m);
            pt_rfm_add_money2(&m, x->revenue, res->scale);
            group_money(&m);
            pt_buf_printf(&b, "%-20s %10s %6.1f%% %16s %6.1f%% ", pt_rfm_segment_names[s],
                          cli_group(x->customers, g1), pct(x->customers, n), m.data,
                          100.0 * ratio_money(x->revenue, res->revenue));
            pt_buf_reset(&m);
            avg_money(&m, x->revenue, x->orders, res->scale);
            pt_buf_printf(&b, "%11s %10.1f d\n", m.data,
                          x->customers ? (double)x->recency_sum / (double)x->customers : 0.0);
        }
    }
    fwrite(b.data, 1, b.len, f);
    pt_buf_release(&b);
    pt_buf_release(&m);
}

int cmd_rfm(int argc, char **argv)
{
    struct rfm_args a;
    if (parse_args(argc, argv, &a))
        return PT_EXIT_USAGE;
    double t0 = pt_mono_now();
    int fd = STDIN_FILENO;
    int fd_was_file = 0;
    const char *name = "<stdin>";
    if (strcmp(a.file, "-") != 0) {
        fd = open(a.file, O_RDONLY);
        if (fd < 0) {
            fprintf(stderr, "patron rfm: %s: %s\n", a.file, strerror(errno));
            return PT_EXIT_FAIL;
        }
        name = a.file;
        fd_was_file = 1;
    }
    FILE *rej = NULL;
    if (a.rejects) {
        rej = fopen(a.rejects, "w");
        if (rej == NULL) {
            fprintf(stderr, "patron rfm: %s: %s\n", a.rejects, strerror(errno));
            if (fd != STDIN_FILENO)
                close(fd);
            return PT_EXIT_FAIL;
        }
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    int threads = a.ro.threads ? a.ro.threads : (int)(ncpu < 1 ? 1 : ncpu > 8 ? 8 : ncpu);
    a.ro.threads = threads;
    struct pt_rfm *x = pt_rfm_new(&a.ro);
    struct pt_order_sink sink;
    struct cli_progress prog;
    struct stat sb;
    cli_progress_init(&prog, "reading",
                      fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0, 1);
    struct pt_ingest_opts io = {
        .name = name,
        .layout = a.layout,
        .columns = a.columns,
        .skip_bad = a.skip_bad,
        .rejects = rej,
        .max_record = a.max_line,
        .threads = threads,
        .progress = cli_progress_update,
        .pctx = &prog,
    };
    /* Tests shrink the read block to put block boundaries everywhere. */
    const char *blk = getenv("PATRON_BLOCK_SIZE");
    if (blk && atol(blk) > 0)
        io.block_size = (size_t)atol(blk);
    struct pt_ingest_stats st;
    struct pt_err err;
    pt_err_clear(&err);
    int rc = PT_ENOMEM;
    const struct pt_rfm_result *res = NULL;
    if (x != NULL) {
        pt_rfm_sink(x, &sink);
        rc = pt_ingest_orders(fd, &io, &sink, &st, &err);
    }
    cli_progress_done(&prog);
    if (fd != STDIN_FILENO)
        close(fd);
    if (rej && fclose(rej) != 0 && rc == 0)
        rc = pt_err_set(&err, PT_EIO, "%s: %s", a.rejects, strerror(errno));
    double t1 = pt_mono_now();
    if (rc == 0)
        rc = pt_rfm_finish(x, st.scale, &res, &err);
    double t2 = pt_mono_now();
    if (rc) {
        fprintf(stderr, "%s%s\n", err.msg[0] && rc != PT_EUSAGE ? "" : "patron rfm: ",
                err.msg[0] ? err.msg : pt_strerror(rc));
        if (rc == PT_EPARSE && !a.skip_bad && err.line > 1)
            fprintf(stderr, "patron rfm: stopped at the first bad row; --skip-bad skips bad "
                            "rows (and --rejects FILE lists them)\n");
        pt_rfm_destroy(x);
        return cli_exit_code(rc);
    }
    FILE *out = NULL;
    int out_stdout = a.out && !strcmp(a.out, "-");
    if (a.out) {
        out = out_stdout ? stdout : fopen(a.out, "w");
        if (out == NULL) {
            fprintf(stderr, "patron rfm: %s: %s\n", a.out, strerror(errno));
            pt_rfm_destroy(x);
            return PT_EXIT_FAIL;
        }
        int wr = pt_rfm_write_csv(res, out);
        if ((!out_stdout && fclose(out) != 0) || wr) {
            fprintf(stderr, "patron rfm: %s: write failed: %s\n", a.out, strerror(errno));
            pt_rfm_destroy(x);
            return PT_EXIT_FAIL;
        }
    }
    double t3 = pt_mono_now();
    if (getenv("PATRON_TIMING"))
        fprintf(stderr, "rfm: ingest %.3f s, scoring %.3f s, writing %.3f s\n", t1 - t0, t2 - t1,
                t3 - t2);
    write_summary(&a, res, &st, out_stdout ? stderr : stdout);
    if (!a.quiet) {
        char g1[32], g2[32], g3[32];
        fprintf(stderr, "patron rfm: %s rows, %s customers", cli_group(st.rows, g1),
                cli_group(res->n, g2));
        if (st.bad_rows)
            fprintf(stderr, ", %s bad rows skipped%s%s", cli_group(st.bad_rows, g3),
                    a.rejects ? " (see " : "", a.rejects ? a.rejects : "");
        if (st.bad_rows && a.rejects)
            fputc(')', stderr);
        if (st.no_customer)
            fprintf(stderr, ", %s rows without customer id skipped", cli_group(st.no_customer, g3));
        if (res->dropped)
            fprintf(stderr, ", %s customers without an order before as-of left out",
                    cli_group(res->dropped, g3));
        fprintf(stderr, " (%.2f s)\n", pt_mono_now() - t0);
        if (st.general_mode && fd_was_file)
            fprintf(stderr, "patron rfm: note: the rows of some orders are not adjacent, or order "
                            "ids are not increasing integers; the file was read in general mode "
                            "(see docs/rfm.md)\n");
        if (res->n == 0)
            fprintf(stderr, "patron rfm: no orders in the input\n");
    }
    if (fflush(stdout) != 0) {
        pt_rfm_destroy(x);
        return PT_EXIT_FAIL;
    }
    pt_rfm_destroy(x);
    return PT_EXIT_OK;
}
