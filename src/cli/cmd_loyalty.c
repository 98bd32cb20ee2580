/*
 * cmd_loyalty.c - `patron loyalty import|check-program`: migrate members and
 * their balances into a shop's loyalty programme (one engine job, all or
 * nothing), and validate a programme document offline.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "engine/engine.h"
#include "loyalty/import.h"
#include "loyalty/program.h"
#include "store/store.h"
#include "util/buf.h"

#define MAX_FILE      (1ull << 30) /* bytes of an import file */
#define PROGRESS_ROWS 100000       /* show parsing progress above this many lines */

static const char k_help[] =
    "usage: patron loyalty import FILE --data DIR --shop SHOP_ID [--format table|json]\n"
    "       patron loyalty check-program FILE\n"
    "\n"
    "import: add the members of FILE (a CSV; - reads standard input) with their\n"
    "balances to the loyalty programme of shop SHOP_ID in the data directory DIR, all\n"
    "or nothing. The header names the columns, in any order, case-insensitive:\n"
    "  user_id  the customer's userId (required; at most 256 bytes; once per file)\n"
    "  points   the balance to carry over, a whole number 0..1000000000 (required)\n"
    "  tier     a level name of the programme, or empty (optional)\n"
    "  joined   when they joined, an ISO-8601 date or time, or empty (optional)\n"
    "Unknown customers are created. Each member gets one \"import\" ledger entry, so\n"
    "running the same import again changes nothing (members already imported are\n"
    "counted as skipped). The shop needs a programme first (PUT /v1/loyalty/program).\n"
    "A bad row is reported as FILE:LINE:COLUMN: message and nothing is imported.\n"
    "The server must not be running on DIR while this runs: stop `patron serve`\n"
    "first (it keeps the store's state in memory and would not see the import).\n"
    "With --format json the result is printed as {\"imported\": N, \"skipped\": K}.\n"
    "\n"
    "check-program: validate a programme document (the JSON body of\n"
    "PUT /v1/loyalty/program); print its canonical form (every default spelt out), or\n"
    "FILE: FIELD: why on standard error and exit 1.\n"
    "\n"
    "Exit status: 0 ok, 1 failure (bad file, no such shop, refused), 2 usage.\n";

/* The whole of path ("-": standard input) into b; 0, or -1 after a message. */
static int read_file(const char *path, size_t max, struct pt_buf *b)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (f == NULL) {
        fprintf(stderr, "patron loyalty: %s: %s\n", path, strerror(errno));
        return -1;
    }
    int rc = 0;
    for (;;) {
        if (pt_buf_reserve(b, 1 << 16)) {
            fprintf(stderr, "patron loyalty: %s: out of memory\n", path);
            rc = -1;
            break;
        }
        size_t n = fread(b->data + b->len, 1, b->cap - b->len - 1, f);
        b->len += n;
        b->data[b->len] = '\0';
        if (b->len > max) {
            fprintf(stderr, "patron loyalty: %s: larger than %zu bytes; split it\n", path, max);
            rc = -1;
            break;
        }
        if (n == 0) {
            if (ferror(f)) {
                fprintf(stderr, "patron loyalty: %s: %s\n", path, strerror(errno));
                rc = -1;
            }
            break;
        }
    }
    if (f != stdin)
        fclose(f);
    return rc;
}

static const char *shown(const char *path)
{
    return strcmp(path, "-") ? path : "<stdin>";
}

/* "line N, column C: what" -> what (else msg itself). */
static const char *after_position(const char *msg, const char *prefix)
{
    if (strncmp(msg, prefix, strlen(prefix)) != 0)
        return msg;
    const char *c = strstr(msg, ": ");
    return c ? c + 2 : msg;
}

