/*
 * send.c - delivery of one outbox message: email over SMTP, JSON to a webhook
 * (see send.h for the contract).
 *
 * The MIME message is built here (mail_format): headers folded to 78 columns,
 * non-ASCII text as RFC 2047 encoded-words, bodies quoted-printable (our own
 * encoder, qp_encode). The multipart boundary starts with "=_", which no
 * quoted-printable text can contain ('=' is always followed by a hex digit or
 * CR there), and is checked against the parts anyway.
 *
 * Outcome classification. libcurl folds every SMTP refusal into a few codes
 * (CURLE_SEND_ERROR for MAIL/RCPT/DATA refused, CURLE_WEIRD_SERVER_REPLY for a
 * refusal after the message data, CURLE_LOGIN_DENIED for AUTH) and then sends
 * QUIT, so a debug callback records the command verb and the reply line of
 * the first 4xx/5xx answer (struct smtp_trace): a 5xx answer to RCPT is a
 * hard bounce, any other 5xx a permanent failure, a 4xx a temporary one. The
 * reply text, never command arguments (AUTH carries credentials), goes into
 * `why`.
 *
 * One CURL easy handle per pt_sender, curl_easy_reset before each use: reset
 * keeps the connection cache, so messages to the same server share a session
 * (unless the SMTP settings changed: see smtp_key).
 */
#include "automation/send.h"

#include <curl/curl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "util/ckd.h"
#include "util/mem.h"
#include "util/timeutil.h"

#define DEFAULT_TIMEOUT_MS 30000L
#define CONNECT_TIMEOUT_MS 10000L /* at most; never more than the whole timeout */
#define QP_LINE_MAX        76     /* RFC 2045 6.7: encoded lines of at most 76 */
#define HDR_LINE_MAX       78     /* RFC 5322 2.1.1: SHOULD */
#define EW_BYTES           39     /* per encoded-word: 52 base64 chars, 64 in all */
#define NAME_QUOTE_MAX     60     /* longer ASCII display names are encoded */
#define ADDR_MAX           254
#define ID_MAX             200
#define URL_MAX            900            /* keeps the List-Unsubscribe line under 998 */
#define HTTP_BODY_CAP      65536          /* response bytes read before hanging up */
#define DATE_MAX           253402300799LL /* 9999-12-31T23:59:59Z */

struct smtp_trace {
    char verb[16];    /* first word of the last command sent ("RCPT") */
    char reply[256];  /* last reply line received, control characters as spaces */
    int data_sent;    /* message data went out after the last command */
    char fverb[16];   /* the same when the first 4xx/5xx reply came (libcurl */
    char freply[256]; /* sends QUIT after a failure: "221 Bye" is not the reason) */
    int fdata_sent;
};

struct pt_sender {
    CURL *h;
    char errbuf[CURL_ERROR_SIZE];
    struct smtp_trace trace;
    /* Hash of the SMTP settings of the last email (URL, TLS mode,
     * verification, credentials). libcurl reuses an smtp:// connection
     * upgraded with STARTTLS without comparing TLS settings, so another
     * configuration gets a fresh connection. */
    unsigned char smtp_key[32];
};

int pt_send_global_init(void)
{
    if (sodium_init() < 0)
        return PT_EIO;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return PT_ENOMEM;
    return 0;
}

int pt_sender_new(struct pt_sender **out)
{
    struct pt_sender *s = pt_calloc(1, sizeof *s);
    if (s == NULL)
        return PT_ENOMEM;
    s->h = curl_easy_init();
    if (s->h == NULL) {
        pt_free(s);
        return PT_ENOMEM;
    }
    *out = s;
    return 0;
}

void pt_sender_free(struct pt_sender *s)
{
    if (s == NULL)
        return;
    curl_easy_cleanup(s->h);
    pt_free(s);
}

/* Write a one-line reason into why (truncated to fit: it is a bounded
 * message, never parsed back) and return outcome. */
__attribute__((format(printf, 4, 5))) static int say(char *why, size_t whylen, int outcome,
                                                     const char *fmt, ...)
{
    if (why == NULL || whylen == 0)
        return outcome;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    if (n < 0)
        why[0] = '\0';
    for (char *p = why; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    }
    return outcome;
}

