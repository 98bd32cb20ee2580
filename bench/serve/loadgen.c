/*
 * loadgen.c - load generator for `patron serve` (bench/serve/run.sh drives it).
 *
 * The HTTP client, the latency histogram and the load loop are
 * bench/common/httpc.c's (shared with bench/loyalty/loyload.c): N keep-alive
 * connections to 127.0.0.1 (one blocking thread each), each sending one
 * request at a time and timing it with the monotonic clock, from the first
 * byte written to the last byte of the response read.
 *
 * Events are a pure function of (--seed, event index): event i always has the
 * same customer, kind, timestamp, products and messageId "m-SEED-i", whichever
 * thread sends it. A re-run with the same seed re-sends the same messageIds
 * (the server should count them as duplicates); --first shifts the indices so
 * that a second load adds new events. The mix is --mix VIEW,ADD,ORDER percent
 * of "Product Viewed", "Product Added" and "Order Completed".
 *
 * Modes: batch (POST /v1/batch, --batch events per request), single
 * (POST /v1/track), dump (write each batch body as one line to --out, no
 * network: the input of the SQLite reference) and get (one GET --path, body to
 * stdout, retried until 2xx for --wait seconds: readiness checks).
 *
 * Summary: events acknowledged with 2xx / wall time, requests/s, latency
 * p50/p90/p99/max (a log-linear histogram with 1/128 relative resolution;
 * max is exact), non-2xx and 503 counts. A 503 is retried after its
 * Retry-After (unless --no-retry); its events count only once acknowledged.
 */
#include "httpc.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum mode { M_BATCH, M_SINGLE, M_DUMP, M_GET };

struct opts {
    struct load_opts c; /* --host --port --key --conns --batch --first --seed ... */
    enum mode mode;
    uint64_t events, customers;
    unsigned mix_view, mix_add; /* percent; the rest is Order Completed */
    int seq;                    /* customer of event i is i mod C (one each) */
};

/* ---- deterministic events ---- */

static const char *const categories[] = {"shoes", "shirts", "bags",    "hats",
                                         "books", "toys",   "kitchen", "garden"};
#define NPRODUCTS 500u
#define T_BASE    1767225600LL    /* 2026-01-01T00:00:00Z */
#define T_SPAN    (300LL * 86400) /* events fall in the first 300 days of 2026 */

static uint64_t price_of(uint64_t p) /* cents, fixed per product */
{
    return 500 + (p * 7919u) % 20000u;
}

