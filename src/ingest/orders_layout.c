/*
 * orders_layout.c - header detection, column mapping and row conversion for
 * the order layouts of orders.h, and the wording of bad-row messages.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ingest/fields.h"
#include "ingest/orders_int.h"

static const char *const k_role_key[R_NROLES] = {
    "order_id", "customer_id", "ordered_at", "amount", "quantity", "price",
};

const char *pt_layout_name(enum pt_layout l)
{
    switch (l) {
    case PT_LAYOUT_ORDERS:
        return "orders";
    case PT_LAYOUT_UCI:
        return "uci-online-retail";
    case PT_LAYOUT_UCI2:
        return "uci-online-retail-ii";
    default:
        return "auto";
    }
}

static int field_is(const struct pt_csv_field *f, const char *s)
{
    size_t n = strlen(s);
    return f->len == n && strncasecmp(f->p, s, n) == 0;
}

static int find_col(const struct pt_csv_rec *r, const char *s)
{
    for (uint32_t i = 0; i < r->nfields; i++)
        if (field_is(&r->f[i], s))
            return (int)i;
    return -1;
}

static void header_list(char *out, size_t cap, const struct pt_csv_rec *r)
{
    size_t o = 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < r->nfields && o + 4 < cap; i++) {
        int n = snprintf(out + o, cap - o, "%s%.*s", i ? "," : "", (int)r->f[i].len, r->f[i].p);
        if (n < 0 || (size_t)n >= cap - o)
            break;
        o += (size_t)n;
    }
}

/* Apply "role=Header,..." to L->col. */
static int apply_columns(struct layout *L, const struct pt_csv_rec *r, const char *columns,
                         const char *name, struct pt_err *e)
{
    const char *s = columns;
    while (*s) {
        const char *comma = strchr(s, ',');
        size_t len = comma ? (size_t)(comma - s) : strlen(s);
        const char *eq = memchr(s, '=', len);
        if (eq == NULL || eq == s || eq + 1 == s + len)
            return pt_err_set(e, PT_EUSAGE, "--columns: expected ROLE=HEADER, got \"%.*s\"",
                              (int)len, s);
        size_t klen = (size_t)(eq - s);
        int role = -1;
        for (int i = 0; i < 4; i++)
            if (strlen(k_role_key[i]) == klen && strncmp(k_role_key[i], s, klen) == 0)
                role = i;
        if (role < 0)
            return pt_err_set(e, PT_EUSAGE,
                              "--columns: unknown role \"%.*s\" (roles: order_id, customer_id, "
                              "ordered_at, amount)",
                              (int)klen, s);
        const char *h = eq + 1;
        size_t hlen = len - klen - 1;
        int c = -1;
        for (uint32_t i = 0; i < r->nfields; i++)
            if (r->f[i].len == hlen && strncasecmp(r->f[i].p, h, hlen) == 0)
                c = (int)i;
        if (c < 0) {
            char hl[256];
            header_list(hl, sizeof hl, r);
            return pt_err_set(e, PT_EPARSE, "%s:1: --columns %s=%.*s: no such column (header: %s)",
                              name, k_role_key[role], (int)hlen, h, hl);
        }
        L->col[role] = c;
        snprintf(L->name[role], sizeof L->name[role], "%s", k_role_key[role]);
        s += len;
        if (*s == ',')
            s++;
    }
    return 0;
}