/* ---- header values ------------------------------------------------------ */

static int has_crlf(const char *s)
{
    return s != NULL && strpbrk(s, "\r\n") != NULL;
}

/* A control character other than tab (which header encoding copes with). */
static int has_ctl(const char *s)
{
    for (; s && *s; s++) {
        if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
            return 1;
    }
    return 0;
}

/* Printable ASCII without space and without any of `bad`. */
static int is_token(const char *s, size_t max, const char *bad)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || strchr(bad, c) != NULL)
            return 0;
    }
    return 1;
}

/* An addr-spec we can put in a header and an SMTP envelope as it is:
 * local@domain, ASCII (no SMTPUTF8), no spaces, quotes or brackets. */
static int is_addr(const char *s)
{
    const char *at = s ? strrchr(s, '@') : NULL;
    return at != NULL && at != s && at[1] != '\0' && strchr(s, '@') == at &&
           is_token(s, ADDR_MAX, "<>()[],;:\\\"");
}

/* s[0..n) (NUL-terminated at n): a host name. */
static int is_domain(const char *s, size_t n)
{
    static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_";
    return n > 0 && n <= 253 && strspn(s, ok) == n;
}

/* The right side of Message-ID and the EHLO name: c->domain, else from's. */
static const char *mail_domain(const struct pt_smtp_cfg *c, size_t *n)
{
    const char *d = c->domain;
    if (d == NULL || *d == '\0') {
        d = c->from ? strrchr(c->from, '@') : NULL;
        d = d ? d + 1 : "localhost";
    }
    *n = strlen(d);
    return d;
}

/* Text that can go into a header as it is: printable ASCII and spaces, no
 * "=?" (which a reader would take for an encoded-word). */
static int is_plain_text(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || (c == '=' && i + 1 < n && s[i + 1] == '?'))
            return 0;
    }
    return 1;
}

/* Append s[0..n) as RFC 2047 "=?UTF-8?B?...?=" words, the first on the
 * current line (at column *col), each further one on a folded line. Words
 * end on UTF-8 character boundaries so that each decodes on its own. */
static int add_encoded_words(struct pt_buf *b, const char *s, size_t n, size_t *col)
{
    size_t i = 0;
    do {
        size_t k = n - i < EW_BYTES ? n - i : EW_BYTES;
        while (k > 0 && i + k < n && ((unsigned char)s[i + k] & 0xc0) == 0x80)
            k--;
        if (k == 0) /* invalid UTF-8: a run of continuation bytes */
            k = n - i < EW_BYTES ? n - i : EW_BYTES;
        char b64[sodium_base64_ENCODED_LEN(EW_BYTES, sodium_base64_VARIANT_ORIGINAL)];
        sodium_bin2base64(b64, sizeof b64, (const unsigned char *)s + i, k,
                          sodium_base64_VARIANT_ORIGINAL);
        if (i > 0) {
            if (pt_buf_add(b, "\r\n ", 3))
                return PT_ENOMEM;
            *col = 1;
        }
        if (pt_buf_printf(b, "=?UTF-8?B?%s?=", b64))
            return PT_ENOMEM;
        *col += 12 + strlen(b64);
        i += k;
    } while (i < n);
    return 0;
}

/* Subject: as it is, folded before a space where a line would pass 78
 * columns; encoded-words when not plain ASCII or a word is too long. */
