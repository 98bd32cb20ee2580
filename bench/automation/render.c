/*
 * render.c - message template rendering throughput (src/automation/tmpl.h),
 * in process: a realistic ~2 KB HTML email (greeting, points balance, tier,
 * a voucher, a loop of 5 recommended products with name / price / URL, an
 * unsubscribe link; 16 distinct variables) compiled once and rendered for N
 * distinct customers.
 *
 *   render [N]    N customers (default 200000); prints one line of JSON:
 *                 {"renders":N,"template_bytes":B,"avg_output_bytes":X,
 *                  "prebuilt_s":s,"prebuilt_renders_per_s":r,
 *                  "with_context_s":s,"with_context_renders_per_s":r}
 *
 * prebuilt: the N jansson contexts are built before the clock starts (the
 * products come from a shared catalogue of 500, as a recommender would hand
 * them out); only pt_tmpl_render into one reused buffer is timed.
 * with_context: per customer, building its context (json_pack), rendering
 * and freeing the context are timed together.
 * The first customer's output is checked against the values it was given;
 * exit 1 if it does not match.
 *
 * Build (from the repository root, after `make`):
 *   mkdir -p build/bench && cc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -Wshadow \
 *       -Wconversion -Wsign-conversion -Wstrict-prototypes -Wmissing-prototypes -Isrc \
 *       -o build/bench/automation_render bench/automation/render.c build/libpatron.a \
 *       $(pkg-config --libs jansson) -lm
 *   build/bench/automation_render 200000
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "automation/tmpl.h"
#include "util/buf.h"

#define CATALOGUE 500
#define PICKS     5

static const char k_template[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "  <meta charset=\"utf-8\">\n"
    "  <title>{{shop.name}}: your points and picks</title>\n"
    "  <style>body{font-family:Helvetica,Arial,sans-serif;color:#222}"
    ".btn{background:#0a7;color:#fff;padding:8px 14px;border-radius:4px;text-decoration:none}"
    "td{padding:6px 10px;border-bottom:1px solid #eee}</style>\n"
    "</head>\n"
    "<body>\n"
    "  <table width=\"600\" align=\"center\" cellpadding=\"0\" cellspacing=\"0\">\n"
    "    <tr><td><img src=\"{{shop.logo}}\" alt=\"{{shop.name}}\" width=\"120\"></td></tr>\n"
    "    <tr><td>\n"
    "      <h1>Hi {{first_name}},</h1>\n"
    "      <p>Thank you for being a {{tier}} member of {{shop.name}}. You now have\n"
    "      <b>{{points}}</b> points on your card.</p>\n"
    "      {{#to_next}}<p>Only <b>{{to_next}}</b> more points and you reach\n"
    "      {{next_tier}}, with free delivery on every order.</p>{{/to_next}}\n"
    "      {{^to_next}}<p>You are at our highest tier. Enjoy it!</p>{{/to_next}}\n"
    "    </td></tr>\n"
    "    {{#voucher}}\n"
    "    <tr><td style=\"background:#f6f6f6\">\n"
    "      <p>Here is a little something: <b>{{value}}% off</b> your next order with the code</p>\n"
    "      <p style=\"font-size:22px;letter-spacing:2px\"><b>{{code}}</b></p>\n"
    "      <p>Valid until {{expires}}. One use per customer.</p>\n"
    "    </td></tr>\n"
    "    {{/voucher}}\n"
    "    <tr><td>\n"
    "      <h2>Picked for you</h2>\n"
    "      <table width=\"100%\">\n"
    "        {{#products}}\n"
    "        <tr>\n"
    "          <td><a href=\"{{url}}?utm_source=patron&amp;utm_medium=email\">{{name}}</a></td>\n"
    "          <td align=\"right\">{{price}} {{currency}}</td>\n"
    "          <td><a class=\"btn\" href=\"{{url}}\">Buy</a></td>\n"
    "        </tr>\n"
    "        {{/products}}\n"
    "      </table>\n"
    "    </td></tr>\n"
    "    <tr><td style=\"font-size:12px;color:#888\">\n"
    "      <p>You receive this email as a member of the {{shop.name}} loyalty programme\n"
    "      ({{email}}). Prices include VAT. Points expire 24 months after they are earned.</p>\n"
    "      <p><a href=\"{{{unsubscribe_url}}}\">Unsubscribe</a> |\n"
    "      <a href=\"{{shop.url}}/account\">Your account</a></p>\n"
    "    </td></tr>\n"
    "  </table>\n"
    "</body>\n"
    "</html>\n";

static const char *const k_first[] = {"Anna",  "Piotr", "Zoë",    "Kasia",  "Tom & Jerry",
                                      "Marek", "Ola",   "Łukasz", "O'Neil", "Ewa"};
static const char *const k_tiers[] = {"Bronze", "Silver", "Gold", "Platinum"};
static const char *const k_words[] = {"Linen", "Ceramic", "Oak",   "Wool", "Copper",
                                      "Mug",   "Throw",   "Board", "Lamp", "Vase"};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

static json_t *shop;
static json_t *catalogue[CATALOGUE];

static void build_shared(void)
{
    shop = json_pack("{s:s, s:s, s:s}", "name", "Corner & Co", "url", "https://corner.example",
                     "logo", "https://corner.example/logo.png");
    for (int i = 0; i < CATALOGUE; i++) {
        char name[64], url[96];
        snprintf(name, sizeof name, "%s %s no. %d", k_words[i % 10], k_words[(i / 10) % 10], i);
        snprintf(url, sizeof url, "https://corner.example/p/%d", i);
        double price = (double)(199 + (mix((uint64_t)i) % 20000)) / 100.0;
        catalogue[i] = json_pack("{s:s, s:f, s:s}", "name", name, "price", price, "url", url);
    }
}

/* The context of customer i: distinct names, values and picks. */
static json_t *customer(size_t i)
{
    uint64_t h = mix(i + 1);
    char email[64], code[16], unsub[96], expires[16];
    snprintf(email, sizeof email, "customer%zu@example.com", i);
    snprintf(code, sizeof code, "WB-%06llX", (unsigned long long)(h & 0xFFFFFF));
    snprintf(unsub, sizeof unsub, "https://corner.example/u?c=%zu&t=%08llx", i,
             (unsigned long long)(h >> 32));
    snprintf(expires, sizeof expires, "2026-%02d-%02d", (int)(h % 12) + 1, (int)(h % 28) + 1);
    int tier = (int)(h % 4);
    json_t *products = json_array();
    for (int k = 0; k < PICKS; k++)
        json_array_append(products, catalogue[(h >> (8 * k)) % CATALOGUE]);
    json_t *c = json_pack("{s:s, s:s, s:I, s:s, s:s, s:I, s:s, s:O, s:o, s:s}", "first_name",
                          k_first[i % 10], "email", email, "points", (json_int_t)(h % 100000),
                          "tier", k_tiers[tier], "next_tier", k_tiers[tier < 3 ? tier + 1 : 3],
                          "to_next", (json_int_t)(tier < 3 ? (h >> 20) % 5000 : 0), "currency",
                          "PLN", "shop", shop, "products", products, "unsubscribe_url", unsub);
    if (c != NULL && h % 3 != 0) /* two customers in three have a voucher */
        json_object_set_new(c, "voucher",
                            json_pack("{s:s, s:I, s:s}", "code", code, "value",
                                      (json_int_t)(5 + h % 20), "expires", expires));
    return c;
}

