/*
 * codegen.c - the in-process half of bench/loyalty/run.sh's code generation:
 * pt_code_batch(N) (src/loyalty/code.h) linked from build/libpatron.a, timed
 * alone (no HTTP, no store), REPEAT times.
 *
 *   codegen N [REPEAT]   prints {"codes":N,"runs":[s...],"median_s":s,
 *                        "distinct":1,"checked":1} on one line
 *
 * After each run (not timed) the codes are checked: every one has a valid
 * check symbol (pt_code_check) and, sorted, no two are equal. Exit 1 if not.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loyalty/code.h"
#include "util/mem.h"

#define W (PT_CODE_LEN + 1)

static int cmp_code(const void *a, const void *b)
{
    return memcmp(a, b, PT_CODE_LEN);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fputs("usage: codegen N [REPEAT]\n", stderr);
        return 2;
    }
    size_t n = (size_t)strtoull(argv[1], NULL, 10);
    int repeat = argc > 2 ? atoi(argv[2]) : 3;
    if (n == 0 || repeat < 1 || repeat > 100 || sodium_init() < 0) {
        fputs("codegen: N must be positive, REPEAT 1 to 100 (or libsodium failed)\n", stderr);
        return 2;
    }
    double runs[100];
    int ok = 1;
    for (int r = 0; r < repeat; r++) {
        char *codes = NULL;
        double t0 = now_s();
        int rc = pt_code_batch(n, NULL, NULL, &codes);
        runs[r] = now_s() - t0;
        if (rc || codes == NULL) {
            fprintf(stderr, "codegen: pt_code_batch failed (%d)\n", rc);
            return 1;
        }
        for (size_t i = 0; i < n; i++) {
            const char *c = codes + i * W;
            if (strlen(c) != PT_CODE_LEN || pt_code_check(c) != c[PT_CODE_DATA]) {
                fprintf(stderr, "codegen: code %zu (%.*s) is malformed\n", i, PT_CODE_LEN, c);
                ok = 0;
                break;
            }
        }
        qsort(codes, n, W, cmp_code);
        for (size_t i = 1; i < n; i++)
            if (memcmp(codes + (i - 1) * W, codes + i * W, PT_CODE_LEN) == 0) {
                fprintf(stderr, "codegen: code %.*s twice\n", PT_CODE_LEN, codes + i * W);
                ok = 0;
                break;
            }
        pt_free(codes);
    }
    printf("{\"codes\":%zu,\"runs\":[", n);
    for (int r = 0; r < repeat; r++)
        printf("%s%.3f", r ? "," : "", runs[r]);
    qsort(runs, (size_t)repeat, sizeof runs[0], cmp_double);
    printf("],\"median_s\":%.3f,\"distinct\":%d,\"checked\":%d}\n", runs[(repeat - 1) / 2], ok,
           ok);
    return ok ? 0 : 1;
}
