/*
 * tmpl_int.h - what tmpl.c shares with tmpl_num.c.
 */
#ifndef PT_AUTOMATION_TMPL_INT_H
#define PT_AUTOMATION_TMPL_INT_H

#include "util/buf.h"

/* x as the shortest decimal that reads back as x (JavaScript's layout). */
int pt_tmpl_put_real(struct pt_buf *o, double x);

#endif