int layout_from_header(struct layout *L, const struct pt_csv_rec *r, enum pt_layout want,
                       const char *columns, const char *name, struct pt_err *e)
{
    memset(L, 0, sizeof *L);
    for (int i = 0; i < R_NROLES; i++)
        L->col[i] = -1;
    L->nfields = r->nfields;
    if (r->bad != PT_CSV_GOOD)
        return pt_err_set(e, PT_EPARSE, "%s:1: header: %s", name, pt_csv_bad_str(r->bad));
    for (uint32_t i = 0; i < r->nfields; i++) {
        const char *why;
        if (r->f[i].len && pt_check_id(r->f[i].p, r->f[i].len, PT_ID_UTF8, &why) &&
            r->f[i].len <= PT_ID_MAX_BYTES)
            return pt_err_set(e, PT_EPARSE, "%s:1:%u: header: column %u: %s", name,
                              r->f[i].raw_off + 1, i + 1, why);
    }
    int uci1 = find_col(r, "InvoiceNo") >= 0 && find_col(r, "UnitPrice") >= 0;
    int uci2 = find_col(r, "Invoice") >= 0 && find_col(r, "Price") >= 0 &&
               find_col(r, "Customer ID") >= 0;
    enum pt_layout kind = want;
    if (kind == PT_LAYOUT_AUTO)
        kind = columns ? PT_LAYOUT_ORDERS : uci1 ? PT_LAYOUT_UCI : uci2 ? PT_LAYOUT_UCI2
                                                                      : PT_LAYOUT_ORDERS;
    L->kind = kind;
    const char *names[R_NROLES] = {0};
    if (kind == PT_LAYOUT_ORDERS) {
        L->scale = 2;
        for (int i = 0; i < 4; i++)
            names[i] = k_role_key[i];
    } else {
        L->scale = 3;
        int two = kind == PT_LAYOUT_UCI2;
        names[R_ORDER] = two ? "Invoice" : "InvoiceNo";
        names[R_CUSTOMER] = two ? "Customer ID" : "CustomerID";
        names[R_TIME] = "InvoiceDate";
        names[R_QUANTITY] = "Quantity";
        names[R_PRICE] = two ? "Price" : "UnitPrice";
    }
    for (int i = 0; i < R_NROLES; i++) {
        if (names[i] == NULL)
            continue;
        L->col[i] = find_col(r, names[i]);
        snprintf(L->name[i], sizeof L->name[i], "%s", names[i]);
    }
    if (columns && kind == PT_LAYOUT_ORDERS) {
        int rc = apply_columns(L, r, columns, name, e);
        if (rc)
            return rc;
    }
    for (int i = 0; i < R_NROLES; i++) {
        if (names[i] != NULL && L->col[i] < 0) {
            char hl[256];
            header_list(hl, sizeof hl, r);
            if (kind == PT_LAYOUT_ORDERS)
                return pt_err_set(
                    e, PT_EPARSE,
                    "%s:1: unknown header: no column '%s' (header: %s); expected "
                    "order_id,customer_id,ordered_at,amount, a UCI Online Retail header, or "
                    "--columns %s=NAME",
                    name, names[i], hl, names[i]);
            return pt_err_set(e, PT_EPARSE, "%s:1: header: no column '%s' (header: %s)", name,
                              names[i], hl);
        }
        for (int j = 0; j < i; j++)
            if (L->col[i] >= 0 && L->col[i] == L->col[j])
                return pt_err_set(e, PT_EPARSE, "%s:1: header: column %d used for both '%s' and '%s'",
                                  name, L->col[i] + 1, L->name[j], L->name[i]);
    }
    return 0;
}

static int bad_field(struct bad *b, const struct pt_csv_rec *r, int col, const char *name,
                     const char *why)
{
    b->off = r->f[col].raw_off;
    b->field = name;
    b->why = why;
    b->val = r->f[col].p;
    b->val_len = r->f[col].len;
    b->detail[0] = '\0';
    return -1;
}

int layout_convert(const struct layout *L, const struct pt_csv_rec *r, struct row *out,
                   struct bad *b)
{
    const char *why;
    if (r->nfields != L->nfields) {
        b->off = 0;
        b->field = NULL;
        b->val = NULL;
        b->val_len = 0;
        snprintf(b->detail, sizeof b->detail, "expected %u fields, found %u%s", L->nfields,
                 r->nfields, r->nfields == PT_CSV_MAX_FIELDS ? " or more" : "");
        b->why = b->detail;
        return -1;
    }
    const struct pt_csv_field *fo = &r->f[L->col[R_ORDER]];
    const struct pt_csv_field *fc = &r->f[L->col[R_CUSTOMER]];
    const struct pt_csv_field *ft = &r->f[L->col[R_TIME]];
    out->cancel = 0;
    out->no_customer = 0;
    if (pt_check_id(fo->p, fo->len, 0, &why))
        return bad_field(b, r, L->col[R_ORDER], L->name[R_ORDER], why);
    out->oid = fo->p;
    out->oid_len = fo->len;
    if (L->kind != PT_LAYOUT_ORDERS && fc->len == 0) {
        out->no_customer = 1;
        return 0;
    }
    if (pt_check_id(fc->p, fc->len, PT_ID_UTF8, &why))
        return bad_field(b, r, L->col[R_CUSTOMER], L->name[R_CUSTOMER], why);
    out->cid = fc->p;
    out->cid_len = fc->len;
    if (L->kind == PT_LAYOUT_ORDERS) {
        if (pt_parse_time(ft->p, ft->len, PT_TIME_ISO, &out->t, &why))
            return bad_field(b, r, L->col[R_TIME], L->name[R_TIME], why);
        const struct pt_csv_field *fa = &r->f[L->col[R_AMOUNT]];
        if (pt_parse_decimal(fa->p, fa->len, 2, 0, &out->amount, &why))
            return bad_field(b, r, L->col[R_AMOUNT], L->name[R_AMOUNT], why);
        return 0;
    }
    /* UCI: amount = Quantity x UnitPrice in thousandths. */
    if (pt_parse_time(ft->p, ft->len, PT_TIME_SPACE_SEP, &out->t, &why))
        return bad_field(b, r, L->col[R_TIME], L->name[R_TIME], why);
    int64_t q, p;
    const struct pt_csv_field *fq = &r->f[L->col[R_QUANTITY]];
    const struct pt_csv_field *fp = &r->f[L->col[R_PRICE]];
    if (pt_parse_int(fq->p, fq->len, &q, &why))
        return bad_field(b, r, L->col[R_QUANTITY], L->name[R_QUANTITY], why);
    if (pt_parse_decimal(fp->p, fp->len, 3, PT_DEC_ALLOW_NEG, &p, &why))
        return bad_field(b, r, L->col[R_PRICE], L->name[R_PRICE], why);
    if (__builtin_mul_overflow(q, p, &out->amount))
        return bad_field(b, r, L->col[R_QUANTITY], L->name[R_QUANTITY],
                         "line amount too large");
    out->cancel = fo->p[0] == 'C';
    return 0;
}