static int has(const struct pt_buf *b, const char *s)
{
    return strstr(b->data, s) != NULL;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 200000;
    if (argc > 2 || n == 0) {
        fputs("usage: render [N]\n", stderr);
        return 2;
    }
    struct pt_tmpl *t;
    struct pt_err e;
    if (pt_tmpl_compile(k_template, strlen(k_template), &t, &e)) {
        fprintf(stderr, "render: template refused at %llu:%llu: %s\n", (unsigned long long)e.line,
                (unsigned long long)e.column, e.msg);
        return 1;
    }
    build_shared();
    json_t **ctx = calloc(n, sizeof *ctx);
    if (ctx == NULL)
        return 1;
    for (size_t i = 0; i < n; i++)
        if ((ctx[i] = customer(i)) == NULL)
            return 1;

    /* check one output */
    struct pt_buf out;
    pt_buf_init(&out);
    if (pt_tmpl_render(t, ctx[4], PT_TMPL_HTML, &out) || !has(&out, "Hi Tom &amp; Jerry,") ||
        !has(&out, "customer4@example.com") ||
        !has(&out, "<a href=\"https://corner.example/u?c=4&t=") ||
        !has(&out, "https://corner.example/p/") || strstr(out.data, "{{") != NULL) {
        fprintf(stderr, "render: unexpected output:\n%s\n", out.data ? out.data : "");
        return 1;
    }

    /* prebuilt contexts: rendering alone */
    size_t total = 0;
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        pt_buf_reset(&out);
        if (pt_tmpl_render(t, ctx[i], PT_TMPL_HTML, &out))
            return 1;
        total += out.len;
    }
    double pre = now_s() - t0;
    for (size_t i = 0; i < n; i++)
        json_decref(ctx[i]);
    free(ctx);

    /* building each context, rendering, freeing it */
    size_t total2 = 0;
    t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        json_t *c = customer(i);
        pt_buf_reset(&out);
        if (c == NULL || pt_tmpl_render(t, c, PT_TMPL_HTML, &out))
            return 1;
        total2 += out.len;
        json_decref(c);
    }
    double with = now_s() - t0;
    if (total2 != total) {
        fputs("render: the two runs gave different outputs\n", stderr);
        return 1;
    }
    printf("{\"renders\":%zu,\"template_bytes\":%zu,\"avg_output_bytes\":%.0f,"
           "\"prebuilt_s\":%.3f,\"prebuilt_renders_per_s\":%.0f,"
           "\"with_context_s\":%.3f,\"with_context_renders_per_s\":%.0f}\n",
           n, strlen(k_template), (double)total / (double)n, pre, (double)n / pre, with,
           (double)n / with);
    pt_buf_release(&out);
    pt_tmpl_free(t);
    json_decref(shop);
    for (int i = 0; i < CATALOGUE; i++)
        json_decref(catalogue[i]);
    return 0;
}
