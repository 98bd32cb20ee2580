/*
 * cmd_shop.c - `patron shop create|list|rotate-key`: tenants and their API keys.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/timeutil.h"

static const char k_help[] =
    "usage: patron shop create NAME --data DIR [--format table|json]\n"
    "       patron shop list --data DIR [--format table|json]\n"
    "       patron shop rotate-key SHOP_ID --data DIR [--format table|json]\n"
    "\n"
    "Shops are the tenants of one Patron: every customer and event belongs to one shop,\n"
    "and a shop's API key sees that shop only. `create` and `rotate-key` print the new\n"
    "key once; only a hash of it is stored (a rotated key replaces the old one at once,\n"
    "also for a running server). With --format json, create and rotate-key print\n"
    "{\"shop_id\": \"...\", \"api_key\": \"...\"}.\n";

/* s as a JSON string on standard output. */
static void print_json_str(const char *s)
{
    struct pt_buf b;
    pt_buf_init(&b);
    if (pt_buf_add_json_str(&b, s, strlen(s)) == 0)
        fwrite(b.data, 1, b.len, stdout);
    pt_buf_release(&b);
}

struct list_ctx {
    int json, n;
};

static int list_one(void *ctx, const struct pt_shop *sh)
{
    struct list_ctx *c = ctx;
    char t[24];
    pt_format_utc(sh->created, t);
    if (c->json) {
        printf("%s{\"shop_id\": \"%s\", \"name\": ", c->n ? ",\n " : "", sh->public_id);
        print_json_str(sh->name);
        printf(", \"created\": \"%s\", \"key_id\": \"%s\"}", t, sh->key_id);
    } else {
        printf("%-22s  %-20s  %-18s  %s\n", sh->public_id, t, sh->key_id, sh->name);
    }
    c->n++;
    return 0;
}

int cmd_shop(int argc, char **argv)
{
    static const struct option opts[] = {
        {"data", required_argument, 0, 'd'},
        {"format", required_argument, 0, 'f'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *data = NULL, *format = "table";
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': data = optarg; break;
        case 'f': format = optarg; break;
        case 'h': fputs(k_help, stdout); return PT_EXIT_OK;
        default:
            fprintf(stderr, "patron shop: unknown or incomplete option \"%s\"\n%s",
                    argv[optind - 1], k_help);
            return PT_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fputs(k_help, stderr);
        return PT_EXIT_USAGE;
    }
    const char *verb = argv[optind++];
    int json = !strcmp(format, "json");
    if (!json && strcmp(format, "table")) {
        fprintf(stderr, "patron shop: --format must be table or json\n");
        return PT_EXIT_USAGE;
    }
    if (data == NULL) {
        fprintf(stderr, "patron shop: --data DIR is required\n");
        return PT_EXIT_USAGE;
    }
    int want_arg = strcmp(verb, "list") != 0;
    if (strcmp(verb, "create") && strcmp(verb, "list") && strcmp(verb, "rotate-key")) {
        fprintf(stderr, "patron shop: unknown action \"%s\" (create, list, rotate-key)\n", verb);
        return PT_EXIT_USAGE;
    }
    if (argc - optind != want_arg) {
        fprintf(stderr, "patron shop %s: %s\n", verb,
                want_arg ? "expects one argument" : "expects no argument");
        return PT_EXIT_USAGE;
    }
    struct pt_store *s;
    struct pt_err e;
    pt_err_clear(&e);
    if (pt_store_open(data, PT_STORE_WRITE, &s, &e)) {
        fprintf(stderr, "patron shop: %s\n", e.msg);
        return PT_EXIT_FAIL;
    }
    int rc = 0;
    if (!strcmp(verb, "list")) {
        struct list_ctx lc = {.json = json};
        if (json)
            printf("[");
        else
            printf("%-22s  %-20s  %-18s  %s\n", "SHOP_ID", "CREATED", "KEY_ID", "NAME");
        rc = pt_store_shop_list(s, list_one, &lc, &e);
        if (json)
            printf("]\n");
    } else {
        struct pt_shop sh;
        char key[96];
        rc = !strcmp(verb, "create") ? pt_store_shop_create(s, argv[optind], &sh, key, &e)
                                     : pt_store_shop_rotate(s, argv[optind], &sh, key, &e);
        if (rc == 0 && json) {
            printf("{\"shop_id\": \"%s\", \"api_key\": \"%s\", \"name\": ", sh.public_id, key);
            print_json_str(sh.name);
            printf("}\n");
        } else if (rc == 0) {
            printf("shop_id  %s\nname     %s\napi_key  %s\n", sh.public_id, sh.name, key);
            fprintf(stderr, "patron shop: the API key is shown only now; store it safely\n");
        }
    }
    pt_store_close(s);
    if (rc) {
        fprintf(stderr, "patron shop: %s\n", e.msg);
        return rc == PT_EINVAL ? PT_EXIT_USAGE : PT_EXIT_FAIL;
    }
    return PT_EXIT_OK;
}
