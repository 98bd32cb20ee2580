/*
 * cmd_segment.c - `patron segment eval RULE FILE`: a segment rule evaluated
 * offline over an order export, with the live engine's attribute and rule
 * code (segment/subject.c, segment/rule_eval.c) and RFM scores from rfm/.
 *
 * What an export knows: orders (id, customer, time, amount). Attributes that
 * need more (cart, consents, traits, product views, CLV, loyalty) are missing
 * here, as for a customer the live engine knows nothing of.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/idmap.h"
#include "ingest/events.h"
#include "ingest/orders.h"
#include "rfm/rfm.h"
#include "segment/colev.h"
#include "segment/rule.h"
#include "segment/subject.h"
#include "util/buf.h"
#include "util/hash.h"
#include "util/mem.h"
#include "util/par.h"
#include "util/timeutil.h"

static const char k_help[] =
    "usage: patron segment eval RULE FILE [options]\n"
    "       patron segment eval --rules RULES FILE [options]\n"
    "\n"
    "Evaluate a segment rule (docs/segments.md) over an order export, as the live\n"
    "engine would for customers it knows only from these orders. Prints the ids of\n"
    "the matching customers, one per line. FILE is a CSV order export (the layouts\n"
    "of `patron rfm`), or - for standard input.\n"
    "\n"
    "options:\n"
    "  --rules FILE      many rules: one per line, optionally NAME<TAB>RULE; blank\n"
    "                    lines and lines starting with # are skipped. Prints\n"
    "                    name,count per rule (CSV)\n"
    "  --members FILE    with --rules: write rule_index,customer_id per member\n"
    "  --count           print only the number of matching customers\n"
    "  --as-of DATE      evaluate as of this instant (default: 00:00:00Z of the day\n"
    "                    after the newest order, as `patron rfm`)\n"
    "  --columns MAP     header names for the order layout (see patron rfm --help)\n"
    "  --layout L        auto (default), orders, uci, uci2\n"
    "  --skip-bad        skip bad rows instead of stopping at the first one\n"
    "  --quiet           no summary on stderr\n"
    "  -h, --help        this text\n"
    "\n"
    "Missing here: cart.*, consent.*, traits.*, preference.*, wishlist.*, clv.*,\n"
    "points, tier, discount_share, favourite_categories, and events other than\n"
    "orders (count of other events is 0). Exit status 1: bad input or rule; 2: usage.\n";

struct seg_args {
    const char *rule, *file, *rules, *members, *columns;
    enum pt_layout layout;
    int count, quiet, skip_bad, have_as_of;
    int64_t as_of;
};

static int parse_args(int argc, char **argv, struct seg_args *a)
{
    static const struct option opts[] = {
        {"rules", required_argument, 0, 'r'},   {"members", required_argument, 0, 'm'},
        {"count", no_argument, 0, 'n'},         {"as-of", required_argument, 0, 'a'},
        {"columns", required_argument, 0, 'c'}, {"layout", required_argument, 0, 'l'},
        {"skip-bad", no_argument, 0, 's'},      {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0},
    };
    memset(a, 0, sizeof *a);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            a->rules = optarg;
            break;
        case 'm':
            a->members = optarg;
            break;
        case 'n':
            a->count = 1;
            break;
        case 'a':
            if (cli_parse_instant(optarg, &a->as_of)) {
                fprintf(stderr, "patron segment: --as-of: \"%s\" is not a date or ISO-8601 "
                                "instant\n",
                        optarg);
                return -1;
            }
            a->have_as_of = 1;
            break;
        case 'c':
            a->columns = optarg;
            break;
        case 'l': {
            int l;
            if (cli_parse_layout(optarg, &l)) {
                fprintf(stderr, "patron segment: --layout: expected auto, orders, uci or uci2\n");
                return -1;
            }
            a->layout = (enum pt_layout)l;
            break;
        }
        case 's':
            a->skip_bad = 1;
            break;
        case 'q':
            a->quiet = 1;
            break;
        case 'h':
            fputs(k_help, stdout);
            exit(PT_EXIT_OK);
        default:
            fprintf(stderr, "Try 'patron segment --help'.\n");
            return -1;
        }
    }
    int need = a->rules ? 1 : 2;
    if (argc - optind != need) {
        fprintf(stderr, "patron segment eval: expected %s\nTry 'patron segment --help'.\n",
                a->rules ? "FILE after --rules RULES" : "RULE and FILE");
        return -1;
    }
    if (!a->rules)
        a->rule = argv[optind++];
    a->file = argv[optind];
    if (a->members && !a->rules) {
        fprintf(stderr, "patron segment eval: --members needs --rules\n");
        return -1;
    }
    return 0;
}

/* ---- rules ---- */