static int add_subject(struct pt_buf *b, const char *s)
{
    size_t n = strlen(s), col = 9;
    if (pt_buf_add(b, "Subject: ", 9))
        return PT_ENOMEM;
    int plain = is_plain_text(s, n);
    for (size_t i = 0, w = 0; plain && i < n; i++) { /* w: length of the current word */
        w = s[i] == ' ' ? 0 : w + 1;
        plain = 9 + w < HDR_LINE_MAX;
    }
    if (!plain) {
        if (add_encoded_words(b, s, n, &col))
            return PT_ENOMEM;
        return pt_buf_add(b, "\r\n", 2);
    }
    size_t i = 0;
    while (i < n) {
        size_t j = i; /* a chunk: its leading spaces and one word */
        while (j < n && s[j] == ' ')
            j++;
        while (j < n && s[j] != ' ')
            j++;
        if (col + (j - i) > HDR_LINE_MAX && col > 9 && s[i] == ' ') {
            if (pt_buf_add(b, "\r\n", 2))
                return PT_ENOMEM;
            col = 0;
        }
        if (pt_buf_add(b, s + i, j - i))
            return PT_ENOMEM;
        col += j - i;
        i = j;
    }
    return pt_buf_add(b, "\r\n", 2);
}

/* From: addr, "Name" <addr>, or =?UTF-8?B?...?= <addr>. */
static int add_from(struct pt_buf *b, const char *name, const char *addr)
{
    size_t n = name ? strlen(name) : 0, col = 6;
    if (n == 0)
        return pt_buf_printf(b, "From: %s\r\n", addr);
    if (pt_buf_add(b, "From: ", 6))
        return PT_ENOMEM;
    if (n <= NAME_QUOTE_MAX && is_plain_text(name, n)) {
        if (pt_buf_addc(b, '"'))
            return PT_ENOMEM;
        for (size_t i = 0; i < n; i++) {
            if ((name[i] == '"' || name[i] == '\\') && pt_buf_addc(b, '\\'))
                return PT_ENOMEM;
            if (pt_buf_addc(b, name[i]))
                return PT_ENOMEM;
        }
        if (pt_buf_addc(b, '"'))
            return PT_ENOMEM;
        col += n + 4;
    } else if (add_encoded_words(b, name, n, &col)) {
        return PT_ENOMEM;
    }
    const char *sep = col + strlen(addr) + 3 > HDR_LINE_MAX ? "\r\n " : " ";
    return pt_buf_printf(b, "%s<%s>\r\n", sep, addr);
}

/* Date: RFC 5322 3.3 in UTC, e.g. "Tue, 05 May 2026 10:00:00 +0000". */
static int add_date(struct pt_buf *b, int64_t t)
{
    static const char *const wday[7] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
    static const char *const mon[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    int64_t days = pt_floor_div(t, 86400), sec = t - days * 86400, y;
    int m, d;
    pt_civil_from_days(days, &y, &m, &d);
    int64_t w = days % 7; /* 1970-01-01 was a Thursday; t >= 0 here */
    return pt_buf_printf(b, "Date: %s, %02d %s %04lld %02lld:%02lld:%02lld +0000\r\n", wday[w], d,
                         mon[m - 1], (long long)y, (long long)(sec / 3600),
                         (long long)(sec / 60 % 60), (long long)(sec % 60));
}

/* ---- bodies ------------------------------------------------------------- */

/* Length of the line break at s[i] (CRLF 2, LF 1), 0 when there is none. A
 * lone CR is not a break: it is encoded as =0D. */
static size_t eol_at(const char *s, size_t n, size_t i)
{
    if (i < n && s[i] == '\n')
        return 1;
    if (i + 1 < n && s[i] == '\r' && s[i + 1] == '\n')
        return 2;
    return 0;
}

/* Quoted-printable (RFC 2045 6.7) of s[0..n), appended. Line breaks (CRLF or
 * LF) become CRLF hard breaks; other lines are cut with soft breaks "=" so
 * no encoded line passes 76 characters. '=', bytes outside 33..126, a space
 * or tab that ends a line and a '.' that starts one (for dumb SMTP relays)
 * are written =XX. */
static int qp_encode(struct pt_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t col = 0, need; /* 3 bytes per input byte and a soft break per 25 */
    if (pt_ckd_mul(&need, n, 3) || pt_ckd_add(&need, need, need / 25) || pt_buf_reserve(b, need))
        return PT_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t br = eol_at(s, n, i);
        if (br) {
            if (pt_buf_add(b, "\r\n", 2))
                return PT_ENOMEM;
            i += br - 1;
            col = 0;
            continue;
        }
        unsigned char c = (unsigned char)s[i];
        int last = i + 1 == n || eol_at(s, n, i + 1); /* last character of its line */
        int lit = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !last);
        size_t len = lit && !(c == '.' && col == 0) ? 1 : 3;
        /* room for the '=' of a soft break unless this ends the line */
        if (col + len > (last ? QP_LINE_MAX : QP_LINE_MAX - 1)) {
            if (pt_buf_add(b, "=\r\n", 3))
                return PT_ENOMEM;
            col = 0;
            len = lit && c != '.' ? 1 : 3;
        }
        char tok[3] = {(char)c, 0, 0};
        if (len == 3) {
            tok[0] = '=';
            tok[1] = hex[c >> 4];
            tok[2] = hex[c & 15];
        }
        if (pt_buf_add(b, tok, len))
            return PT_ENOMEM;
        col += len;
    }
    return 0;
}

