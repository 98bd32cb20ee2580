/*
 * loyload.c - load generator for the loyalty API of `patron serve`
 * (bench/loyalty/run.sh drives it).
 *
 * The HTTP/1.1 client, the latency histogram and the load loop are
 * bench/common/httpc.c's (shared with bench/serve/loadgen.c): N keep-alive
 * connections to 127.0.0.1, one blocking thread each, one request at a time,
 * each timed with the monotonic clock from the first byte written to the last
 * byte read.
 *
 * Every request is a pure function of (--seed, operation index i): the member
 * of operation i is "m" + (hash(i) mod --members), its points 1 + hash mod 100,
 * its idempotency key "e<seed>-<i>" (batches) or "s<seed>-<i>" (single).
 *
 * Modes:
 *   points    POST /v1/loyalty/points, --batch operations per request
 *             {"operations":[{user_id, points, "kind":"earn", reason,
 *             idempotency_key}...]};
 *             the 200 answer lists one status per operation: an operation
 *             counts as done when its status is 201 (a new ledger entry);
 *   point     POST /v1/loyalty/members/{id}/points {"points","kind":"earn",
 *             "reason"} with an Idempotency-Key header; done on 201;
 *   redeem    POST /v1/loyalty/members/{id}/redemptions {"reward_id": --reward};
 *             done on 201 with a voucher in the answer;
 *   validate  GET /v1/vouchers/{code}, the code of operation i drawn from
 *             --codes FILE (one code a line; a header line "code,..." and
 *             anything after the first comma are ignored); done on 200 with
 *             "valid":true;
 *   req       one request (--method, --path, --body-file or --body, --ctype),
 *             the answer's body to --out; prints {"status","seconds","bytes"};
 *             exit 1 unless 2xx;
 *   get       one GET --path, body to stdout, retried until 2xx for --wait s.
 *
 * Summary (--json: one line): operations done / wall time, requests/s,
 * request latency p50/p90/p99/max, non-2xx and 503 counts, operations not
 * done, the sum of the points of done earn operations (to check against the
 * server's report), the client's CPU seconds. A 503 is retried after its
 * Retry-After; the operations of a request count once acknowledged.
 */
#include "httpc.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum mode { M_POINTS, M_POINT, M_REDEEM, M_VALIDATE, M_REQ, M_GET };

struct opts {
    struct load_opts c; /* --host --port --key --conns --batch --first --seed ... */
    enum mode mode;
    const char *codes_file, *method, *body_file, *body, *ctype;
    uint64_t ops, members, reward;
};

/* ---- deterministic operations ---- */

static uint64_t op_hash(const struct opts *o, uint64_t i)
{
    return mix64(o->c.seed ^ mix64(i));
}

static uint64_t op_member(const struct opts *o, uint64_t i)
{
    return op_hash(o, i) % o->members;
}

static uint64_t op_points(const struct opts *o, uint64_t i)
{
    return 1 + mix64(op_hash(o, i)) % 100;
}

/* The codes of --codes (validate), PT_CODE_LEN-ish strings. */
static char **codes;
static size_t ncodes;

static void load_codes(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot read %s: %s", path, strerror(errno));
    char line[512];
    size_t cap = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, ",\r\n")] = '\0';
        if (!line[0] || !strcmp(line, "code"))
            continue;
        if (ncodes == cap) {
            cap = cap ? cap * 2 : 1024;
            char **x = realloc(codes, cap * sizeof *codes);
            if (!x)
                die("out of memory");
            codes = x;
        }
        codes[ncodes] = strdup(line);
        if (!codes[ncodes++])
            die("out of memory");
    }
    fclose(f);
    if (!ncodes)
        die("no codes in %s", path);
}

/* ---- requests of the load modes ---- */

