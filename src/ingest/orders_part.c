/*
 * orders_part.c - parsing one part of a block (runs on a parser thread).
 *
 * A part is a run of whole lines of the read window. For each record: the fast
 * path (orders_fast.c) or the CSV reader plus layout_convert() give a row or a
 * bad-row record; good rows of one order that follow each other are merged
 * into a group. Nothing here touches shared state: results stay in the part,
 * and orders_read.c merges parts in file order.
 */
#include <string.h>

#include "ingest/fields.h"
#include "ingest/orders_int.h"
#include "util/ckd.h"
#include "util/hash.h"
#include "util/mem.h"

/* ---- part parsing (runs on worker threads) ---- */

static int add_rej(struct part *P, const struct pt_csv_rec *rec, uint64_t line, const struct bad *b,
                   const struct grp *ref)
{
    if (P->nr == P->capr) {
        size_t nc = P->capr ? P->capr * 2 : 16;
        struct rej *nr = pt_realloc_array(P->r, nc, sizeof *nr);
        if (nr == NULL) {
            P->oom = 1;
            return -1;
        }
        P->r = nr;
        P->capr = nc;
    }
    struct rej *x = &P->r[P->nr++];
    uint64_t dl, col;
    pt_csv_position(rec, b->off, &dl, &col);
    x->line = line + dl;
    x->col = col;
    x->ref_line = ref ? ref->line + 1 : 0;
    if (ref) {
        x->ref_cid = ref->cid;
        x->ref_cid_len = ref->cid_len;
        x->oid = ref->oid;
        x->oid_len = ref->oid_len;
    }
    x->b = *b;
    x->raw = rec->start;
    x->raw_len = rec->raw_len;
    if (P->stop_at_bad)
        P->failed = 1;
    return 0;
}

/* Hand a complete group inside the part to the sink (streaming mode). */
static int stream_out(struct part *P, const struct grp *g)
{
    struct pt_order o = {g->cid,  g->cid_len, g->flags, g->chash,  g->cnum,
                         g->t,    g->amount,  g->oid,   g->oid_len};
    int rc = P->stream->add(P->stream->ctx, P->tid, &o);
    if (rc)
        P->sink_rc = rc;
    P->streamed++;
    return rc;
}

static struct grp *new_grp(struct part *P)
{
    if (P->stream && P->ng == 2) {
        /* g[1] is complete and neither the part's first nor its last group. */
        if (stream_out(P, &P->g[1]))
            return NULL;
        return &P->g[1];
    }
    if (P->ng == P->capg) {
        size_t nc = P->capg ? P->capg * 2 : 4096;
        struct grp *ng = pt_realloc_array(P->g, nc, sizeof *ng);
        if (ng == NULL) {
            P->oom = 1;
            return NULL;
        }
        P->g = ng;
        P->capg = nc;
    }
    return &P->g[P->ng++];
}

/*
 * Add a good row to the current group or start a new one. Returns 0, 1 when
 * the row's customer differs from its order's (nothing changed), 2 when the
 * order total would overflow (nothing changed), -1 out of memory.
 */
static int group_row(struct part *P, struct grp **curp, const struct row *row, uint64_t okey,
                     uint64_t line, const char *raw, size_t raw_len, uint32_t coff)
{
    struct grp *cur = *curp;
    if (cur && grp_same_order(cur, okey, row->oid, row->oid_len)) {
        if (cur->cid_len != row->cid_len || memcmp(cur->cid, row->cid, row->cid_len) != 0) {
            /* Is cur's first row the first row of its order? Only in streaming
             * mode (orders are contiguous runs) and only when the order began
             * inside this part. Otherwise start a new group and let the merge
             * (pending group, order map) decide which row is bad. */
            if (P->stream && cur != &P->g[0])
                return 1;
            if (P->stream)
                P->nonmono = 1; /* rare: let general mode sort it out */
        } else {
            int64_t sum;
            if (pt_ckd_add(&sum, cur->amount, row->amount))
                return 2;
            cur->amount = sum;
            if (row->t < cur->t)
                cur->t = row->t;
            cur->nrows++;
            return 0;
        }
    } else if (P->stream && !row->cancel) {
        /* Streaming needs strictly increasing integer order ids. */
        if (okey == NO_KEY || (P->have_prev && okey <= P->prev_key))
            P->nonmono = 1;
        P->prev_key = okey;
        P->have_prev = 1;
    }
    cur = new_grp(P);
    if (cur == NULL)
        return -1;
    cur->cid = row->cid;
    cur->cid_len = row->cid_len;
    cur->oid = row->oid;
    cur->oid_len = row->oid_len;
    cur->nrows = 1;
    cur->flags = row->cancel ? PT_ORDER_CANCEL : 0;
    uint64_t v;
    cur->cnum = pt_canonical_uint(row->cid, row->cid_len, &v) ? v + 1 : 0;
    cur->chash = pt_cid_hash(row->cid, row->cid_len, cur->cnum);
    cur->okey = okey;
    cur->line = line;
    cur->raw = raw;
    cur->raw_len = (uint32_t)raw_len;
    cur->coff = coff;
    cur->t = row->t;
    cur->amount = row->amount;
    *curp = cur;
    return 0;
}

