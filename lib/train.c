/* Denoising score matching: the loss, its gradient and the training loop. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "dataset-private.h"
#include "dsm-private.h"
#include "net-private.h"
#include "rng-private.h"
#include "learning-private.h"
#include "ssm-private.h"
#include "scorematch/train.h"


struct sm_trainer {
    sm_net *net;
    const sm_schedule *sched;
    sm_optim *opt;
    size_t batch;
    float *xb, *eps, *sigma; /* batch × dim, batch × dim, batch */
    sm__dsm_scratch s;
    float *buf;
    float *backup; /* parameters before the current update */
    sm_net *ema;   /* averaged copy updated after each step, or NULL */
    double ema_decay;
    sm_objective objective;
    float *v;      /* batch × dim projections for SSM, allocated on demand */
    sm__ssm_ws *ssm_ws; /* SSM workspaces, made at the first SSM step */
};

sm_status sm_trainer_new(sm_trainer **out, sm_net *net, const sm_schedule *sched,
                         sm_optim *opt, size_t batch_size)
{
    const char *fn = "sm_trainer_new";
    if (!out)
        return sm__error(SM_ERR_INVALID_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (!net || !sched || !opt || batch_size == 0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: NULL handle or batch_size = 0", fn);
    if (sm__optim_size(opt) != sm_net_num_params(net))
        return sm__error(SM_ERR_SHAPE, "%s: optimizer made for %zu parameters, the network has %zu",
                         fn, sm__optim_size(opt), sm_net_num_params(net));
    size_t per, total;
    if (sm__mul_size(batch_size, sm_net_dim(net), &per) || sm__mul_size(per, 5, &total) ||
        total + batch_size < total)
        return sm__error(SM_ERR_OVERFLOW, "%s: batch too large", fn);
    sm_status st = sm_net_reserve(net, batch_size);
    if (st)
        return sm__error_wrap(st, fn);
    sm_trainer *tr = calloc(1, sizeof *tr);
    float *buf = sm__calloc(total + batch_size, sizeof(float));
    float *backup = sm__calloc(sm_net_num_params(net), sizeof(float));
    if (!tr || !buf || !backup) {
        free(tr);
        free(buf);
        free(backup);
        return sm__error(SM_ERR_NOMEM, "%s: out of memory", fn);
    }
    tr->net = net;
    tr->sched = sched;
    tr->opt = opt;
    tr->batch = batch_size;
    tr->buf = buf;
    tr->backup = backup;
    tr->xb = buf;
    tr->eps = buf + per;
    tr->s.xt = buf + 2 * per;
    tr->s.out = buf + 3 * per;
    tr->s.dout = buf + 4 * per;
    tr->sigma = buf + 5 * per;
    *out = tr;
    return SM_OK;
}

sm_status sm_trainer_set_ema(sm_trainer *tr, sm_net *ema, double decay)
{
    const char *fn = "sm_trainer_set_ema";
    if (!tr)
        return sm__error(SM_ERR_INVALID_ARG, "%s: trainer is NULL", fn);
    if (ema) {
        if (!(decay >= 0.0 && decay <= 1.0))
            return sm__error(SM_ERR_INVALID_ARG, "%s: decay must be in [0, 1] (got %g)", fn,
                             decay);
        if (ema == tr->net || !sm__net_same_shape(ema, tr->net))
            return sm__error(SM_ERR_SHAPE,
                             "%s: the average needs its own network of the trained architecture",
                             fn);
    }
    tr->ema = ema;
    tr->ema_decay = decay;
    return SM_OK;
}

sm_status sm_trainer_set_objective(sm_trainer *tr, sm_objective objective)
{
    const char *fn = "sm_trainer_set_objective";
    if (!tr)
        return sm__error(SM_ERR_INVALID_ARG, "%s: trainer is NULL", fn);
    if ((int)objective != SM_OBJECTIVE_DSM && (int)objective != SM_OBJECTIVE_SSM_VR)
        return sm__error(SM_ERR_INVALID_ARG, "%s: unknown objective %d", fn, (int)objective);
    if (objective == SM_OBJECTIVE_SSM_VR && !tr->v &&
        !(tr->v = sm__calloc(tr->batch * sm_net_dim(tr->net), sizeof(float))))
        return sm__error(SM_ERR_NOMEM, "%s: out of memory", fn);
    tr->objective = objective;
    return SM_OK;
}

void sm_trainer_free(sm_trainer *tr)
{
    if (!tr)
        return;
    free(tr->v);
    sm__ssm_ws_free(tr->ssm_ws);
    free(tr->buf);
    free(tr->backup);
    free(tr);
}

/* One step on the n rows already in tr->xb. */
static sm_status train_rows(sm_trainer *tr, size_t n, sm_rng *rng, double *loss,
                            const char *fn)
{
    const size_t dim = sm_net_dim(tr->net);
    const size_t levels = sm_schedule_levels(tr->sched);
    const float *ladder = sm__schedule_sigmas(tr->sched);
    for (size_t r = 0; r < n; r++)
        tr->sigma[r] = ladder[sm__rng_below(rng, levels)];
    sm__rng_fill_normal(rng, tr->eps, n * dim, 0.0f, 1.0f);
    sm_net_zero_grad(tr->net);
    sm_status st;
    if (tr->objective == SM_OBJECTIVE_SSM_VR) {
        sm__rng_fill_normal(rng, tr->v, n * dim, 0.0f, 1.0f);
        st = sm__ssm_core(tr->net, &tr->ssm_ws, tr->xb, tr->sigma, tr->eps, tr->v, n, dim, 1, loss,
                          fn);
    } else {
        st = sm__dsm_core(tr->net, tr->xb, tr->sigma, tr->eps, n, dim, 1, loss, &tr->s, fn);
    }
    if (st)
        return st;
    /* Keep the parameters so that an update that overflows can be undone:
     * a diverging run stops with its last finite parameters. */
    const size_t np = sm_net_num_params(tr->net);
    memcpy(tr->backup, sm_net_params(tr->net), np * sizeof(float));
    st = sm_optim_step_net(tr->opt, tr->net);
    if (st == SM_OK && sm__first_nonfinite(sm_net_params(tr->net), np) < np) {
        memcpy(sm_net_params(tr->net), tr->backup, np * sizeof(float));
        st = SM_ERR_NONFINITE;
    }
    if (st == SM_OK && tr->ema)
        return sm_net_ema_update(tr->ema, tr->net, tr->ema_decay); /* params are finite here */
    if (st == SM_ERR_NONFINITE)
        return sm__error(SM_ERR_DIVERGED,
                         "%s: non-finite gradient or update, parameters unchanged; lower the learning rate or enable clipping",
                         fn);
    return st;
}

static sm_status check_trainer(sm_trainer *tr, sm_rng *rng, size_t dim, const char *fn)
{
    if (!tr || !rng)
        return sm__error(SM_ERR_INVALID_ARG, "%s: NULL argument", fn);
    if (dim != sm_net_dim(tr->net))
        return sm__error(SM_ERR_SHAPE, "%s: data has dim %zu, the network %zu", fn, dim,
                         sm_net_dim(tr->net));
    /* The net's workspace only grows, so the reservation made by
     * sm_trainer_new() still holds. */
    return SM_OK;
}

sm_status sm_trainer_step(sm_trainer *tr, const float *x, size_t n, size_t dim, sm_rng *rng,
                          double *loss)
{
    const char *fn = "sm_trainer_step";
    sm_status st = check_trainer(tr, rng, dim, fn);
    if (st)
        return st;
    if (!x || n == 0 || n > tr->batch)
        return sm__error(SM_ERR_INVALID_ARG, "%s: need 1..%zu rows (got %zu)", fn, tr->batch, n);
    if ((st = sm__check_points(x, n, dim, "x", fn)))
        return st;
    memcpy(tr->xb, x, n * dim * sizeof(float));
    double l = 0.0;
    st = train_rows(tr, n, rng, &l, fn);
    if (loss)
        *loss = l;
    return st;
}

sm_status sm_trainer_fit(sm_trainer *tr, const sm_dataset *data, uint64_t steps, sm_rng *rng,
                         sm_train_callback callback, void *user_data, double *final_loss)
{
    const char *fn = "sm_trainer_fit";
    if (!data)
        return sm__error(SM_ERR_INVALID_ARG, "%s: data is NULL", fn);
    sm_status st = check_trainer(tr, rng, data->dim, fn);
    if (st)
        return st;
    if (steps == 0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: steps must be >= 1", fn);
    const size_t dim = data->dim, n = tr->batch;
    /* Running mean over the last (up to) 100 step losses. */
    enum { WINDOW = 100 };
    double window[WINDOW];
    size_t filled = 0;
    for (uint64_t step = 1; step <= steps; step++) {
        for (size_t r = 0; r < n; r++) {
            size_t i = (size_t)sm__rng_below(rng, data->n);
            memcpy(tr->xb + r * dim, data->x + i * dim, dim * sizeof(float));
        }
        double l = 0.0;
        st = train_rows(tr, n, rng, &l, fn);
        if (st) {
            if (st == SM_ERR_DIVERGED) {
                char msg[400];
                snprintf(msg, sizeof msg, "%s", sm_last_error());
                sm__error(st, "%s (at step %llu of %llu)", msg, (unsigned long long)step,
                          (unsigned long long)steps);
            }
            break;
        }
        window[(step - 1) % WINDOW] = l;
        if (filled < WINDOW)
            filled++;
        if (callback && callback(step, steps, l, user_data)) {
            st = sm__error(SM_ERR_CANCELLED, "%s: stopped by the callback after step %llu", fn,
                           (unsigned long long)step);
            break;
        }
    }
    if (final_loss) {
        double sum = 0.0;
        for (size_t i = 0; i < filled; i++)
            sum += window[i];
        *final_loss = filled ? sum / (double)filled : NAN;
    }
    return st;
}
