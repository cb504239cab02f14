/* Shared helpers of the experiment programs (exp_*.c): argument parsing,
 * error checks and training the lab's score model. Example code only. */
#ifndef SM_EXAMPLES_EXP_COMMON_H
#define SM_EXAMPLES_EXP_COMMON_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <scorematch.h>

#include "progress.h"

/* Checks an sm_ call; on failure prints the status and message and jumps
 * to the enclosing function's `fail` label. */
#define EXP_TRY(prog, call)                                                          \
    do {                                                                             \
        sm_status st_ = (call);                                                      \
        if (st_ != SM_OK) {                                                          \
            fprintf(stderr, "%s: %s: %s\n", (prog), sm_strerror(st_), sm_last_error()); \
            goto fail;                                                               \
        }                                                                            \
    } while (0)

static int exp_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!s[0] || errno || end == s || *end || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

/* The flags every experiment takes: --seed N, --threads T (1 … 1024) and
 * --train-steps N (≥ 1). Returns 1 if `a val` is one of them with a valid
 * value (the caller then skips val); otherwise 0, changing nothing, so the
 * caller's own flags and its error message come next. */
static int exp_common_flag(const char *a, const char *val, uint64_t *seed, size_t *threads,
                           uint64_t *train_steps)
{
    uint64_t u;
    if (!val || exp_parse_u64(val, &u))
        return 0;
    if (!strcmp(a, "--seed"))
        *seed = u;
    else if (!strcmp(a, "--threads") && u >= 1 && u <= 1024)
        *threads = (size_t)u;
    else if (!strcmp(a, "--train-steps") && u >= 1)
        *train_steps = u;
    else
        return 0;
    return 1;
}

/* A program's own flags, called with a flag and the argument after it
 * (NULL at the end of the line). Returns how many arguments after the flag
 * it took (0 or 1); -1 if the flag is not its own or its value is bad (the
 * generic message follows); -2 after printing a message of its own. */
typedef int (*exp_flag_fn)(void *ctx, const char *flag, const char *val);

/* The experiments' command line: --help/-h, the flags every experiment
 * takes (exp_common_flag), then the program's own through `own`. Returns -1
 * to go on, or the exit status: 0 after --help, 2 for bad usage (message on
 * stderr). */
static int exp_parse_args(int argc, char **argv, const char *prog,
                          void (*usage)(FILE *, const char *), exp_flag_fn own, void *ctx,
                          uint64_t *seed, size_t *threads, uint64_t *train_steps)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout, argv[0]);
            return 0;
        }
        if (val && exp_common_flag(a, val, seed, threads, train_steps)) {
            i++;
            continue;
        }
        int used = own(ctx, a, val);
        if (used == -2)
            return 2;
        if (used >= 0) {
            i += used;
            continue;
        }
        if (!val)
            fprintf(stderr, "%s: unknown option or missing value: %s (see --help)\n", prog, a);
        else
            fprintf(stderr, "%s: bad option or value: %s %s (see --help)\n", prog, a, val);
        return 2;
    }
    return -1;
}

static size_t exp_default_threads(void)
{
    return sm_net_default_threads();
}

/* The lab's model and training on a data set: MLP dim/128/3, geometric
 * ladder sigma_max → 0.01 with 10 levels, Adam 1e-3, batch 256. With
 * ema_decay > 0 (and ema non-NULL) *ema also receives an exponential moving
 * average of the weights. On success *net, *ema and *sched are the
 * caller's. */
static sm_status exp_train_ema(const sm_dataset *data, double sigma_max, uint64_t steps,
                               size_t threads, sm_rng *rng, int show_progress, double ema_decay,
                               sm_net **net, sm_net **ema, sm_schedule **sched,
                               double *final_loss, double *train_s)
{
    sm_optim *opt = NULL;
    sm_trainer *tr = NULL;
    *net = NULL;
    *sched = NULL;
    if (ema)
        *ema = NULL;
    sm_status st = sm_net_new(net, sm_dataset_dim(data), 128, 3, rng);
    if (st == SM_OK)
        st = sm_net_set_threads(*net, threads);
    if (st == SM_OK)
        st = sm_schedule_new_geometric(sched, sigma_max, 0.01, 10);
    if (st == SM_OK)
        st = sm_optim_new_adam(&opt, sm_net_num_params(*net), 1e-3, 0.9, 0.999, 1e-8, 0.0);
    if (st == SM_OK)
        st = sm_trainer_new(&tr, *net, *sched, opt, 256);
    if (st == SM_OK && ema && ema_decay > 0) {
        st = sm_net_clone(*net, ema);
        if (st == SM_OK)
            st = sm_trainer_set_ema(tr, *ema, ema_decay);
    }
    if (st == SM_OK) {
        progress prog;
        progress_init(&prog, stderr, 1000);
        double t0 = progress_now();
        st = sm_trainer_fit(tr, data, steps, rng, show_progress ? progress_train_callback : NULL,
                            &prog, final_loss);
        *train_s = progress_now() - t0;
    }
    sm_trainer_free(tr);
    sm_optim_free(opt);
    if (st != SM_OK) {
        sm_schedule_free(*sched);
        sm_net_free(*net);
        *sched = NULL;
        *net = NULL;
        if (ema) {
            sm_net_free(*ema);
            *ema = NULL;
        }
    }
    return st;
}

/* exp_train_ema() without the average. */
static sm_status exp_train(const sm_dataset *data, double sigma_max, uint64_t steps,
                           size_t threads, sm_rng *rng, int show_progress, sm_net **net,
                           sm_schedule **sched, double *final_loss, double *train_s)
{
    return exp_train_ema(data, sigma_max, steps, threads, rng, show_progress, 0.0, net, NULL,
                         sched, final_loss, train_s);
}

#endif
