/* Denoising score matching: the loss, its gradient and the training loop. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "dataset-private.h"
#include "net-private.h"
#include "rng-private.h"
#include "learning-private.h"
#include "ssm-private.h"
#include "scorematch/train.h"


/* Scratch rows for one DSM evaluation: noisy input, output, output gradient. */
typedef struct {
    float *xt, *out, *dout;
} dsm_scratch;

/* loss = mean_{r,j} (σ_r·s_rj + ε_rj)²  with s = net(x + σε, σ);
 * ∂loss/∂s_rj = 2σ_r(σ_r·s_rj + ε_rj)/(n·d). The gradient is accumulated
 * only when the loss is finite, so a diverging step leaves grads alone. */
static sm_status dsm_core(sm_net *net, const float *x, const float *sigma, const float *eps,
                          size_t n, size_t dim, int with_grad, double *loss, dsm_scratch *s,
                          const char *fn)
{
    for (size_t r = 0; r < n; r++)
        for (size_t j = 0; j < dim; j++)
            s->xt[r * dim + j] = x[r * dim + j] + sigma[r] * eps[r * dim + j];
    sm_status st = with_grad ? sm_net_forward_train(net, s->xt, sigma, n, dim, s->out)
                             : sm_net_forward(net, s->xt, sigma, n, dim, s->out);
    if (st == SM_ERR_NONFINITE) {
        /* The inputs were checked: NaN or infinite parameters, or overflow. */
        *loss = NAN;
        char detail[400];
        snprintf(detail, sizeof detail, "%s", sm_last_error());
        return sm__error(SM_ERR_DIVERGED, "%s: the loss is not finite (%s)", fn, detail);
    }
    if (st)
        return sm__error_wrap(st, fn);
    double acc = 0.0;
    const float scale = 2.0f / (float)(n * dim);
    for (size_t r = 0; r < n; r++)
        for (size_t j = 0; j < dim; j++) {
            size_t i = r * dim + j;
            float e = sigma[r] * s->out[i] + eps[i];
            acc += (double)e * (double)e;
            s->dout[i] = scale * sigma[r] * e;
        }
    double l = acc / (double)(n * dim);
    *loss = l;
    if (!isfinite(l))
        return sm__error(SM_ERR_DIVERGED,
                         "%s: the loss is not finite (%g); lower the learning rate or enable gradient clipping",
                         fn, l);
    return with_grad ? sm_net_backward(net, s->dout, n, dim) : SM_OK;
}

