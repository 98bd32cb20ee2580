/*
 * orders_read.c - the block reader behind pt_ingest_orders (see orders.h).
 *
 * Pipeline per block of input:
 *   1. read: fill the buffer (block_size bytes plus what was carried over);
 *   2. parse, in parallel: the block is cut into `threads` parts at line ends;
 *      each part splits records, converts rows and merges adjacent rows of one
 *      order into a group (struct grp), collecting bad rows;
 *   3. merge, on the calling thread: checks that each part ended where the next
 *      began (else re-parses the rest on one thread: the cut was inside a
 *      quoted field), merges groups across part and block boundaries, numbers
 *      lines, and either streams orders to the sink (streaming mode) or puts
 *      them into the order map (general mode; see orders.h).
 * The last group of a block may continue in the next block, so it is carried
 * over (its strings copied into struct carry) instead of emitted.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingest/fields.h"
#include "ingest/orders_int.h"
#include "util/ckd.h"
#include "util/hash.h"
#include "util/mem.h"
#include "util/timeutil.h"

#define DEFAULT_BLOCK (16u << 20)
#define MAX_THREADS 8

struct carry {
    struct grp g;
    char cid[PT_ID_MAX_BYTES], oid[PT_ID_MAX_BYTES];
    char raw[512]; /* the first row's text, cut if longer */
};

/* General mode: every order by id. Strings live in `arena`. */
struct oentry {
    uint64_t ohash, chash, cnum, line;
    int64_t t, amount;
    size_t ooff, coff;
    uint32_t olen, clen;
};

struct omap {
    struct oentry *e;
    size_t n, cap;
    uint32_t *slot; /* entry index + 1; 0 = empty */
    size_t nslot;
    struct pt_buf arena;
};

/* A formatted reject ready to write, ordered by line. */
struct outrej {
    uint64_t line;
    size_t off, len; /* in rejbuf */
};

struct reader {
    const struct pt_ingest_opts *o;
    const struct pt_order_sink *sink;
    struct pt_ingest_stats *st;
    struct pt_err *e;
    struct layout L;
    int general;
    int threads;
    size_t max_record;
    struct part parts[MAX_THREADS + 1];
    char *scratch[MAX_THREADS + 1];
    struct carry carry;
    struct grp *cur; /* pending group: &carry.g or a group in a part */
    uint64_t last_key;
    int have_key;
    int violation; /* streaming mode broken: restart in general mode */
    struct pt_order *out;
    size_t nout, capout;
    struct omap map;
    struct outrej *rj;
    size_t nrj, caprj;
    struct pt_buf rejbuf;
    struct pt_buf msg;
    int skip_line;    /* the window starts inside an over-long line */
    const char *wend; /* end of the current window, and whether input ends there */
    int weof;
    double t_read, t_parse, t_merge, t_sink; /* seconds per phase (PATRON_TIMING) */
    int first_err; /* a stop-mode error was recorded in e */
    uint64_t first_err_line;
};

/* ---- rejects ---- */

static int same(const char *a, uint32_t an, const char *b, uint32_t bn)
{
    return an == bn && memcmp(a, b, an) == 0;
}

/* Record one bad row at absolute `line`: the stop-mode error, or a rejects row. */
static int emit_bad(struct reader *R, uint64_t line, uint64_t col, const struct bad *b,
                    const char *raw, size_t raw_len)
{
    R->st->bad_rows++;
    if (!R->o->skip_bad) {
        if (!R->first_err || line < R->first_err_line) {
            bad_format(&R->msg, R->o->name, line, col, b);
            pt_err_set(R->e, PT_EPARSE, "%s", R->msg.data ? R->msg.data : "bad row");
            if (R->e) {
                R->e->line = line;
                R->e->column = col;
            }
            R->first_err = 1;
            R->first_err_line = line;
        }
        return 0;
    }
    if (R->o->rejects == NULL)
        return 0;
    if (R->nrj == R->caprj) {
        size_t nc = R->caprj ? R->caprj * 2 : 64;
        struct outrej *n = pt_realloc_array(R->rj, nc, sizeof *n);
        if (n == NULL)
            return PT_ENOMEM;
        R->rj = n;
        R->caprj = nc;
    }
    size_t off = R->rejbuf.len;
    if (bad_reject_row(&R->rejbuf, line, col, b, raw, raw_len))
        return PT_ENOMEM;
    R->rj[R->nrj++] = (struct outrej){line, off, R->rejbuf.len - off};
    return 0;
}

