/*
 * httpc.c - the HTTP load client of the benchmarks (see httpc.h).
 */
#include "httpc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

const char *httpc_prog = "bench";

static void vmessage(const char *fmt, va_list ap)
{
    flockfile(stderr); /* one line, whichever threads write */
    fprintf(stderr, "%s: ", httpc_prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    funlockfile(stderr);
}

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
    exit(2);
}

uint64_t num_arg(const char *opt, const char *v)
{
    char *e;
    errno = 0;
    unsigned long long x = strtoull(v, &e, 10);
    if (errno || e == v || *e || v[0] == '-')
        die("%s wants a non-negative integer, not '%s'", opt, v);
    return (uint64_t)x;
}

void load_opts_init(struct load_opts *lo)
{
    *lo = (struct load_opts){0};
    lo->host = "127.0.0.1";
    lo->path = "/healthz";
    lo->out = "-";
    lo->conns = 8;
    lo->retry = 1;
    lo->batch = 100;
    lo->seed = 1;
}

int load_opt(struct load_opts *lo, int argc, char **argv, int *i, void (*usage)(void))
{
    const char *a = argv[*i];
    if (!strcmp(a, "--json")) {
        lo->json = 1;
        return 1;
    }
    if (!strcmp(a, "--no-retry")) {
        lo->retry = 0;
        return 1;
    }
    static const char *const with_value[] = {"--host", "--port",    "--key",   "--path",
                                             "--out",  "--conns",   "--batch", "--first",
                                             "--seed", "--seconds", "--wait"};
    size_t k = 0, n = sizeof with_value / sizeof *with_value;
    while (k < n && strcmp(a, with_value[k]))
        k++;
    if (k == n)
        return 0;
    if (*i + 1 >= argc)
        usage();
    const char *v = argv[++*i];
    switch (k) {
    case 0:
        lo->host = v;
        break;
    case 1:
        lo->port = (int)num_arg(a, v);
        break;
    case 2:
        lo->key = v;
        break;
    case 3:
        lo->path = v;
        break;
    case 4:
        lo->out = v;
        break;
    case 5:
        lo->conns = (int)num_arg(a, v);
        break;
    case 6:
        lo->batch = num_arg(a, v);
        break;
    case 7:
        lo->first = num_arg(a, v);
        break;
    case 8:
        lo->seed = num_arg(a, v);
        break;
    case 9:
        lo->seconds = atof(v);
        break;
    default:
        lo->wait = atof(v);
        break;
    }
    return 1;
}

uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- growable buffer ---- */

void sb_reserve(struct sbuf *b, size_t extra)
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

void sb_add(struct sbuf *b, const char *s, size_t n)
{
    sb_reserve(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sb_printf(struct sbuf *b, const char *fmt, ...)
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

void sb_clear(struct sbuf *b)
{
    b->len = 0;
    sb_reserve(b, 0);
    b->p[0] = '\0';
}

void sb_read_file(struct sbuf *b, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        die("cannot read %s: %s", path, strerror(errno));
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        sb_add(b, chunk, n);
    if (ferror(f))
        die("read %s: %s", path, strerror(errno));
    fclose(f);
}

/* ---- latency histogram ---- */

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

void h_add(struct hist *h, uint64_t us)
{
    h->n[h_index(us)]++;
    h->count++;
    if (us > h->max)
        h->max = us;
}

void h_merge(struct hist *into, const struct hist *h)
{
    for (unsigned k = 0; k < H_N; k++)
        into->n[k] += h->n[k];
    into->count += h->count;
    into->max = h->max > into->max ? h->max : into->max;
}

double h_quantile_ms(const struct hist *h, double q)
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

int conn_open(struct conn *c, const char *host, int port)
{
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
        die("--host must be an IPv4 address: %s", host);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) {
        int e = errno;
        close(c->fd);
        c->fd = -1;
        errno = e;
        return -1;
    }
    c->in.len = c->off = 0;
    return 0;
}

void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

void conn_free(struct conn *c)
{
    conn_close(c);
    free(c->in.p);
    free(c->req.p);
    free(c->body.p);
    free(c->ans.p);
    c->in = c->req = c->body = c->ans = (struct sbuf){0};
}

int write_all(int fd, const char *p, size_t n)
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

static void take_body(struct conn *c, size_t n)
{
    sb_add(&c->ans, c->in.p + c->off, n);
    c->off += n;
}

int read_response(struct conn *c, struct resp *r)
{
    sb_clear(&c->ans);
    r->status = 0;
    long e = line_end(c);
    if (e < 0 || strncmp(c->in.p + c->off, "HTTP/1.", 7) != 0)
        return -1;
    r->status = (int)strtol(c->in.p + c->off + 9, NULL, 10);
    r->close = c->in.p[c->off + 7] == '0';
    r->retry_after = -1;
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
            clen = strtoll(h + 15, NULL, 10);
        else if (!strncasecmp(h, "transfer-encoding:", 18) && strstr(h, "chunked"))
            chunked = 1;
        else if (!strncasecmp(h, "connection:", 11) && memmem(h, hl, "close", 5))
            r->close = 1;
        else if (!strncasecmp(h, "retry-after:", 12))
            r->retry_after = (int)strtol(h + 12, NULL, 10);
    }
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
            take_body(c, n);
            c->off += 2;
        }
    }
    if (clen < 0) { /* body until EOF */
        while (fill(c, c->in.len - c->off + 1) == 0) {
        }
        take_body(c, c->in.len - c->off);
        r->close = 1;
        return 0;
    }
    if (fill(c, (size_t)clen) < 0)
        return -1;
    take_body(c, (size_t)clen);
    return 0;
}

