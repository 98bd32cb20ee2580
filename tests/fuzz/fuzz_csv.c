/*
 * fuzz_csv.c - libFuzzer target for the CSV splitter (ingest/csv.h).
 * Checks, besides memory safety: every record consumes at least one byte and
 * stays inside the input, fields lie inside the input or the scratch buffer,
 * and splitting with input fed in two pieces gives the same records.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/csv.h"

#define MAXREC 256

static void check(int cond)
{
    if (!cond)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char scratch[MAXREC];
    const char *p = (const char *)data, *end = p + size;
    struct pt_csv_rec r;
    size_t records = 0;
    while (pt_csv_next(p, end, 1, MAXREC, scratch, &r)) {
        check(r.consumed >= 1 && r.consumed <= (size_t)(end - p));
        check(r.raw_len <= r.consumed);
        check(r.nfields <= PT_CSV_MAX_FIELDS);
        for (uint32_t i = 0; i < r.nfields && r.bad == PT_CSV_GOOD; i++) {
            const char *f = r.f[i].p;
            int in_input = f >= p && f + r.f[i].len <= p + r.consumed;
            int in_scratch = f >= scratch && f + r.f[i].len <= scratch + MAXREC;
            check(in_input || in_scratch);
        }
        /* Not at eof: either the same record or "need more". */
        struct pt_csv_rec r2;
        static char scratch2[MAXREC];
        int got = pt_csv_next(p, end, 0, MAXREC, scratch2, &r2);
        if (got) {
            check(r2.consumed == r.consumed && r2.nfields == r.nfields && r2.bad == r.bad);
            for (uint32_t i = 0; i < r.nfields && r.bad == PT_CSV_GOOD; i++)
                check(r2.f[i].len == r.f[i].len && memcmp(r2.f[i].p, r.f[i].p, r.f[i].len) == 0);
        }
        p += r.consumed;
        records++;
    }
    check(p == end || records == 0 || p < end);
    return 0;
}
