/*
 * test_send.c - email and webhook delivery (src/automation/send.h).
 *
 * pt_mail_format is checked offline: headers, folding, RFC 2047 words,
 * quoted-printable (decoded back here), header injection refused. Delivery is
 * checked against real servers on 127.0.0.1, no mocks: the SMTP sink
 * (tests/e2e/py/smtp_sink.py, aiosmtpd) and the webhook sink
 * (tests/e2e/py/webhook_sink.py, http.server), started per test with
 * Debian's /usr/bin/python3 and stopped by PID. The sinks decode what they
 * receive with Python's email module and verify webhook signatures
 * themselves, so each test reads back an independent view of the bytes sent.
 * Tests needing aiosmtpd (or openssl, for TLS) are skipped when it is missing.
 *
 * Run from the repository root (as scripts/run-tests does): the sink scripts
 * are found relative to this file's path.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "automation/send.h"
#include "util/buf.h"
#include "util/mem.h"

#define PY "/usr/bin/python3"

/* ---- harness: the sinks ------------------------------------------------- */

struct sink {
    pid_t pid;
    int port;
    char dir[64]; /* DIR/port, DIR/out/ */
};

static struct sink g_sinks[4];
static int g_nsinks;

static int run_quiet(const char *const argv[])
{
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        int fd = open("/dev/null", O_RDWR);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void need_python_module(const char *mod)
{
    char code[64];
    snprintf(code, sizeof code, "import %s", mod);
    const char *argv[] = {PY, "-c", code, NULL};
    if (access(PY, X_OK) != 0 || run_quiet(argv) != 0)
        cr_skip_test("%s lacks the Python module %s (Debian: python3-aiosmtpd)", PY, mod);
}

/* tests/e2e/py/NAME, relative to this source file. */
static const char *script(const char *name)
{
    static char path[PATH_MAX];
    const char *slash = strrchr(__FILE__, '/');
    int dir = slash ? (int)(slash - __FILE__) : 1;
    snprintf(path, sizeof path, "%.*s/../e2e/py/%s", dir, slash ? __FILE__ : ".", name);
    cr_assert_eq(access(path, R_OK), 0, "%s not found (run from the repository root)", path);
    return path;
}

static char *path_in(const struct sink *k, const char *name)
{
    static char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", k->dir, name);
    return path;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    struct pt_buf b;
    pt_buf_init(&b);
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        cr_assert_eq(pt_buf_add(&b, tmp, n), 0);
    fclose(f);
    if (len)
        *len = b.len;
    return b.data ? b.data : pt_strndup("", 0);
}

/* Start SCRIPT --port-file DIR/port --out DIR/out EXTRA...; wait for the port. */
static struct sink *sink_start(const char *name, const char *const *extra)
{
    cr_assert_lt(g_nsinks, 4);
    struct sink *k = &g_sinks[g_nsinks++];
    snprintf(k->dir, sizeof k->dir, "/tmp/pt_send_XXXXXX");
    cr_assert_not_null(mkdtemp(k->dir));
    char portfile[PATH_MAX], out[PATH_MAX];
    snprintf(portfile, sizeof portfile, "%s/port", k->dir);
    snprintf(out, sizeof out, "%s/out", k->dir);
    const char *argv[24] = {PY, script(name), "--port-file", portfile, "--out", out};
    size_t n = 6;
    for (; extra && *extra; extra++)
        argv[n++] = *extra;
    argv[n] = NULL;
    pid_t parent = getpid();
    k->pid = fork();
    cr_assert_neq(k->pid, -1);
    if (k->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* never outlive a crashed test */
        if (getppid() != parent)
            _exit(127);
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        execv(PY, (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 1500; i++) { /* 15 s */
        char *s = slurp(portfile, NULL);
        if (s != NULL) {
            k->port = (int)strtol(s, NULL, 10);
            pt_free(s);
            if (k->port > 0)
                return k;
        }
        int st;
        cr_assert_eq(waitpid(k->pid, &st, WNOHANG), 0, "%s exited before listening", name);
        usleep(10000);
    }
    cr_assert_fail("%s did not write its port", name);
    return NULL;
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(p);
}

/* SIGTERM the PID we started; its exit status (0 = clean), -1 if killed. */
static int sink_stop(struct sink *k)
{
    if (k->pid <= 0)
        return 0;
    int st = 0, rc = -1, reaped = 0;
    kill(k->pid, SIGTERM);
    for (int i = 0; i < 500 && !reaped; i++) { /* 5 s */
        reaped = waitpid(k->pid, &st, WNOHANG) == k->pid;
        if (!reaped)
            usleep(10000);
    }
    if (!reaped) {
        kill(k->pid, SIGKILL);
        waitpid(k->pid, &st, 0);
    } else if (WIFEXITED(st)) {
        rc = WEXITSTATUS(st);
    }
    k->pid = 0;
    return rc;
}

static void stop_all(void)
{
    for (int i = 0; i < g_nsinks; i++) {
        sink_stop(&g_sinks[i]);
        if (g_sinks[i].dir[0])
            nftw(g_sinks[i].dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    }
    g_nsinks = 0;
}

static long counter(const struct sink *k, const char *name)
{
    char rel[128];
    snprintf(rel, sizeof rel, "out/%s", name);
    char *s = slurp(path_in(k, rel), NULL);
    cr_assert_not_null(s, "no counter %s", name);
    long v = strtol(s, NULL, 10);
    pt_free(s);
    return v;
}

/* The sink's JSON summary out/NAME.json. */
static json_t *summary(const struct sink *k, const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "out/%s.json", name);
    json_error_t je;
    json_t *j = json_load_file(path_in(k, rel), 0, &je);
    cr_assert_not_null(j, "%s: %s", rel, je.text);
    return j;
}

static const char *jstr(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* A TCP port on 127.0.0.1 where nobody listens: bound, never listening, so
 * no one else can take it while the test runs. *fd is closed by the caller. */
static int closed_port(int *fd)
{
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(*fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t al = sizeof a;
    cr_assert_eq(getsockname(*fd, (struct sockaddr *)&a, &al), 0);
    return ntohs(a.sin_port);
}

static struct pt_sender *g_sender;

static void setup(void)
{
    cr_assert_eq(pt_send_global_init(), 0);
    cr_assert_eq(pt_sender_new(&g_sender), 0);
}

static void teardown(void)
{
    pt_sender_free(g_sender);
    g_sender = NULL;
    stop_all();
}

TestSuite(mail, .init = setup, .fini = teardown);
TestSuite(smtp, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(webhook, .init = setup, .fini = teardown, .timeout = 60);

/* ---- message helpers ---------------------------------------------------- */

static struct pt_smtp_cfg cfg(int port)
{
    return (struct pt_smtp_cfg){.host = "127.0.0.1",
                                .port = port,
                                .tls = PT_TLS_NONE,
                                .verify = 1,
                                .from = "shop@example.com",
                                .from_name = "Example Shop",
                                .timeout_ms = 10000};
}

static struct pt_mail mail(void)
{
    return (struct pt_mail){.to = "ann@example.net",
                            .subject = "Your reward is waiting",
                            .text = "Hello Ann,\nyour reward is waiting.\n",
                            .html = "<p>Hello Ann,</p>\n<p>your reward is waiting.</p>\n",
                            .id = "42",
                            .unsubscribe_url = "https://shop.example.com/u/abc?t=1",
                            .date = 1778061600}; /* Wed, 06 May 2026 10:00:00 UTC */
}

/* Every line ends in CRLF (no bare CR or LF) and has at most max bytes. */
static void check_lines(const char *s, size_t n, size_t max)
{
    size_t col = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\r') {
            cr_assert(i + 1 < n && s[i + 1] == '\n', "bare CR at byte %zu", i);
            i++;
            col = 0;
            continue;
        }
        cr_assert_neq(s[i], '\n', "bare LF at byte %zu", i);
        col++;
        cr_assert_leq(col, max, "a line over %zu bytes at byte %zu", max, i);
    }
}

static int hexval(char c)
{
    const char *h = "0123456789ABCDEF", *p = strchr(h, c);
    cr_assert(c != '\0' && p != NULL, "bad quoted-printable hex digit '%c'", c);
    return (int)(p - h);
}

/* Quoted-printable decoded (soft breaks dropped, CRLF kept); pt_free it. */
static char *qp_decode(const char *s, size_t n)
{
    struct pt_buf b;
    pt_buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '=') {
            cr_assert_eq(pt_buf_addc(&b, s[i]), 0);
            continue;
        }
        cr_assert_lt(i + 2, n, "'=' at the end");
        if (s[i + 1] == '\r' && s[i + 2] == '\n') {
            i += 2;
            continue;
        }
        cr_assert_eq(pt_buf_addc(&b, (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]))), 0);
        i += 2;
    }
    return b.data ? b.data : pt_strndup("", 0);
}

