/*
 * msgtmpl.h - a saved message template (PUT /v1/templates/{id}): the JSON
 * document with its parts compiled (tmpl.h).
 *
 *   {"name": "Win-back 15%", "channel": "email",
 *    "subject": "{{first_name}}, we miss you", "html": "<p>...</p>", "text": "..."}
 *   {"name": "SMS", "channel": "webhook", "body": "{\"to\":\"{{phone}}\",...}"}
 *
 * email needs subject and at least one of html / text; webhook needs body
 * (rendered without escaping; the result must be JSON, checked when sent).
 * Unknown keys are refused.
 *
 * Layer: automation (util; jansson). Ownership: a parsed template owns its
 * strings and compiled parts (pt_msg_tmpl_release). Errors: PT_EPARSE with
 * `field` (at least 64 bytes: "html", "subject", ... or "" for bad JSON) and
 * e->line / e->column: for bad JSON, in the document; for a template error,
 * in that part's own text (line 1 column 1 = the part's first character).
 */
#ifndef PT_AUTOMATION_MSGTMPL_H
#define PT_AUTOMATION_MSGTMPL_H

#include "automation/tmpl.h"

enum { PT_CHAN_EMAIL = 1, PT_CHAN_WEBHOOK = 2 };

struct pt_msg_tmpl {
    char *name;
    int channel; /* PT_CHAN_* */
    char *subject_src, *html_src, *text_src, *body_src; /* NULL when absent */
    struct pt_tmpl *subject, *html, *text, *body;        /* compiled (NULL when absent) */
};

int pt_msg_tmpl_parse(const char *json, size_t len, struct pt_msg_tmpl *t, char *field,
                      struct pt_err *e);
void pt_msg_tmpl_release(struct pt_msg_tmpl *t);
/* The canonical JSON of t (keys in the order above, absent parts left out). */
int pt_msg_tmpl_json(const struct pt_msg_tmpl *t, struct pt_buf *out);

#endif