struct rules {
    struct pt_rule *r;
    char **name;
    size_t n, cap;
};

static void rules_free(struct rules *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        pt_rule_free(&rs->r[i]);
        pt_free(rs->name[i]);
    }
    pt_free(rs->r);
    pt_free(rs->name);
}

/* col0: columns before the rule on its first line (a NAME and its tab). */
static int rules_add(struct rules *rs, const char *where, size_t line, size_t col0,
                     const char *name, size_t nlen, const char *text, size_t len)
{
    if (rs->n == rs->cap) {
        size_t nc = rs->cap ? rs->cap * 2 : 16;
        struct pt_rule *r = pt_realloc_array(rs->r, nc, sizeof *r);
        if (r)
            rs->r = r;
        char **nm = pt_realloc_array(rs->name, nc, sizeof *nm);
        if (nm)
            rs->name = nm;
        if (!r || !nm)
            return PT_ENOMEM;
        rs->cap = nc;
    }
    struct pt_err e;
    pt_err_clear(&e);
    memset(&rs->r[rs->n], 0, sizeof rs->r[rs->n]);
    if (pt_rule_parse(text, len, &rs->r[rs->n], &e)) {
        pt_rule_free(&rs->r[rs->n]);
        if (line) {
            /* the message starts with the rule's "LINE:COLUMN: "; the file's position
             * adds the line before it and, on its first line, the name before it */
            const char *why = e.msg;
            for (int k = 0; k < 2 && strchr(why, ':'); k++)
                why = strchr(why, ':') + 1;
            while (*why == ' ')
                why++;
            size_t col = (size_t)e.column + (e.line == 1 ? col0 : 0);
            fprintf(stderr, "%s:%zu:%zu: %s\n", where, line + (size_t)e.line - 1, col, why);
        } else {
            fprintf(stderr, "patron segment eval: rule %s\n", e.msg);
        }
        return PT_EPARSE;
    }
    rs->name[rs->n] = pt_strndup(name, nlen);
    if (rs->name[rs->n] == NULL) {
        pt_rule_free(&rs->r[rs->n]);
        return PT_ENOMEM;
    }
    rs->n++;
    return 0;
}

static int read_rules(const char *path, struct rules *rs)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "patron segment eval: %s: %s\n", path, strerror(errno));
        return PT_EIO;
    }
    struct pt_buf b;
    pt_buf_init(&b);
    char chunk[65536];
    size_t got;
    int rc = 0;
    while (rc == 0 && (got = fread(chunk, 1, sizeof chunk, f)) > 0)
        rc = pt_buf_add(&b, chunk, got) ? PT_ENOMEM : 0;
    if (rc == 0 && ferror(f)) {
        fprintf(stderr, "patron segment eval: %s: %s\n", path, strerror(errno));
        rc = PT_EIO;
    }
    fclose(f);
    size_t no = 0;
    for (size_t pos = 0; rc == 0 && pos < b.len;) {
        char *line = b.data + pos;
        char *nl = memchr(line, '\n', b.len - pos);
        size_t len = nl ? (size_t)(nl - line) : b.len - pos;
        pos += len + 1;
        no++;
        while (len > 0 && line[len - 1] == '\r')
            len--;
        size_t k = 0;
        while (k < len && (line[k] == ' ' || line[k] == '\t'))
            k++;
        if (k == len || line[k] == '#')
            continue;
        const char *tab = memchr(line, '\t', len);
        char num[32];
        if (tab) {
            rc = rules_add(rs, path, no, (size_t)(tab - line) + 1, line, (size_t)(tab - line),
                           tab + 1, (size_t)(line + len - tab - 1));
        } else {
            snprintf(num, sizeof num, "rule%zu", rs->n + 1);
            rc = rules_add(rs, path, no, 0, num, strlen(num), line, len);
        }
    }
    pt_buf_release(&b);
    if (rc == 0 && rs->n == 0) {
        fprintf(stderr, "patron segment eval: %s: no rules\n", path);
        rc = PT_EPARSE;
    }
    return rc;
}

/* ---- orders ---- */