static int cmp_outrej(const void *a, const void *b)
{
    const struct outrej *x = a, *y = b;
    if (x->line != y->line)
        return x->line < y->line ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

static int flush_rejects(struct reader *R)
{
    if (R->nrj == 0)
        return 0;
    qsort(R->rj, R->nrj, sizeof *R->rj, cmp_outrej);
    for (size_t i = 0; i < R->nrj; i++)
        fwrite(R->rejbuf.data + R->rj[i].off, 1, R->rj[i].len, R->o->rejects);
    R->nrj = 0;
    pt_buf_reset(&R->rejbuf);
    if (ferror(R->o->rejects))
        return pt_err_set(R->e, PT_EIO, "writing rejects: %s", strerror(errno));
    return 0;
}

/* "order X belongs to customer "Y" (line N)" into detail. */
static void mismatch_detail(char *detail, size_t cap, const char *oid, uint32_t olen,
                            const char *cid, uint32_t clen, uint64_t line, uint32_t nrows)
{
    int n = snprintf(detail, cap, "order %.*s belongs to customer \"%.*s\" (line %llu)",
                     (int)(olen > 40 ? 40 : olen), oid, (int)(clen > 40 ? 40 : clen), cid,
                     (unsigned long long)line);
    if (nrows > 1 && n > 0 && (size_t)n < cap)
        snprintf(detail + n, cap - (size_t)n, "; all %u rows of this group rejected", nrows);
}

/*
 * A whole group is bad because its order belongs to another customer: every
 * row of it is reported. The group's rows are adjacent good rows of one order
 * (bad rows may sit between them), so they are found again by re-reading the
 * window from the group's first row. A group carried over from the previous
 * window has only its first row's text left; it is reported as one line that
 * says how many rows it stands for.
 */
static int mismatch_group(struct reader *R, const struct grp *g, uint64_t ref_line,
                          const char *ref_cid, uint32_t ref_len)
{
    struct bad b;
    memset(&b, 0, sizeof b);
    b.field = R->L.name[R_CUSTOMER];
    b.val = g->cid;
    b.val_len = g->cid_len;
    int carried = g->raw == R->carry.raw;
    mismatch_detail(b.detail, sizeof b.detail, g->oid, g->oid_len, ref_cid, ref_len, ref_line,
                    carried ? g->nrows : 1);
    if (g->nrows == 1 || carried) {
        R->st->bad_rows += g->nrows - 1;
        /* Line and column of the customer id, counted only now (a report is rare). */
        uint64_t dl, col;
        uint32_t off = g->coff < g->raw_len ? g->coff : g->raw_len; /* raw may be cut */
        pt_text_position(g->raw, g->raw_len, off, &dl, &col);
        return emit_bad(R, g->line + dl, col, &b, g->raw, g->raw_len);
    }
    const char *p = g->raw;
    uint64_t line = g->line;
    uint32_t found = 0;
    struct pt_csv_rec rec;
    struct row row;
    struct bad ignore;
    while (found < g->nrows &&
           pt_csv_next(p, R->wend, R->weof, R->max_record, R->scratch[0], &rec)) {
        if (rec.bad == PT_CSV_GOOD && rec.raw_len > 0 && layout_convert(&R->L, &rec, &row, &ignore) == 0 &&
            !row.no_customer && same(row.oid, row.oid_len, g->oid, g->oid_len)) {
            uint64_t dl, col;
            pt_csv_position(&rec, rec.f[R->L.col[R_CUSTOMER]].raw_off, &dl, &col);
            int rc = emit_bad(R, line + dl, col, &b, rec.start, rec.raw_len);
            if (rc)
                return rc;
            found++;
        }
        line += rec.consumed > rec.raw_len ? rec.nlines : rec.nlines - 1;
        p += rec.consumed;
    }
    R->st->bad_rows += g->nrows - found; /* (found == nrows: the window holds them all) */
    return 0;
}

/* ---- general mode: the order map ---- */

static int omap_grow(struct omap *m)
{
    size_t ns = m->nslot ? m->nslot * 2 : 1u << 16;
    uint32_t *s = pt_calloc(ns, sizeof *s);
    if (s == NULL)
        return PT_ENOMEM;
    for (size_t i = 0; i < m->n; i++) {
        size_t h = (size_t)m->e[i].ohash & (ns - 1);
        while (s[h])
            h = (h + 1) & (ns - 1);
        s[h] = (uint32_t)(i + 1);
    }
    pt_free(m->slot);
    m->slot = s;
    m->nslot = ns;
    return 0;
}

static void omap_release(struct omap *m)
{
    pt_free(m->e);
    pt_free(m->slot);
    pt_buf_release(&m->arena);
    memset(m, 0, sizeof *m);
}

static int omap_add(struct reader *R, struct grp *g)
{
    struct omap *m = &R->map;
    if (m->n >= UINT32_MAX - 1)
        return pt_err_set(R->e, PT_ETOOBIG, "more than 4 billion orders");
    if ((m->n + 1) * 2 > m->nslot && omap_grow(m))
        return PT_ENOMEM;
    uint64_t h = pt_hash_bytes(g->oid, g->oid_len, 0x0dde5eedULL);
    size_t i = (size_t)h & (m->nslot - 1);
    while (m->slot[i]) {
        struct oentry *x = &m->e[m->slot[i] - 1];
        if (x->ohash == h && same(m->arena.data + x->ooff, x->olen, g->oid, g->oid_len)) {
            const char *xc = m->arena.data + x->coff;
            if (!same(xc, x->clen, g->cid, g->cid_len))
                return mismatch_group(R, g, x->line, xc, x->clen);
            int64_t sum;
            if (pt_ckd_add(&sum, x->amount, g->amount))
                return pt_err_set(R->e, PT_EOVERFLOW, "%s:%llu: order total too large",
                                  R->o->name, (unsigned long long)g->line);
            x->amount = sum;
            if (g->t < x->t)
                x->t = g->t;
            return 0;
        }
        i = (i + 1) & (m->nslot - 1);
    }
    if (m->n == m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 4096;
        struct oentry *ne = pt_realloc_array(m->e, nc, sizeof *ne);
        if (ne == NULL)
            return PT_ENOMEM;
        m->e = ne;
        m->cap = nc;
    }
    struct oentry *x = &m->e[m->n];
    x->ohash = h;
    x->chash = g->chash;
    x->cnum = g->cnum;
    x->line = g->line;
    x->t = g->t;
    x->amount = g->amount;
    x->ooff = m->arena.len;
    x->olen = g->oid_len;
    if (pt_buf_add(&m->arena, g->oid, g->oid_len))
        return PT_ENOMEM;
    x->coff = m->arena.len;
    x->clen = g->cid_len;
    if (pt_buf_add(&m->arena, g->cid, g->cid_len))
        return PT_ENOMEM;
    m->slot[i] = (uint32_t)++m->n;
    return 0;
}

/* ---- merge (calling thread) ---- */

static int push_out(struct reader *R, const struct grp *g)
{
    if (R->nout == R->capout) {
        size_t nc = R->capout ? R->capout * 2 : 4096;
        struct pt_order *n = pt_realloc_array(R->out, nc, sizeof *n);
        if (n == NULL)
            return PT_ENOMEM;
        R->out = n;
        R->capout = nc;
    }
    R->out[R->nout++] =
        (struct pt_order){g->cid, g->cid_len, g->flags, g->chash, g->cnum,
                          g->t,   g->amount,  g->oid,   g->oid_len};
    return 0;
}

/* A complete group: stream it, or put it in the order map. */
static int emit_group(struct reader *R, struct grp *g)
{
    if (g->flags & PT_ORDER_CANCEL)
        return push_out(R, g); /* money only: order of arrival does not matter */
    if (R->general)
        return omap_add(R, g);
    if (g->okey == NO_KEY || (R->have_key && g->okey <= R->last_key)) {
        R->violation = 1;
        return 0;
    }
    R->last_key = g->okey;
    R->have_key = 1;
    return push_out(R, g);
}

/* Feed the groups of one part through the pending-group merge. */
static int merge_part(struct reader *R, struct part *P, uint64_t base)
{
    for (size_t i = 0; i < P->ng && !R->violation; i++) {
        struct grp *g = &P->g[i];
        g->line += base;
        struct grp *c = R->cur;
        if (c && grp_same_order(c, g->okey, g->oid, g->oid_len)) {
            int other = c->chash != g->chash || !same(c->cid, c->cid_len, g->cid, g->cid_len);
            if (other && R->general) {
                /* The order map knows the order's first row: let it decide. */
                int rc = emit_group(R, c);
                if (rc)
                    return rc;
                R->cur = g;
                continue;
            }
            if (other) {
                int rc = mismatch_group(R, g, c->line, c->cid, c->cid_len);
                if (rc)
                    return rc;
                continue;
            }
            int64_t sum;
            if (pt_ckd_add(&sum, c->amount, g->amount))
                return pt_err_set(R->e, PT_EOVERFLOW, "%s:%llu: order total too large",
                                  R->o->name, (unsigned long long)g->line);
            c->amount = sum;
            if (g->t < c->t)
                c->t = g->t;
            c->nrows += g->nrows;
            continue;
        }
        if (c) {
            int rc = emit_group(R, c);
            if (rc)
                return rc;
        }
        R->cur = g;
    }
    return 0;
}

/* Turn part-relative rejects into reported bad rows. */
static int part_rejects(struct reader *R, struct part *P, uint64_t base)
{
    for (size_t i = 0; i < P->nr; i++) {
        struct rej *x = &P->r[i];
        if (x->ref_line)
            mismatch_detail(x->b.detail, sizeof x->b.detail, x->oid, x->oid_len, x->ref_cid,
                            x->ref_cid_len, x->ref_line - 1 + base, 1);
        int rc = emit_bad(R, x->line + base, x->col, &x->b, x->raw, x->raw_len);
        if (rc)
            return rc;
    }
    return 0;
}

static void carry_pending(struct reader *R)
{
    struct grp *c = R->cur;
    if (c == NULL || c == &R->carry.g)
        return;
    R->carry.g = *c;
    memcpy(R->carry.cid, c->cid, c->cid_len);
    memcpy(R->carry.oid, c->oid, c->oid_len);
    R->carry.g.raw_len = c->raw_len < sizeof R->carry.raw ? c->raw_len : sizeof R->carry.raw;
    memcpy(R->carry.raw, c->raw, R->carry.g.raw_len);
    R->carry.g.cid = R->carry.cid;
    R->carry.g.oid = R->carry.oid;
    R->carry.g.raw = R->carry.raw;
    R->cur = &R->carry.g;
}

static void part_setup(struct reader *R, struct part *P, int idx, const char *start,
                       const char *limit, const char *end, int eof, int last)
{
    P->start = start;
    P->limit = limit;
    P->end = end;
    P->eof = eof;
    P->last = last;
    P->L = &R->L;
    P->max_record = R->max_record;
    P->scratch = R->scratch[idx];
    P->stop_at_bad = !R->o->skip_bad;
    P->stop = start;
    P->nl = P->rows = P->no_customer = 0;
    P->failed = P->oom = 0;
    P->ng = P->nr = 0;
    P->stream = !R->general && R->sink->add ? R->sink : NULL;
    P->tid = idx;
    P->nonmono = P->sink_rc = P->have_prev = P->open_line = 0;
    P->streamed = 0;
    P->prev_key = 0;
}

/*
 * Parse [buf, buf+len) into parts, in parallel. Returns the number of parts
 * whose results are valid, in order; *stop is where parsing stopped.
 */
static int parse_block(struct reader *R, const char *buf, size_t len, int eof)
{
    const char *end = buf + len;
    int T = R->threads;
    if (len < (size_t)T * 65536)
        T = 1;
    const char *cut[MAX_THREADS + 1];
    cut[0] = buf;
    int np = 1;
    for (int i = 1; i < T; i++) {
        const char *c = buf + (len / (size_t)T) * (size_t)i;
        if (c <= cut[np - 1])
            continue;
        const char *nl = memchr(c, '\n', (size_t)(end - c));
        if (nl == NULL || nl + 1 >= end)
            break;
        cut[np++] = nl + 1;
    }
    for (int i = 0; i < np; i++)
        part_setup(R, &R->parts[i], i, cut[i], i + 1 < np ? cut[i + 1] : end, end, eof,
                   i + 1 == np);
    pthread_t th[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    for (int i = 1; i < np; i++)
        started[i] = pthread_create(&th[i], NULL, part_thread, &R->parts[i]) == 0;
    part_run(&R->parts[0]);
    for (int i = 1; i < np; i++) {
        if (started[i])
            pthread_join(th[i], NULL);
        else
            part_run(&R->parts[i]);
    }
    /* Each part must end exactly where the next began. */
    for (int i = 0; i + 1 < np; i++) {
        struct part *P = &R->parts[i];
        if (P->failed || P->oom)
            return i + 1;
        if (P->stop != R->parts[i + 1].start) {
            if (P->stream) {
                /* The cut fell inside a quoted field and later parts already
                 * streamed orders: start over in general mode (rare). */
                R->violation = 1;
                return i + 1;
            }
            struct part *Q = &R->parts[i + 1];
            part_setup(R, Q, i + 1, P->stop, end, end, eof, 1);
            part_run(Q);
            return i + 2;
        }
    }
    return np;
}

static void progress(struct reader *R, uint64_t bytes)
{
    if (R->o->progress)
        R->o->progress(R->o->pctx, bytes);
}

/* Read until buf holds cap bytes or input ends. */
static int deliver(struct reader *R)
{
    if (R->nout == 0)
        return 0;
    int rc = R->sink->batch(R->sink->ctx, R->out, R->nout, R->e);
    R->st->orders += R->nout;
    R->nout = 0;
    return rc;
}

/* Emit the whole order map to the sink (general mode, end of input). */
static int drain_map(struct reader *R)
{
    struct omap *m = &R->map;
    for (size_t i = 0; i < m->n; i++) {
        struct oentry *x = &m->e[i];
        struct grp g = {.cid = m->arena.data + x->coff,
                        .cid_len = x->clen,
                        .chash = x->chash,
                        .cnum = x->cnum,
                        .t = x->t,
                        .amount = x->amount,
                        .oid = m->arena.data + x->ooff,
                        .oid_len = x->olen};
        int rc = push_out(R, &g);
        if (rc == 0 && R->nout >= 65536)
            rc = deliver(R);
        if (rc)
            return rc;
    }
    return deliver(R);
}

/* One pass over the input. Returns 0, an error, or 1 for "restart in general mode". */
/*
 * One pass over the input. The window [buf + pos, buf + len) holds unparsed
 * input. Read mode: buf is our buffer, refilled by read() after moving the
 * unparsed tail to its start. Map mode (map != NULL, a regular file): buf is
 * the whole file mapped; the window just slides, and pages behind it are
 * dropped so the resident size stays small.
 * Returns 0, an error, or 1 for "restart in general mode".
 */
static int run_pass(struct reader *R, int fd, char *rbuf, size_t cap, const char *map, size_t size)
{
    size_t len = 0, blk = R->o->block_size ? R->o->block_size : DEFAULT_BLOCK;
    int eof = 0;
    uint64_t line = 1, consumed = 0;
    size_t dropped = 0;
    const char *buf = map ? map : rbuf;
    int rc = 0;
    if (map) {
        len = size < cap ? size : cap;
        eof = len == size;
        input_populate(map, 0, len);
    } else {
        rc = input_fill(fd, R->o->name, rbuf, &len, cap, &eof, R->e);
    }
    if (rc)
        return rc;
    /* Header. */
    struct pt_csv_rec hdr;
    size_t skip = 0;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        skip = 3; /* UTF-8 byte order mark */
    if (len == skip)
        return pt_err_set(R->e, PT_EPARSE, "%s: empty input: no header line", R->o->name);
    if (!pt_csv_next(buf + skip, buf + len, eof, R->max_record, R->scratch[0], &hdr))
        return pt_err_set(R->e, PT_EPARSE, "%s: empty input: no header line", R->o->name);
    rc = layout_from_header(&R->L, &hdr, R->o->layout, R->o->columns, R->o->name, R->e);
    if (rc)
        return rc;
    R->st->layout = R->L.kind;
    R->st->scale = R->L.scale;
    size_t pos = skip + hdr.consumed;
    line += hdr.nlines;
    consumed = pos;
    for (;;) {
        double t0 = pt_mono_now();
        if (R->skip_line) {
            /* The rest of an over-long line: already reported, skip it. */
            const char *nl = memchr(buf + pos, '\n', len - pos);
            size_t to = nl ? (size_t)(nl + 1 - buf) : len;
            consumed += to - pos;
            pos = to;
            if (nl) {
                line++;
                R->skip_line = 0;
            }
        }
        R->wend = buf + len;
        R->weof = eof;
        int np = parse_block(R, buf + pos, len - pos, eof);
        double t1 = pt_mono_now();
        R->t_parse += t1 - t0;
        uint64_t base = line;
        int stop = 0;
        for (int i = 0; i < np && rc == 0; i++) {
            struct part *P = &R->parts[i];
            R->st->rows += P->rows;
            R->st->no_customer += P->no_customer;
            if (P->oom)
                return PT_ENOMEM;
            if (P->sink_rc)
                return pt_err_set(R->e, P->sink_rc, "%s", P->sink_rc == PT_EOVERFLOW
                                                        ? "a customer's monetary total does not fit in 64 bits"
                                                        : pt_strerror(P->sink_rc));
            if (P->nonmono)
                R->violation = 1;
            R->st->orders += P->streamed;
            rc = part_rejects(R, P, base);
            if (rc == 0)
                rc = merge_part(R, P, base);
            base += P->nl;
            if (P->failed)
                stop = 1;
        }
        if (rc)
            return rc;
        if (R->violation)
            return 1;
        if (stop || R->first_err)
            return PT_EPARSE;
        const char *end = R->parts[np - 1].stop;
        /* Still inside the long line (the window had no line end), or a new
         * one started at the end of this window. */
        R->skip_line = R->skip_line || R->parts[np - 1].open_line;
        line = base;
        size_t used = (size_t)(end - (buf + pos));
        consumed += used;
        if (eof && end == buf + len) {
            if (R->cur) {
                rc = emit_group(R, R->cur);
                R->cur = NULL;
                if (rc)
                    return rc;
                if (R->violation)
                    return 1;
                if (R->first_err)
                    return PT_EPARSE;
            }
        }
        /* Deliver before carrying: delivered orders may point into the carry. */
        double t2 = pt_mono_now();
        R->t_merge += t2 - t1;
        rc = deliver(R);
        R->t_sink += pt_mono_now() - t2;
        if (rc == 0 && R->o->rejects)
            rc = flush_rejects(R);
        if (rc)
            return rc;
        if (R->cur)
            carry_pending(R);
        pos += used;
        progress(R, consumed);
        if (eof && pos == len)
            break;
        double t3 = pt_mono_now();
        if (map) {
            /* Slide: drop what is behind, map in what is ahead. */
            size_t page = 4096, upto = pos / page * page;
            if (upto > dropped) {
                madvise((void *)(map + dropped), upto - dropped, MADV_DONTNEED);
                dropped = upto;
            }
            size_t nlen = len + blk < size ? len + blk : size;
            input_populate(map, len, nlen);
            len = nlen;
            eof = len == size;
        } else {
            /* Compact and refill. */
            memmove(rbuf, rbuf + pos, len - pos);
            len -= pos;
            pos = 0;
            size_t want = len + blk < cap ? len + blk : cap;
            rc = input_fill(fd, R->o->name, rbuf, &len, want, &eof, R->e);
        }
        R->t_read += pt_mono_now() - t3;
        if (rc)
            return rc;
    }
    if (R->general)
        rc = drain_map(R);
    return rc;
}

static void reader_release(struct reader *R)
{
    for (int i = 0; i <= MAX_THREADS; i++) {
        pt_free(R->parts[i].g);
        pt_free(R->parts[i].r);
        pt_free(R->scratch[i]);
    }
    pt_free(R->out);
    pt_free(R->rj);
    pt_buf_release(&R->rejbuf);
    pt_buf_release(&R->msg);
    omap_release(&R->map);
}

int pt_ingest_orders(int fd, const struct pt_ingest_opts *o, const struct pt_order_sink *sink,
                     struct pt_ingest_stats *st, struct pt_err *e)
{
    struct reader R;
    memset(&R, 0, sizeof R);
    memset(st, 0, sizeof *st);
    R.o = o;
    R.sink = sink;
    R.st = st;
    R.e = e;
    R.max_record = o->max_record ? o->max_record : PT_CSV_DEFAULT_MAX_RECORD;
    int T = o->threads;
    if (T <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        T = n < 1 ? 1 : (int)(n > MAX_THREADS ? MAX_THREADS : n);
    }
    R.threads = T > MAX_THREADS ? MAX_THREADS : T;
    if (sink->add && sink->threads > 0 && R.threads > sink->threads)
        R.threads = sink->threads;
    int can_restart = input_seekable(fd);
    if (o->rejects && o->skip_bad) {
        long p = ftell(o->rejects);
        can_restart = can_restart && p >= 0 && fseek(o->rejects, p, SEEK_SET) == 0;
    }
    R.general = o->force_general || !can_restart;
    size_t blk = o->block_size ? o->block_size : DEFAULT_BLOCK;
    size_t cap;
    int rc = PT_ENOMEM;
    if (pt_ckd_add(&cap, blk, R.max_record) || pt_ckd_add(&cap, cap, (size_t)3))
        return pt_err_set(e, PT_EOVERFLOW, "block size too large");
    /* Regular files are mapped (no copy); pipes and the like are read. */
    struct stat sb;
    const char *map = NULL;
    size_t size = 0;
    char *buf = NULL;
    if (!o->no_mmap && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0 &&
        lseek(fd, 0, SEEK_CUR) == 0) {
        size = (size_t)sb.st_size;
        void *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m != MAP_FAILED)
            map = m;
    }
    if (map == NULL && (buf = pt_malloc(cap)) == NULL)
        goto out;
    for (int i = 0; i <= R.threads; i++)
        if ((R.scratch[i] = pt_malloc(R.max_record + 2)) == NULL)
            goto out;
    long rej0 = o->rejects && o->skip_bad ? ftell(o->rejects) : 0;
    if (o->rejects && o->skip_bad)
        fputs("line,column,field,reason,row\n", o->rejects);
    for (;;) {
        rc = run_pass(&R, fd, buf, cap, map, size);
        if (rc != 1)
            break;
        /* Streaming mode does not hold: start over in general mode. */
        if (lseek(fd, 0, SEEK_SET) != 0) {
            rc = pt_err_set(e, PT_EIO, "%s: cannot re-read input: %s", o->name, strerror(errno));
            break;
        }
        if (o->rejects && o->skip_bad) {
            fflush(o->rejects);
            if (ftruncate(fileno(o->rejects), rej0) != 0 || fseek(o->rejects, rej0, SEEK_SET)) {
                rc = pt_err_set(e, PT_EIO, "rejects: cannot rewrite: %s", strerror(errno));
                break;
            }
            fputs("line,column,field,reason,row\n", o->rejects);
        }
        sink->reset(sink->ctx);
        memset(st, 0, sizeof *st);
        R.general = 1;
        R.violation = 0;
        R.cur = NULL;
        R.nout = 0;
        R.nrj = 0;
        pt_buf_reset(&R.rejbuf);
        R.have_key = 0;
        R.first_err = 0;
        R.skip_line = 0;
    }
    st->general_mode = R.general;
    if (getenv("PATRON_TIMING"))
        fprintf(stderr, "ingest: read %.3f s, parse %.3f s, merge %.3f s, sink %.3f s, %s mode\n",
                R.t_read, R.t_parse, R.t_merge, R.t_sink, R.general ? "general" : "streaming");
    if (rc == 0 && o->rejects && o->skip_bad && fflush(o->rejects))
        rc = pt_err_set(e, PT_EIO, "writing rejects: %s", strerror(errno));
out:
    pt_free(buf);
    if (map)
        munmap((void *)map, size);
    reader_release(&R);
    if (rc == PT_ENOMEM && e && e->msg[0] == '\0')
        pt_err_set(e, PT_ENOMEM, "out of memory");
    return rc;
}
