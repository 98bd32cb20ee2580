/*
 * loadgen.c - load generator for `patron serve` (bench/serve/run.sh drives it).
 *
 * A small HTTP/1.1 client with no dependency beyond libc and pthreads: N
 * keep-alive connections to 127.0.0.1 (one blocking thread each), each sending
 * one request at a time and timing it with the monotonic clock, from the first
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
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum mode { M_BATCH, M_SINGLE, M_DUMP, M_GET };

struct opts {
    enum mode mode;
    const char *host, *key, *path, *out;
    int port, conns, json, retry;
    uint64_t batch, events, first, customers, seed;
    double seconds, wait;
    unsigned mix_view, mix_add;  /* percent; the rest is Order Completed */
    int seq;                     /* customer of event i is i mod C (one each) */
};

/* ---- growable buffer ---- */

struct sbuf {
    char *p;
    size_t len, cap;
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("loadgen: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static void sb_reserve(struct sbuf *b, size_t extra)
{
    if (b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        die("out of memory");
    b->p = p;
    b->cap = cap;
}

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
    sb_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0)
            die("vsnprintf failed");
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        sb_reserve(b, (size_t)n);
    }
}

/* ---- deterministic events ---- */

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static const char *const categories[] = {"shoes", "shirts", "bags",   "hats",
                                         "books", "toys",   "kitchen", "garden"};
#define NPRODUCTS 500u
#define T_BASE 1767225600LL   /* 2026-01-01T00:00:00Z */
#define T_SPAN (300LL * 86400) /* events fall in the first 300 days of 2026 */

static uint64_t price_of(uint64_t p) /* cents, fixed per product */
{
    return 500 + (p * 7919u) % 20000u;
}

