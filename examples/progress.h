/* A training progress display for the example programs: a bar redrawn in
 * place on a terminal, plain lines every `every` steps otherwise. */
#ifndef SM_EXAMPLES_PROGRESS_H
#define SM_EXAMPLES_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef struct {
    FILE *out;
    int tty;
    uint64_t every;   /* line interval when not a terminal */
    double t_start;
    double loss_avg;  /* exponential average shown beside the bar */
} progress;

/* out NULL: no display (a quiet run). */
void progress_init(progress *p, FILE *out, uint64_t every);

/* Matches sm_train_callback: pass a progress* as user_data. */
int progress_train_callback(uint64_t step, uint64_t total, double loss, void *user_data);

/* Seconds on a monotonic clock. */
double progress_now(void);

#endif
