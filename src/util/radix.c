/* radix.c - see radix.h. One histogram pass computes all eight byte counts. */
#include "util/radix.h"

#include <string.h>

#include "util/err.h"
#include "util/mem.h"

int pt_radix_sort_kv(uint64_t *key, uint32_t *val, size_t n)
{
    if (n < 2)
        return 0;
    uint64_t *k2 = pt_alloc_array(n, sizeof *k2);
    uint32_t *v2 = pt_alloc_array(n, sizeof *v2);
    size_t(*cnt)[256] = pt_calloc(8, sizeof *cnt);
    if (k2 == NULL || v2 == NULL || cnt == NULL) {
        pt_free(k2);
        pt_free(v2);
        pt_free(cnt);
        return PT_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t k = key[i];
        for (int b = 0; b < 8; b++)
            cnt[b][(k >> (8 * b)) & 0xFF]++;
    }
    uint64_t *ks = key, *kd = k2;
    uint32_t *vs = val, *vd = v2;
    for (int b = 0; b < 8; b++) {
        size_t *c = cnt[b];
        if (c[(ks[0] >> (8 * b)) & 0xFF] == n)
            continue; /* every key has this byte */
        size_t sum = 0;
        for (int i = 0; i < 256; i++) {
            size_t t = c[i];
            c[i] = sum;
            sum += t;
        }
        for (size_t i = 0; i < n; i++) {
            size_t d = c[(ks[i] >> (8 * b)) & 0xFF]++;
            kd[d] = ks[i];
            vd[d] = vs[i];
        }
        uint64_t *tk = ks;
        ks = kd;
        kd = tk;
        uint32_t *tv = vs;
        vs = vd;
        vd = tv;
    }
    if (ks != key) {
        memcpy(key, ks, n * sizeof *key);
        memcpy(val, vs, n * sizeof *val);
    }
    pt_free(k2);
    pt_free(v2);
    pt_free(cnt);
    return 0;
}
