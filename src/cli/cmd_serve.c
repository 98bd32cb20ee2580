/*
 * cmd_serve.c - `patron serve`: the HTTP server on the engine (http/http.h).
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
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
    "  --smtp URL           the SMTP server automations send email through:\n"
    "                       smtp://HOST[:PORT] (STARTTLS with --smtp-tls starttls) or\n"
    "                       smtps://HOST[:PORT]; without it email waits in the outbox\n"
    "  --smtp-tls MODE      none (default for smtp://), starttls, or implicit (smtps://)\n"
    "  --smtp-user NAME     AUTH user; the password is read from --smtp-password-file\n"
    "  --smtp-password-file FILE\n"
    "  --smtp-insecure      do not verify the SMTP server's certificate\n"
    "  --mail-from ADDR     default From of shops without messaging settings\n"
    "                       (default patron@localhost)\n"
    "  --public-url URL     base of tracking and unsubscribe links (default\n"
    "                       http://LISTEN-ADDRESS)\n"
    "  --delivery-attempts N  attempts before a message is dead (default 8)\n"
    "  --delivery-backoff S first retry after S seconds, doubling (default 60)\n"
    "  --automation-sweep S time triggers are swept every S seconds (default 60)\n"
    "  --test-clock FILE    tests only: the clock is the Unix time written in FILE\n"
    "                       (re-read when it changes); waits and sweeps follow it\n"
    "  --log FILE|-|off     one JSON line per request: to FILE, stderr (-, default) or off\n"
    "  --config FILE        read options from FILE first; flags given later win\n"
    "  -h, --help           this text\n";

struct serve_opts {
    char data[4096];
    char host[64];
    long port, threads, queue, group, rfm_refresh, clv_refit, seg_sweep, voucher_failures;
    long long max_body, max_import;
    char log[4096];
    char smtp[1024], smtp_user[256], smtp_pass_file[4096], mail_from[256], public_url[512];
    char test_clock[4096];
    long smtp_tls, smtp_insecure, attempts, backoff, auto_sweep;
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
    } else if (!strcmp(name, "smtp")) {
        if (strncmp(v, "smtp://", 7) && strncmp(v, "smtps://", 8)) {
            fprintf(stderr, "patron serve: --smtp: expected smtp://HOST[:PORT] or "
                            "smtps://HOST[:PORT], got \"%s\"\n", v);
            return -1;
        }
        snprintf(o->smtp, sizeof o->smtp, "%s", v);
    } else if (!strcmp(name, "smtp-tls")) {
        o->smtp_tls = !strcmp(v, "none") ? PT_TLS_NONE : !strcmp(v, "starttls") ? PT_TLS_STARTTLS
                      : !strcmp(v, "implicit")                                  ? PT_TLS_IMPLICIT
                                                                                : -1;
        if (o->smtp_tls < 0) {
            fprintf(stderr, "patron serve: --smtp-tls: none, starttls or implicit\n");
            return -1;
        }
    } else if (!strcmp(name, "smtp-user")) {
        snprintf(o->smtp_user, sizeof o->smtp_user, "%s", v);
    } else if (!strcmp(name, "smtp-password-file")) {
        snprintf(o->smtp_pass_file, sizeof o->smtp_pass_file, "%s", v);
    } else if (!strcmp(name, "smtp-insecure")) { /* (a config file's value) */
        if (strcmp(v, "true") && strcmp(v, "yes") && strcmp(v, "1") && strcmp(v, "false") &&
            strcmp(v, "no") && strcmp(v, "0")) {
            fprintf(stderr, "patron serve: smtp-insecure: expected true or false\n");
            return -1;
        }
        o->smtp_insecure = !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1");
    } else if (!strcmp(name, "mail-from")) {
        if (strchr(v, '@') == NULL || strlen(v) >= sizeof o->mail_from) {
            fprintf(stderr, "patron serve: --mail-from: expected an email address\n");
            return -1;
        }
        snprintf(o->mail_from, sizeof o->mail_from, "%s", v);
    } else if (!strcmp(name, "public-url")) {
        if ((strncmp(v, "http://", 7) && strncmp(v, "https://", 8)) ||
            strlen(v) >= sizeof o->public_url) {
            fprintf(stderr, "patron serve: --public-url: expected http(s)://...\n");
            return -1;
        }
        snprintf(o->public_url, sizeof o->public_url, "%s", v);
    } else if (!strcmp(name, "delivery-attempts")) {
        if (parse_long(name, v, 1, 100, &x))
            return -1;
        o->attempts = (long)x;
    } else if (!strcmp(name, "delivery-backoff")) {
        if (parse_long(name, v, 1, 86400, &x))
            return -1;
        o->backoff = (long)x;
    } else if (!strcmp(name, "automation-sweep")) {
        if (parse_long(name, v, 1, 86400, &x))
            return -1;
        o->auto_sweep = (long)x;
    } else if (!strcmp(name, "test-clock")) {
        snprintf(o->test_clock, sizeof o->test_clock, "%s", v);
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

/* --test-clock: the Unix time written in a file, re-read when the file changes. */
struct test_clock {
    const char *path;
    struct timespec mtime;
    int64_t t;
    pthread_mutex_t mu;
};

static int64_t test_clock_now(void *ctx)
{
    struct test_clock *c = ctx;
    struct stat sb;
    pthread_mutex_lock(&c->mu);
    if (stat(c->path, &sb) == 0 && (sb.st_mtim.tv_sec != c->mtime.tv_sec ||
                                    sb.st_mtim.tv_nsec != c->mtime.tv_nsec || c->t == 0)) {
        FILE *f = fopen(c->path, "r");
        long long v;
        if (f && fscanf(f, "%lld", &v) == 1 && v > 0) {
            c->t = v;
            c->mtime = sb.st_mtim;
        }
        if (f)
            fclose(f);
    }
    int64_t t = c->t ? c->t : (int64_t)time(NULL);
    pthread_mutex_unlock(&c->mu);
    return t;
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
        {"smtp", required_argument, 0, 1},       {"smtp-tls", required_argument, 0, 1},
        {"smtp-user", required_argument, 0, 1},  {"smtp-password-file", required_argument, 0, 1},
        {"smtp-insecure", no_argument, 0, 3},    {"mail-from", required_argument, 0, 1},
        {"public-url", required_argument, 0, 1}, {"delivery-attempts", required_argument, 0, 1},
        {"delivery-backoff", required_argument, 0, 1},
        {"automation-sweep", required_argument, 0, 1},
        {"test-clock", required_argument, 0, 1},
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
        } else if (c == 3) {
            o.smtp_insecure = 1;
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
                                .seg_sweep_s = (int)o.seg_sweep,
                                .auto_sweep_s = (int)o.auto_sweep,
                                .mail_from = o.mail_from[0] ? o.mail_from : NULL,
                                .public_url = o.public_url[0] ? o.public_url : NULL,
                                .deliver_attempts = (int)o.attempts,
                                .deliver_backoff_s = (int)o.backoff,
                                .deliver = 1};
    static struct test_clock tc = {.mu = PTHREAD_MUTEX_INITIALIZER};
    if (o.test_clock[0]) {
        tc.path = o.test_clock;
        eo.clock = test_clock_now;
        eo.clock_ctx = &tc;
        fprintf(stderr, "patron serve: the clock is %s (--test-clock)\n", o.test_clock);
    }
    /* SMTP: smtp[s]://HOST[:PORT] */
    static char smtp_host[1024], smtp_pass[1024];
    struct pt_smtp_cfg smtp = {.tls = (int)o.smtp_tls, .verify = !o.smtp_insecure};
    if (o.smtp[0]) {
        int implicit = strncmp(o.smtp, "smtps://", 8) == 0;
        const char *hp = o.smtp + (implicit ? 8 : 7);
        const char *colon = strrchr(hp, ':');
        snprintf(smtp_host, sizeof smtp_host, "%.*s", (int)(colon ? colon - hp : (long)strlen(hp)),
                 hp);
        long long port = 0;
        if (colon && parse_long("smtp", colon + 1, 1, 65535, &port))
            return PT_EXIT_USAGE;
        smtp.host = smtp_host;
        smtp.port = (int)port;
        if (implicit)
            smtp.tls = PT_TLS_IMPLICIT;
        if (o.smtp_user[0]) {
            smtp.user = o.smtp_user;
            FILE *pf = o.smtp_pass_file[0] ? fopen(o.smtp_pass_file, "r") : NULL;
            if (pf == NULL || fgets(smtp_pass, sizeof smtp_pass, pf) == NULL) {
                fprintf(stderr, "patron serve: --smtp-user needs a readable "
                                "--smtp-password-file\n");
                if (pf)
                    fclose(pf);
                return PT_EXIT_USAGE;
            }
            fclose(pf);
            smtp_pass[strcspn(smtp_pass, "\r\n")] = '\0';
            smtp.password = smtp_pass;
        }
        eo.smtp = &smtp;
    }
    if (pt_send_global_init()) {
        fprintf(stderr, "patron serve: cannot initialise libcurl\n");
        return PT_EXIT_FAIL;
    }
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
    char url[600];
    if (o.public_url[0])
        snprintf(url, sizeof url, "%s", o.public_url);
    else
        snprintf(url, sizeof url, "http://%s:%u", o.host, (unsigned)pt_http_port(h));
    pt_engine_set_public_url(g, url);
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