void part_run(struct part *P)
{
    const char *p = P->start;
    struct pt_csv_rec rec;
    struct row row;
    struct bad b;
    struct grp *cur = NULL;
    struct fast_ctx fc = {-1, 0};
    int fast = layout_fast_ok(P->L);
    P->nl = 0;
    while (P->last || p < P->limit) {
        if (fast) {
            const char *nx;
            uint64_t k;
            if (fast_order_row(p, P->end, P->eof, &fc, &row, &k, &nx) &&
                (size_t)(nx - p) <= P->max_record + 1) {
                size_t rl = (size_t)(nx - p);
                while (rl && (p[rl - 1] == '\n' || p[rl - 1] == '\r'))
                    rl--;
                int g = group_row(P, &cur, &row, k, P->nl, p, rl, row.oid_len + 1);
                if (g < 0)
                    break;
                if (g == 0) {
                    P->nl++;
                    P->rows++;
                    p = nx;
                    continue;
                }
                /* a mismatch or overflow: the general path words it */
            }
        }
        if (!pt_csv_next(p, P->end, P->eof, P->max_record, P->scratch, &rec))
            break;
        const char *next = p + rec.consumed;
        /* An over-long line cut at the end of the window: its rest, in the
         * next window, must be skipped, not read as rows (orders_read.c). */
        P->open_line = rec.bad == PT_CSV_TOO_LONG && next == P->end && !P->eof &&
                       (rec.consumed == 0 || next[-1] != '\n');
        uint64_t line = P->nl;
        P->nl += rec.consumed > rec.raw_len ? rec.nlines : rec.nlines - 1;
        if (rec.raw_len == 0 && rec.bad == PT_CSV_GOOD) {
            p = next; /* blank line */
            continue;
        }
        P->rows++;
        int bad = 0;
        struct grp *ref = NULL;
        memset(&b, 0, sizeof b);
        if (rec.bad != PT_CSV_GOOD) {
            b.off = rec.bad_off;
            b.why = pt_csv_bad_str(rec.bad);
            bad = 1;
        } else if (layout_convert(P->L, &rec, &row, &b)) {
            bad = 1;
        } else if (row.no_customer) {
            P->no_customer++;
        } else {
            uint64_t k;
            int g = group_row(P, &cur, &row, pt_canonical_uint(row.oid, row.oid_len, &k) ? k : NO_KEY,
                              line, rec.start, rec.raw_len, rec.f[P->L->col[R_CUSTOMER]].raw_off);
            if (g < 0)
                break;
            if (g == 1) {
                b.off = rec.f[P->L->col[R_CUSTOMER]].raw_off;
                b.field = P->L->name[R_CUSTOMER];
                b.val = row.cid;
                b.val_len = row.cid_len;
                ref = cur;
                bad = 1;
            } else if (g == 2) {
                b.off = rec.f[P->L->col[P->L->kind == PT_LAYOUT_ORDERS ? R_AMOUNT : R_PRICE]].raw_off;
                b.field = P->L->name[P->L->kind == PT_LAYOUT_ORDERS ? R_AMOUNT : R_PRICE];
                b.why = "order total too large";
                bad = 1;
            }
        }
        if (bad && (add_rej(P, &rec, line, &b, ref) || P->failed))
            break;
        p = next;
    }
    P->stop = p;
    if (P->stream && P->stream->flush && P->sink_rc == 0)
        P->sink_rc = P->stream->flush(P->stream->ctx, P->tid);
}

void *part_thread(void *arg)
{
    part_run(arg);
    return NULL;
}