static int add_part_headers(struct pt_buf *b, const char *subtype)
{
    return pt_buf_printf(b,
                         "Content-Type: text/%s; charset=UTF-8\r\n"
                         "Content-Transfer-Encoding: quoted-printable\r\n\r\n",
                         subtype);
}

/* "=_pt_" and 24 hex digits of a hash of the message id (and a counter, in
 * case the boundary were found in a part), so a message's bytes depend only
 * on its contents. */
static void make_boundary(char out[30], const char *id, const struct pt_buf *p1,
                          const struct pt_buf *p2)
{
    for (unsigned salt = 0;; salt++) {
        unsigned char h[12];
        crypto_generichash_state st;
        crypto_generichash_init(&st, NULL, 0, sizeof h);
        crypto_generichash_update(&st, (const unsigned char *)id, strlen(id));
        crypto_generichash_update(&st, (const unsigned char *)&salt, sizeof salt);
        crypto_generichash_final(&st, h, sizeof h);
        memcpy(out, "=_pt_", 5);
        sodium_bin2hex(out + 5, 25, h, sizeof h);
        if (memmem(p1->data, p1->len, out, 29) == NULL &&
            memmem(p2->data, p2->len, out, 29) == NULL)
            return;
    }
}

/* ---- the message -------------------------------------------------------- */

/* Header values that would break the header or the envelope, or NULL. */
static const char *bad_field(const struct pt_smtp_cfg *c, const struct pt_mail *m)
{
    if (has_crlf(m->to) || has_crlf(m->subject) || has_crlf(c->from) || has_crlf(c->from_name) ||
        has_crlf(m->id) || has_crlf(m->unsubscribe_url) || has_crlf(c->domain))
        return "a header value contains CR or LF";
    if (!is_addr(c->from))
        return "the From address is missing or not a plain ASCII address";
    if (!is_addr(m->to))
        return "the To address is missing or not a plain ASCII address";
    if (m->id == NULL || !is_token(m->id, ID_MAX, "<>()[],;:\\\"@"))
        return "the message id is missing or not printable ASCII without specials";
    size_t dn;
    const char *d = mail_domain(c, &dn);
    if (!is_domain(d, dn))
        return "the Message-ID domain is not a host name";
    if (m->unsubscribe_url && *m->unsubscribe_url && !is_token(m->unsubscribe_url, URL_MAX, "<>\""))
        return "the unsubscribe URL is not printable ASCII without spaces (max 900 bytes)";
    if (has_ctl(m->subject) || has_ctl(c->from_name))
        return "the subject or the From name contains a control character";
    if ((m->html == NULL || *m->html == '\0') && (m->text == NULL || *m->text == '\0'))
        return "the message has neither a text nor an HTML body";
    if (m->date < 0 || m->date > DATE_MAX)
        return "the date is outside 1970..9999";
    return NULL;
}

static int add_headers(struct pt_buf *b, const struct pt_smtp_cfg *c, const struct pt_mail *m)
{
    size_t dn;
    const char *d = mail_domain(c, &dn);
    if (add_from(b, c->from_name, c->from) || pt_buf_printf(b, "To: %s\r\n", m->to) ||
        add_subject(b, m->subject ? m->subject : "") || add_date(b, m->date) ||
        pt_buf_printf(b, "Message-ID: <%s@%.*s>\r\nMIME-Version: 1.0\r\n", m->id, (int)dn, d))
        return PT_ENOMEM;
    if (m->unsubscribe_url && *m->unsubscribe_url &&
        pt_buf_printf(b,
                      "List-Unsubscribe: <%s>\r\n"
                      "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
                      m->unsubscribe_url))
        return PT_ENOMEM;
    return 0;
}

