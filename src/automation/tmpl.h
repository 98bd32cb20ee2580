/*
 * tmpl.h - the message template language (docs/automation.md "Templates"):
 * a Mustache-style language compiled once when a template is saved and
 * rendered per customer against a JSON context.
 *
 *   {{name}}            the value at name, HTML-escaped when rendering HTML
 *   {{{name}}} {{&name}} the value unescaped
 *   {{a.b.c}}           dotted names; {{.}} is the current item
 *   {{#name}}..{{/name}} a section: skipped for missing, null, false, 0, "",
 *                       [] and {}; repeated for each item of an array (the item
 *                       on top of the context stack); once for any other
 *                       value (the value, object or not, is pushed on the stack)
 *   {{^name}}..{{/name}} inverted: rendered only when the section would be skipped
 *   {{! comment }}      nothing
 * Names are looked up from the innermost context outwards (as Mustache does).
 * A line holding only blanks and one section, inverted, closing or comment
 * tag is left out whole, newline included (Mustache's standalone tags).
 * Numbers render as JSON writes them (integers without a fraction); true and
 * false as "true" / "false"; null and missing as "". Objects and arrays render
 * as "".
 *
 * Layer: automation (util; jansson). Ownership: a compiled template owns its
 * text (pt_tmpl_free). Errors: pt_tmpl_compile gives PT_EPARSE with
 * e->line / e->column (1-based, of the offending tag's "{{"; columns count
 * UTF-8 characters) and e->msg why;
 * PT_ETOOBIG over PT_TMPL_MAX_BYTES or PT_TMPL_MAX_DEPTH nested sections;
 * PT_ENOMEM. Rendering fails only with PT_ENOMEM. Thread-safe: a compiled
 * template is read-only while rendering.
 */
#ifndef PT_AUTOMATION_TMPL_H
#define PT_AUTOMATION_TMPL_H

#include <jansson.h>
#include <stddef.h>

#include "util/buf.h"
#include "util/err.h"

#define PT_TMPL_MAX_BYTES (256 * 1024)
#define PT_TMPL_MAX_DEPTH 32

struct pt_tmpl;

int pt_tmpl_compile(const char *src, size_t len, struct pt_tmpl **out, struct pt_err *e);
void pt_tmpl_free(struct pt_tmpl *t);

enum { PT_TMPL_TEXT = 0, PT_TMPL_HTML = 1, PT_TMPL_JSON = 2 };
/* Append the rendering of t with context ctx (an object) to out; mode
 * PT_TMPL_HTML escapes & < > " ' in {{name}} values; PT_TMPL_JSON escapes
 * them as the inside of a JSON string (" \ and control characters; for
 * webhook bodies written as JSON with "{{name}}" in quotes). 0 or PT_ENOMEM. */
int pt_tmpl_render(const struct pt_tmpl *t, const json_t *ctx, int mode, struct pt_buf *out);

/* The top-level names the template reads (for docs and validation): calls
 * cb for each distinct first component of a name, in order of appearance
 * (name NUL-terminated, len bytes); 0, or the first nonzero cb result. */
int pt_tmpl_names(const struct pt_tmpl *t, int (*cb)(void *ctx, const char *name, size_t len),
                  void *ctx);

#endif
