/*
 * cmd_gen.c - `patron gen`: write realistic demo orders (see gen/gen.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "gen/gen.h"

static const char k_help[] =
    "usage: patron gen --customers N --orders M [options]\n"
    "\n"
    "Write a deterministic, realistic order CSV (order_id,customer_id,ordered_at,amount):\n"
    "most customers buy once or twice and a heavy tail buys often, over three years\n"
    "before --end, with log-normal order values. The same options give the same bytes.\n"
    "\n"
    "options:\n"
    "  --customers N        customers (ids 1..N)                    [required]\n"
    "  --orders M           orders; every customer gets one when M >= N [required]\n"
    "  --seed S             random seed (default 1)\n"
    "  --bad-fraction F     after each valid row, a malformed row with chance F\n"
    "                       (many kinds: bad numbers, dates, ids, field counts ...);\n"
    "                       the valid rows stay exactly those of F = 0\n"
    "  --lines L            1..L rows per order (default 1: one row per order)\n"
    "  --end DATE           orders end before this instant (default 2026-11-01)\n"
    "  --years Y            length of the period in years, 1..50 (default 3)\n"
    "  --out FILE           write to FILE instead of standard output\n"
    "  -h, --help           this text\n";

static int parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *v)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end || s[0] == '-' || s[0] == '\0' || x > max || x < min) {
        fprintf(stderr, "patron gen: --%s: expected an integer %llu..%llu, got \"%s\"\n", opt,
                (unsigned long long)min, (unsigned long long)max, s);
        return -1;
    }
    *v = x;
    return 0;
}

int cmd_gen(int argc, char **argv)
{
    static const struct option opts[] = {
        {"customers", required_argument, 0, 'c'},
        {"orders", required_argument, 0, 'n'},
        {"seed", required_argument, 0, 's'},
        {"bad-fraction", required_argument, 0, 'b'},
        {"lines", required_argument, 0, 'l'},
        {"end", required_argument, 0, 'e'},
        {"years", required_argument, 0, 'y'},
        {"out", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    struct pt_gen_opts o = {.seed = 1, .max_lines = 1};
    uint64_t years = 3, v;
    int have_c = 0, have_n = 0;
    const char *out = NULL;
    int64_t end = 1793491200; /* 2026-11-01T00:00:00Z */
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (parse_u64("customers", optarg, 1, UINT32_MAX - 2, &o.customers))
                return PT_EXIT_USAGE;
            have_c = 1;
            break;
        case 'n':
            if (parse_u64("orders", optarg, 0, UINT32_MAX - 2, &o.orders))
                return PT_EXIT_USAGE;
            have_n = 1;
            break;
        case 's':
            if (parse_u64("seed", optarg, 0, UINT64_MAX, &o.seed))
                return PT_EXIT_USAGE;
            break;
        case 'b': {
            char *e;
            o.bad_fraction = strtod(optarg, &e);
            if (*e || !(o.bad_fraction >= 0 && o.bad_fraction <= 1)) {
                fprintf(stderr, "patron gen: --bad-fraction: expected 0..1, got \"%s\"\n", optarg);
                return PT_EXIT_USAGE;
            }
            break;
        }
        case 'l':
            if (parse_u64("lines", optarg, 1, 20, &v))
                return PT_EXIT_USAGE;
            o.max_lines = (int)v;
            break;
        case 'e':
            if (cli_parse_instant(optarg, &end)) {
                fprintf(stderr, "patron gen: --end: \"%s\" is not a date\n", optarg);
                return PT_EXIT_USAGE;
            }
            break;
        case 'y':
            if (parse_u64("years", optarg, 1, 50, &years))
                return PT_EXIT_USAGE;
            break;
        case 'o':
            out = optarg;
            break;
        case 'h':
            fputs(k_help, stdout);
            return PT_EXIT_OK;
        default:
            fprintf(stderr, "Try 'patron gen --help'.\n");
            return PT_EXIT_USAGE;
        }
    }
    if (!have_c || !have_n || optind != argc || o.customers == 0) {
        fprintf(stderr, "patron gen: need --customers N (N >= 1) and --orders M, and no other "
                        "arguments\nTry 'patron gen --help'.\n");
        return PT_EXIT_USAGE;
    }
    o.end = end;
    o.start = end - (int64_t)years * 365 * 86400 - (int64_t)(years / 4) * 86400;
    FILE *f = out ? fopen(out, "w") : stdout;
    if (f == NULL) {
        fprintf(stderr, "patron gen: %s: %s\n", out, strerror(errno));
        return PT_EXIT_FAIL;
    }
    struct cli_progress prog;
    cli_progress_init(&prog, "writing orders", o.orders, 0);
    prog.on = prog.on && out != NULL; /* data on stdout: keep the terminal clean */
    o.progress = cli_progress_update;
    o.pctx = &prog;
    struct pt_gen_stats st;
    struct pt_err err;
    pt_err_clear(&err);
    int rc = pt_gen_orders(&o, f, &st, &err);
    cli_progress_done(&prog);
    if (out && fclose(f) != 0 && rc == 0)
        rc = pt_err_set(&err, PT_EIO, "%s: %s", out, strerror(errno));
    if (!out && fflush(stdout) != 0 && rc == 0)
        rc = pt_err_set(&err, PT_EIO, "standard output: %s", strerror(errno));
    if (rc) {
        fprintf(stderr, "patron gen: %s\n", err.msg[0] ? err.msg : pt_strerror(rc));
        return cli_exit_code(rc);
    }
    if (out) {
        char g1[32], g2[32], g3[32];
        fprintf(stderr, "patron gen: wrote %s: %s valid rows", out, cli_group(st.rows, g1));
        if (st.bad_rows)
            fprintf(stderr, " and %s malformed rows", cli_group(st.bad_rows, g2));
        fprintf(stderr, ", %s customers with orders\n", cli_group(st.customers_with_orders, g3));
    }
    return PT_EXIT_OK;
}
