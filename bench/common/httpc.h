/*
 * httpc.h - the HTTP load client shared by bench/serve/loadgen.c and
 * bench/loyalty/loyload.c (each run.sh compiles it in: cc ... -Ibench/common
 * TOOL.c bench/common/httpc.c -lpthread).
 *
 * A small HTTP/1.1 client with no dependency beyond libc and pthreads:
 * keep-alive connections to an IPv4 address, one request at a time on each,
 * timed with the monotonic clock from the first byte written to the last byte
 * of the response read; a latency histogram (log-linear, 1/128 relative
 * resolution, exact max); and the load loop: N connections, one blocking
 * thread each, claiming index ranges [lo, lo + step) until a count or a
 * deadline. The tool builds each request from its range (a pure function of
 * the indices, so a re-run re-sends the same requests) and reads what a 2xx
 * answer says; the loop reconnects after an i/o error (the range counts as
 * lost after 4 attempts), retries a 503 after its Retry-After (at most 5 s;
 * unless retry is off or the deadline has passed) and reports the first three
 * refused requests on stderr.
 */
#ifndef BENCH_HTTPC_H
#define BENCH_HTTPC_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* ---- options ---- */

/* The options of both tools (a tool's own options are parsed around them). */
struct load_opts {
    const char *host, *key, *path, *out;
    int port, conns, json, retry;
    uint64_t batch, first, seed;
    double seconds, wait;
};

/* The defaults: --host 127.0.0.1 --path /healthz --out - --conns 8
 * --batch 100 --seed 1, retrying 503s. */
void load_opts_init(struct load_opts *lo);
/* If argv[*i] is one of the shared options (--json, --no-retry, --host H,
 * --port P, --key K, --path P, --out F, --conns N, --batch N, --first I,
 * --seed S, --seconds S, --wait S), takes it and its value (*i moves on) and
 * returns 1; a value missing: usage(). Otherwise 0. */
int load_opt(struct load_opts *lo, int argc, char **argv, int *i, void (*usage)(void));

/* ---- odds and ends ---- */

extern const char *httpc_prog; /* the tool's name, at the start of its messages */

/* The message on stderr, then exit(2). */
void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* --opt's value as a non-negative integer, or die. */
uint64_t num_arg(const char *opt, const char *v);
/* The splitmix64 finaliser: the tools' deterministic "random" choices. */
uint64_t mix64(uint64_t z);
/* CLOCK_MONOTONIC in microseconds. */
uint64_t now_us(void);

/* A growable buffer, always NUL-terminated once anything was reserved. */
struct sbuf {
    char *p;
    size_t len, cap;
};

void sb_reserve(struct sbuf *b, size_t extra);
void sb_add(struct sbuf *b, const char *s, size_t n);
void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_clear(struct sbuf *b);                       /* empty, p pointing to "" */
void sb_read_file(struct sbuf *b, const char *path); /* appends the file, or dies */

/* ---- latency histogram (microseconds) ---- */

#define H_SUB 128u                  /* sub-buckets per power of two */
#define H_N   (H_SUB + 40u * H_SUB) /* up to 2^47 us */

struct hist {
    uint64_t n[H_N];
    uint64_t count, max;
};

void h_add(struct hist *h, uint64_t us);
void h_merge(struct hist *into, const struct hist *h);
double h_quantile_ms(const struct hist *h, double q);

/* ---- HTTP/1.1 over one keep-alive connection ---- */

struct conn {
    int fd;         /* -1: not connected */
    struct sbuf in; /* bytes read, not yet consumed: in.p[off, len) */
    size_t off;
    struct sbuf req;  /* the request to send: head and body */
    struct sbuf body; /* the tool's scratch for a request body */
    struct sbuf ans;  /* the body of the last response */
};

struct resp {
    int status, close, retry_after; /* retry_after: seconds, -1 if absent */
};

int conn_open(struct conn *c, const char *host, int port); /* 0 or -1 (errno) */
void conn_close(struct conn *c);
void conn_free(struct conn *c); /* closes and frees the buffers */
int write_all(int fd, const char *p, size_t n);
/* Reads one response, its body into c->ans; 0, or -1: the connection is
 * broken (the caller closes it and reconnects). */
int read_response(struct conn *c, struct resp *r);

/* GET path (with the key, if any) on a new connection each try, until a 2xx
 * (its body to stdout: 0) or for `wait` seconds (1): readiness checks. */
int http_get_wait(const char *host, int port, const char *key, const char *path, double wait);

/* ---- the load loop ---- */

#define LOAD_COUNTERS 8

struct load;

/* One connection's thread and its counts (also the sum of all of them). */
struct load_worker {
    pthread_t tid;
    struct load *ld;
    struct hist *h;
    uint64_t requests, ok, non2xx, s503, ioerr; /* requests answered; answers 2xx, not 2xx, 503 */
    uint64_t ops_ok;                            /* indices in 2xx answers */
    uint64_t ops_refused; /* in final answers that were not 2xx (503 included when not retried) */
    uint64_t ops_lost;    /* given up on after i/o errors */
    uint64_t n[LOAD_COUNTERS]; /* the tool's own counts, summed like the others */
};

struct load {
    /* set by the tool */
    const struct load_opts *opt; /* host, port, conns, retry; first index; seconds > 0: a
                                    deadline for claiming ranges */
    uint64_t count, step;        /* indices [first, first + count), count 0: no end */
    const void *arg;             /* passed to the callbacks */
    /* The request for [lo, hi) into c->req (c->body is free for the tool). */
    void (*build)(const void *arg, struct conn *c, uint64_t lo, uint64_t hi);
    /* Optional: what a 2xx answer (body in c->ans) says about [lo, hi). */
    void (*answer)(struct load_worker *w, const void *arg, int status, uint64_t lo, uint64_t hi,
                   const struct sbuf *body);
    /* results of load_run */
    struct load_worker sum;
    struct hist *hist;
    double wall_s, cpu_s; /* wall time of the load; the process's CPU seconds at its end */
    uint64_t next;        /* the first index not claimed */
    /* internal */
    _Atomic uint64_t next_;
    _Atomic int reported;
    uint64_t end, deadline;
};

void load_run(struct load *ld);
/* A line on stderr, the first 3 of the whole load only. */
void load_report(struct load_worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The request counts, latency and client CPU: the tail of the tool's JSON
 * summary (closes the object and the line) or of its text summary. */
void load_print_json_tail(const struct load *ld);
void load_print_text_tail(const struct load *ld);
/* Something other than overload (503) went wrong: no 2xx, a refusal, a lost range. */
int load_failed(const struct load *ld);

#endif