/* LF and CRLF line breaks as CRLF (what a QP body decodes to); pt_free it. */
static char *crlf(const char *s)
{
    struct pt_buf b;
    pt_buf_init(&b);
    for (; *s; s++) {
        if (*s == '\n' && (b.len == 0 || b.data[b.len - 1] != '\r'))
            cr_assert_eq(pt_buf_addc(&b, '\r'), 0);
        cr_assert_eq(pt_buf_addc(&b, *s), 0);
    }
    return b.data;
}

/* CRLF as LF (how the sink reports decoded text); pt_free it. */
static char *lf(const char *s)
{
    struct pt_buf b;
    pt_buf_init(&b);
    for (; *s; s++) {
        if (!(s[0] == '\r' && s[1] == '\n'))
            cr_assert_eq(pt_buf_addc(&b, *s), 0);
    }
    return b.data;
}

/* The value of header name in msg with its folds (CRLF SP) kept; pt_free it. */
static char *header(const char *msg, const char *name)
{
    size_t nl = strlen(name);
    const char *end = strstr(msg, "\r\n\r\n");
    cr_assert_not_null(end);
    for (const char *p = msg; p < end; p = strstr(p, "\r\n") + 2) {
        if (strncmp(p, name, nl) == 0 && p[nl] == ':' && p[nl + 1] == ' ') {
            const char *v = p + nl + 2, *e = v;
            while ((e = strstr(e, "\r\n")) != NULL && (e[2] == ' ' || e[2] == '\t'))
                e += 2;
            return pt_strndup(v, (size_t)(e - v));
        }
    }
    cr_assert_fail("no header %s", name);
    return NULL;
}

/* An unfolded header value made of RFC 2047 "=?UTF-8?B?...?=" words,
 * decoded; each word must hold whole UTF-8 characters. pt_free it. */
static char *decode_words(const char *v)
{
    struct pt_buf b;
    pt_buf_init(&b);
    while (*v) {
        while (*v == ' ' || *v == '\r' || *v == '\n')
            v++;
        if (*v == '\0')
            break;
        cr_assert(strncmp(v, "=?UTF-8?B?", 10) == 0, "not an encoded-word: %s", v);
        const char *e = strstr(v + 10, "?=");
        cr_assert_not_null(e);
        cr_assert_leq(e + 2 - v, 75, "encoded-word over 75 characters");
        unsigned char raw[64];
        size_t n;
        cr_assert_eq(sodium_base642bin(raw, sizeof raw, v + 10, (size_t)(e - v - 10), NULL, &n,
                                       NULL, sodium_base64_VARIANT_ORIGINAL),
                     0);
        cr_assert((raw[0] & 0xc0) != 0x80, "a word starts inside a UTF-8 character");
        cr_assert((raw[n - 1] & 0x80) == 0 || (raw[n - 1] & 0xc0) == 0x80);
        cr_assert_eq(pt_buf_add(&b, raw, n), 0);
        v = e + 2;
    }
    return b.data ? b.data : pt_strndup("", 0);
}

static char *unfold(const char *v)
{
    struct pt_buf b;
    pt_buf_init(&b);
    for (; *v; v++) {
        if (v[0] == '\r' && v[1] == '\n')
            v++;
        else
            cr_assert_eq(pt_buf_addc(&b, *v), 0);
    }
    return b.data ? b.data : pt_strndup("", 0);
}

static void format_ok(const struct pt_smtp_cfg *c, const struct pt_mail *m, struct pt_buf *b)
{
    pt_buf_init(b);
    cr_assert_eq(pt_mail_format(c, m, b), 0);
    check_lines(b->data, b->len, 78);
}