/* The request for operations [lo, hi) into c->req. */
static void build_request(const void *arg, struct conn *c, uint64_t lo, uint64_t hi)
{
    const struct opts *o = arg;
    struct sbuf *b = &c->body;
    char path[256], idem[64] = "";
    const char *method = "POST";
    sb_clear(b);
    switch (o->mode) {
    case M_POINTS:
        snprintf(path, sizeof path, "/v1/loyalty/points");
        sb_add(b, "{\"operations\":[", 15);
        for (uint64_t i = lo; i < hi; i++)
            sb_printf(
                b,
                "%s{\"user_id\":\"m%llu\",\"points\":%llu,\"kind\":\"earn\",\"reason\":\"bench\","
                "\"idempotency_key\":\"e%llu-%llu\"}",
                i > lo ? "," : "", (unsigned long long)op_member(o, i),
                (unsigned long long)op_points(o, i), (unsigned long long)o->c.seed,
                (unsigned long long)i);
        sb_add(b, "]}", 2);
        break;
    case M_POINT:
        snprintf(path, sizeof path, "/v1/loyalty/members/m%llu/points",
                 (unsigned long long)op_member(o, lo));
        snprintf(idem, sizeof idem, "s%llu-%llu", (unsigned long long)o->c.seed,
                 (unsigned long long)lo);
        sb_printf(b, "{\"points\":%llu,\"kind\":\"earn\",\"reason\":\"bench\"}",
                  (unsigned long long)op_points(o, lo));
        break;
    case M_REDEEM:
        snprintf(path, sizeof path, "/v1/loyalty/members/m%llu/redemptions",
                 (unsigned long long)op_member(o, lo));
        sb_printf(b, "{\"reward_id\":%llu}", (unsigned long long)o->reward);
        break;
    case M_VALIDATE:
        method = "GET";
        snprintf(path, sizeof path, "/v1/vouchers/%s", codes[op_hash(o, lo) % ncodes]);
        break;
    default:
        die("no load in this mode");
    }
    c->req.len = 0;
    sb_printf(&c->req, "%s %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n", method,
              path, o->c.host, o->c.port, o->c.key);
    if (idem[0])
        sb_printf(&c->req, "Idempotency-Key: %s\r\n", idem);
    if (o->mode == M_VALIDATE)
        sb_add(&c->req, "\r\n", 2);
    else
        sb_printf(&c->req, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                  b->len, b->p);
}

/* ---- what the answers say ---- */

/* The tool's counts in struct load_worker's n[]. */
enum {
    C_DONE,   /* operations done (see the modes) */
    C_DUP,    /* earn operations answered as already applied (200) */
    C_BAD,    /* operations a 2xx answer refused or showed not done */
    C_POINTS, /* the points of the earn operations done */
};

static void report(struct load_worker *w, const char *what, int status, uint64_t lo,
                   const struct sbuf *body)
{
    load_report(w, "%s: HTTP %d for operation %llu: %.300s", what, status, (unsigned long long)lo,
                body->p ? body->p : "");
}

/* Count what a 2xx answer says about operations [lo, hi). */
static void account(struct load_worker *w, const void *arg, int status, uint64_t lo, uint64_t hi,
                    const struct sbuf *ans)
{
    const struct opts *o = arg;
    switch (o->mode) {
    case M_POINTS: {
        const char *p = ans->p;
        uint64_t i = lo;
        while (i < hi && (p = strstr(p, "{\"status\":")) != NULL) {
            p += 10;
            int st = (int)strtol(p, NULL, 10);
            if (st == 201) {
                w->n[C_DONE]++;
                w->n[C_POINTS] += op_points(o, i);
            } else if (st == 200) {
                w->n[C_DUP]++;
            } else {
                w->n[C_BAD]++;
                report(w, "operation refused", st, i, ans);
            }
            i++;
        }
        if (i < hi) {
            w->n[C_BAD] += hi - i;
            report(w, "short results", status, lo, ans);
        }
        break;
    }
    case M_POINT:
        if (status == 201) {
            w->n[C_DONE]++;
            w->n[C_POINTS] += op_points(o, lo);
        } else {
            w->n[C_DUP]++;
        }
        break;
    case M_REDEEM:
        if (status == 201 && strstr(ans->p, "\"voucher\":{\"code\":\"")) {
            w->n[C_DONE]++;
        } else {
            w->n[C_BAD]++;
            report(w, "redemption without a voucher", status, lo, ans);
        }
        break;
    case M_VALIDATE:
        if (strstr(ans->p, "\"valid\":true")) {
            w->n[C_DONE]++;
        } else {
            w->n[C_BAD]++;
            report(w, "voucher not valid", status, lo, ans);
        }
        break;
    default:
        break;
    }
}

