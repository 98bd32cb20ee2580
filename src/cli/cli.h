/*
 * cli.h - shared helpers of the `patron` subcommands.
 *
 * Layer: cli (may use every module; only cli/ and server/ may exit).
 * Exit statuses: 0 ok, 1 failure (bad input, I/O), 2 usage.
 */
#ifndef PT_CLI_CLI_H
#define PT_CLI_CLI_H

#include <stdint.h>
#include <stdio.h>

enum { PT_EXIT_OK = 0, PT_EXIT_FAIL = 1, PT_EXIT_USAGE = 2 };

int cmd_rfm(int argc, char **argv);
int cmd_gen(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_shop(int argc, char **argv);
int cmd_clv(int argc, char **argv);
int cmd_segment(int argc, char **argv);
int cmd_loyalty(int argc, char **argv);

/* Map a PT_E* code to an exit status (PT_EUSAGE -> 2, others -> 1). */
int cli_exit_code(int rc);

/* Progress bar on stderr, shown only when stderr is a terminal. */
struct cli_progress {
    int on;
    const char *label;
    uint64_t total; /* 0 = unknown */
    int bytes;      /* counts are bytes (shown in MiB), else items */
    double t0;
    double last;
};
void cli_progress_init(struct cli_progress *p, const char *label, uint64_t total, int bytes);
void cli_progress_update(void *p, uint64_t done);
void cli_progress_done(struct cli_progress *p);

/* "1234567" -> "1,234,567" into out (at least 32 bytes). */
const char *cli_group(uint64_t v, char *out);

/* An order layout named on the command line: auto, orders, uci, uci2 (enum
 * pt_layout of ingest/orders.h). 0 ok, -1 for another name. */
int cli_parse_layout(const char *s, int *layout);

/* Parse a date (YYYY-MM-DD) or an ISO-8601 instant. 0 ok, -1 bad. */
int cli_parse_instant(const char *s, int64_t *t);

#endif
