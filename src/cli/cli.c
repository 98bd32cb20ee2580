/* cli.c - progress bar, number formatting and exit codes for the CLI. */
#include "cli/cli.h"

#include <string.h>
#include <unistd.h>

#include "ingest/fields.h"
#include "ingest/orders.h"
#include "util/err.h"
#include "util/timeutil.h"

int cli_exit_code(int rc)
{
    if (rc == 0)
        return PT_EXIT_OK;
    return rc == PT_EUSAGE ? PT_EXIT_USAGE : PT_EXIT_FAIL;
}

void cli_progress_init(struct cli_progress *p, const char *label, uint64_t total, int bytes)
{
    p->bytes = bytes;
    p->on = isatty(STDERR_FILENO);
    p->label = label;
    p->total = total;
    p->t0 = pt_mono_now();
    p->last = 0;
}

void cli_progress_update(void *arg, uint64_t done)
{
    struct cli_progress *p = arg;
    if (!p->on)
        return;
    double now = pt_mono_now();
    if (now - p->last < 0.1 && (p->total == 0 || done < p->total))
        return;
    p->last = now;
    double scale = p->bytes ? 1048576.0 : 1e6;
    const char *unit = p->bytes ? "MiB" : "M";
    double mb = (double)done / scale;
    double rate = mb / (now - p->t0 > 1e-6 ? now - p->t0 : 1e-6);
    if (p->total) {
        int w = 30;
        int fill = (int)((double)w * (double)done / (double)p->total);
        if (fill > w)
            fill = w;
        fprintf(stderr, "\r%s [%.*s%*s] %3d%% %.1f %s %.1f %s/s", p->label, fill,
                "##############################", w - fill, "",
                (int)(100.0 * (double)done / (double)p->total), mb, unit, rate, unit);
    } else {
        fprintf(stderr, "\r%s %.1f %s %.1f %s/s", p->label, mb, unit, rate, unit);
    }
    fflush(stderr);
}

void cli_progress_done(struct cli_progress *p)
{
    if (p->on && p->last > 0) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
}

const char *cli_group(uint64_t v, char *out)
{
    char tmp[32];
    int n = 0;
    do {
        if (n % 4 == 3)
            tmp[n++] = ',';
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (int i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return out;
}

int cli_parse_instant(const char *s, int64_t *t)
{
    const char *why;
    return pt_parse_time(s, strlen(s), PT_TIME_ISO, t, &why) ? -1 : 0;
}

int cli_parse_layout(const char *s, int *layout)
{
    static const struct {
        const char *name;
        enum pt_layout l;
    } k[] = {{"auto", PT_LAYOUT_AUTO},
             {"orders", PT_LAYOUT_ORDERS},
             {"uci", PT_LAYOUT_UCI},
             {"uci2", PT_LAYOUT_UCI2}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (strcmp(s, k[i].name) == 0) {
            *layout = (int)k[i].l;
            return 0;
        }
    return -1;
}