/* ---- one request ---- */

static int run_req(const struct opts *o)
{
    struct conn c = {.fd = -1};
    struct sbuf body = {0};
    if (o->body_file)
        sb_read_file(&body, o->body_file);
    else if (o->body)
        sb_add(&body, o->body, strlen(o->body));
    if (conn_open(&c, o->c.host, o->c.port) < 0)
        die("cannot connect to %s:%d: %s", o->c.host, o->c.port, strerror(errno));
    sb_printf(&c.req, "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n", o->method,
              o->c.path, o->c.host, o->c.port);
    if (o->c.key)
        sb_printf(&c.req, "Authorization: Bearer %s\r\n", o->c.key);
    if (body.len || strcmp(o->method, "GET"))
        sb_printf(&c.req, "Content-Type: %s\r\nContent-Length: %zu\r\n", o->ctype, body.len);
    sb_add(&c.req, "\r\n", 2);
    struct resp r;
    uint64_t t0 = now_us();
    if (write_all(c.fd, c.req.p, c.req.len) < 0 ||
        (body.len && write_all(c.fd, body.p, body.len) < 0) || read_response(&c, &r) < 0)
        die("%s %s: no answer", o->method, o->c.path);
    double s = (double)(now_us() - t0) / 1e6;
    const struct sbuf *ans = &c.ans;
    FILE *f = strcmp(o->c.out, "-") ? fopen(o->c.out, "w") : stdout;
    if (!f || fwrite(ans->p, 1, ans->len, f) != ans->len || (f != stdout && fclose(f)))
        die("cannot write %s", o->c.out);
    if (f == stdout)
        fputc('\n', stdout);
    printf("{\"status\":%d,\"seconds\":%.6f,\"bytes\":%zu}\n", r.status, s, ans->len);
    if (r.status < 200 || r.status >= 300)
        fprintf(stderr, "%s: %s %s: HTTP %d: %.300s\n", httpc_prog, o->method, o->c.path, r.status,
                ans->p);
    conn_free(&c);
    free(body.p);
    return r.status >= 200 && r.status < 300 ? 0 : 1;
}

/* ---- options ---- */