/* ---- pt_mail_format, offline -------------------------------------------- */

Test(mail, headers_and_parts)
{
    struct pt_smtp_cfg c = cfg(25);
    struct pt_mail m = mail();
    struct pt_buf b;
    pt_buf_init(&b);
    cr_assert_eq(pt_buf_adds(&b, "before"), 0);
    cr_assert_eq(pt_mail_format(&c, &m, &b), 0);
    cr_assert(strncmp(b.data, "before", 6) == 0, "appends");
    const char *msg = b.data + 6;
    check_lines(msg, b.len - 6, 78);
    const char *want[] = {"From: \"Example Shop\" <shop@example.com>\r\n",
                          "\r\nTo: ann@example.net\r\n",
                          "\r\nSubject: Your reward is waiting\r\n",
                          "\r\nDate: Wed, 06 May 2026 10:00:00 +0000\r\n",
                          "\r\nMessage-ID: <42@example.com>\r\n",
                          "\r\nMIME-Version: 1.0\r\n",
                          "\r\nList-Unsubscribe: <https://shop.example.com/u/abc?t=1>\r\n",
                          "\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
                          "\r\nContent-Type: multipart/alternative; boundary=\""};
    const char *body = strstr(msg, "\r\n\r\n"), *prev = msg;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *p = strstr(msg, want[i]);
        cr_assert_not_null(p, "missing %s", want[i]);
        cr_assert(p >= prev && p < body, "out of order or not a header: %s", want[i]);
        prev = p;
    }
    cr_assert(strncmp(msg, want[0], strlen(want[0])) == 0, "From comes first");

    char bnd[80];
    const char *bp = strstr(msg, "boundary=\"") + 10;
    size_t bl = (size_t)(strchr(bp, '"') - bp);
    cr_assert_lt(bl, 70);
    memcpy(bnd, bp, bl);
    bnd[bl] = '\0';
    char expect[1024];
    snprintf(expect, sizeof expect,
             "\r\n\r\n--%s\r\n"
             "Content-Type: text/plain; charset=UTF-8\r\n"
             "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
             "Hello Ann,\r\nyour reward is waiting.\r\n"
             "\r\n--%s\r\n"
             "Content-Type: text/html; charset=UTF-8\r\n"
             "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
             "<p>Hello Ann,</p>\r\n<p>your reward is waiting.</p>\r\n"
             "\r\n--%s--\r\n",
             bnd, bnd, bnd);
    cr_assert_str_eq(body, expect);
    int seen = 0;
    for (const char *p = msg; (p = strstr(p, bnd)) != NULL; p++)
        seen++;
    cr_expect_eq(seen, 4, "boundary only in the header and the 3 delimiters");

    struct pt_buf again;
    format_ok(&c, &m, &again);
    cr_expect_str_eq(again.data, msg, "the same message formats to the same bytes");
    pt_buf_release(&again);
    pt_buf_release(&b);
}

Test(mail, defaults_and_single_parts)
{
    struct pt_smtp_cfg c = cfg(25);
    c.from_name = NULL;
    c.domain = "mail.example.org";
    struct pt_mail m = mail();
    m.html = NULL;
    m.unsubscribe_url = NULL;
    m.date = 951782400; /* a leap day */
    struct pt_buf b;
    format_ok(&c, &m, &b);
    cr_expect(strncmp(b.data, "From: shop@example.com\r\n", 24) == 0, "%s", b.data);
    cr_expect_not_null(strstr(b.data, "\r\nMessage-ID: <42@mail.example.org>\r\n"));
    cr_expect_not_null(strstr(b.data, "\r\nDate: Tue, 29 Feb 2000 00:00:00 +0000\r\n"));
    cr_expect_null(strstr(b.data, "List-Unsubscribe"));
    cr_expect_null(strstr(b.data, "multipart"));
    cr_expect_null(strstr(b.data, "text/html"));
    const char *tail = "Content-Type: text/plain; charset=UTF-8\r\n"
                       "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                       "Hello Ann,\r\nyour reward is waiting.\r\n";
    cr_expect_str_eq(b.data + b.len - strlen(tail), tail);
    pt_buf_release(&b);

    m = mail();
    m.text = "";
    m.html = "<b>no newline at the end</b>";
    format_ok(&c, &m, &b);
    cr_expect_null(strstr(b.data, "text/plain"));
    tail = "Content-Type: text/html; charset=UTF-8\r\n"
           "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
           "<b>no newline at the end</b>\r\n";
    cr_expect_str_eq(b.data + b.len - strlen(tail), tail, "ends with CRLF");
    pt_buf_release(&b);
}

