/*
 * clv_cli.h - the parts of `patron clv` shared by cmd_clv.c (input, fits,
 * scores) and clv_report.c (holdout comparison, tracking curve, output).
 */
#ifndef PT_CLI_CLV_CLI_H
#define PT_CLI_CLV_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "clv/clv.h"
#include "clv/cohort.h"

#define CLV_BUCKETS 8 /* holdout tables: 0, 1, ..., 6, 7+ */

struct clv_model_out {
    int on;
    struct pt_clv_params p;
    struct pt_clv_fit fit;
    double seconds;
    /* holdout (when there is one) */
    double pred_total, mae;
    double dist[CLV_BUCKETS]; /* expected customers with k holdout purchases */
    double by_x[CLV_BUCKETS]; /* mean predicted holdout purchases by calibration x */
    double *track;            /* cumulative predicted repeat purchases per week */
};

struct clv_run {
    /* options */
    const char *file, *out, *format, *tracking, *chart;
    int64_t end_day, horizon_days;
    int have_end;
    double unit; /* days per time unit: 7 or 1 */
    const char *unit_name;
    double discount; /* per month */
    int use_gg, quiet;
    enum pt_clv_model score_with;
    /* data */
    struct pt_txlog log;
    struct pt_cohort co;
    int scale;     /* decimals of the amounts */
    size_t fitted; /* customers with T > 0 (the others cannot inform a fit) */
    struct clv_model_out mod[2];
    struct pt_gg gg;
    struct pt_clv_fit gg_fit;
    size_t gg_n;
    double gg_seconds;
    double read_seconds, score_seconds; /* reading + summaries; writing --out */
    double holdout_seconds;             /* the holdout comparison */
    /* holdout */
    int holdout;
    uint64_t act_dist[CLV_BUCKETS];
    double act_by_x[CLV_BUCKETS];
    uint64_t n_by_x[CLV_BUCKETS];
    /* tracking, per week from the cohort's first day */
    size_t weeks, cal_weeks;
    double *act_track;
};

/* The summary of customer i in model time units. */
static inline struct pt_rfx clv_rfx(const struct clv_run *r, size_t i)
{
    struct pt_rfx c = r->co.rfx[i];
    return (struct pt_rfx){c.x, c.tx / r->unit, c.T / r->unit};
}

int clv_holdout(struct clv_run *r);  /* 0 or PT_ENOMEM */
int clv_tracking(struct clv_run *r); /* 0 or PT_ENOMEM */
int clv_write_tracking(const struct clv_run *r, const char *path);
int clv_write_chart(const struct clv_run *r, const char *path);
void clv_print(const struct clv_run *r, FILE *f, int json);

#endif