static void usage(void)
{
    fputs("usage: loyload --port P [--host 127.0.0.1] [--key KEY] [--json]\n"
          "  --mode points|point|redeem|validate|req|get\n"
          "  load: --conns N (8) --ops TOTAL | --seconds S  --first I (0) --seed S (1)\n"
          "        --members M (100000)  points: --batch N (100)  redeem: --reward ID\n"
          "        validate: --codes FILE\n"
          "  req:  --method M (POST) --path P [--body-file F | --body S]\n"
          "        [--ctype T (application/json)] [--out F (-)]\n"
          "  get:  --path P [--wait S]\n",
          stderr);
    exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){
        .mode = M_POINTS, .method = "POST", .ctype = "application/json", .members = 100000};
    load_opts_init(&o->c);
    for (int i = 1; i < argc; i++) {
        if (load_opt(&o->c, argc, argv, &i, usage))
            continue;
        const char *a = argv[i];
        if (!strcmp(a, "--help") || i + 1 >= argc)
            usage();
        const char *v = argv[++i];
        if (!strcmp(a, "--mode")) {
            o->mode = !strcmp(v, "points")     ? M_POINTS
                      : !strcmp(v, "point")    ? M_POINT
                      : !strcmp(v, "redeem")   ? M_REDEEM
                      : !strcmp(v, "validate") ? M_VALIDATE
                      : !strcmp(v, "req")      ? M_REQ
                      : !strcmp(v, "get")      ? M_GET
                                               : (die("unknown mode %s", v), M_POINTS);
        } else if (!strcmp(a, "--codes"))
            o->codes_file = v;
        else if (!strcmp(a, "--method"))
            o->method = v;
        else if (!strcmp(a, "--body-file"))
            o->body_file = v;
        else if (!strcmp(a, "--body"))
            o->body = v;
        else if (!strcmp(a, "--ctype"))
            o->ctype = v;
        else if (!strcmp(a, "--ops"))
            o->ops = num_arg(a, v);
        else if (!strcmp(a, "--members"))
            o->members = num_arg(a, v);
        else if (!strcmp(a, "--reward"))
            o->reward = num_arg(a, v);
        else
            usage();
    }
    if (o->c.port <= 0 || o->c.port > 65535)
        die("--port is required (1-65535)");
    if (o->mode == M_REQ || o->mode == M_GET)
        return;
    if (o->c.conns < 1 || o->c.conns > 4096 || o->c.batch < 1 || o->c.batch > 1000 ||
        o->members < 1)
        die("--conns and --members must be positive, --batch 1 to 1000");
    if (!o->c.key)
        die("--key is required");
    if (!o->ops && o->c.seconds <= 0)
        die("give --ops TOTAL or --seconds S");
    if (o->mode == M_REDEEM && !o->reward)
        die("redeem needs --reward ID");
    if (o->mode == M_VALIDATE && !o->codes_file)
        die("validate needs --codes FILE");
}

int main(int argc, char **argv)
{
    httpc_prog = "loyload";
    struct opts o;
    parse(argc, argv, &o);
    if (o.mode == M_REQ)
        return run_req(&o);
    if (o.mode == M_GET)
        return http_get_wait(o.c.host, o.c.port, o.c.key, o.c.path, o.c.wait);
    if (o.mode == M_VALIDATE)
        load_codes(o.codes_file);

    uint64_t per = o.mode == M_POINTS ? o.c.batch : 1;
    struct load ld = {.opt = &o.c,
                      .count = o.ops,
                      .step = per,
                      .arg = &o,
                      .build = build_request,
                      .answer = account};
    load_run(&ld);
    const struct load_worker *s = &ld.sum;
    uint64_t done = s->n[C_DONE], dup = s->n[C_DUP];
    uint64_t notdone = s->n[C_BAD] + s->ops_refused + s->ops_lost;
    double ops = (double)done / ld.wall_s;
    static const char *const names[] = {"points", "point", "redeem", "validate"};
    if (o.c.json) {
        printf("{\"mode\":\"%s\",\"batch\":%llu,\"connections\":%d,\"members\":%llu,"
               "\"seed\":%llu,\"wall_s\":%.3f,\"ops_done\":%llu,\"ops_duplicate\":%llu,"
               "\"ops_not_done\":%llu,\"ops_per_s\":%.0f,\"points_done\":%llu,"
               "\"next_op\":%llu,",
               names[o.mode], (unsigned long long)per, o.c.conns, (unsigned long long)o.members,
               (unsigned long long)o.c.seed, ld.wall_s, (unsigned long long)done,
               (unsigned long long)dup, (unsigned long long)notdone, ops,
               (unsigned long long)s->n[C_POINTS], (unsigned long long)ld.next);
        load_print_json_tail(&ld);
    } else {
        printf("mode %s, %d connections, %.2f s\n"
               "  operations done %llu = %.0f/s   duplicate %llu   not done %llu\n",
               names[o.mode], o.c.conns, ld.wall_s, (unsigned long long)done, ops,
               (unsigned long long)dup, (unsigned long long)notdone);
        load_print_text_tail(&ld);
    }
    /* Exit 1 when something other than overload (503) went wrong. */
    int rc = load_failed(&ld) || s->n[C_BAD] ? 1 : 0;
    free(ld.hist);
    return rc;
}