/* The body: both parts as multipart/alternative, or the one there is. */
static int add_body(struct pt_buf *b, const struct pt_mail *m)
{
    int has_text = m->text && *m->text, has_html = m->html && *m->html;
    struct pt_buf t, h;
    pt_buf_init(&t);
    pt_buf_init(&h);
    int rc = PT_ENOMEM;
    if ((has_text && qp_encode(&t, m->text, strlen(m->text))) ||
        (has_html && qp_encode(&h, m->html, strlen(m->html))))
        goto out;
    if (has_text && has_html) {
        char bnd[30];
        make_boundary(bnd, m->id, &t, &h);
        if (pt_buf_printf(b, "Content-Type: multipart/alternative; boundary=\"%s\"\r\n\r\n", bnd) ||
            pt_buf_printf(b, "--%s\r\n", bnd) || add_part_headers(b, "plain") ||
            pt_buf_add(b, t.data, t.len) || pt_buf_printf(b, "\r\n--%s\r\n", bnd) ||
            add_part_headers(b, "html") || pt_buf_add(b, h.data, h.len) ||
            pt_buf_printf(b, "\r\n--%s--\r\n", bnd))
            goto out;
    } else {
        struct pt_buf *p = has_text ? &t : &h;
        if (add_part_headers(b, has_text ? "plain" : "html") || pt_buf_add(b, p->data, p->len))
            goto out;
        if ((p->len < 2 || memcmp(p->data + p->len - 2, "\r\n", 2) != 0) &&
            pt_buf_add(b, "\r\n", 2))
            goto out;
    }
    rc = 0;
out:
    pt_buf_release(&t);
    pt_buf_release(&h);
    return rc;
}

/* pt_mail_format with the reason for PT_EINVAL in *bad. */
static int mail_format(const struct pt_smtp_cfg *c, const struct pt_mail *m, struct pt_buf *out,
                       const char **bad)
{
    *bad = c == NULL || m == NULL ? "no configuration or no message" : bad_field(c, m);
    if (*bad)
        return PT_EINVAL;
    size_t len0 = out->len;
    if (add_headers(out, c, m) == 0 && add_body(out, m) == 0)
        return 0;
    if (out->data != NULL) { /* leave out as it was */
        out->len = len0;
        out->data[len0] = '\0';
    }
    return PT_ENOMEM;
}

int pt_mail_format(const struct pt_smtp_cfg *c, const struct pt_mail *m, struct pt_buf *out)
{
    const char *bad;
    return mail_format(c, m, out, &bad);
}

/* ---- SMTP --------------------------------------------------------------- */

struct reader {
    const char *p;
    size_t len, off;
};

static size_t on_read(char *dst, size_t size, size_t nitems, void *ud)
{
    struct reader *r = ud;
    size_t room;
    if (pt_ckd_mul(&room, size, nitems))
        room = SIZE_MAX;
    size_t n = r->len - r->off < room ? r->len - r->off : room;
    memcpy(dst, r->p + r->off, n);
    r->off += n;
    return n;
}