Test(mail, quoted_printable)
{
    char text[2048];
    char xs[301], es[201];
    memset(xs, 'x', 300);
    xs[300] = '\0';
    for (int i = 0; i < 100; i++)
        memcpy(es + 2 * i, "\xc3\xa9", 2);
    es[200] = '\0';
    snprintf(text, sizeof text,
             "price=10 \n.hidden\ntab\t\ncaf\xc3\xa9\r\n%s\n%s\nlone\rcr\n\n  indented\nend  ", xs,
             es);
    struct pt_smtp_cfg c = cfg(25);
    struct pt_mail m = mail();
    m.html = NULL;
    m.text = text;
    struct pt_buf b;
    format_ok(&c, &m, &b);
    const char *body = strstr(b.data, "\r\n\r\n") + 4;
    check_lines(body, strlen(body), 76);
    const char *want[] = {"price=3D10=20\r\n", "\r\n=2Ehidden\r\n", "\r\ntab=09\r\n",
                          "\r\ncaf=C3=A9\r\n", "\r\nlone=0Dcr\r\n", "\r\n\r\n  indented\r\n",
                          "\r\nend =20\r\n"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_expect_not_null(strstr(body, want[i]), "no %s in:\n%s", want[i], body);
    cr_expect_not_null(strstr(body, "=\r\n"), "soft line breaks");
    char *dec = qp_decode(body, strlen(body)), *exp = crlf(text);
    cr_expect_eq(strlen(dec), strlen(exp) + 2, "decoded %zu bytes", strlen(dec));
    cr_expect(strncmp(dec, exp, strlen(exp)) == 0, "decodes back:\n%s", dec);
    cr_expect_str_eq(dec + strlen(exp), "\r\n", "plus the CRLF that ends the message");
    pt_free(dec);
    pt_free(exp);
    pt_buf_release(&b);
}

Test(mail, encoded_subject_and_from)
{
    struct pt_smtp_cfg c = cfg(25);
    c.from_name = "Caf\xc3\xa9 M\xc3\xbcller";
    struct pt_mail m = mail();
    m.subject = "Ihr Geschenk wartet: 10 \xe2\x82\xac Rabatt f\xc3\xbcr Ihre n\xc3\xa4"
                "chste Bestellung \xe2\x80\x93 nur diese Woche! \xf0\x9f\x8e\x81 Jetzt "
                "einl\xc3\xb6sen und sparen, liebe Kundin, lieber Kunde";
    struct pt_buf b;
    format_ok(&c, &m, &b);
    cr_expect(
        strncmp(b.data, "From: =?UTF-8?B?Q2Fmw6kgTcO8bGxlcg==?= <shop@example.com>\r\n", 58) == 0,
        "%s", b.data);
    char *v = header(b.data, "Subject");
    cr_expect(strncmp(v, "=?UTF-8?B?", 10) == 0);
    cr_expect_not_null(strstr(v, "?=\r\n =?UTF-8?B?"), "folded: %s", v);
    char *d = decode_words(v);
    cr_expect_str_eq(d, m.subject);
    pt_free(d);
    pt_free(v);
    pt_buf_release(&b);

    /* long ASCII: folded at spaces, not encoded */
    m.subject = "A plain subject that is long enough to need folding because it runs past "
                "seventy-eight columns, twice over in fact, for your loyalty points summary";
    c.from_name = "Ann \"The\" Shop\\";
    format_ok(&c, &m, &b);
    cr_expect(strncmp(b.data, "From: \"Ann \\\"The\\\" Shop\\\\\" <shop@example.com>\r\n", 46) == 0,
              "%s", b.data);
    v = header(b.data, "Subject");
    cr_expect_null(strstr(v, "=?"));
    cr_expect_not_null(strstr(v, "\r\n "), "folded: %s", v);
    d = unfold(v);
    cr_expect_str_eq(d, m.subject);
    pt_free(d);
    pt_free(v);
    pt_buf_release(&b);

    /* ASCII that would read as an encoded-word, or a word too long to fold */
    const char *odd[] = {"Hi =?UTF-8?B?SGk=?= there", "see https://shop.example.com/"
                                                      "a-very-long-path-without-spaces-that-"
                                                      "cannot-be-folded-anywhere-at-all"};
    for (size_t i = 0; i < 2; i++) {
        m.subject = odd[i];
        format_ok(&c, &m, &b);
        v = header(b.data, "Subject");
        d = decode_words(v);
        cr_expect_str_eq(d, odd[i]);
        pt_free(d);
        pt_free(v);
        pt_buf_release(&b);
    }
}

Test(mail, rejects_header_injection)
{
    int fd, port = closed_port(&fd);
    const char *evil[] = {"x\r\nBcc: eve@example.org", "x\nBcc: eve@example.org",
                          "x\rBcc: eve@example.org"};
    for (int field = 0; field < 7; field++) {
        for (size_t k = 0; k < 3; k++) {
            struct pt_smtp_cfg c = cfg(port);
            struct pt_mail m = mail();
            char v[64];
            snprintf(v, sizeof v, "%s%s", field < 3 ? "ann@example.net" : "", evil[k]);
            const char **slot[] = {
                &m.to, &c.from, &m.id, &m.subject, &c.from_name, &m.unsubscribe_url, &c.domain};
            *slot[field] = v;
            struct pt_buf b;
            pt_buf_init(&b);
            cr_assert_eq(pt_buf_adds(&b, "kept"), 0);
            cr_expect_eq(pt_mail_format(&c, &m, &b), PT_EINVAL, "field %d value %zu", field, k);
            cr_expect_str_eq(b.data, "kept", "out unchanged");
            pt_buf_release(&b);
            char why[256];
            cr_expect_eq(pt_send_email(g_sender, &c, &m, why, sizeof why), PT_SEND_PERM);
            cr_expect_not_null(strstr(why, "invalid message"), "%s", why);
        }
    }
    /* other values that cannot go into a header or an envelope */
    for (int bad = 0; bad < 7; bad++) {
        struct pt_smtp_cfg c = cfg(port);
        struct pt_mail m = mail();
        switch (bad) {
        case 0:
            m.to = NULL;
            break;
        case 1:
            m.to = "not an address";
            break;
        case 2:
            m.id = "4>2";
            break;
        case 3:
            m.text = m.html = NULL;
            break;
        case 4:
            m.date = -1;
            break;
        case 5:
            c.from = "J\xc3\xb6rg@example.com";
            break;
        case 6:
            m.subject = "a bell\a";
            break;
        }
        struct pt_buf b;
        pt_buf_init(&b);
        cr_expect_eq(pt_mail_format(&c, &m, &b), PT_EINVAL, "case %d", bad);
        cr_expect_eq(b.len, 0);
        pt_buf_release(&b);
    }
    close(fd);
}

Test(mail, not_configured)
{
    struct pt_smtp_cfg c = cfg(25);
    c.host = NULL;
    struct pt_mail m = mail();
    char why[256];
    cr_expect_eq(pt_send_email(g_sender, &c, &m, why, sizeof why), PT_SEND_PERM);
    cr_expect_not_null(strstr(why, "not configured"), "%s", why);
    c.host = "mail.example.com/x";
    cr_expect_eq(pt_send_email(g_sender, &c, &m, why, sizeof why), PT_SEND_PERM);
    cr_expect_eq(pt_send_email(g_sender, &c, &m, NULL, 0), PT_SEND_PERM, "why is optional");
}

/* ---- SMTP against the sink ---------------------------------------------- */

static int send_mail(const struct pt_smtp_cfg *c, const struct pt_mail *m, char *why, size_t n)
{
    int rc = pt_send_email(g_sender, c, m, why, n);
    cr_assert_null(strpbrk(why, "\r\n"), "why is not one line: %s", why);
    return rc;
}

static size_t count_files(const struct sink *k, const char *suffix)
{
    char cmd[PATH_MAX];
    snprintf(cmd, sizeof cmd, "%s/out", k->dir);
    size_t n = 0, sl = strlen(suffix);
    struct dirent *e;
    DIR *d = opendir(cmd);
    cr_assert_not_null(d);
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        n += l > sl && strcmp(e->d_name + l - sl, suffix) == 0;
    }
    closedir(d);
    return n;
}