struct ord {
    uint32_t cust;
    int64_t t, amount;
};

struct collect {
    struct pt_idmap ids;
    struct ord *o;
    size_t n, cap;
    struct pt_rfm *rfm;
};

static int collect_batch(void *ctx, const struct pt_order *o, size_t n, struct pt_err *e)
{
    struct collect *c = ctx;
    int rc = pt_rfm_add(c->rfm, o, n, e);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        uint32_t idx;
        int is_new;
        if (pt_idmap_get(&c->ids, o[i].cid, o[i].cid_len, pt_hash_bytes(o[i].cid, o[i].cid_len, 1),
                         &idx, &is_new))
            return pt_err_set(e, PT_ENOMEM, "out of memory");
        if (c->n == c->cap) {
            size_t nc = c->cap ? c->cap * 2 : 1 << 16;
            struct ord *x = pt_realloc_array(c->o, nc, sizeof *x);
            if (x == NULL)
                return pt_err_set(e, PT_ENOMEM, "out of memory");
            c->o = x;
            c->cap = nc;
        }
        /* a cancellation carries money only: negative, kept as a refund */
        c->o[c->n++] = (struct ord){idx, (o[i].flags & PT_ORDER_CANCEL) ? INT64_MIN : o[i].t,
                                    o[i].amount};
    }
    return rc;
}

static void collect_reset(void *ctx)
{
    struct collect *c = ctx;
    pt_rfm_reset(c->rfm);
    pt_idmap_release(&c->ids);
    pt_idmap_init(&c->ids);
    c->n = 0;
}

static int cmp_ord(const void *a, const void *b)
{
    const struct ord *x = a, *y = b;
    if (x->cust != y->cust)
        return x->cust < y->cust ? -1 : 1;
    return (x->t > y->t) - (x->t < y->t);
}

/* ---- evaluation ---- */

struct cust {
    size_t lo, hi; /* its orders in the sorted array */
    int8_t r, f, m, seg;
    uint8_t seen; /* an order before as-of (else, as for patron rfm, not a customer yet) */
};

struct eval {
    struct collect *c;
    struct cust *cu;
    size_t ncu;
    struct pt_act *acts; /* parallel to c->o */
    struct pt_dict dict;
    struct rules *rs;
    struct pt_seg_prog *prog;
    int64_t now, scale_div, scale_mul;
    uint8_t *hit; /* ncu x nrules */
    int rc;
};

struct block_hits {
    struct eval *ev;
    size_t base; /* customer index of the block's row 0 */
};

static void on_hit(void *ctx, size_t rule, size_t row)
{
    struct block_hits *h = ctx;
    h->ev->hit[(h->base + row) * h->ev->rs->n + rule] = 1;
}

static void eval_part(void *arg, int part, size_t lo, size_t hi)
{
    (void)part;
    struct eval *ev = arg;
    struct pt_seg_ctx *x = pt_seg_ctx_new();
    struct pt_seg_block *blk = pt_seg_block_new(ev->prog);
    if (x == NULL || blk == NULL) {
        ev->rc = PT_ENOMEM;
        pt_seg_ctx_free(x);
        pt_seg_block_free(blk);
        return;
    }
    struct block_hits bh = {ev, lo};
    for (size_t i = lo; i < hi; i++) {
        const struct cust *cu = &ev->cu[i];
        struct pt_seg_subject s = {.now = ev->now, .dict = &ev->dict, .r = cu->r, .f = cu->f,
                                   .m = cu->m, .seg = cu->seg, .has_rfm = cu->r > 0,
                                   .value365 = -1, .aov = -1};
        size_t first = cu->hi;
        for (size_t k = cu->lo; k < cu->hi; k++) {
            const struct ord *o = &ev->c->o[k];
            int64_t minor = o->amount * ev->scale_mul / ev->scale_div;
            if (o->t == INT64_MIN) {
                s.refunded -= minor;
                continue;
            }
            if (first == cu->hi)
                first = k;
            if (s.orders == 0 || o->t < s.first_t)
                s.first_t = o->t;
            if (s.orders == 0 || o->t > s.last_t)
                s.last_t = o->t;
            s.orders++;
            s.revenue += minor;
        }
        s.acts = first < cu->hi ? ev->acts + first : NULL;
        s.nacts = first < cu->hi ? cu->hi - first : 0;
        pt_seg_ctx_set(x, &s);
        pt_seg_block_row(blk, x, i - bh.base);
        if (i + 1 - bh.base == PT_SEG_BLOCK || i + 1 == hi) {
            pt_seg_block_run(blk, i + 1 - bh.base, on_hit, &bh);
            bh.base = i + 1;
        }
    }
    pt_seg_block_free(blk);
    pt_seg_ctx_free(x);
}