/* Append event `i` as a JSON object; with_type adds "type":"track" (batch). */
static void put_event(struct sbuf *b, const struct opts *o, uint64_t i, int with_type)
{
    uint64_t h = mix64(o->seed ^ mix64(i));
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
              (unsigned long long)o->seed, (unsigned long long)i, tm.tm_year + 1900,
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
              (unsigned long long)o->seed, (unsigned long long)i,
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

/* ---- latency histogram (microseconds) ---- */

#define H_SUB 128u                 /* sub-buckets per power of two */
#define H_N (H_SUB + 40u * H_SUB)  /* up to 2^47 us */

struct hist {
    uint64_t n[H_N];
    uint64_t count, max;
};

static unsigned h_index(uint64_t us)
{
    if (us < H_SUB)
        return (unsigned)us;
    unsigned msb = 63u - (unsigned)__builtin_clzll(us);
    unsigned shift = msb - 7u;
    unsigned idx = H_SUB + shift * H_SUB + (unsigned)((us >> shift) - H_SUB);
    return idx < H_N ? idx : H_N - 1;
}

static double h_value(unsigned idx) /* middle of bucket idx, in us */
{
    if (idx < H_SUB)
        return idx;
    unsigned shift = (idx - H_SUB) / H_SUB;
    uint64_t m = H_SUB + (idx - H_SUB) % H_SUB;
    return ((double)(m << shift) + (double)((1ull << shift) - 1) / 2.0);
}

static void h_add(struct hist *h, uint64_t us)
{
    h->n[h_index(us)]++;
    h->count++;
    if (us > h->max)
        h->max = us;
}

static double h_quantile_ms(const struct hist *h, double q)
{
    if (!h->count)
        return 0;
    uint64_t want = (uint64_t)(q * (double)h->count + 0.999999), seen = 0;
    if (want < 1)
        want = 1;
    for (unsigned i = 0; i < H_N; i++) {
        seen += h->n[i];
        if (seen >= want) {
            double v = h_value(i);
            return (v > (double)h->max ? (double)h->max : v) / 1000.0;
        }
    }
    return (double)h->max / 1000.0;
}

/* ---- HTTP/1.1 over one keep-alive connection ---- */

struct conn {
    int fd;
    struct sbuf in;   /* bytes read, not yet consumed: in.p[off, len) */
    size_t off;
    struct sbuf req;  /* request head + body */
    struct sbuf body; /* events JSON */
};

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int conn_open(struct conn *c, const struct opts *o)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)o->port);
    if (inet_pton(AF_INET, o->host, &a.sin_addr) != 1)
        die("--host must be an IPv4 address: %s", o->host);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    c->in.len = c->off = 0;
    return 0;
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Make at least `need` unread bytes available; -1 on EOF or error. */
static int fill(struct conn *c, size_t need)
{
    while (c->in.len - c->off < need) {
        if (c->off && c->off == c->in.len)
            c->in.len = c->off = 0;
        sb_reserve(&c->in, 65536);
        ssize_t r = recv(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len - 1, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        c->in.len += (size_t)r;
        c->in.p[c->in.len] = '\0';
    }
    return 0;
}

/* Offset just past the next "\r\n" at or after c->off, reading as needed. */
static long line_end(struct conn *c)
{
    size_t skip = 0; /* bytes after c->off known to hold no line end */
    for (;;) {
        size_t from = c->off + skip;
        char *e = c->in.p ? memmem(c->in.p + from, c->in.len - from, "\r\n", 2) : NULL;
        if (e)
            return (long)(e - c->in.p) + 2;
        size_t have = c->in.len - c->off;
        skip = have ? have - 1 : 0;
        if (fill(c, have + 1) < 0) /* may move the unread bytes to offset 0 */
            return -1;
    }
}

struct resp {
    int status, close, retry_after; /* retry_after: seconds, -1 if absent */
    char snippet[201];              /* start of the body (for error reports) */
    struct sbuf *keep;              /* if set, the whole body is copied here */
};

static void take_body(struct conn *c, struct resp *r, size_t n, size_t *snip)
{
    if (*snip < sizeof r->snippet - 1) {
        size_t k = sizeof r->snippet - 1 - *snip;
        k = k < n ? k : n;
        memcpy(r->snippet + *snip, c->in.p + c->off, k);
        *snip += k;
        r->snippet[*snip] = '\0';
    }
    if (r->keep)
        sb_add(r->keep, c->in.p + c->off, n);
    c->off += n;
}

/* Read one response; 0 or -1 (connection broken: caller reconnects). */
static int read_response(struct conn *c, struct resp *r)
{
    long e = line_end(c);
    if (e < 0 || strncmp(c->in.p + c->off, "HTTP/1.", 7) != 0)
        return -1;
    r->status = atoi(c->in.p + c->off + 9);
    r->close = c->in.p[c->off + 7] == '0';
    r->retry_after = -1;
    r->snippet[0] = '\0';
    c->off = (size_t)e;
    long long clen = -1;
    int chunked = 0;
    for (;;) { /* headers */
        e = line_end(c);
        if (e < 0)
            return -1;
        char *h = c->in.p + c->off;
        size_t hl = (size_t)e - c->off - 2;
        c->off = (size_t)e;
        if (hl == 0)
            break;
        if (!strncasecmp(h, "content-length:", 15))
            clen = atoll(h + 15);
        else if (!strncasecmp(h, "transfer-encoding:", 18) && strstr(h, "chunked"))
            chunked = 1;
        else if (!strncasecmp(h, "connection:", 11) && memmem(h, hl, "close", 5))
            r->close = 1;
        else if (!strncasecmp(h, "retry-after:", 12))
            r->retry_after = atoi(h + 12);
    }
    size_t snip = 0;
    if (chunked) {
        for (;;) {
            e = line_end(c);
            if (e < 0)
                return -1;
            size_t n = (size_t)strtoull(c->in.p + c->off, NULL, 16);
            c->off = (size_t)e;
            if (n == 0) { /* trailers until an empty line */
                for (;;) {
                    e = line_end(c);
                    if (e < 0)
                        return -1;
                    int empty = (size_t)e == c->off + 2;
                    c->off = (size_t)e;
                    if (empty)
                        return 0;
                }
            }
            if (fill(c, n + 2) < 0)
                return -1;
            take_body(c, r, n, &snip);
            c->off += 2;
        }
    }
    if (clen < 0) { /* body until EOF */
        while (fill(c, c->in.len - c->off + 1) == 0) {
        }
        take_body(c, r, c->in.len - c->off, &snip);
        r->close = 1;
        return 0;
    }
    if (fill(c, (size_t)clen) < 0)
        return -1;
    take_body(c, r, (size_t)clen, &snip);
    return 0;
}

/* ---- workers ---- */

struct shared {
    const struct opts *o;
    _Atomic uint64_t next;     /* next event index to claim */
    uint64_t end;              /* first index not to send */
    uint64_t deadline;         /* now_us() limit, 0 = none */
    _Atomic int reported;      /* error bodies printed so far */
};

struct worker {
    pthread_t tid;
    struct shared *sh;
    struct hist *h;
    uint64_t acked, requests, ok, non2xx, s503, ioerr, failed, lost; /* lost: gave up on i/o */
};

static void build_request(struct conn *c, const struct opts *o)
{
    const char *path = o->mode == M_BATCH ? "/v1/batch" : "/v1/track";
    c->req.len = 0;
    sb_printf(&c->req,
              "POST %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n"
              "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
              path, o->host, o->port, o->key, c->body.len);
    sb_add(&c->req, c->body.p, c->body.len);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    const struct opts *o = w->sh->o;
    uint64_t step = o->mode == M_SINGLE ? 1 : o->batch;
    struct conn c = {.fd = -1};
    for (;;) {
        if (w->sh->deadline && now_us() >= w->sh->deadline)
            break;
        uint64_t lo = atomic_fetch_add(&w->sh->next, step);
        if (lo >= w->sh->end)
            break;
        uint64_t hi = lo + step < w->sh->end ? lo + step : w->sh->end;
        put_body(&c.body, o, lo, hi);
        build_request(&c, o);
        for (int attempt = 0;; attempt++) {
            if (c.fd < 0 && conn_open(&c, o) < 0) {
                w->ioerr++;
                if (attempt >= 20) {
                    w->failed += hi - lo;
                    w->lost += hi - lo;
                    break;
                }
                usleep(50000);
                continue;
            }
            struct resp r = {0};
            uint64_t t0 = now_us();
            if (write_all(c.fd, c.req.p, c.req.len) < 0 || read_response(&c, &r) < 0) {
                conn_close(&c);
                w->ioerr++;
                if (attempt >= 3) {
                    w->failed += hi - lo;
                    w->lost += hi - lo;
                    break;
                }
                continue;
            }
            h_add(w->h, now_us() - t0);
            w->requests++;
            if (r.close)
                conn_close(&c);
            if (r.status >= 200 && r.status < 300) {
                w->ok++;
                w->acked += hi - lo;
                break;
            }
            w->non2xx++;
            if (r.status == 503) {
                w->s503++;
                if (o->retry && !(w->sh->deadline && now_us() >= w->sh->deadline)) {
                    int s = r.retry_after < 0 ? 0 : r.retry_after > 5 ? 5 : r.retry_after;
                    usleep(s ? (useconds_t)s * 1000000u : 100000u);
                    attempt = -1;
                    continue;
                }
            } else if (atomic_fetch_add(&w->sh->reported, 1) < 3) {
                fprintf(stderr, "loadgen: HTTP %d for events [%llu, %llu): %s\n", r.status,
                        (unsigned long long)lo, (unsigned long long)hi, r.snippet);
            }
            w->failed += hi - lo;
            break;
        }
    }
    conn_close(&c);
    free(c.in.p);
    free(c.req.p);
    free(c.body.p);
    return NULL;
}

/* ---- modes without load ---- */

static int run_dump(const struct opts *o)
{
    FILE *f = strcmp(o->out, "-") ? fopen(o->out, "w") : stdout;
    if (!f)
        die("cannot write %s: %s", o->out, strerror(errno));
    struct sbuf b = {0};
    uint64_t end = o->first + o->events;
    for (uint64_t lo = o->first; lo < end; lo += o->batch) {
        put_body(&b, o, lo, lo + o->batch < end ? lo + o->batch : end);
        sb_add(&b, "\n", 1);
        if (fwrite(b.p, 1, b.len, f) != b.len)
            die("write %s: %s", o->out, strerror(errno));
    }
    free(b.p);
    if (f != stdout ? fclose(f) : fflush(f))
        die("write %s: %s", o->out, strerror(errno));
    return 0;
}

static int run_get(const struct opts *o)
{
    uint64_t limit = now_us() + (uint64_t)(o->wait * 1e6);
    struct conn c = {.fd = -1};
    struct sbuf body = {0};
    for (;;) {
        struct resp r = {.keep = &body};
        body.len = 0;
        if (conn_open(&c, o) == 0) {
            c.req.len = 0;
            sb_printf(&c.req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\n", o->path, o->host, o->port);
            if (o->key)
                sb_printf(&c.req, "Authorization: Bearer %s\r\n", o->key);
            sb_add(&c.req, "Connection: close\r\n\r\n", 21);
            if (write_all(c.fd, c.req.p, c.req.len) == 0 && read_response(&c, &r) == 0 &&
                r.status >= 200 && r.status < 300) {
                if (body.len)
                    fwrite(body.p, 1, body.len, stdout);
                return 0;
            }
            conn_close(&c);
        }
        if (now_us() >= limit) {
            fprintf(stderr, "loadgen: GET %s: %s\n", o->path,
                    r.status ? "non-2xx answer" : "no answer");
            if (r.status)
                fprintf(stderr, "HTTP %d: %s\n", r.status, r.snippet);
            return 1;
        }
        usleep(5000);
    }
}

/* ---- options and summary ---- */

static uint64_t num(const char *opt, const char *v)
{
    char *e;
    errno = 0;
    unsigned long long x = strtoull(v, &e, 10);
    if (errno || e == v || *e || v[0] == '-')
        die("%s wants a non-negative integer, not '%s'", opt, v);
    return (uint64_t)x;
}

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
    *o = (struct opts){.mode = M_BATCH, .host = "127.0.0.1", .path = "/healthz", .out = "-",
                       .conns = 8, .retry = 1, .batch = 100, .customers = 10000, .seed = 1,
                       .mix_view = 60, .mix_add = 25};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) {
            o->json = 1;
            continue;
        }
        if (!strcmp(a, "--no-retry")) {
            o->retry = 0;
            continue;
        }
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
        } else if (!strcmp(a, "--host"))
            o->host = v;
        else if (!strcmp(a, "--port"))
            o->port = (int)num(a, v);
        else if (!strcmp(a, "--key"))
            o->key = v;
        else if (!strcmp(a, "--path"))
            o->path = v;
        else if (!strcmp(a, "--out"))
            o->out = v;
        else if (!strcmp(a, "--conns"))
            o->conns = (int)num(a, v);
        else if (!strcmp(a, "--batch"))
            o->batch = num(a, v);
        else if (!strcmp(a, "--events"))
            o->events = num(a, v);
        else if (!strcmp(a, "--first"))
            o->first = num(a, v);
        else if (!strcmp(a, "--customers"))
            o->customers = num(a, v);
        else if (!strcmp(a, "--seed"))
            o->seed = num(a, v);
        else if (!strcmp(a, "--seconds"))
            o->seconds = atof(v);
        else if (!strcmp(a, "--wait"))
            o->wait = atof(v);
        else if (!strcmp(a, "--mix")) {
            unsigned x, y, z;
            if (sscanf(v, "%u,%u,%u", &x, &y, &z) != 3 || x + y + z != 100)
                die("--mix wants three percentages adding up to 100, e.g. 60,25,15");
            o->mix_view = x;
            o->mix_add = y;
        } else
            usage();
    }
    if (o->port <= 0 || o->port > 65535) {
        if (o->mode != M_DUMP)
            die("--port is required (1-65535)");
    }
    if (o->conns < 1 || o->conns > 4096 || o->batch < 1 || o->customers < 1)
        die("--conns, --batch and --customers must be positive");
    if ((o->mode == M_BATCH || o->mode == M_SINGLE) && !o->key)
        die("--key is required");
    if (o->mode != M_GET && !o->events && o->seconds <= 0)
        die("give --events TOTAL or --seconds S");
    if (o->mode == M_DUMP && !o->events)
        die("dump needs --events");
}

