/*
 * fuzz_orders.c - libFuzzer target for the whole order reader and RFM.
 *
 * The input is read through a memfd with a tiny block size and two parser
 * threads (so block and part boundaries fall everywhere), once stopping at the
 * first bad row and once skipping bad rows, then scored. Checks: no crash, no
 * leak, and the skip-bad run reports at least as many orders as there are
 * customers.
 */
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ingest/orders.h"
#include "rfm/rfm.h"

static void run(const uint8_t *data, size_t size, int skip_bad, int general)
{
    int fd = memfd_create("fuzz", 0);
    if (fd < 0)
        return;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return;
    }
    lseek(fd, 0, SEEK_SET);
    struct pt_rfm_opts ro = {.threads = 2};
    struct pt_rfm *x = pt_rfm_new(&ro);
    struct pt_order_sink sink;
    pt_rfm_sink(x, &sink);
    struct pt_ingest_opts io = {.name = "fuzz",
                                .skip_bad = skip_bad,
                                .max_record = 128,
                                .block_size = 64,
                                .threads = 2,
                                .force_general = general};
    struct pt_ingest_stats st;
    struct pt_err e;
    if (pt_ingest_orders(fd, &io, &sink, &st, &e) == 0) {
        const struct pt_rfm_result *res;
        if (pt_rfm_finish(x, st.scale, &res, &e) == 0) {
            if (res->orders < res->n)
                abort();
            for (size_t i = 0; i < res->n; i++)
                if (res->r[i] < 1 || res->r[i] > 5 || res->f[i] < 1 || res->f[i] > 5 ||
                    res->m[i] < 1 || res->m[i] > 5 || res->recency[i] < 0)
                    abort();
        }
    }
    pt_rfm_destroy(x);
    close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    run(data, size, 0, 0);
    run(data, size, 1, 0);
    run(data, size, 1, 1);
    return 0;
}