static int check_program(const char *path)
{
    struct pt_buf in, out;
    pt_buf_init(&in);
    pt_buf_init(&out);
    if (read_file(path, PT_LOY_MAX_BODY + 1, &in)) {
        pt_buf_release(&in);
        return PT_EXIT_FAIL;
    }
    struct pt_loy_program p;
    char field[160];
    struct pt_err e;
    pt_err_clear(&e);
    int rc = pt_loy_program_parse(in.data ? in.data : "", in.len, &p, field, &e);
    if (rc) {
        fprintf(stderr, "%s: %s\n", shown(path), e.msg);
    } else {
        if (pt_loy_program_json(&p, &out) == 0) {
            fwrite(out.data, 1, out.len, stdout);
            fputc('\n', stdout);
        } else {
            fprintf(stderr, "patron loyalty: out of memory\n");
            rc = PT_ENOMEM;
        }
        pt_loy_program_release(&p);
    }
    pt_buf_release(&in);
    pt_buf_release(&out);
    return rc ? PT_EXIT_FAIL : PT_EXIT_OK;
}

struct shop_find {
    const char *public_id;
    int64_t id;
};

static int shop_match(void *ctx, const struct pt_shop *sh)
{
    struct shop_find *f = ctx;
    if (strcmp(sh->public_id, f->public_id) == 0)
        f->id = sh->id;
    return 0;
}

/* The internal id of shop public_id in data dir `data`: 0, or -1 after a message. */
static int find_shop(const char *data, const char *public_id, int64_t *id)
{
    char path[4096];
    struct stat st;
    if ((size_t)snprintf(path, sizeof path, "%s/patron.db", data) >= sizeof path ||
        stat(path, &st) != 0) {
        fprintf(stderr, "patron loyalty: %s is no Patron data directory (no patron.db)\n", data);
        return -1;
    }
    struct pt_store *s;
    struct pt_err e;
    pt_err_clear(&e);
    if (pt_store_open(data, PT_STORE_READ, &s, &e)) {
        fprintf(stderr, "patron loyalty: %s\n", e.msg);
        return -1;
    }
    struct shop_find f = {.public_id = public_id, .id = 0};
    int rc = pt_store_shop_list(s, shop_match, &f, &e);
    pt_store_close(s);
    if (rc) {
        fprintf(stderr, "patron loyalty: %s\n", e.msg);
        return -1;
    }
    if (f.id == 0) {
        fprintf(stderr, "patron loyalty: no shop %s in %s (see `patron shop list`)\n", public_id,
                data);
        return -1;
    }
    *id = f.id;
    return 0;
}

/* A 4xx answer {"error":{"code","message","field"}} on stderr. */
static void print_refusal(const char *file, const struct pt_loy_req *q)
{
    json_error_t je;
    json_t *o = json_loadb(q->out.data ? q->out.data : "", q->out.len, 0, &je);
    json_t *err = json_object_get(o, "error");
    const char *msg = json_string_value(json_object_get(err, "message"));
    const char *field = json_string_value(json_object_get(err, "field"));
    unsigned long long line = 0;
    if (msg == NULL)
        fprintf(stderr, "patron loyalty import: refused (status %d): %.*s\n", q->status,
                (int)q->out.len, q->out.data ? q->out.data : "");
    else if (field && sscanf(field, "line %llu", &line) == 1 && line > 0)
        fprintf(stderr, "%s:%llu: %s\n", shown(file), line, after_position(msg, "line "));
    else
        fprintf(stderr, "patron loyalty import: %s\n", msg);
    json_decref(o);
}

