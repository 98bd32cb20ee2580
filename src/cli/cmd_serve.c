/*
 * cmd_serve.c - `patron serve`: the HTTP server on the engine (http/http.h).
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/timeutil.h"
#include "cli/cli.h"
#include "engine/engine.h"
#include "http/http.h"

static const char k_help[] =
    "usage: patron serve --data DIR [options]\n"
    "\n"
    "Serve the events and profiles API (docs/api.yaml) on the store in DIR (created if\n"
    "missing; SQLite in WAL mode, schema migrated at start). Memory is rebuilt from the\n"
    "store at start. SIGTERM or SIGINT: stop accepting, finish and commit what is in\n"
    "flight, exit 0.\n"
    "\n"
    "options (also accepted in a config file as `name = value` lines):\n"
    "  --data DIR           data directory                                [required]\n"
    "  --listen ADDR:PORT   address to listen on (default 127.0.0.1:8080; port 0 picks\n"
    "                       a free one; the address is printed on stderr)\n"
    "  --threads N          HTTP worker threads (default 4)\n"
    "  --queue N            events waiting for the writer before requests get 503\n"
    "                       (default 200000)\n"
    "  --group N            events per group commit at most (default 20000)\n"
    "  --max-body BYTES     largest events request body (default 1048576)\n"
    "  --max-import BYTES   largest CSV import body (default 1073741824)\n"
    "  --rfm-refresh S      live RFM quintile boundaries at most S seconds old (default 5)\n"
    "  --segment-sweep S    re-evaluate segments reading RFM/CLV scores, save membership\n"
    "                       snapshots and daily counts every S seconds (default 300)\n"
    "  --clv-refit S        refit each shop's CLV models every S seconds (default 3600;\n"
    "                       0 or -1: never)\n"
    "  --voucher-failures N failed voucher look-ups an API key may make per minute\n"
    "                       (unknown or mistyped codes; then 429) (default 600)\n"
    "  --log FILE|-|off     one JSON line per request: to FILE, stderr (-, default) or off\n"
    "  --config FILE        read options from FILE first; flags given later win\n"
    "  -h, --help           this text\n";

struct serve_opts {
    char data[4096];
    char host[64];
    long port, threads, queue, group, rfm_refresh, clv_refit, seg_sweep, voucher_failures;
    long long max_body, max_import;
    char log[4096];
};

static int parse_long(const char *name, const char *v, long long min, long long max,
                      long long *out)
{
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || *end || v[0] == '\0' || x < min || x > max) {
        fprintf(stderr, "patron serve: --%s: expected an integer %lld..%lld, got \"%s\"\n", name,
                min, max, v);
        return -1;
    }
    *out = x;
    return 0;
}

static int set_opt(struct serve_opts *o, const char *name, const char *v)
{
    long long x;
    if (!strcmp(name, "data")) {
        snprintf(o->data, sizeof o->data, "%s", v);
    } else if (!strcmp(name, "listen")) {
        const char *colon = strrchr(v, ':');
        if (colon == NULL || colon == v || (size_t)(colon - v) >= sizeof o->host ||
            parse_long("listen", colon + 1, 0, 65535, &x)) {
            fprintf(stderr, "patron serve: --listen: expected ADDRESS:PORT, got \"%s\"\n", v);
            return -1;
        }
        snprintf(o->host, sizeof o->host, "%.*s", (int)(colon - v), v);
        o->port = (long)x;
    } else if (!strcmp(name, "threads")) {
        if (parse_long(name, v, 1, 256, &x))
            return -1;
        o->threads = (long)x;
    } else if (!strcmp(name, "queue")) {
        if (parse_long(name, v, 1, 100000000, &x))
            return -1;
        o->queue = (long)x;
    } else if (!strcmp(name, "group")) {
        if (parse_long(name, v, 1, 10000000, &x))
            return -1;
        o->group = (long)x;
    } else if (!strcmp(name, "rfm-refresh")) {
        if (parse_long(name, v, 1, 86400, &x))
            return -1;
        o->rfm_refresh = (long)x;
    } else if (!strcmp(name, "segment-sweep")) {
        if (parse_long(name, v, 1, 86400, &x))
            return -1;
        o->seg_sweep = (long)x;
    } else if (!strcmp(name, "clv-refit")) {
        if (parse_long(name, v, -1, 30 * 86400, &x))
            return -1;
        o->clv_refit = (long)x == 0 ? -1 : (long)x;
    } else if (!strcmp(name, "max-body")) {
        if (parse_long(name, v, 1024, 1LL << 30, &o->max_body))
            return -1;
    } else if (!strcmp(name, "max-import")) {
        if (parse_long(name, v, 1024, 1LL << 40, &o->max_import))
            return -1;
    } else if (!strcmp(name, "voucher-failures")) {
        if (parse_long(name, v, 1, 1000000, &x))
            return -1;
        o->voucher_failures = (long)x;
    } else if (!strcmp(name, "log")) {
        snprintf(o->log, sizeof o->log, "%s", v);
    } else {
        fprintf(stderr, "patron serve: unknown option \"%s\"\n", name);
        return -1;
    }
    return 0;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

static int read_config(struct serve_opts *o, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "patron serve: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[8192];
    int ln = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        ln++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            fprintf(stderr, "patron serve: %s:%d: expected `name = value`\n", path, ln);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *name = trim(s), *val = trim(eq + 1);
        if (set_opt(o, name, val)) {
            fprintf(stderr, "patron serve: (in %s:%d)\n", path, ln);
            rc = -1;
        }
    }
    fclose(f);
    return rc;
}

static void remove_spools(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, "import-", 7) != 0 || strlen(de->d_name) != 13)
            continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (unlink(path) == 0)
            fprintf(stderr, "patron serve: removed %s, left by an interrupted import\n", path);
    }
    closedir(d);
}

int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, 0, 1},       {"listen", required_argument, 0, 1},
        {"threads", required_argument, 0, 1},    {"queue", required_argument, 0, 1},
        {"group", required_argument, 0, 1},      {"max-body", required_argument, 0, 1},
        {"max-import", required_argument, 0, 1}, {"rfm-refresh", required_argument, 0, 1},
        {"clv-refit", required_argument, 0, 1}, {"segment-sweep", required_argument, 0, 1},
        {"log", required_argument, 0, 1},        {"config", required_argument, 0, 2},
        {"voucher-failures", required_argument, 0, 1},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0},
    };
    struct serve_opts o = {.host = "127.0.0.1", .port = 8080, .log = "-"};
    int c, idx;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, &idx)) != -1) {
        if (c == 'h') {
            fputs(k_help, stdout);
            return PT_EXIT_OK;
        }
        if (c == 1) {
            if (set_opt(&o, opts[idx].name, optarg))
                return PT_EXIT_USAGE;
        } else if (c == 2) {
            if (read_config(&o, optarg))
                return PT_EXIT_USAGE;
        } else {
            fprintf(stderr, "patron serve: unknown or incomplete option \"%s\"\n%s",
                    argv[optind - 1], k_help);
            return PT_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "patron serve: unexpected argument \"%s\"\n", argv[optind]);
        return PT_EXIT_USAGE;
    }
    if (o.data[0] == '\0') {
        fprintf(stderr, "patron serve: --data DIR is required\n");
        return PT_EXIT_USAGE;
    }
    FILE *log = NULL;
    if (!strcmp(o.log, "-"))
        log = stderr;
    else if (strcmp(o.log, "off") != 0 && (log = fopen(o.log, "a")) == NULL) {
        fprintf(stderr, "patron serve: --log %s: %s\n", o.log, strerror(errno));
        return PT_EXIT_FAIL;
    }

    /* signals are taken by sigwait below; every thread started later inherits the mask */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* CSV imports spooled by a server that died mid-request hold customer data */
    remove_spools(o.data);

    double t0 = pt_mono_now();
    struct pt_engine_opts eo = {.data_dir = o.data,
                                .queue_events = (size_t)o.queue,
                                .group_events = (size_t)o.group,
                                .rfm_refresh_s = (int)o.rfm_refresh,
                                .clv_refit_s = (int)o.clv_refit,
                                .seg_sweep_s = (int)o.seg_sweep};
    struct pt_engine *g;
    struct pt_err e;
    pt_err_clear(&e);
    if (pt_engine_open(&eo, &g, &e)) {
        fprintf(stderr, "patron serve: %s\n", e.msg);
        return PT_EXIT_FAIL;
    }
    struct pt_engine_stats st;
    pt_engine_stats(g, &st);
    struct pt_http_opts ho = {.host = o.host,
                              .port = (uint16_t)o.port,
                              .threads = (int)o.threads,
                              .max_body = (size_t)o.max_body,
                              .max_import = (size_t)o.max_import,
                              .log = log,
                              .tmp_dir = o.data,
                              .voucher_failures = (int)o.voucher_failures};
    struct pt_http *h;
    if (pt_http_start(g, &ho, &h, &e)) {
        fprintf(stderr, "patron serve: %s\n", e.msg);
        pt_engine_close(g);
        return PT_EXIT_FAIL;
    }
    fprintf(stderr, "patron serve: %zu customers loaded in %.2f s\n", st.customers,
            pt_mono_now() - t0);
    fprintf(stderr, "patron serve: listening on http://%s:%u\n", o.host,
            (unsigned)pt_http_port(h));
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "patron serve: %s: finishing requests in flight\n",
            sig == SIGTERM ? "SIGTERM" : "SIGINT");
    pt_http_stop(h);
    pt_engine_close(g);
    if (log && log != stderr)
        fclose(log);
    fprintf(stderr, "patron serve: stopped cleanly\n");
    return PT_EXIT_OK;
}