int main(int argc, char **argv)
{
    struct opts o;
    parse(argc, argv, &o);
    if (o.mode == M_DUMP)
        return run_dump(&o);
    if (o.mode == M_GET)
        return run_get(&o);

    struct shared sh = {.o = &o};
    atomic_init(&sh.next, o.first);
    atomic_init(&sh.reported, 0);
    sh.end = o.events ? o.first + o.events : UINT64_MAX;
    struct worker *w = calloc((size_t)o.conns, sizeof *w);
    if (!w)
        die("out of memory");
    uint64_t t0 = now_us();
    if (o.seconds > 0)
        sh.deadline = t0 + (uint64_t)(o.seconds * 1e6);
    for (int i = 0; i < o.conns; i++) {
        w[i].sh = &sh;
        w[i].h = calloc(1, sizeof *w[i].h);
        if (!w[i].h)
            die("out of memory");
        if (pthread_create(&w[i].tid, NULL, worker_main, &w[i]))
            die("pthread_create failed");
    }
    struct worker sum = {0};
    struct hist *h = calloc(1, sizeof *h);
    if (!h)
        die("out of memory");
    for (int i = 0; i < o.conns; i++) {
        pthread_join(w[i].tid, NULL);
        sum.acked += w[i].acked;
        sum.requests += w[i].requests;
        sum.ok += w[i].ok;
        sum.non2xx += w[i].non2xx;
        sum.s503 += w[i].s503;
        sum.ioerr += w[i].ioerr;
        sum.failed += w[i].failed;
        sum.lost += w[i].lost;
        for (unsigned k = 0; k < H_N; k++)
            h->n[k] += w[i].h->n[k];
        h->count += w[i].h->count;
        h->max = w[i].h->max > h->max ? w[i].h->max : h->max;
        free(w[i].h);
    }
    double wall = (double)(now_us() - t0) / 1e6;
    double eps = (double)sum.acked / wall, rps = (double)sum.requests / wall;
    struct rusage ru; /* the client's own CPU: it shares the machine with the server */
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    double p50 = h_quantile_ms(h, 0.50), p90 = h_quantile_ms(h, 0.90);
    double p99 = h_quantile_ms(h, 0.99), pmax = (double)h->max / 1000.0;
    const char *mode = o.mode == M_BATCH ? "batch" : "single";
    uint64_t per = o.mode == M_BATCH ? o.batch : 1;
    if (o.json)
        printf("{\"mode\":\"%s\",\"batch\":%llu,\"connections\":%d,\"customers\":%llu,"
               "\"seed\":%llu,\"wall_s\":%.3f,\"events_acked\":%llu,\"events_failed\":%llu,"
               "\"events_per_s\":%.0f,\"requests\":%llu,\"requests_2xx\":%llu,"
               "\"requests_per_s\":%.0f,\"non_2xx\":%llu,\"status_503\":%llu,"
               "\"io_errors\":%llu,\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,"
               "\"p99\":%.3f,\"max\":%.3f},\"client_cpu_s\":%.2f}\n",
               mode, (unsigned long long)per, o.conns, (unsigned long long)o.customers,
               (unsigned long long)o.seed, wall, (unsigned long long)sum.acked,
               (unsigned long long)sum.failed, eps, (unsigned long long)sum.requests,
               (unsigned long long)sum.ok, rps, (unsigned long long)sum.non2xx,
               (unsigned long long)sum.s503, (unsigned long long)sum.ioerr, p50, p90, p99, pmax,
               cpu);
    else
        printf("mode %s (%llu event(s)/request), %d connections, %.2f s\n"
               "  events acknowledged (2xx) %llu = %.0f events/s   failed %llu\n"
               "  requests %llu = %.0f req/s   2xx %llu   non-2xx %llu (503: %llu)   "
               "i/o errors %llu\n"
               "  latency ms: p50 %.3f  p90 %.3f  p99 %.3f  max %.3f   client CPU %.2f s\n",
               mode, (unsigned long long)per, o.conns, wall, (unsigned long long)sum.acked, eps,
               (unsigned long long)sum.failed, (unsigned long long)sum.requests, rps,
               (unsigned long long)sum.ok, (unsigned long long)sum.non2xx,
               (unsigned long long)sum.s503, (unsigned long long)sum.ioerr, p50, p90, p99, pmax,
               cpu);
    free(h);
    free(w);
    /* Exit 1 when something other than overload (503) went wrong; the summary says what. */
    return sum.ok == 0 || sum.non2xx > sum.s503 || sum.lost ? 1 : 0;
}
