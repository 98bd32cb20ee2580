/*
 * def_int.h - shared by the files of the automation definition parser
 * (def.c: the document and the trigger; def_read.c: paths, errors and value
 * readers; def_steps.c: the steps and their compilation; def_json.c: the
 * canonical JSON). Not for other modules: use automation/def.h.
 *
 * The readers take the object o and a key; when the key is present its name
 * is pushed on the path while the value is read, and popped again on
 * success. On an error the path still names the offending value (the error
 * is reported from it), so callers just return the code. Absent keys leave
 * *out as it was unless REQ makes them an error.
 */
#ifndef PT_AUTOMATION_DEF_INT_H
#define PT_AUTOMATION_DEF_INT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "automation/def.h"

#define DEF_PATH_CAP  256 /* bytes of the path in e->msg (with the NUL) */
#define DEF_FIELD_CAP 128 /* def.h: `field` holds at least 128 bytes */
#define DEF_MAX_NAME  200
#define DEF_MAX_ID    64
#define DEF_MAX_URL   2000
#define DEF_MINUTE    60
#define DEF_DAY       86400
#define DEF_MAX_DUR   (365 * DEF_DAY) /* every duration key */

struct def_ctx {
    char path[DEF_PATH_CAP]; /* the JSON path of the value being read */
    size_t plen;
    char *field;
    struct pt_err *e;
    struct pt_auto_def *d;
    size_t cap; /* room in d->steps */
};

enum { DEF_REQ = 1, DEF_NULLABLE = 2 }; /* flags of the def_get_* */
/* Kinds of strings: 1..200 bytes; a template id (1..64 of A-Z a-z 0-9 _ . -);
 * a tag (1..64 bytes, no control characters); an http(s) URL; any length. */
enum { DEF_S_NAME, DEF_S_TMPL, DEF_S_TAG, DEF_S_URL, DEF_S_TEXT };

/* The path: push returns the old length for def_pop. */
size_t def_push_key(struct def_ctx *c, const char *key, size_t klen);
size_t def_push_index(struct def_ctx *c, size_t i);
void def_pop(struct def_ctx *c, size_t old);

/* Report at the current path: `field` set, e->msg "PATH: reason"; returns
 * code. def_fail_at pushes key first. */
int def_fail_code(struct def_ctx *c, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define def_fail(c, ...) def_fail_code((c), PT_EPARSE, __VA_ARGS__)
int def_fail_at(struct def_ctx *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* "KEY: missing: give ..." */
int def_missing(struct def_ctx *c, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int def_nomem(struct def_ctx *c);
/* "an object", "a list", ... for messages. */
/* Bytes of a user string to quote in a message (whole characters). */
int def_qlen(const char *s, size_t n);

/* Every key of o is in own (NULL-terminated); a key of `other` (the keys of
 * the other types) is said not to belong to `what`, any other is unknown
 * (with a "did you mean"). other and what may be NULL. */
int def_check_keys(struct def_ctx *c, json_t *o, const char *const *own, const char *const *other,
                   const char *what);
/* "type": one of names[0..n) (NULL entries are not types); the index. */
int def_get_type(struct def_ctx *c, json_t *o, const char *const *names, size_t n,
                 const char *whose, int *out);

/* Member key of o, its name pushed on the path when present (*old). */
json_t *def_member(struct def_ctx *c, json_t *o, const char *key, size_t *old);
/* Values at the current path. */
int def_int_value(struct def_ctx *c, const json_t *v, int64_t lo, int64_t hi, int64_t *out);
int def_str_value(struct def_ctx *c, const json_t *v, int kind, char **out);
int def_enum_value(struct def_ctx *c, const json_t *v, const char *const *names, int *out);
/* Members. Integers are JSON integers; numbers integers or reals (-0 as 0);
 * durations lo..DEF_MAX_DUR; a string replaces *out (the old one freed);
 * a rule is parsed into *r with its text in *text. */
int def_get_int(struct def_ctx *c, json_t *o, const char *key, int flags, int64_t lo, int64_t hi,
                int64_t *out);
int def_get_num(struct def_ctx *c, json_t *o, const char *key, double lo, double hi, double *out);
int def_get_bool(struct def_ctx *c, json_t *o, const char *key, int *out);
int def_get_enum(struct def_ctx *c, json_t *o, const char *key, const char *const *names, int *out);
int def_get_str(struct def_ctx *c, json_t *o, const char *key, int flags, int kind, char **out);
int def_get_dur(struct def_ctx *c, json_t *o, const char *key, int flags, int64_t lo, int64_t *out);
int def_get_rule(struct def_ctx *c, json_t *o, const char *key, int flags, char **text,
                 struct pt_rule *r);

/* def_steps.c: compile the top-level list (non-empty array) into c->d->steps,
 * END appended. */
int def_compile_steps(struct def_ctx *c, json_t *steps);

#endif
