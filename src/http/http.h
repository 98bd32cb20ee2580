/*
 * http.h - the HTTP/1.1 API of `patron serve` on libmicrohttpd.
 *
 * Layer: http (thin: routing, auth, JSON in and out; engine does the work).
 * Threading: a libmicrohttpd thread pool answers requests; a request that
 * writes hands a job to the engine and suspends its connection, which the
 * engine's completion callback resumes, so a few threads carry many
 * in-flight requests. Errors: pt_http_start gives PT_EIO (e.g. the port is
 * taken) with the reason in pt_err.
 */
#ifndef PT_HTTP_HTTP_H
#define PT_HTTP_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "engine/engine.h"
#include "util/err.h"

struct pt_http_opts {
    const char *host;     /* listen address (IPv4 dotted), e.g. "127.0.0.1" */
    uint16_t port;        /* 0 = ephemeral */
    int threads;          /* pool threads; 0 = 4 */
    size_t max_body;      /* events body bytes; 0 = PT_EV_MAX_BODY */
    size_t max_import;    /* CSV import body bytes; 0 = 1 GiB */
    FILE *log;            /* one JSON line per request; NULL = none */
    const char *tmp_dir;  /* where CSV imports are spooled */
    int voucher_failures; /* failed voucher look-ups per key per minute; 0 = 600 */
};

struct pt_http;

int pt_http_start(struct pt_engine *g, const struct pt_http_opts *o, struct pt_http **out,
                  struct pt_err *e);
uint16_t pt_http_port(const struct pt_http *h);
/* Stop accepting, finish requests in flight, free. */
void pt_http_stop(struct pt_http *h);

#endif