/* Records the protocol exchange into struct smtp_trace (see the top). */
static int on_debug(CURL *h, curl_infotype type, char *data, size_t size, void *ud)
{
    struct smtp_trace *t = ud;
    (void)h;
    if (type == CURLINFO_DATA_OUT) {
        t->data_sent = 1;
    } else if (type == CURLINFO_HEADER_OUT) {
        size_t n = 0;
        while (n < size && n < sizeof t->verb - 1 && data[n] > ' ')
            n++;
        if (n > 0) { /* (not the end-of-data mark, if it were shown) */
            memcpy(t->verb, data, n);
            t->verb[n] = '\0';
            t->data_sent = 0;
        }
    } else if (type == CURLINFO_HEADER_IN) {
        while (size > 0 && (data[size - 1] == '\n' || data[size - 1] == '\r'))
            size--;
        size_t start = size; /* the last line, when several come at once */
        while (start > 0 && data[start - 1] != '\n')
            start--;
        size_t n = size - start < sizeof t->reply - 1 ? size - start : sizeof t->reply - 1;
        for (size_t i = 0; i < n; i++) {
            char c = data[start + i];
            t->reply[i] = (unsigned char)c < 0x20 || c == 0x7f ? ' ' : c;
        }
        t->reply[n] = '\0';
        if (t->freply[0] == '\0' && (t->reply[0] == '4' || t->reply[0] == '5')) {
            memcpy(t->freply, t->reply, sizeof t->freply);
            memcpy(t->fverb, t->verb, sizeof t->fverb);
            t->fdata_sent = t->data_sent;
        }
    }
    return 0;
}

/* CURLE codes that no retry can fix (a bad URL or a libcurl without SMTP). */
static int curl_is_permanent(CURLcode rc)
{
    return rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT ||
           rc == CURLE_NOT_BUILT_IN || rc == CURLE_BAD_FUNCTION_ARGUMENT;
}

static const char *curl_reason(const struct pt_sender *s, CURLcode rc)
{
    return s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc);
}

static int classify_smtp(struct pt_sender *s, CURLcode rc, char *why, size_t whylen)
{
    const struct smtp_trace *t = &s->trace;
    if (rc == CURLE_OK)
        return say(why, whylen, PT_SEND_OK, "%s", t->reply);
    long code = 0;
    if (curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK)
        code = 0;
    int failed = t->freply[0] != '\0';
    const char *reply = failed ? t->freply : curl_reason(s, rc);
    const char *verb = failed ? t->fverb : t->verb;
    int data_sent = failed ? t->fdata_sent : t->data_sent;
    const char *stage = data_sent ? "end of data" : verb[0] ? verb : "greeting";
    if (code == 0 && failed) /* (libcurl keeps the last code; ours is the same) */
        code = strtol(t->freply, NULL, 10);
    if (rc == CURLE_LOGIN_DENIED)
        return say(why, whylen, PT_SEND_PERM, "SMTP authentication failed: %s", reply);
    if (code >= 500 && code <= 599) {
        if (!data_sent && strcmp(verb, "RCPT") == 0)
            return say(why, whylen, PT_SEND_PERM, "hard bounce: %s", reply);
        return say(why, whylen, PT_SEND_PERM, "SMTP %s refused: %s", stage, reply);
    }
    if (code >= 400 && code <= 499)
        return say(why, whylen, PT_SEND_TEMP, "SMTP %s temporary failure: %s", stage, reply);
    return say(why, whylen, curl_is_permanent(rc) ? PT_SEND_PERM : PT_SEND_TEMP, "SMTP: %s",
               curl_reason(s, rc));
}

static void set_common(struct pt_sender *s, long timeout_ms)
{
    CURL *h = s->h;
    curl_easy_reset(h);
    s->errbuf[0] = '\0';
    long t = timeout_ms > 0 ? timeout_ms : DEFAULT_TIMEOUT_MS;
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, s->errbuf);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, t);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, t < CONNECT_TIMEOUT_MS ? t : CONNECT_TIMEOUT_MS);
}

/* Whether c differs from the settings of the last email (see smtp_key). */
static int smtp_config_changed(struct pt_sender *s, const struct pt_smtp_cfg *c, const char *url)
{
    unsigned char key[32];
    int v[2] = {c->tls, c->verify};
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, sizeof key);
    crypto_generichash_update(&st, (const unsigned char *)url, strlen(url) + 1);
    crypto_generichash_update(&st, (const unsigned char *)v, sizeof v);
    const char *cred[2] = {c->user, c->password};
    for (int i = 0; i < 2; i++) /* NULL ("\1") differs from "" */
        crypto_generichash_update(&st, (const unsigned char *)(cred[i] ? cred[i] : "\1"),
                                  cred[i] ? strlen(cred[i]) + 1 : 1);
    crypto_generichash_final(&st, key, sizeof key);
    int changed = memcmp(key, s->smtp_key, sizeof key) != 0;
    memcpy(s->smtp_key, key, sizeof key);
    return changed;
}