sm_status sm_dsm_loss(sm_net *net, const float *x, const float *sigma, const float *eps,
                      size_t n, size_t dim, int with_grad, double *loss)
{
    const char *fn = "sm_dsm_loss";
    if (!net || !x || !sigma || !eps || !loss || n == 0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: NULL argument or n = 0", fn);
    if (dim != net->dim)
        return sm__error(SM_ERR_SHAPE, "%s: dim %zu, the network has %zu", fn, dim, net->dim);
    /* Sizes and state before any buffer is read. */
    if (sm__array_too_big(n, dim, 3 * sizeof(float)))
        return sm__error(SM_ERR_OVERFLOW, "%s: n*dim overflows", fn);
    const size_t total = n * dim;
    if (with_grad && n > net->cap * net->threads)
        return sm__error(SM_ERR_STATE, "%s: %zu rows, the network's workspace holds %zu (sm_net_reserve)",
                         fn, n, net->cap * net->threads);
    size_t bad = sm__first_nonfinite(eps, total);
    if (bad < total)
        return sm__error(SM_ERR_NONFINITE, "%s: eps[%zu] is not finite", fn, bad);
    sm_status st;
    if ((st = sm__check_points(x, n, dim, "x", fn)) || (st = sm__check_sigmas(sigma, n, fn)))
        return st;
    dsm_scratch s;
    float *buf = sm__calloc(total, 3 * sizeof(float));
    if (!buf)
        return sm__error(SM_ERR_NOMEM, "%s: out of memory", fn);
    s.xt = buf;
    s.out = buf + total;
    s.dout = buf + 2 * total;
    st = dsm_core(net, x, sigma, eps, n, dim, with_grad, loss, &s, fn);
    free(buf);
    return st;
}

sm_status sm_dsm_loss_per_level(sm_net *net, const sm_schedule *sched, const float *x,
                                size_t n, size_t dim, sm_rng *rng, double *losses,
                                size_t levels)
{
    const char *fn = "sm_dsm_loss_per_level";
    if (!net || !sched || !x || !rng || !losses || n == 0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: NULL argument or n = 0", fn);
    if (dim != net->dim)
        return sm__error(SM_ERR_SHAPE, "%s: dim %zu, the network has %zu", fn, dim, net->dim);
    if (levels != sm_schedule_levels(sched))
        return sm__error(SM_ERR_SHAPE, "%s: room for %zu losses, the ladder has %zu levels", fn,
                         levels, sm_schedule_levels(sched));
    if (sm__array_too_big(n, dim, 4 * sizeof(float)))
        return sm__error(SM_ERR_OVERFLOW, "%s: n*dim overflows", fn);
    const size_t total = n * dim;
    sm_status st = sm__check_points(x, n, dim, "x", fn);
    if (st)
        return st;
    float *buf = sm__calloc(total * 4 + n, sizeof(float));
    if (!buf)
        return sm__error(SM_ERR_NOMEM, "%s: out of memory", fn);
    dsm_scratch s = {buf, buf + total, buf + 2 * total};
    float *eps = buf + 3 * total, *sigma = buf + 4 * total;
    const float *ladder = sm__schedule_sigmas(sched);
    for (size_t i = 0; i < levels && !st; i++) {
        for (size_t r = 0; r < n; r++)
            sigma[r] = ladder[i];
        sm__rng_fill_normal(rng, eps, total, 0.0f, 1.0f);
        st = dsm_core(net, x, sigma, eps, n, dim, 0, &losses[i], &s, fn);
    }
    free(buf);
    return st;
}

struct sm_trainer {
    sm_net *net;
    const sm_schedule *sched;
    sm_optim *opt;
    size_t batch;
    float *xb, *eps, *sigma; /* batch × dim, batch × dim, batch */
    dsm_scratch s;
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
    if (sm__optim_size(opt) != net->nparams)
        return sm__error(SM_ERR_SHAPE, "%s: optimizer made for %zu parameters, the network has %zu",
                         fn, sm__optim_size(opt), net->nparams);
    size_t per, total;
    if (sm__mul_size(batch_size, net->dim, &per) || sm__mul_size(per, 5, &total) ||
        total + batch_size < total)
        return sm__error(SM_ERR_OVERFLOW, "%s: batch too large", fn);
    sm_status st = sm_net_reserve(net, batch_size);
    if (st)
        return sm__error_wrap(st, fn);
    sm_trainer *tr = calloc(1, sizeof *tr);
    float *buf = sm__calloc(total + batch_size, sizeof(float));
    float *backup = sm__calloc(net->nparams, sizeof(float));
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
        !(tr->v = sm__calloc(tr->batch * tr->net->dim, sizeof(float))))
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
    const size_t dim = tr->net->dim;
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
        st = dsm_core(tr->net, tr->xb, tr->sigma, tr->eps, n, dim, 1, loss, &tr->s, fn);
    }
    if (st)
        return st;
    /* Keep the parameters so that an update that overflows can be undone:
     * a diverging run stops with its last finite parameters. */
    const size_t np = tr->net->nparams;
    memcpy(tr->backup, tr->net->params, np * sizeof(float));
    st = sm_optim_step_net(tr->opt, tr->net);
    if (st == SM_OK && sm__first_nonfinite(tr->net->params, np) < np) {
        memcpy(tr->net->params, tr->backup, np * sizeof(float));
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
    if (dim != tr->net->dim)
        return sm__error(SM_ERR_SHAPE, "%s: data has dim %zu, the network %zu", fn, dim,
                         tr->net->dim);
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
