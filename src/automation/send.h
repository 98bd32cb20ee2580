/*
 * send.h - delivery of one outbox message over the network (libcurl): email
 * to an SMTP server, JSON to a webhook. Used by the delivery thread
 * (engine_deliver.c); no state of its own besides the libcurl handle.
 *
 * Email: a MIME message (multipart/alternative with text and HTML parts when
 * both are there, a single part otherwise; UTF-8, quoted-printable bodies,
 * RFC 2047 encoded subject when not ASCII) with headers From, To, Subject,
 * Date, Message-ID "<ID@DOMAIN>" (the outbox message id, so a receiver can
 * drop a redelivery), MIME-Version, List-Unsubscribe (when given) and
 * List-Unsubscribe-Post. Sent with SMTP (smtp:// or smtps://; STARTTLS with
 * tls = PT_TLS_STARTTLS; user/password AUTH when user is set).
 *
 * Webhook: POST of the body (JSON) with headers Content-Type:
 * application/json, Idempotency-Key: ID, X-Patron-Timestamp: Unix seconds,
 * X-Patron-Signature: "v1=" + hex HMAC-SHA256(secret, TIMESTAMP "." BODY).
 * 2xx is delivered; 408, 425, 429 and 5xx are temporary; other 4xx permanent.
 *
 * Outcome: PT_SEND_OK, PT_SEND_TEMP (retry later: network errors, timeouts,
 * SMTP 4xx, HTTP 5xx) or PT_SEND_PERM (never retry: SMTP 5xx at RCPT TO is a
 * hard bounce, other 5xx, HTTP 4xx), with a one-line reason in `why`.
 *
 * Layer: automation (util; libcurl, libsodium). Thread-safety: one
 * pt_sender per thread. pt_send_global_init once per process before threads.
 */
#ifndef PT_AUTOMATION_SEND_H
#define PT_AUTOMATION_SEND_H

#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

enum { PT_TLS_NONE = 0, PT_TLS_STARTTLS = 1, PT_TLS_IMPLICIT = 2 };
enum { PT_SEND_OK = 0, PT_SEND_TEMP = 1, PT_SEND_PERM = 2 };

struct pt_smtp_cfg {
    const char *host;   /* NULL: email is not configured */
    int port;           /* 0 = 25 (587 with STARTTLS, 465 implicit) */
    int tls;            /* PT_TLS_* */
    int verify;         /* check the server's certificate (default 1) */
    const char *user, *password; /* AUTH when user != NULL */
    const char *from;   /* envelope and header From address */
    const char *from_name; /* display name, may be NULL */
    const char *domain; /* right side of Message-ID (default: from's domain) */
    long timeout_ms;    /* whole transfer; 0 = 30000 */
};

struct pt_mail {
    const char *to;        /* one address */
    const char *subject;
    const char *html, *text; /* either may be NULL, not both */
    const char *id;        /* the outbox message id */
    const char *unsubscribe_url; /* may be NULL */
    int64_t date;          /* Unix s, for the Date header */
};

struct pt_sender;
int pt_send_global_init(void);
int pt_sender_new(struct pt_sender **out);
void pt_sender_free(struct pt_sender *s);

/* The MIME message alone (for tests and previews), appended to out. */
struct pt_buf;
int pt_mail_format(const struct pt_smtp_cfg *c, const struct pt_mail *m, struct pt_buf *out);

int pt_send_email(struct pt_sender *s, const struct pt_smtp_cfg *c, const struct pt_mail *m,
                  char *why, size_t whylen);
int pt_send_webhook(struct pt_sender *s, const char *url, const char *secret, const char *id,
                    const char *body, size_t len, int64_t now, long timeout_ms, char *why,
                    size_t whylen);
/* hex HMAC-SHA256(secret, "TIMESTAMP.BODY") into out (65 bytes). */
void pt_webhook_signature(const char *secret, int64_t ts, const char *body, size_t len,
                          char out[65]);

#endif
