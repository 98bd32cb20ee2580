/*
 * par.c - parallel for (see par.h).
 */
#include <pthread.h>

#include "util/par.h"

struct par_job {
    void (*fn)(void *arg, int part, size_t lo, size_t hi);
    void *arg;
    int part;
    size_t lo, hi;
};

static void *par_main(void *a)
{
    struct par_job *j = a;
    j->fn(j->arg, j->part, j->lo, j->hi);
    return NULL;
}

void pt_parallel(size_t n, void (*fn)(void *arg, int part, size_t lo, size_t hi), void *arg)
{
    struct par_job jobs[PT_PAR_PARTS];
    pthread_t th[PT_PAR_PARTS];
    int started[PT_PAR_PARTS] = {0};
    int parts = n >= PT_PAR_MIN ? PT_PAR_PARTS : 1;
    for (int p = 0; p < PT_PAR_PARTS; p++) {
        size_t lo = p < parts ? n * (size_t)p / (size_t)parts : n;
        size_t hi = p < parts ? n * (size_t)(p + 1) / (size_t)parts : n;
        jobs[p] = (struct par_job){fn, arg, p, lo, hi};
        if (p > 0 && lo < hi)
            started[p] = pthread_create(&th[p], NULL, par_main, &jobs[p]) == 0;
    }
    fn(arg, 0, jobs[0].lo, jobs[0].hi);
    for (int p = 1; p < PT_PAR_PARTS; p++) {
        if (started[p])
            pthread_join(th[p], NULL);
        else
            fn(arg, p, jobs[p].lo, jobs[p].hi);
    }
}