Test(smtp, plain_message_delivered)
{
    need_python_module("aiosmtpd");
    struct sink *k = sink_start("smtp_sink.py", NULL);
    struct pt_smtp_cfg c = cfg(k->port);
    struct pt_mail m = mail();
    char why[256];
    cr_assert_eq(send_mail(&c, &m, why, sizeof why), PT_SEND_OK, "%s", why);
    cr_expect(strncmp(why, "250", 3) == 0, "the server's answer: %s", why);

    json_t *j = summary(k, "42@example.com");
    cr_expect_str_eq(jstr(j, "message_id"), "<42@example.com>");
    cr_expect_str_eq(jstr(j, "subject"), m.subject);
    cr_expect_str_eq(jstr(j, "from_name"), "Example Shop");
    cr_expect_str_eq(jstr(j, "from_addr"), "shop@example.com");
    cr_expect_str_eq(jstr(j, "to"), "ann@example.net");
    cr_expect_str_eq(jstr(j, "date"), "Wed, 06 May 2026 10:00:00 +0000");
    cr_expect_str_eq(jstr(j, "content_type"), "multipart/alternative");
    cr_expect_str_eq(jstr(j, "list_unsubscribe"), "<https://shop.example.com/u/abc?t=1>");
    cr_expect_str_eq(jstr(j, "list_unsubscribe_post"), "List-Unsubscribe=One-Click");
    cr_expect_str_eq(jstr(j, "text"), m.text);
    cr_expect_str_eq(jstr(j, "html"), m.html);
    cr_expect_str_eq(jstr(j, "envelope_from"), "shop@example.com");
    json_t *to = json_object_get(j, "envelope_to");
    cr_expect_eq(json_array_size(to), 1);
    cr_expect_str_eq(json_string_value(json_array_get(to, 0)), "ann@example.net");
    cr_expect_eq(json_array_size(json_object_get(j, "defects")), 0, "the parser found defects");
    cr_expect(json_is_false(json_object_get(j, "bare_lf")));
    cr_expect_leq(json_integer_value(json_object_get(j, "max_line")), 78);
    json_decref(j);

    /* the sink stored exactly the bytes pt_mail_format gives */
    struct pt_buf b;
    format_ok(&c, &m, &b);
    size_t n;
    char *raw = slurp(path_in(k, "out/42@example.com.eml"), &n);
    cr_assert_not_null(raw);
    cr_expect_eq(n, b.len);
    cr_expect(memcmp(raw, b.data, n) == 0, "stored:\n%s", raw);
    pt_free(raw);
    pt_buf_release(&b);
    cr_expect_eq(counter(k, "received"), 1);
    cr_expect_eq(sink_stop(k), 0, "the sink exits cleanly on SIGTERM");
}

Test(smtp, non_ascii_round_trip)
{
    need_python_module("aiosmtpd");
    struct sink *k = sink_start("smtp_sink.py", NULL);
    struct pt_smtp_cfg c = cfg(k->port);
    c.from_name = "Caf\xc3\xa9 M\xc3\xbcller \xe2\x98\x95";
    struct pt_mail m = mail();
    m.id = "7f3a-0001";
    m.subject = "Ihr Geschenk wartet: 10 \xe2\x82\xac Rabatt f\xc3\xbcr Ihre n\xc3\xa4"
                "chste Bestellung \xe2\x80\x93 nur diese Woche! \xf0\x9f\x8e\x81 "
                "\xe3\x81\x82\xe3\x82\x8a\xe3\x81\x8c\xe3\x81\xa8\xe3\x81\x86";
    char text[4096], html[4096], pad[181];
    memset(pad, 'w', 180);
    pad[180] = '\0';
    snprintf(text, sizeof text,
             "Gr\xc3\xbc\xc3\x9f"
             "e, J\xc3\xb6rg!\r\n\r\nIhr Punktestand: 1.250 = 12,50 \xe2\x82\xac"
             "   \n.ein Punkt am Zeilenanfang\n%s\xc3\xa9%s\ntab\tam Ende\t\nlone\rcr\n"
             "\xf0\x9f\x8e\x81\xf0\x9f\x8e\x81\xf0\x9f\x8e\x81 Ende\n",
             pad, pad);
    snprintf(html, sizeof html,
             "<html><body style=\"font-family: sans-serif\"><p>Gr\xc3\xbc\xc3\x9f"
             "e, "
             "J\xc3\xb6rg!</p><p>%s</p><p>10 \xe2\x82\xac Rabatt</p></body></html>\n",
             pad);
    m.text = text;
    m.html = html;
    char why[256];
    cr_assert_eq(send_mail(&c, &m, why, sizeof why), PT_SEND_OK, "%s", why);
    json_t *j = summary(k, "7f3a-0001@example.com");
    cr_expect_str_eq(jstr(j, "subject"), m.subject);
    cr_expect_str_eq(jstr(j, "from_name"), c.from_name);
    char *want = lf(text);
    cr_expect_str_eq(jstr(j, "text"), want);
    pt_free(want);
    cr_expect_str_eq(jstr(j, "html"), html);
    cr_expect_eq(json_array_size(json_object_get(j, "defects")), 0);
    cr_expect_leq(json_integer_value(json_object_get(j, "max_line")), 78);
    json_decref(j);
    cr_expect_eq(sink_stop(k), 0);
}