int http_get_wait(const char *host, int port, const char *key, const char *path, double wait)
{
    uint64_t limit = now_us() + (uint64_t)(wait * 1e6);
    struct conn c = {.fd = -1};
    int rc = 1;
    for (;;) {
        struct resp r = {0};
        if (conn_open(&c, host, port) == 0) {
            c.req.len = 0;
            sb_printf(&c.req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\n", path, host, port);
            if (key)
                sb_printf(&c.req, "Authorization: Bearer %s\r\n", key);
            sb_add(&c.req, "Connection: close\r\n\r\n", 21);
            if (write_all(c.fd, c.req.p, c.req.len) == 0 && read_response(&c, &r) == 0 &&
                r.status >= 200 && r.status < 300) {
                if (c.ans.len)
                    fwrite(c.ans.p, 1, c.ans.len, stdout);
                rc = 0;
                break;
            }
            conn_close(&c);
        }
        if (now_us() >= limit) {
            fprintf(stderr, "%s: GET %s: %s\n", httpc_prog, path,
                    r.status ? "non-2xx answer" : "no answer");
            if (r.status)
                fprintf(stderr, "HTTP %d: %.300s\n", r.status, c.ans.p ? c.ans.p : "");
            break;
        }
        usleep(5000);
    }
    conn_free(&c);
    return rc;
}

/* ---- the load loop ---- */

void load_report(struct load_worker *w, const char *fmt, ...)
{
    if (atomic_fetch_add(&w->ld->reported, 1) >= 3)
        return;
    va_list ap;
    va_start(ap, fmt);
    vmessage(fmt, ap);
    va_end(ap);
}

static int past_deadline(const struct load *ld)
{
    return ld->deadline && now_us() >= ld->deadline;
}

/* Sends the request in c->req until it is answered or given up on. */
static void send_range(struct load_worker *w, struct conn *c, uint64_t lo, uint64_t hi)
{
    const struct load *ld = w->ld;
    for (int attempt = 0;; attempt++) {
        if (c->fd < 0 && conn_open(c, ld->opt->host, ld->opt->port) < 0) {
            w->ioerr++;
            if (attempt >= 20) {
                w->ops_lost += hi - lo;
                return;
            }
            usleep(50000);
            continue;
        }
        struct resp r;
        uint64_t t0 = now_us();
        if (write_all(c->fd, c->req.p, c->req.len) < 0 || read_response(c, &r) < 0) {
            conn_close(c);
            w->ioerr++;
            if (attempt >= 3) {
                w->ops_lost += hi - lo;
                return;
            }
            continue;
        }
        h_add(w->h, now_us() - t0);
        w->requests++;
        if (r.close)
            conn_close(c);
        if (r.status >= 200 && r.status < 300) {
            w->ok++;
            w->ops_ok += hi - lo;
            if (ld->answer)
                ld->answer(w, ld->arg, r.status, lo, hi, &c->ans);
            return;
        }
        w->non2xx++;
        if (r.status == 503) {
            w->s503++;
            if (ld->opt->retry && !past_deadline(ld)) {
                int s = r.retry_after < 0 ? 0 : r.retry_after > 5 ? 5 : r.retry_after;
                usleep(s ? (useconds_t)s * 1000000u : 100000u);
                attempt = -1;
                continue;
            }
        } else {
            load_report(w, "HTTP %d for [%llu, %llu): %.300s", r.status, (unsigned long long)lo,
                        (unsigned long long)hi, c->ans.p);
        }
        w->ops_refused += hi - lo;
        return;
    }
}

static void *worker_main(void *arg)
{
    struct load_worker *w = arg;
    struct load *ld = w->ld;
    struct conn c = {.fd = -1};
    for (;;) {
        if (past_deadline(ld))
            break;
        uint64_t lo = atomic_fetch_add(&ld->next_, ld->step);
        if (lo >= ld->end)
            break;
        uint64_t hi = lo + ld->step < ld->end ? lo + ld->step : ld->end;
        ld->build(ld->arg, &c, lo, hi);
        send_range(w, &c, lo, hi);
    }
    conn_free(&c);
    return NULL;
}

static void add_counts(struct load_worker *sum, const struct load_worker *w)
{
    sum->requests += w->requests;
    sum->ok += w->ok;
    sum->non2xx += w->non2xx;
    sum->s503 += w->s503;
    sum->ioerr += w->ioerr;
    sum->ops_ok += w->ops_ok;
    sum->ops_refused += w->ops_refused;
    sum->ops_lost += w->ops_lost;
    for (unsigned k = 0; k < LOAD_COUNTERS; k++)
        sum->n[k] += w->n[k];
}

void load_run(struct load *ld)
{
    int conns = ld->opt->conns;
    if (conns < 1 || ld->step < 1)
        die("load: conns and step must be positive");
    atomic_init(&ld->next_, ld->opt->first);
    atomic_init(&ld->reported, 0);
    ld->end = ld->count ? ld->opt->first + ld->count : UINT64_MAX;
    ld->sum = (struct load_worker){0};
    ld->hist = calloc(1, sizeof *ld->hist);
    struct load_worker *w = calloc((size_t)conns, sizeof *w);
    if (!ld->hist || !w)
        die("out of memory");
    uint64_t t0 = now_us();
    ld->deadline = ld->opt->seconds > 0 ? t0 + (uint64_t)(ld->opt->seconds * 1e6) : 0;
    for (int i = 0; i < conns; i++) {
        w[i].ld = ld;
        w[i].h = calloc(1, sizeof *w[i].h);
        if (!w[i].h)
            die("out of memory");
        if (pthread_create(&w[i].tid, NULL, worker_main, &w[i]))
            die("pthread_create failed");
    }
    for (int i = 0; i < conns; i++) {
        pthread_join(w[i].tid, NULL);
        add_counts(&ld->sum, &w[i]);
        h_merge(ld->hist, w[i].h);
        free(w[i].h);
    }
    free(w);
    ld->wall_s = (double)(now_us() - t0) / 1e6;
    ld->next = atomic_load(&ld->next_);
    struct rusage ru; /* the client's own CPU: it shares the machine with the server */
    getrusage(RUSAGE_SELF, &ru);
    ld->cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

void load_print_json_tail(const struct load *ld)
{
    const struct load_worker *s = &ld->sum;
    const struct hist *h = ld->hist;
    printf("\"requests\":%llu,\"requests_2xx\":%llu,\"requests_per_s\":%.0f,\"non_2xx\":%llu,"
           "\"status_503\":%llu,\"io_errors\":%llu,\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,"
           "\"p99\":%.3f,\"max\":%.3f},\"client_cpu_s\":%.2f}\n",
           (unsigned long long)s->requests, (unsigned long long)s->ok,
           (double)s->requests / ld->wall_s, (unsigned long long)s->non2xx,
           (unsigned long long)s->s503, (unsigned long long)s->ioerr, h_quantile_ms(h, 0.50),
           h_quantile_ms(h, 0.90), h_quantile_ms(h, 0.99), (double)h->max / 1000.0, ld->cpu_s);
}

void load_print_text_tail(const struct load *ld)
{
    const struct load_worker *s = &ld->sum;
    const struct hist *h = ld->hist;
    printf("  requests %llu = %.0f req/s   2xx %llu   non-2xx %llu (503: %llu)   i/o errors %llu\n"
           "  latency ms: p50 %.3f  p90 %.3f  p99 %.3f  max %.3f   client CPU %.2f s\n",
           (unsigned long long)s->requests, (double)s->requests / ld->wall_s,
           (unsigned long long)s->ok, (unsigned long long)s->non2xx, (unsigned long long)s->s503,
           (unsigned long long)s->ioerr, h_quantile_ms(h, 0.50), h_quantile_ms(h, 0.90),
           h_quantile_ms(h, 0.99), (double)h->max / 1000.0, ld->cpu_s);
}

int load_failed(const struct load *ld)
{
    const struct load_worker *s = &ld->sum;
    return s->ok == 0 || s->non2xx > s->s503 || s->ops_lost;
}