/* smtp[s]://HOST:PORT/DOMAIN (the path is the EHLO name), or -1. */
static int smtp_url(const struct pt_smtp_cfg *c, char *url, size_t n)
{
    int port = c->port                     ? c->port
               : c->tls == PT_TLS_IMPLICIT ? 465
               : c->tls == PT_TLS_STARTTLS ? 587
                                           : 25;
    if (port < 1 || port > 65535 || !is_token(c->host, 253, "/?#@\\\"<>"))
        return -1;
    int v6 = strchr(c->host, ':') != NULL && c->host[0] != '[';
    size_t dn;
    const char *d = mail_domain(c, &dn);
    int k = snprintf(url, n, "%s://%s%s%s:%d/%.*s", c->tls == PT_TLS_IMPLICIT ? "smtps" : "smtp",
                     v6 ? "[" : "", c->host, v6 ? "]" : "", port, (int)dn, d);
    return k < 0 || (size_t)k >= n ? -1 : 0;
}

int pt_send_email(struct pt_sender *s, const struct pt_smtp_cfg *c, const struct pt_mail *m,
                  char *why, size_t whylen)
{
    if (c == NULL || c->host == NULL || *c->host == '\0')
        return say(why, whylen, PT_SEND_PERM, "email is not configured (no SMTP host)");
    if (c->tls != PT_TLS_NONE && c->tls != PT_TLS_STARTTLS && c->tls != PT_TLS_IMPLICIT)
        return say(why, whylen, PT_SEND_PERM, "bad SMTP TLS mode %d", c->tls);
    struct pt_buf msg;
    pt_buf_init(&msg);
    const char *bad = NULL;
    int rc = mail_format(c, m, &msg, &bad);
    if (rc == PT_EINVAL)
        return say(why, whylen, PT_SEND_PERM, "invalid message: %s", bad);
    if (rc)
        return say(why, whylen, PT_SEND_TEMP, "out of memory formatting the message");
    char url[600], from[ADDR_MAX + 3], to[ADDR_MAX + 3];
    if (smtp_url(c, url, sizeof url)) {
        pt_buf_release(&msg);
        return say(why, whylen, PT_SEND_PERM, "bad SMTP host or port");
    }
    snprintf(from, sizeof from, "<%s>", c->from); /* fits: is_addr checked the lengths */
    snprintf(to, sizeof to, "<%s>", m->to);
    struct curl_slist *rcpt = curl_slist_append(NULL, to);
    if (rcpt == NULL) {
        pt_buf_release(&msg);
        return say(why, whylen, PT_SEND_TEMP, "out of memory");
    }
    struct reader r = {.p = msg.data, .len = msg.len, .off = 0};
    memset(&s->trace, 0, sizeof s->trace);
    set_common(s, c->timeout_ms);
    CURL *h = s->h;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    if (smtp_config_changed(s, c, url))
        curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
    if (c->tls == PT_TLS_STARTTLS)
        curl_easy_setopt(h, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
    if (c->tls != PT_TLS_NONE && !c->verify) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (c->user != NULL) {
        curl_easy_setopt(h, CURLOPT_USERNAME, c->user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, c->password ? c->password : "");
    }
    curl_easy_setopt(h, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &r);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)msg.len);
    curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
    curl_easy_setopt(h, CURLOPT_DEBUGDATA, &s->trace);
    curl_easy_setopt(h, CURLOPT_VERBOSE, 1L); /* feeds on_debug; prints nothing */
    CURLcode cc = curl_easy_perform(h);
    int out = classify_smtp(s, cc, why, whylen);
    /* the handle keeps no pointer into this call's memory past here */
    curl_easy_setopt(h, CURLOPT_MAIL_RCPT, NULL);
    curl_slist_free_all(rcpt);
    pt_buf_release(&msg);
    return out;
}

/* ---- webhooks ----------------------------------------------------------- */