/* Append event `i` as a JSON object; with_type adds "type":"track" (batch). */
static void put_event(struct sbuf *b, const struct opts *o, uint64_t i, int with_type)
{
    uint64_t h = mix64(o->c.seed ^ mix64(i));
    uint64_t h2 = mix64(h), h3 = mix64(h2), h4 = mix64(h3);
    uint64_t cust = o->seq ? i % o->customers : h % o->customers;
    unsigned r = (unsigned)(h2 % 100);
    time_t t = (time_t)(T_BASE + (int64_t)(h3 % (uint64_t)T_SPAN));
    struct tm tm;
    gmtime_r(&t, &tm);
    const char *name = r < o->mix_view                ? "Product Viewed"
                       : r < o->mix_view + o->mix_add ? "Product Added"
                                                      : "Order Completed";
    sb_printf(b,
              "{%s\"event\":\"%s\",\"userId\":\"c%llu\",\"messageId\":\"m-%llu-%llu\","
              "\"timestamp\":\"%04d-%02d-%02dT%02d:%02d:%02dZ\",\"properties\":{",
              with_type ? "\"type\":\"track\"," : "", name, (unsigned long long)cust,
              (unsigned long long)o->c.seed, (unsigned long long)i, tm.tm_year + 1900,
              tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    uint64_t p = h4 % NPRODUCTS;
    if (name[0] == 'P') {
        uint64_t c = price_of(p);
        sb_printf(b, "\"product_id\":\"p%llu\",\"category\":\"%s\",\"price\":%llu.%02llu",
                  (unsigned long long)p, categories[p % 8], (unsigned long long)(c / 100),
                  (unsigned long long)(c % 100));
        if (name[8] == 'A')
            sb_printf(b, ",\"quantity\":1");
        sb_add(b, "}}", 2);
        return;
    }
    unsigned nlines = 1 + (unsigned)(h4 >> 40) % 3;
    uint64_t total = 0;
    for (unsigned k = 0; k < nlines; k++) {
        uint64_t pk = (p + k * 97u) % NPRODUCTS, q = 1 + ((h3 >> (8 * k)) & 1);
        total += price_of(pk) * q;
    }
    sb_printf(b,
              "\"order_id\":\"o-%llu-%llu\",\"revenue\":%llu.%02llu,\"currency\":\"EUR\","
              "\"products\":[",
              (unsigned long long)o->c.seed, (unsigned long long)i,
              (unsigned long long)(total / 100), (unsigned long long)(total % 100));
    for (unsigned k = 0; k < nlines; k++) {
        uint64_t pk = (p + k * 97u) % NPRODUCTS, q = 1 + ((h3 >> (8 * k)) & 1), c = price_of(pk);
        sb_printf(b,
                  "%s{\"product_id\":\"p%llu\",\"category\":\"%s\",\"price\":%llu.%02llu,"
                  "\"quantity\":%llu}",
                  k ? "," : "", (unsigned long long)pk, categories[pk % 8],
                  (unsigned long long)(c / 100), (unsigned long long)(c % 100),
                  (unsigned long long)q);
    }
    sb_add(b, "]}}", 3);
}

/* Body of the request carrying events [lo, hi). */
static void put_body(struct sbuf *b, const struct opts *o, uint64_t lo, uint64_t hi)
{
    b->len = 0;
    if (o->mode == M_SINGLE) {
        put_event(b, o, lo, 0);
        return;
    }
    sb_add(b, "{\"batch\":[", 10);
    for (uint64_t i = lo; i < hi; i++) {
        if (i > lo)
            sb_add(b, ",", 1);
        put_event(b, o, i, 1);
    }
    sb_add(b, "]}", 2);
}

/* ---- the load ---- */

/* The request carrying events [lo, hi) into c->req. */
static void build_request(const void *arg, struct conn *c, uint64_t lo, uint64_t hi)
{
    const struct opts *o = arg;
    put_body(&c->body, o, lo, hi);
    c->req.len = 0;
    sb_printf(&c->req,
              "POST %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n"
              "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
              o->mode == M_BATCH ? "/v1/batch" : "/v1/track", o->c.host, o->c.port, o->c.key,
              c->body.len);
    sb_add(&c->req, c->body.p, c->body.len);
}

/* ---- modes without load ---- */

static int run_dump(const struct opts *o)
{
    FILE *f = strcmp(o->c.out, "-") ? fopen(o->c.out, "w") : stdout;
    if (!f)
        die("cannot write %s: %s", o->c.out, strerror(errno));
    struct sbuf b = {0};
    uint64_t end = o->c.first + o->events;
    for (uint64_t lo = o->c.first; lo < end; lo += o->c.batch) {
        put_body(&b, o, lo, lo + o->c.batch < end ? lo + o->c.batch : end);
        sb_add(&b, "\n", 1);
        if (fwrite(b.p, 1, b.len, f) != b.len)
            die("write %s: %s", o->c.out, strerror(errno));
    }
    free(b.p);
    if (f != stdout ? fclose(f) : fflush(f))
        die("write %s: %s", o->c.out, strerror(errno));
    return 0;
}

/* ---- options ---- */

static void usage(void)
{
    fputs("usage: loadgen --port P [--host 127.0.0.1] [--key KEY]\n"
          "  --mode batch|single|dump|get (batch)  --batch N (100)  --conns N (8)\n"
          "  --events TOTAL | --seconds S   --first I (0)  --customers C (10000) --seq\n"
          "  --mix VIEW,ADD,ORDER (60,25,15)  --seed S (1)  --no-retry  --json\n"
          "  dump: --out FILE (one batch body per line)   get: --path P [--wait S]\n",
          stderr);
    exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){.mode = M_BATCH, .customers = 10000, .mix_view = 60, .mix_add = 25};
    load_opts_init(&o->c);
    for (int i = 1; i < argc; i++) {
        if (load_opt(&o->c, argc, argv, &i, usage))
            continue;
        const char *a = argv[i];
        if (!strcmp(a, "--seq")) {
            o->seq = 1;
            continue;
        }
        if (!strcmp(a, "--help") || i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--mode")) {
            o->mode = !strcmp(v, "batch")    ? M_BATCH
                      : !strcmp(v, "single") ? M_SINGLE
                      : !strcmp(v, "dump")   ? M_DUMP
                      : !strcmp(v, "get")    ? M_GET
                                             : (die("unknown mode %s", v), M_BATCH);
        } else if (!strcmp(a, "--events"))
            o->events = num_arg(a, v);
        else if (!strcmp(a, "--customers"))
            o->customers = num_arg(a, v);
        else if (!strcmp(a, "--mix")) {
            unsigned x, y, z;
            if (sscanf(v, "%u,%u,%u", &x, &y, &z) != 3 || x + y + z != 100)
                die("--mix wants three percentages adding up to 100, e.g. 60,25,15");
            o->mix_view = x;
            o->mix_add = y;
        } else
            usage();
    }
    if (o->c.port <= 0 || o->c.port > 65535) {
        if (o->mode != M_DUMP)
            die("--port is required (1-65535)");
    }
    if (o->c.conns < 1 || o->c.conns > 4096 || o->c.batch < 1 || o->customers < 1)
        die("--conns, --batch and --customers must be positive");
    if ((o->mode == M_BATCH || o->mode == M_SINGLE) && !o->c.key)
        die("--key is required");
    if (o->mode != M_GET && !o->events && o->c.seconds <= 0)
        die("give --events TOTAL or --seconds S");
    if (o->mode == M_DUMP && !o->events)
        die("dump needs --events");
}