Test(smtp, html_only_and_text_only)
{
    need_python_module("aiosmtpd");
    struct sink *k = sink_start("smtp_sink.py", NULL);
    struct pt_smtp_cfg c = cfg(k->port);
    struct pt_mail m = mail();
    m.text = NULL;
    m.id = "html-only";
    char why[256];
    cr_assert_eq(send_mail(&c, &m, why, sizeof why), PT_SEND_OK, "%s", why);
    m = mail();
    m.html = NULL;
    m.id = "text-only";
    cr_assert_eq(send_mail(&c, &m, why, sizeof why), PT_SEND_OK, "%s", why);

    json_t *j = summary(k, "html-only@example.com");
    cr_expect_str_eq(jstr(j, "content_type"), "text/html");
    cr_expect_str_eq(jstr(j, "html"), mail().html);
    cr_expect(json_is_null(json_object_get(j, "text")));
    cr_expect_eq(json_array_size(json_object_get(j, "defects")), 0);
    json_decref(j);
    j = summary(k, "text-only@example.com");
    cr_expect_str_eq(jstr(j, "content_type"), "text/plain");
    cr_expect_str_eq(jstr(j, "text"), mail().text);
    cr_expect(json_is_null(json_object_get(j, "html")));
    json_decref(j);
    cr_expect_eq(sink_stop(k), 0);
}

Test(smtp, hard_bounce_is_permanent)
{
    need_python_module("aiosmtpd");
    const char *extra[] = {"--reject-rcpt", "^bounce", NULL};
    struct sink *k = sink_start("smtp_sink.py", extra);
    struct pt_smtp_cfg c = cfg(k->port);
    struct pt_mail m = mail();
    m.to = "bounce-me@example.net";
    char why[256];
    cr_assert_eq(send_mail(&c, &m, why, sizeof why), PT_SEND_PERM, "%s", why);
    cr_expect(strncmp(why, "hard bounce: 550", 16) == 0, "%s", why);
    cr_expect_not_null(strstr(why, "bounce-me@example.net"), "the server's text: %s", why);
    cr_expect_eq(counter(k, "rejected_rcpts"), 1);
    cr_expect_eq(counter(k, "received"), 0);
    /* the same sender goes on with the next message */
    m = mail();
    cr_assert_eq(send_mail(&c, &m, why, sizeof why), PT_SEND_OK, "%s", why);
    cr_expect_eq(counter(k, "received"), 1);
    cr_expect_eq(sink_stop(k), 0);
}

static void tempfail_then_ok(const char *at, const char *stage)
{
    need_python_module("aiosmtpd");
    const char *extra[] = {"--tempfail-first", "1", "--tempfail-at", at, NULL};
    struct sink *k = sink_start("smtp_sink.py", extra);
    struct pt_smtp_cfg c = cfg(k->port);
    struct pt_mail m = mail();
    char why[256];
    cr_assert_eq(send_mail(&c, &m, why, sizeof why), PT_SEND_TEMP, "%s", why);
    cr_expect_not_null(strstr(why, "451"), "%s", why);
    cr_expect_not_null(strstr(why, stage), "%s", why);
    cr_expect_eq(counter(k, "tempfails"), 1);
    cr_expect_eq(count_files(k, ".eml"), 0);
    cr_assert_eq(send_mail(&c, &m, why, sizeof why), PT_SEND_OK, "the retry: %s", why);
    cr_expect_eq(count_files(k, ".eml"), 1);
    cr_expect_eq(counter(k, "duplicates"), 0);
    cr_expect_eq(sink_stop(k), 0);
}

Test(smtp, tempfail_at_data_command_then_retry)
{
    tempfail_then_ok("data", "DATA");
}

Test(smtp, tempfail_after_data_then_retry)
{
    tempfail_then_ok("end", "end of data");
}

Test(smtp, connection_refused_is_temporary)
{
    int fd, port = closed_port(&fd);
    struct pt_smtp_cfg c = cfg(port);
    struct pt_mail m = mail();
    char why[256];
    cr_expect_eq(send_mail(&c, &m, why, sizeof why), PT_SEND_TEMP, "%s", why);
    cr_expect_gt(strlen(why), 5, "%s", why);
    close(fd);
}

Test(smtp, same_id_is_stored_once)
{
    need_python_module("aiosmtpd");
    struct sink *k = sink_start("smtp_sink.py", NULL);
    struct pt_smtp_cfg c = cfg(k->port);
    struct pt_mail m = mail();
    char why[256];
    cr_assert_eq(send_mail(&c, &m, why, sizeof why), PT_SEND_OK, "%s", why);
    cr_assert_eq(send_mail(&c, &m, why, sizeof why), PT_SEND_OK, "%s", why);
    cr_expect_eq(counter(k, "received"), 2);
    cr_expect_eq(counter(k, "duplicates"), 1);
    cr_expect_eq(count_files(k, ".eml"), 1);
    cr_expect_eq(sink_stop(k), 0);
}

Test(smtp, one_connection_for_several_messages)
{
    need_python_module("aiosmtpd");
    struct sink *k = sink_start("smtp_sink.py", NULL);
    struct pt_smtp_cfg c = cfg(k->port);
    char why[256], id[16];
    for (int i = 0; i < 3; i++) {
        struct pt_mail m = mail();
        snprintf(id, sizeof id, "m%d", i);
        m.id = id;
        cr_assert_eq(send_mail(&c, &m, why, sizeof why), PT_SEND_OK, "%s", why);
    }
    cr_expect_eq(count_files(k, ".eml"), 3);
    cr_expect_eq(counter(k, "connections"), 1, "the handle's connection is reused");
    cr_expect_eq(sink_stop(k), 0);
}

Test(smtp, auth)
{
    need_python_module("aiosmtpd");
    const char *extra[] = {"--auth", "patron:s3cret", NULL};
    struct sink *k = sink_start("smtp_sink.py", extra);
    struct pt_smtp_cfg c = cfg(k->port);
    struct pt_mail m = mail();
    char why[256];
    c.user = "patron";
    c.password = "s3cret";
    cr_assert_eq(send_mail(&c, &m, why, sizeof why), PT_SEND_OK, "%s", why);
    c.password = "wrong";
    cr_expect_eq(send_mail(&c, &m, why, sizeof why), PT_SEND_PERM, "%s", why);
    cr_expect_not_null(strstr(why, "authentication failed: 535"), "%s", why);
    cr_expect_null(strstr(why, "wrong"), "no password in why: %s", why);
    c.user = c.password = NULL;
    cr_expect_eq(send_mail(&c, &m, why, sizeof why), PT_SEND_PERM, "%s", why);
    cr_expect_not_null(strstr(why, "530"), "%s", why);
    cr_expect_eq(count_files(k, ".eml"), 1);
    cr_expect_eq(sink_stop(k), 0);
}