void pt_webhook_signature(const char *secret, int64_t ts, const char *body, size_t len,
                          char out[65])
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    char t[24];
    int n = snprintf(t, sizeof t, "%lld.", (long long)ts);
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, secret ? strlen(secret) : 0);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)t, (unsigned long long)n);
    if (len > 0)
        crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, (unsigned long long)len);
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2hex(out, 65, mac, sizeof mac);
    sodium_memzero(&st, sizeof st);
}

_Static_assert(sizeof(curl_off_t) == 8, "curl_off_t holds any int64 size");

/* The response body is not kept; past HTTP_BODY_CAP the transfer stops
 * (CURLE_WRITE_ERROR, classified by the status already received). */
static size_t on_write(char *p, size_t size, size_t nitems, void *ud)
{
    size_t *seen = ud, n;
    (void)p;
    if (pt_ckd_mul(&n, size, nitems) || pt_ckd_add(seen, *seen, n) || *seen > HTTP_BODY_CAP)
        return 0;
    return n;
}

static int classify_http(struct pt_sender *s, CURLcode rc, char *why, size_t whylen)
{
    long code = 0;
    if (curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK)
        code = 0;
    if (code >= 200 && code <= 299) /* answered: a body cut short does not matter */
        return say(why, whylen, PT_SEND_OK, "HTTP %ld", code);
    if (code == 408 || code == 425 || code == 429 || (code >= 500 && code <= 599))
        return say(why, whylen, PT_SEND_TEMP, "HTTP %ld", code);
    if (code >= 300 && code <= 399)
        return say(why, whylen, PT_SEND_PERM, "HTTP %ld (redirects are not followed)", code);
    if (code >= 100) /* other 4xx, or a status outside the standard classes */
        return say(why, whylen, PT_SEND_PERM, "HTTP %ld", code);
    return say(why, whylen, curl_is_permanent(rc) ? PT_SEND_PERM : PT_SEND_TEMP, "%s",
               curl_reason(s, rc));
}

static int is_http_url(const char *u)
{
    return u != NULL && (strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0) &&
           is_token(u, 4096, "\"<>\\");
}

int pt_send_webhook(struct pt_sender *s, const char *url, const char *secret, const char *id,
                    const char *body, size_t len, int64_t now, long timeout_ms, char *why,
                    size_t whylen)
{
    if (!is_http_url(url))
        return say(why, whylen, PT_SEND_PERM, "bad webhook URL (http or https, no spaces)");
    if (id == NULL || !is_token(id, ID_MAX, ""))
        return say(why, whylen, PT_SEND_PERM, "bad idempotency key (printable ASCII, 1..200)");
    if (body == NULL && len > 0)
        return say(why, whylen, PT_SEND_PERM, "no body");
    if ((uint64_t)len > (uint64_t)INT64_MAX)
        return say(why, whylen, PT_SEND_PERM, "body too large");
    char sig[65], hk[ID_MAX + 20], hts[48], hsig[96];
    pt_webhook_signature(secret, now, body, len, sig);
    snprintf(hk, sizeof hk, "Idempotency-Key: %s", id); /* fit: the sizes are bounded */
    snprintf(hts, sizeof hts, "X-Patron-Timestamp: %lld", (long long)now);
    snprintf(hsig, sizeof hsig, "X-Patron-Signature: v1=%s", sig);
    const char *lines[] = {"Content-Type: application/json", hk, hts, hsig, "Expect:"};
    struct curl_slist *hdr = NULL;
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        struct curl_slist *n = curl_slist_append(hdr, lines[i]);
        if (n == NULL) {
            curl_slist_free_all(hdr);
            return say(why, whylen, PT_SEND_TEMP, "out of memory");
        }
        hdr = n;
    }
    size_t seen = 0; /* response bytes */
    set_common(s, timeout_ms);
    CURL *h = s->h;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "Patron-Webhook/1");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &seen);
    CURLcode cc = curl_easy_perform(h);
    int out = classify_http(s, cc, why, whylen);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, NULL);
    curl_slist_free_all(hdr);
    return out;
}