static size_t count_lines(const char *s, size_t n)
{
    size_t k = 0;
    for (const char *p = s, *end = s + n; (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
        k++;
    return k;
}

static int import(const char *file, const char *data, const char *shop_id, int json)
{
    struct pt_buf in;
    pt_buf_init(&in);
    if (read_file(file, MAX_FILE, &in)) {
        pt_buf_release(&in);
        return PT_EXIT_FAIL;
    }
    struct cli_progress prog;
    struct pt_loy_import_opts po = {0};
    cli_progress_init(&prog, "parsing", in.len, 1);
    if (in.len && count_lines(in.data, in.len) > PROGRESS_ROWS) {
        po.progress = cli_progress_update;
        po.pctx = &prog;
    }
    struct pt_loy_import im;
    struct pt_err e;
    int rc = pt_loy_import_parse_opts(in.data ? in.data : "", in.len, &po, &im, &e);
    cli_progress_done(&prog);
    pt_buf_release(&in);
    if (rc) {
        if (e.line)
            fprintf(stderr, "%s:%llu:%llu: %s\n", shown(file), (unsigned long long)e.line,
                    (unsigned long long)e.column, after_position(e.msg, "line "));
        else
            fprintf(stderr, "patron loyalty import: %s: %s\n", shown(file), e.msg);
        return PT_EXIT_FAIL;
    }
    int64_t shop = 0;
    if (find_shop(data, shop_id, &shop)) {
        pt_loy_import_release(&im);
        return PT_EXIT_FAIL;
    }
    struct pt_engine_opts eo = {.data_dir = data, .clv_refit_s = -1}; /* no CLV fit for this */
    struct pt_engine *g;
    pt_err_clear(&e);
    if (pt_engine_open(&eo, &g, &e)) {
        fprintf(stderr, "patron loyalty: %s\n", e.msg);
        pt_loy_import_release(&im);
        return PT_EXIT_FAIL;
    }
    struct pt_loy_req q = {.op = PT_LOYOP_IMPORT, .rows = im.rows, .n = im.n};
    pt_buf_init(&q.out);
    struct pt_job j = {.kind = PT_JOB_LOYALTY, .shop = shop, .loy = &q};
    rc = pt_engine_run(g, &j);
    int code = PT_EXIT_OK;
    if (rc != 0 || j.rc != 0) {
        fprintf(stderr, "patron loyalty import: nothing imported: %s\n",
                j.msg[0] ? j.msg : pt_strerror(rc ? rc : j.rc));
        code = PT_EXIT_FAIL;
    } else if (q.status != 200) {
        print_refusal(file, &q);
        code = PT_EXIT_FAIL;
    } else {
        json_error_t je;
        json_t *o = json_loadb(q.out.data ? q.out.data : "", q.out.len, 0, &je);
        json_int_t imported = json_integer_value(json_object_get(o, "imported"));
        json_int_t skipped = json_integer_value(json_object_get(o, "skipped"));
        if (json)
            printf("{\"imported\": %lld, \"skipped\": %lld}\n", (long long)imported,
                   (long long)skipped);
        else
            printf("imported %lld member%s (%lld already imported)\n", (long long)imported,
                   imported == 1 ? "" : "s", (long long)skipped);
        json_decref(o);
    }
    pt_engine_close(g);
    pt_buf_release(&q.out);
    pt_loy_import_release(&im);
    return code;
}

int cmd_loyalty(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'},
        {"shop", required_argument, 0, 's'},
        {"format", required_argument, 0, 'f'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *data = NULL, *shop = NULL, *format = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            data = optarg;
            break;
        case 's':
            shop = optarg;
            break;
        case 'f':
            format = optarg;
            break;
        case 'h':
            fputs(k_help, stdout);
            return PT_EXIT_OK;
        default:
            fprintf(stderr, "patron loyalty: unknown or incomplete option \"%s\"\n%s",
                    argv[optind - 1], k_help);
            return PT_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fputs(k_help, stderr);
        return PT_EXIT_USAGE;
    }
    const char *verb = argv[optind++];
    if (strcmp(verb, "import") && strcmp(verb, "check-program")) {
        fprintf(stderr, "patron loyalty: unknown action \"%s\" (import, check-program)\n", verb);
        return PT_EXIT_USAGE;
    }
    if (argc - optind != 1) {
        fprintf(stderr, "patron loyalty %s: expects one FILE argument\n", verb);
        return PT_EXIT_USAGE;
    }
    const char *file = argv[optind];
    if (!strcmp(verb, "check-program")) {
        if (data || shop || format) {
            fprintf(stderr, "patron loyalty check-program: takes no --data, --shop, --format\n");
            return PT_EXIT_USAGE;
        }
        return check_program(file);
    }
    int json = format && !strcmp(format, "json");
    if (format && !json && strcmp(format, "table")) {
        fprintf(stderr, "patron loyalty: --format must be table or json\n");
        return PT_EXIT_USAGE;
    }
    if (data == NULL || shop == NULL) {
        fprintf(stderr, "patron loyalty import: --data DIR and --shop SHOP_ID are required\n");
        return PT_EXIT_USAGE;
    }
    return import(file, data, shop, json);
}