static FILE *open_out(const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        fprintf(stderr, "patron segment eval: %s: %s\n", path, strerror(errno));
    return f;
}

static int run_eval(const struct seg_args *a, struct rules *rs)
{
    int fd = STDIN_FILENO;
    if (strcmp(a->file, "-") != 0 && (fd = open(a->file, O_RDONLY)) < 0) {
        fprintf(stderr, "patron segment eval: %s: %s\n", a->file, strerror(errno));
        return PT_EXIT_FAIL;
    }
    struct pt_rfm_opts ro = {.have_as_of = a->have_as_of, .as_of = a->as_of, .threads = 1};
    struct collect c = {.rfm = pt_rfm_new(&ro)};
    pt_idmap_init(&c.ids);
    struct pt_order_sink sink = {.ctx = &c, .batch = collect_batch, .reset = collect_reset};
    struct cli_progress prog;
    struct stat sb;
    cli_progress_init(&prog, "reading",
                      fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0, 1);
    struct pt_ingest_opts io = {.name = fd == STDIN_FILENO ? "<stdin>" : a->file,
                                .layout = a->layout, .columns = a->columns,
                                .skip_bad = a->skip_bad, .progress = cli_progress_update,
                                .pctx = &prog};
    struct pt_ingest_stats st;
    struct pt_err e;
    pt_err_clear(&e);
    const struct pt_rfm_result *res = NULL;
    int rc = c.rfm ? pt_ingest_orders(fd, &io, &sink, &st, &e) : PT_ENOMEM;
    cli_progress_done(&prog);
    if (fd != STDIN_FILENO)
        close(fd);
    if (rc == 0)
        rc = pt_rfm_finish(c.rfm, st.scale, &res, &e);
    struct eval ev = {.c = &c, .rs = rs};
    pt_dict_init(&ev.dict);
    if (rc) {
        fprintf(stderr, "%s\n", e.msg[0] ? e.msg : pt_strerror(rc));
        goto out;
    }
    double t0 = pt_mono_now();
    if (c.n > 1)
        qsort(c.o, c.n, sizeof *c.o, cmp_ord);
    ev.now = res->as_of;
    ev.scale_mul = st.scale >= 2 ? 1 : st.scale == 1 ? 10 : 100;
    ev.scale_div = st.scale <= 2 ? 1 : st.scale == 3 ? 10 : 100;
    ev.ncu = c.ids.n;
    ev.cu = pt_calloc(ev.ncu ? ev.ncu : 1, sizeof *ev.cu);
    ev.acts = pt_calloc(c.n ? c.n : 1, sizeof *ev.acts);
    ev.hit = pt_calloc(ev.ncu && rs->n ? ev.ncu * rs->n : 1, 1);
    uint32_t oname = pt_dict_intern(&ev.dict, "Order Completed", 15);
    if (!ev.cu || !ev.acts || !ev.hit || !oname) {
        rc = PT_ENOMEM;
        fprintf(stderr, "patron segment eval: out of memory\n");
        goto out;
    }
    /* orders at or after as-of are not seen, as in patron rfm */
    size_t k = 0;
    for (size_t i = 0; i < c.n; i++)
        if (c.o[i].t < res->as_of)
            c.o[k++] = c.o[i];
    c.n = k;
    for (size_t i = 0, j; i < c.n; i = j) {
        for (j = i; j < c.n && c.o[j].cust == c.o[i].cust; j++)
            ev.acts[j] = (struct pt_act){.t = c.o[j].t, .name = oname, .qty = 1,
                                         .grp = (uint32_t)j + 1, .kind = PT_K_ORDER_COMPLETED};
        ev.cu[c.o[i].cust].lo = i;
        ev.cu[c.o[i].cust].hi = j;
        for (size_t k2 = i; k2 < j; k2++)
            ev.cu[c.o[i].cust].seen |= c.o[k2].t != INT64_MIN;
    }
    size_t seen = 0;
    for (size_t i = 0; i < ev.ncu; i++)
        seen += ev.cu[i].seen;
    for (size_t i = 0; i < res->n; i++) {
        uint32_t idx;
        int is_new;
        if (pt_idmap_get(&c.ids, res->id[i], res->id_len[i],
                         pt_hash_bytes(res->id[i], res->id_len[i], 1), &idx, &is_new) == 0 &&
            !is_new) {
            ev.cu[idx].r = (int8_t)res->r[i];
            ev.cu[idx].f = (int8_t)res->f[i];
            ev.cu[idx].m = (int8_t)res->m[i];
            ev.cu[idx].seg = (int8_t)res->seg[i];
        }
    }
    const struct pt_rule **rl = pt_calloc(rs->n, sizeof *rl);
    for (size_t r = 0; rl && r < rs->n; r++)
        rl[r] = &rs->r[r];
    rc = rl ? pt_seg_prog_new(rl, rs->n, &ev.prog) : PT_ENOMEM;
    pt_free(rl);
    if (rc) {
        fprintf(stderr, "patron segment eval: out of memory\n");
        goto out;
    }
    memset(ev.hit, 0, ev.ncu * rs->n); /* the pages now, not during the evaluation */
    double t1 = pt_mono_now();
    pt_parallel(ev.ncu, eval_part, &ev);
    double t2 = pt_mono_now();
    if ((rc = ev.rc)) {
        fprintf(stderr, "patron segment eval: out of memory\n");
        goto out;
    }
    FILE *mem = a->members ? open_out(a->members) : NULL;
    if (a->members && mem == NULL) {
        rc = PT_EIO;
        goto out;
    }
    if (a->rules)
        printf("name,count\n");
    uint64_t total = 0;
    for (size_t r = 0; r < rs->n; r++) {
        uint64_t cnt = 0;
        for (size_t i = 0; i < ev.ncu; i++) {
            if (!ev.hit[i * rs->n + r] || !ev.cu[i].seen)
                continue;
            cnt++;
            uint32_t len;
            const char *id = pt_idmap_id(&c.ids, (uint32_t)i, &len);
            if (mem)
                fprintf(mem, "%zu,%.*s\n", r + 1, (int)len, id);
            else if (!a->rules && !a->count)
                printf("%.*s\n", (int)len, id);
        }
        total += cnt;
        if (a->rules)
            printf("%s,%llu\n", rs->name[r], (unsigned long long)cnt);
        else if (a->count)
            printf("%llu\n", (unsigned long long)cnt);
    }
    if (mem && fclose(mem) != 0) {
        fprintf(stderr, "patron segment eval: %s: write failed\n", a->members);
        rc = PT_EIO;
    }
    if (!a->quiet) {
        char asof[21], g1[32], g2[32];
        pt_format_utc(res->as_of, asof);
        fprintf(stderr,
                "patron segment eval: %zu rule%s over %s customers as of %s: %s memberships "
                "(evaluation %.3f s, preparation %.3f s)\n",
                rs->n, rs->n == 1 ? "" : "s", cli_group(seen, g1), asof, cli_group(total, g2),
                t2 - t1, t1 - t0);
    }
out:
    pt_seg_prog_free(ev.prog);
    pt_free(ev.cu);
    pt_free(ev.acts);
    pt_free(ev.hit);
    pt_dict_release(&ev.dict);
    pt_free(c.o);
    pt_idmap_release(&c.ids);
    pt_rfm_destroy(c.rfm);
    if (fflush(stdout) != 0 && rc == 0)
        rc = PT_EIO;
    return rc ? cli_exit_code(rc) : PT_EXIT_OK;
}

int cmd_segment(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "eval") != 0 && strcmp(argv[1], "--help") != 0 &&
                     strcmp(argv[1], "-h") != 0)) {
        fprintf(stderr, "patron segment: expected \"eval\"\nTry 'patron segment --help'.\n");
        return PT_EXIT_USAGE;
    }
    struct seg_args a;
    if (parse_args(argc - (argv[1][0] != '-'), argv + (argv[1][0] != '-'), &a))
        return PT_EXIT_USAGE;
    struct rules rs;
    memset(&rs, 0, sizeof rs);
    int rc = a.rules ? read_rules(a.rules, &rs)
                     : rules_add(&rs, "", 0, 0, "rule", 4, a.rule, strlen(a.rule));
    if (rc == PT_ENOMEM)
        fprintf(stderr, "patron segment eval: out of memory\n");
    int status = rc ? PT_EXIT_FAIL : run_eval(&a, &rs);
    rules_free(&rs);
    return status;
}
