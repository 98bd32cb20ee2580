/*
 * orders_io.c - small input helpers of the order reader: read() until a
 * buffer is full, pre-faulting a file mapping, seekability, a clock.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ingest/orders_int.h"

int input_fill(int fd, const char *name, char *buf, size_t *len, size_t cap, int *eof,
               struct pt_err *e)
{
    while (*len < cap) {
        ssize_t n = read(fd, buf + *len, cap - *len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return pt_err_set(e, PT_EIO, "%s: read: %s", name, strerror(errno));
        }
        if (n == 0) {
            *eof = 1;
            break;
        }
        *len += (size_t)n;
    }
    return 0;
}

void input_populate(const char *map, size_t from, size_t to)
{
#ifdef MADV_POPULATE_READ
    size_t page = 4096, a = from / page * page;
    if (to > a)
        madvise((void *)(map + a), to - a, MADV_POPULATE_READ);
#else
    (void)map;
    (void)from;
    (void)to;
#endif
}

int input_seekable(int fd)
{
    struct stat sb;
    return fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && lseek(fd, 0, SEEK_CUR) == 0;
}