int main(int argc, char **argv)
{
    httpc_prog = "loadgen";
    struct opts o;
    parse(argc, argv, &o);
    if (o.mode == M_DUMP)
        return run_dump(&o);
    if (o.mode == M_GET)
        return http_get_wait(o.c.host, o.c.port, o.c.key, o.c.path, o.c.wait);

    uint64_t per = o.mode == M_BATCH ? o.c.batch : 1;
    struct load ld = {
        .opt = &o.c, .count = o.events, .step = per, .arg = &o, .build = build_request};
    load_run(&ld);
    const struct load_worker *s = &ld.sum;
    uint64_t failed = s->ops_refused + s->ops_lost; /* events in answers not 2xx, or lost */
    const char *mode = o.mode == M_BATCH ? "batch" : "single";
    if (o.c.json) {
        printf("{\"mode\":\"%s\",\"batch\":%llu,\"connections\":%d,\"customers\":%llu,"
               "\"seed\":%llu,\"wall_s\":%.3f,\"events_acked\":%llu,\"events_failed\":%llu,"
               "\"events_per_s\":%.0f,",
               mode, (unsigned long long)per, o.c.conns, (unsigned long long)o.customers,
               (unsigned long long)o.c.seed, ld.wall_s, (unsigned long long)s->ops_ok,
               (unsigned long long)failed, (double)s->ops_ok / ld.wall_s);
        load_print_json_tail(&ld);
    } else {
        printf("mode %s (%llu event(s)/request), %d connections, %.2f s\n"
               "  events acknowledged (2xx) %llu = %.0f events/s   failed %llu\n",
               mode, (unsigned long long)per, o.c.conns, ld.wall_s, (unsigned long long)s->ops_ok,
               (double)s->ops_ok / ld.wall_s, (unsigned long long)failed);
        load_print_text_tail(&ld);
    }
    int rc = load_failed(&ld); /* something other than overload (503): the summary says what */
    free(ld.hist);
    return rc;
}
