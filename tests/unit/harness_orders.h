/*
 * harness_orders.h - shared by the unit tests that drive pt_ingest_orders: a
 * sink that records every order it gets (checking the pt_order contract), and
 * feeding a string to the reader through a mapped memfd, a read() memfd or a
 * pipe. Header-only, static functions: include it in one test file each.
 */
#ifndef PT_TESTS_HARNESS_ORDERS_H
#define PT_TESTS_HARNESS_ORDERS_H

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ingest/fields.h"
#include "ingest/orders.h"

#define HARNESS_FN static __attribute__((unused))

struct got {
    char cid[PT_ID_MAX_BYTES + 1];
    uint32_t cid_len, flags;
    int64_t t, amount;
};

struct recorder {
    struct got *o;
    size_t n, cap;
    int batches, resets;
    int fail_with; /* batch() returns this (after recording) when nonzero */
};

/* Check one order against the contract of struct pt_order (cnum and chash
 * match the id) and append a copy. No Criterion asserts: add() runs on the
 * parser threads. Returns 0, or -1 when the order breaks the contract. */
HARNESS_FN int rec_push(struct recorder *r, const struct pt_order *o)
{
    uint64_t v;
    uint64_t cnum = pt_canonical_uint(o->cid, o->cid_len, &v) ? v + 1 : 0;
    if (o->cid_len > PT_ID_MAX_BYTES || o->cnum != cnum ||
        o->chash != pt_cid_hash(o->cid, o->cid_len, o->cnum))
        return -1;
    if (r->n == r->cap) {
        size_t nc = r->cap ? r->cap * 2 : 64;
        struct got *n = realloc(r->o, nc * sizeof *n);
        if (n == NULL)
            return -1;
        r->o = n;
        r->cap = nc;
    }
    struct got *g = &r->o[r->n++];
    memcpy(g->cid, o->cid, o->cid_len);
    g->cid[o->cid_len] = '\0';
    g->cid_len = o->cid_len;
    g->flags = o->flags;
    g->t = o->t;
    g->amount = o->amount;
    return 0;
}

HARNESS_FN int rec_batch(void *ctx, const struct pt_order *o, size_t n, struct pt_err *e)
{
    (void)e;
    struct recorder *r = ctx;
    r->batches++;
    cr_assert_gt(n, 0, "no empty batches");
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(rec_push(r, &o[i]), 0, "order %zu (\"%.*s\"): bad cnum or chash", i,
                     (int)o[i].cid_len, o[i].cid);
    return r->fail_with;
}

HARNESS_FN void rec_reset(void *ctx)
{
    struct recorder *r = ctx;
    r->n = 0;
    r->resets++;
}

HARNESS_FN void rec_free(struct recorder *r)
{
    free(r->o);
    memset(r, 0, sizeof *r);
}

enum how { MAPPED, READ, PIPE };
static const char *const how_name[] __attribute__((unused)) = {"mapped memfd", "read memfd", "pipe"};

struct writer {
    int fd;
    const char *p;
    size_t n;
};

HARNESS_FN void *writer_main(void *arg)
{
    struct writer *w = arg;
    size_t off = 0;
    while (off < w->n) {
        ssize_t k = write(w->fd, w->p + off, w->n - off);
        if (k <= 0)
            break;
        off += (size_t)k;
    }
    close(w->fd);
    return NULL;
}

/* Run pt_ingest_orders over data[0..n) fed the `how` way, into sink. */
HARNESS_FN int ingest_sink(const char *data, size_t n, enum how how, struct pt_ingest_opts o,
                       const struct pt_order_sink *sink, struct pt_ingest_stats *st,
                       struct pt_err *e)
{
    if (o.name == NULL)
        o.name = "t.csv";
    o.no_mmap = how == READ;
    pt_err_clear(e);
    int rc;
    if (how == PIPE) {
        int pfd[2];
        cr_assert_eq(pipe(pfd), 0);
        struct writer w = {pfd[1], data, n};
        pthread_t th;
        cr_assert_eq(pthread_create(&th, NULL, writer_main, &w), 0);
        rc = pt_ingest_orders(pfd[0], &o, sink, st, e);
        /* Drain what the reader left (it stops early on errors). */
        char tmp[4096];
        while (read(pfd[0], tmp, sizeof tmp) > 0)
            ;
        pthread_join(th, NULL);
        close(pfd[0]);
    } else {
        int fd = memfd_create("orders", 0);
        cr_assert_geq(fd, 0);
        size_t off = 0;
        while (off < n) {
            ssize_t k = write(fd, data + off, n - off);
            cr_assert_gt(k, 0);
            off += (size_t)k;
        }
        cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
        rc = pt_ingest_orders(fd, &o, sink, st, e);
        close(fd);
    }
    return rc;
}

/* The same into a recorder that takes batches only. */
HARNESS_FN int ingest_n(const char *data, size_t n, enum how how, struct pt_ingest_opts o,
                    struct recorder *r, struct pt_ingest_stats *st, struct pt_err *e)
{
    struct pt_order_sink sink = {.ctx = r, .batch = rec_batch, .reset = rec_reset};
    return ingest_sink(data, n, how, o, &sink, st, e);
}

HARNESS_FN int ingest(const char *data, enum how how, struct pt_ingest_opts o, struct recorder *r,
                  struct pt_ingest_stats *st, struct pt_err *e)
{
    return ingest_n(data, strlen(data), how, o, r, st, e);
}

/* Recorded orders in a canonical order (id, flags, time, amount), to compare
 * runs whose orders arrive in different orders. */
HARNESS_FN int cmp_got(const void *a, const void *b)
{
    const struct got *x = a, *y = b;
    int c = strcmp(x->cid, y->cid);
    if (c)
        return c;
    if (x->flags != y->flags)
        return x->flags < y->flags ? -1 : 1;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return (x->amount > y->amount) - (x->amount < y->amount);
}

HARNESS_FN void sort_got(struct recorder *r)
{
    if (r->n)
        qsort(r->o, r->n, sizeof *r->o, cmp_got);
}

#endif