/* Append v as a short, printable quotation: escapes control and non-ASCII
 * bytes as \xHH and cuts after 60 bytes. */
static void add_quoted(struct pt_buf *out, const char *v, uint32_t n)
{
    pt_buf_addc(out, '"');
    uint32_t lim = n > 60 ? 60 : n;
    for (uint32_t i = 0; i < lim; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c < 0x20 || c == 0x7F || c == '"' || c == '\\' || c >= 0x80)
            pt_buf_printf(out, "\\x%02x", c);
        else
            pt_buf_addc(out, (char)c);
    }
    if (lim < n)
        pt_buf_adds(out, "...");
    pt_buf_addc(out, '"');
}

void bad_format(struct pt_buf *out, const char *name, uint64_t line, uint64_t col,
                const struct bad *b)
{
    pt_buf_reset(out);
    pt_buf_printf(out, "%s:%llu:%llu: ", name, (unsigned long long)line, (unsigned long long)col);
    if (b->field)
        pt_buf_printf(out, "field '%s': ", b->field);
    pt_buf_adds(out, b->detail[0] ? b->detail : b->why);
    if (b->val) {
        pt_buf_adds(out, " (");
        add_quoted(out, b->val, b->val_len);
        pt_buf_addc(out, ')');
    }
}

/* Append s as one CSV field, quoted when needed. */
static int add_csv_field(struct pt_buf *out, const char *s, size_t n)
{
    int q = memchr(s, ',', n) || memchr(s, '"', n) || memchr(s, '\n', n) || memchr(s, '\r', n);
    if (!q)
        return pt_buf_add(out, s, n);
    int rc = pt_buf_addc(out, '"');
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = s[i] == '"' ? pt_buf_add(out, "\"\"", 2) : pt_buf_addc(out, s[i]);
    return rc ? rc : pt_buf_addc(out, '"');
}

int bad_reject_row(struct pt_buf *out, uint64_t line, uint64_t col, const struct bad *b,
                   const char *raw, size_t raw_len)
{
    int rc = pt_buf_printf(out, "%llu,%llu,", (unsigned long long)line, (unsigned long long)col);
    if (b->field)
        rc = rc ? rc : add_csv_field(out, b->field, strlen(b->field));
    rc = rc ? rc : pt_buf_addc(out, ',');
    const char *why = b->detail[0] ? b->detail : b->why;
    rc = rc ? rc : add_csv_field(out, why, strlen(why));
    rc = rc ? rc : pt_buf_addc(out, ',');
    rc = rc ? rc : add_csv_field(out, raw, raw_len);
    return rc ? rc : pt_buf_addc(out, '\n');
}

int layout_fast_ok(const struct layout *L)
{
    return L->kind == PT_LAYOUT_ORDERS && L->nfields == 4 && L->col[R_ORDER] == 0 &&
           L->col[R_CUSTOMER] == 1 && L->col[R_TIME] == 2 && L->col[R_AMOUNT] == 3;
}

struct pt_order pt_order_make(const char *cid, uint32_t len, int64_t t, int64_t amount,
                              uint32_t flags)
{
    uint64_t v;
    uint64_t cnum = pt_canonical_uint(cid, len, &v) ? v + 1 : 0;
    return (struct pt_order){.cid = cid,
                             .cid_len = len,
                             .flags = flags,
                             .chash = pt_cid_hash(cid, len, cnum),
                             .cnum = cnum,
                             .t = t,
                             .amount = amount};
}