static char g_certdir[64];

/* A self-signed certificate for CN=localhost; its directory. */
static const char *make_cert(void)
{
    if (access("/usr/bin/openssl", X_OK) != 0)
        cr_skip_test("no /usr/bin/openssl to make a test certificate");
    snprintf(g_certdir, sizeof g_certdir, "/tmp/pt_send_cert_XXXXXX");
    cr_assert_not_null(mkdtemp(g_certdir));
    char key[128], crt[128];
    snprintf(key, sizeof key, "%s/key.pem", g_certdir);
    snprintf(crt, sizeof crt, "%s/cert.pem", g_certdir);
    const char *argv[] = {"/usr/bin/openssl",
                          "req",
                          "-x509",
                          "-newkey",
                          "rsa:2048",
                          "-nodes",
                          "-keyout",
                          key,
                          "-out",
                          crt,
                          "-days",
                          "2",
                          "-subj",
                          "/CN=localhost",
                          NULL};
    cr_assert_eq(run_quiet(argv), 0, "openssl req failed");
    return g_certdir;
}

Test(smtp, starttls_and_implicit_tls)
{
    need_python_module("aiosmtpd");
    const char *dir = make_cert();
    char key[128], crt[128];
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(crt, sizeof crt, "%s/cert.pem", dir);
    const char *starttls[] = {"--tls-cert", crt, "--tls-key", key, NULL};
    const char *implicit[] = {"--tls-cert", crt, "--tls-key", key, "--implicit-tls", NULL};
    struct sink *k = sink_start("smtp_sink.py", starttls);
    struct sink *k2 = sink_start("smtp_sink.py", implicit);
    struct sink *plain = sink_start("smtp_sink.py", NULL);
    struct pt_mail m = mail();
    char why[256];

    struct pt_smtp_cfg c = cfg(k->port);
    c.tls = PT_TLS_STARTTLS;
    c.verify = 0;
    cr_assert_eq(send_mail(&c, &m, why, sizeof why), PT_SEND_OK, "STARTTLS: %s", why);
    c.verify = 1; /* a self-signed certificate is not trusted */
    cr_expect_eq(send_mail(&c, &m, why, sizeof why), PT_SEND_TEMP, "%s", why);
    c = cfg(k2->port);
    c.tls = PT_TLS_IMPLICIT;
    c.verify = 0;
    cr_assert_eq(send_mail(&c, &m, why, sizeof why), PT_SEND_OK, "smtps: %s", why);
    c = cfg(plain->port);
    c.tls = PT_TLS_STARTTLS; /* required, not offered: never send in clear text */
    c.verify = 0;
    cr_expect_eq(send_mail(&c, &m, why, sizeof why), PT_SEND_TEMP, "%s", why);
    cr_expect_eq(count_files(plain, ".eml"), 0);
    cr_expect_eq(count_files(k, ".eml"), 1);
    cr_expect_eq(count_files(k2, ".eml"), 1);
    cr_expect_eq(sink_stop(k), 0);
    cr_expect_eq(sink_stop(k2), 0);
    nftw(g_certdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- webhooks ----------------------------------------------------------- */

/* Computed with Python's hmac module, independently of libsodium:
 *   /usr/bin/python3 -c "import hmac, hashlib; print(hmac.new(b'whsec_test',
 *     b'1700000000.{\"event\":\"points_expiring\",\"customer\":42}',
 *     hashlib.sha256).hexdigest())"
 * and, for an empty secret and body at time 0, the same with b'' and b'0.'. */
#define VEC_SECRET "whsec_test"
#define VEC_TS     1700000000
#define VEC_BODY   "{\"event\":\"points_expiring\",\"customer\":42}"
#define VEC_SIG    "d74c6f304e28e1dfc421f9f99d4e2ad46da882e03df83bc4c16ec86552ac0521"
#define VEC0_SIG   "b849d5a581847b281957065739df36df2463d1977ea8d6e1e4e6cf33fadc68c3"

Test(webhook, signature_vector)
{
    char sig[65];
    pt_webhook_signature(VEC_SECRET, VEC_TS, VEC_BODY, strlen(VEC_BODY), sig);
    cr_expect_str_eq(sig, VEC_SIG);
    pt_webhook_signature("", 0, NULL, 0, sig);
    cr_expect_str_eq(sig, VEC0_SIG);
}

static int hook(const struct sink *k, const char *path, const char *secret, const char *id,
                const char *body, char *why, size_t n)
{
    char url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", k->port, path);
    int rc = pt_send_webhook(g_sender, url, secret, id, body, strlen(body), VEC_TS, 5000, why, n);
    cr_assert_null(strpbrk(why, "\r\n"), "why is not one line: %s", why);
    return rc;
}

Test(webhook, delivered_with_valid_signature)
{
    need_python_module("http.server");
    const char *extra[] = {"--secret", VEC_SECRET, NULL};
    struct sink *k = sink_start("webhook_sink.py", extra);
    char why[256];
    cr_assert_eq(hook(k, "/hooks/patron", VEC_SECRET, "evt-1", VEC_BODY, why, sizeof why),
                 PT_SEND_OK, "%s", why);
    cr_expect_str_eq(why, "HTTP 200");
    char *body = slurp(path_in(k, "out/evt-1.body"), NULL);
    cr_assert_not_null(body);
    cr_expect_str_eq(body, VEC_BODY);
    pt_free(body);
    json_t *j = summary(k, "evt-1");
    cr_expect(json_is_true(json_object_get(j, "signature_ok")), "the sink checked it");
    cr_expect_str_eq(jstr(j, "signature"), "v1=" VEC_SIG, "the header is the Python vector");
    cr_expect_str_eq(jstr(j, "timestamp"), "1700000000");
    cr_expect_str_eq(jstr(j, "key"), "evt-1");
    cr_expect_str_eq(jstr(j, "path"), "/hooks/patron");
    cr_expect_str_eq(jstr(j, "content_type"), "application/json");
    json_decref(j);
    cr_expect_eq(counter(k, "bad_signatures"), 0);

    /* a wrong secret: the sink refuses it (401: permanent) */
    cr_expect_eq(hook(k, "/hooks/patron", "not-the-secret", "evt-2", VEC_BODY, why, sizeof why),
                 PT_SEND_PERM, "%s", why);
    cr_expect_str_eq(why, "HTTP 401");
    cr_expect_eq(counter(k, "bad_signatures"), 1);
    cr_expect_eq(counter(k, "stored"), 1);
    cr_expect_eq(sink_stop(k), 0);
}

Test(webhook, large_body)
{
    need_python_module("http.server");
    const char *extra[] = {"--secret", "s", NULL};
    struct sink *k = sink_start("webhook_sink.py", extra);
    size_t n = 3u << 20;
    char *big = pt_malloc(n + 1);
    cr_assert_not_null(big);
    memset(big, 'a', n);
    memcpy(big, "{\"x\":\"", 6);
    memcpy(big + n - 2, "\"}", 2);
    big[n] = '\0';
    char why[256];
    cr_assert_eq(hook(k, "/", "s", "big", big, why, sizeof why), PT_SEND_OK, "%s", why);
    size_t got;
    char *body = slurp(path_in(k, "out/big.body"), &got);
    cr_expect_eq(got, n);
    cr_expect(body && memcmp(body, big, n) == 0);
    pt_free(body);
    pt_free(big);
    cr_expect_eq(sink_stop(k), 0);
}

Test(webhook, unavailable_then_retry)
{
    need_python_module("http.server");
    const char *extra[] = {"--secret", VEC_SECRET, "--fail-first", "1", NULL};
    struct sink *k = sink_start("webhook_sink.py", extra);
    char why[256];
    cr_expect_eq(hook(k, "/", VEC_SECRET, "evt-1", VEC_BODY, why, sizeof why), PT_SEND_TEMP);
    cr_expect_str_eq(why, "HTTP 503");
    cr_expect_eq(counter(k, "stored"), 0);
    cr_expect_eq(hook(k, "/", VEC_SECRET, "evt-1", VEC_BODY, why, sizeof why), PT_SEND_OK, "%s",
                 why);
    cr_expect_eq(counter(k, "stored"), 1);
    cr_expect_eq(counter(k, "failed_first"), 1);
    cr_expect_eq(sink_stop(k), 0);
}

Test(webhook, status_classes)
{
    need_python_module("http.server");
    struct sink *k = sink_start("webhook_sink.py", NULL);
    static const struct {
        const char *path;
        int want;
    } cases[] = {
        {"/reject", PT_SEND_PERM},     {"/status/400", PT_SEND_PERM}, {"/status/404", PT_SEND_PERM},
        {"/status/410", PT_SEND_PERM}, {"/status/408", PT_SEND_TEMP}, {"/status/425", PT_SEND_TEMP},
        {"/status/429", PT_SEND_TEMP}, {"/status/500", PT_SEND_TEMP}, {"/status/503", PT_SEND_TEMP},
        {"/status/301", PT_SEND_PERM}, {"/status/202", PT_SEND_OK},   {"/", PT_SEND_OK},
    };
    char why[256], id[16];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(id, sizeof id, "e%zu", i);
        cr_expect_eq(hook(k, cases[i].path, "x", id, "{}", why, sizeof why), cases[i].want,
                     "%s: %s", cases[i].path, why);
        cr_expect(strncmp(why, "HTTP ", 5) == 0, "%s", why);
    }
    cr_expect_str_eq(why, "HTTP 200");
    cr_expect_eq(counter(k, "stored"), 1);
    cr_expect_eq(sink_stop(k), 0);
}

Test(webhook, same_key_is_stored_once)
{
    need_python_module("http.server");
    const char *extra[] = {"--secret", VEC_SECRET, NULL};
    struct sink *k = sink_start("webhook_sink.py", extra);
    char why[256];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(hook(k, "/", VEC_SECRET, "evt-9", VEC_BODY, why, sizeof why), PT_SEND_OK, "%s",
                     why);
    cr_expect_eq(counter(k, "requests"), 2);
    cr_expect_eq(counter(k, "stored"), 1);
    cr_expect_eq(counter(k, "duplicates"), 1);
    cr_expect_eq(sink_stop(k), 0);
}

Test(webhook, connection_refused_and_timeout_are_temporary)
{
    need_python_module("http.server");
    int fd, port = closed_port(&fd);
    char url[64], why[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
    cr_expect_eq(pt_send_webhook(g_sender, url, "s", "k", "{}", 2, 1, 5000, why, sizeof why),
                 PT_SEND_TEMP, "%s", why);
    cr_expect_not_null(strstr(why, "onnect"), "%s", why);
    close(fd);

    const char *extra[] = {"--delay", "3000", NULL};
    struct sink *k = sink_start("webhook_sink.py", extra);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", k->port);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    cr_expect_eq(pt_send_webhook(g_sender, url, "s", "k", "{}", 2, 1, 300, why, sizeof why),
                 PT_SEND_TEMP, "%s", why);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double dt = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    cr_expect_lt(dt, 2.0, "gave up after %.2f s", dt);
    cr_expect_not_null(strstr(why, "timed out"), "%s", why);
    cr_expect_eq(sink_stop(k), 0);
}

Test(webhook, bad_arguments_are_permanent)
{
    char why[256];
    const char *urls[] = {NULL, "ftp://127.0.0.1/x", "http://a b/", "file:///etc/passwd",
                          "127.0.0.1:80/"};
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++)
        cr_expect_eq(
            pt_send_webhook(g_sender, urls[i], "s", "k", "{}", 2, 1, 1000, why, sizeof why),
            PT_SEND_PERM, "%s: %s", urls[i] ? urls[i] : "NULL", why);
    const char *ids[] = {NULL, "", "a\r\nX-Evil: 1", "a b"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++)
        cr_expect_eq(pt_send_webhook(g_sender, "http://127.0.0.1:9/", "s", ids[i], "{}", 2, 1, 1000,
                                     why, sizeof why),
                     PT_SEND_PERM, "id %zu: %s", i, why);
}
