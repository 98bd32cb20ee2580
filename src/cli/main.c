/*
 * main.c - `patron` entry point: dispatch to one file per subcommand
 * (cmd_<name>.c, git's builtin/ pattern).
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#ifndef PT_VERSION
#define PT_VERSION "0.1.0"
#endif

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} k_cmds[] = {
    {"rfm", cmd_rfm, "RFM scores and segments of an order export"},
    {"segment", cmd_segment, "evaluate a segment rule over an order export"},
    {"clv", cmd_clv, "customer lifetime value: fit BG/NBD, Pareto/NBD, Gamma-Gamma; score"},
    {"gen", cmd_gen, "write a realistic, deterministic demo order CSV"},
    {"serve", cmd_serve, "the events and customer profiles API server"},
    {"shop", cmd_shop, "create and list shops (tenants), rotate their API keys"},
    {"loyalty", cmd_loyalty, "loyalty programme: check a programme file, import members"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: patron <command> [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof k_cmds / sizeof k_cmds[0]; i++)
        fprintf(f, "  %-6s %s\n", k_cmds[i].name, k_cmds[i].help);
    fprintf(f, "\n`patron <command> --help` explains each command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return PT_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return PT_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("patron %s\n", PT_VERSION);
        return PT_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof k_cmds / sizeof k_cmds[0]; i++)
        if (!strcmp(argv[1], k_cmds[i].name))
            return k_cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "patron: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return PT_EXIT_USAGE;
}
