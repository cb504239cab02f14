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
    sm_sigma_sampling sigma_kind; /* how each example's σ is drawn */
    double p_mean, p_std;         /* log-normal: ln σ ~ N(p_mean, p_std²) */
    /* Learning-rate schedule: base·min(1, t/warmup), then a cosine from base
     * to base·final_ratio over steps warmup … total (off when total = 0). */
    double lr_base, lr_final_ratio;
    uint64_t lr_warmup, lr_total, steps_done;
    int lr_scheduled;
    int fitting; /* inside sm_trainer_fit(): its callback must not change or step it */
    /* Networks with a context: the batch's contexts and which rows train
     * with the null context instead (probability `dropout`). */
    float *ctx;          /* batch × context_dim */
    unsigned char *drop; /* batch */
    double dropout;
    /* Data-parallel training: a reduction of the gradient (and loss) across
     * processes before the update, and this process's slice of the batch. */
    sm_grad_reduce_fn reduce;
    void *reduce_data;
    int reducing;               /* inside the reduction callback */
    size_t shard_rank, shard_ranks; /* ranks 1: the whole batch */
};

/* Classifier-free guidance needs the unconditional score too: this share of
 * rows trains with the null context (Ho & Salimans 2022 use 0.1–0.2). */
#define DEFAULT_CONTEXT_DROPOUT 0.1

/* A trainer that can be changed or stepped: not NULL, and not inside
 * sm_trainer_fit() (a call from the fit's callback would change the
 * settings, buffers or step count the fit is using). */
static sm_status check_idle(const sm_trainer *tr, const char *fn)
{
    if (!tr)
        return sm__error(SM_ERR_INVALID_ARG, "%s: trainer is NULL", fn);
    if (tr->reducing)
        return sm__error(SM_ERR_STATE,
                         "%s: the trainer is stepping (called from its gradient reduction "
                         "callback); change or train it after the step returns",
                         fn);
    if (tr->fitting)
        return sm__error(SM_ERR_STATE,
                         "%s: the trainer is fitting (called from the callback of "
                         "sm_trainer_fit()); change or train it after sm_trainer_fit() returns",
                         fn);
    return SM_OK;
}

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
        return sm__error(SM_ERR_NOMEM,
                         "%s: out of memory for the buffers of a batch of %zu (%zu bytes)", fn,
                         batch_size, (total + batch_size) * sizeof(float));
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
    /* The parametrization's own way of drawing σ: the lab's ladder, EDM's
     * log-normal. */
    tr->sigma_kind = sm_net_parametrization(net) == SM_PARAM_EDM ? SM_SIGMA_LOGNORMAL
                                                                 : SM_SIGMA_LADDER;
    tr->p_mean = SM_EDM_P_MEAN;
    tr->p_std = SM_EDM_P_STD;
    tr->shard_ranks = 1;
    const size_t cdim = sm_net_context_dim(net);
    if (cdim) {
        tr->ctx = sm__calloc(batch_size, cdim * sizeof(float)); /* sizes checked by the net */
        tr->drop = sm__calloc(batch_size, 1);
        tr->dropout = DEFAULT_CONTEXT_DROPOUT;
        if (!tr->ctx || !tr->drop) {
            sm_trainer_free(tr);
            return sm__error(SM_ERR_NOMEM, "%s: out of memory", fn);
        }
    }
    *out = tr;
    return SM_OK;
}

sm_status sm_trainer_set_context_dropout(sm_trainer *tr, double p)
{
    const char *fn = "sm_trainer_set_context_dropout";
    sm_status st = check_idle(tr, fn);
    if (st)
        return st;
    if (!(p >= 0.0 && p <= 1.0))
        return sm__error(SM_ERR_INVALID_ARG, "%s: p must be in [0, 1] (got %g)", fn, p);
    if (!tr->ctx)
        return sm__error(SM_ERR_STATE, "%s: the network has no context input (context_dim 0)",
                         fn);
    tr->dropout = p;
    return SM_OK;
}

double sm_trainer_context_dropout(const sm_trainer *tr)
{
    return tr ? tr->dropout : 0.0;
}

sm_status sm_trainer_set_sigma_sampling(sm_trainer *tr, sm_sigma_sampling kind, double p_mean,
                                        double p_std)
{
    const char *fn = "sm_trainer_set_sigma_sampling";
    sm_status st = check_idle(tr, fn);
    if (st)
        return st;
    if ((int)kind != SM_SIGMA_LADDER && (int)kind != SM_SIGMA_LOGNORMAL)
        return sm__error(SM_ERR_INVALID_ARG, "%s: unknown sigma sampling %d", fn, (int)kind);
    if (kind == SM_SIGMA_LOGNORMAL &&
        !(fabs(p_mean) <= 20.0 && p_std >= 0.0 && p_std <= 10.0))
        return sm__error(SM_ERR_INVALID_ARG,
                         "%s: need |p_mean| <= 20 and 0 <= p_std <= 10 (got %g, %g)", fn, p_mean,
                         p_std);
    tr->sigma_kind = kind;
    if (kind == SM_SIGMA_LOGNORMAL) {
        tr->p_mean = p_mean;
        tr->p_std = p_std;
    }
    return SM_OK;
}

sm_sigma_sampling sm_trainer_sigma_sampling(const sm_trainer *tr)
{
    return tr ? tr->sigma_kind : SM_SIGMA_LADDER;
}

sm_status sm_trainer_set_lr_schedule(sm_trainer *tr, uint64_t warmup_steps,
                                     uint64_t total_steps, double final_ratio)
{
    const char *fn = "sm_trainer_set_lr_schedule";
    sm_status st = check_idle(tr, fn);
    if (st)
        return st;
    if (!(final_ratio >= 0.0 && final_ratio <= 1.0))
        return sm__error(SM_ERR_INVALID_ARG, "%s: final_ratio must be in [0, 1] (got %g)", fn,
                         final_ratio);
    if (total_steps && total_steps < warmup_steps)
        return sm__error(SM_ERR_INVALID_ARG,
                         "%s: total_steps %llu is shorter than the warm-up (%llu steps)", fn,
                         (unsigned long long)total_steps, (unsigned long long)warmup_steps);
    if (tr->lr_scheduled) /* a new schedule starts from the original rate */
        sm_optim_set_lr(tr->opt, tr->lr_base);
    tr->lr_base = sm_optim_lr(tr->opt);
    tr->lr_warmup = warmup_steps;
    tr->lr_total = total_steps;
    tr->lr_final_ratio = final_ratio;
    tr->lr_scheduled = warmup_steps > 0 || total_steps > 0;
    tr->steps_done = 0;
    return SM_OK;
}

/* The learning rate of step t (1-based) under the schedule. */
static double scheduled_lr(const sm_trainer *tr, uint64_t t)
{
    double f = 1.0;
    if (tr->lr_warmup && t < tr->lr_warmup)
        f = (double)t / (double)tr->lr_warmup;
    else if (tr->lr_total > tr->lr_warmup) {
        double span = (double)(tr->lr_total - tr->lr_warmup);
        double p = t >= tr->lr_total ? 1.0 : (double)(t - tr->lr_warmup) / span;
        f = tr->lr_final_ratio + (1.0 - tr->lr_final_ratio) * 0.5 * (1.0 + cos(3.14159265358979323846 * p));
    }
    return tr->lr_base * f;
}

sm_status sm_trainer_set_ema(sm_trainer *tr, sm_net *ema, double decay)
{
    const char *fn = "sm_trainer_set_ema";
    sm_status st = check_idle(tr, fn);
    if (st)
        return st;
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
    sm_status st = check_idle(tr, fn);
    if (st)
        return st;
    if ((int)objective != SM_OBJECTIVE_DSM && (int)objective != SM_OBJECTIVE_SSM_VR)
        return sm__error(SM_ERR_INVALID_ARG, "%s: unknown objective %d", fn, (int)objective);
    if (objective == SM_OBJECTIVE_SSM_VR && !tr->v &&
        !(tr->v = sm__calloc(tr->batch * sm_net_dim(tr->net), sizeof(float))))
        return sm__error(SM_ERR_NOMEM, "%s: out of memory", fn);
    tr->objective = objective;
    return SM_OK;
}

sm_status sm_trainer_set_grad_reduce(sm_trainer *tr, sm_grad_reduce_fn fn, void *user_data)
{
    sm_status st = check_idle(tr, __func__);
    if (st)
        return st;
    tr->reduce = fn;
    tr->reduce_data = fn ? user_data : NULL;
    return SM_OK;
}

sm_status sm_trainer_set_shard(sm_trainer *tr, size_t rank, size_t ranks)
{
    sm_status st = check_idle(tr, __func__);
    if (st)
        return st;
    if (ranks == 0 || rank >= ranks)
        return sm__error(SM_ERR_INVALID_ARG, "%s: need rank < ranks and ranks >= 1 (got rank "
                         "%zu of %zu)", __func__, rank, ranks);
    if (ranks > tr->batch)
        return sm__error(SM_ERR_INVALID_ARG, "%s: %zu ranks for a batch of %zu rows: every "
                         "rank needs at least one row", __func__, ranks, tr->batch);
    tr->shard_rank = rank;
    tr->shard_ranks = ranks;
    return SM_OK;
}

void sm_trainer_free(sm_trainer *tr)
{
    if (!tr)
        return;
    free(tr->v);
    free(tr->ctx);
    free(tr->drop);
    sm__ssm_ws_free(tr->ssm_ws);
    free(tr->buf);
    free(tr->backup);
    free(tr);
}

/* One step on the n rows already in tr->xb, with their contexts (cond NULL:
 * the null context). */
static sm_status train_rows(sm_trainer *tr, size_t n, const sm__cond *cond, sm_rng *rng,
                            double *loss, const char *fn)
{
    const size_t dim = sm_net_dim(tr->net);
    const size_t levels = sm_schedule_levels(tr->sched);
    const float *ladder = sm__schedule_sigmas(tr->sched);
    if (sm_net_parametrization(tr->net) == SM_PARAM_EDM && !(sm_net_sigma_data(tr->net) > 0.0))
        return sm__error(SM_ERR_STATE,
                         "%s: the network's sigma_data is not known: set it "
                         "(sm_net_set_sigma_data(), sm_dataset_sigma_data()) or train with "
                         "sm_trainer_fit(), which estimates it", fn);
    if (tr->sigma_kind == SM_SIGMA_LOGNORMAL) {
        sm__rng_fill_normal(rng, tr->sigma, n, 0.0f, 1.0f);
        for (size_t r = 0; r < n; r++)
            tr->sigma[r] = (float)exp(tr->p_mean + tr->p_std * (double)tr->sigma[r]);
    } else {
        for (size_t r = 0; r < n; r++)
            tr->sigma[r] = ladder[sm__rng_below(rng, levels)];
    }
    if (tr->lr_scheduled)
        sm_optim_set_lr(tr->opt, scheduled_lr(tr, tr->steps_done + 1));
    sm__rng_fill_normal(rng, tr->eps, n * dim, 0.0f, 1.0f);
    if (tr->objective == SM_OBJECTIVE_SSM_VR)
        sm__rng_fill_normal(rng, tr->v, n * dim, 0.0f, 1.0f);
    /* Every rank drew the numbers of all n rows (its generator stays in step
     * with the others'); it computes the loss and gradient of its slice
     * lo … hi only. */
    const size_t ranks = tr->shard_ranks;
    const size_t lo = n * tr->shard_rank / ranks, hi = n * (tr->shard_rank + 1) / ranks;
    const size_t m = hi - lo;
    sm_net_zero_grad(tr->net);
    sm_status st = SM_OK;
    *loss = 0.0;
    if (m > 0) {
        const sm__cond part = sm__cond_rows(tr->net, cond, lo);
        const sm__cond *pc = cond ? &part : NULL;
        if (tr->objective == SM_OBJECTIVE_SSM_VR)
            st = sm__ssm_core(tr->net, &tr->ssm_ws, tr->xb + lo * dim, tr->sigma + lo, pc,
                              tr->eps + lo * dim, tr->v + lo * dim, m, dim, 1, loss, fn);
        else
            st = sm__dsm_core(tr->net, tr->xb + lo * dim, tr->sigma + lo, pc,
                              tr->eps + lo * dim, m, dim, 1, loss, &tr->s, fn);
    }
    const size_t np = sm_net_num_params(tr->net);
    float *grads = sm_net_grads(tr->net);
    if (st == SM_OK && ranks > 1 && m * ranks != n) {
        /* Unequal slices: weigh this slice's mean by its share, so that the
         * mean over the ranks is the mean over all n rows. */
        const double w = (double)(m * ranks) / (double)n;
        for (size_t i = 0; i < np; i++)
            grads[i] = (float)(w * grads[i]);
        *loss *= w;
    }
    if (tr->reduce) {
        /* The other processes wait for this one in the reduction: a failed
         * slice takes part with NaN, so that every rank fails this step. */
        if (st)
            for (size_t i = 0; i < np; i++)
                grads[i] = NAN;
        float lf = st ? NAN : (float)*loss;
        tr->reducing = 1;
        int rc = tr->reduce(tr->reduce_data, grads, np);
        if (rc == 0)
            rc = tr->reduce(tr->reduce_data, &lf, 1);
        tr->reducing = 0;
        if (st)
            return st;
        if (rc)
            return sm__error(SM_ERR_CANCELLED,
                             "%s: the gradient reduction callback returned %d; parameters, "
                             "optimizer and average unchanged", fn, rc);
        *loss = lf;
        if (!isfinite(lf))
            return sm__error(SM_ERR_DIVERGED,
                             "%s: the loss reduced across processes is not finite; parameters "
                             "unchanged", fn);
    }
    if (st)
        return st;
    /* Keep the parameters so that an update that overflows can be undone:
     * a diverging run stops with its last finite parameters. */
    int diverged = 0;
    st = sm__optim_step_pool(tr->opt, tr->net, tr->backup, &diverged, fn);
    if (st == SM_OK && diverged) {
        memcpy(sm_net_params(tr->net), tr->backup, np * sizeof(float));
        st = SM_ERR_NONFINITE;
    }
    if (st == SM_OK)
        tr->steps_done++;
    if (st == SM_OK && tr->ema) {
        /* Checked already: the shapes when the average was set, the
         * parameters' finiteness just above. */
        sm__net_ema_step(tr->ema, tr->net, tr->ema_decay);
        return SM_OK;
    }
    if (st == SM_ERR_NONFINITE)
        return sm__error(SM_ERR_DIVERGED,
                         "%s: non-finite gradient or update, parameters unchanged; lower the learning rate or enable clipping",
                         fn);
    return st;
}

static sm_status check_trainer(sm_trainer *tr, sm_rng *rng, size_t dim, const char *fn)
{
    sm_status st = check_idle(tr, fn);
    if (st)
        return st;
    if (!rng)
        return sm__error(SM_ERR_INVALID_ARG, "%s: rng is NULL", fn);
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
    st = train_rows(tr, n, NULL, rng, &l, fn);
    if (loss)
        *loss = l;
    return st;
}

/* Where a fit takes the contexts of a network with a context from: the data
 * set's own (ctx), or its labels as one-hot rows (labels). */
static sm_status fit_contexts(const sm_trainer *tr, const sm_dataset *data, const float **ctx,
                              const int32_t **labels, const char *fn)
{
    const size_t c = sm_net_context_dim(tr->net);
    *ctx = NULL;
    *labels = NULL;
    if (c == 0)
        return SM_OK;
    if (data->ctx) {
        if (data->cdim != c)
            return sm__error(SM_ERR_SHAPE, "%s: the data set's contexts have width %zu, the "
                             "network's %zu", fn, data->cdim, c);
        *ctx = data->ctx;
        return SM_OK;
    }
    if (data->labels) {
        for (size_t i = 0; i < data->n; i++)
            if ((uint64_t)data->labels[i] >= (uint64_t)c)
                return sm__error(SM_ERR_SHAPE, "%s: label %d of point %zu needs more classes "
                                 "than the network's context width %zu", fn,
                                 (int)data->labels[i], i, c);
        *labels = data->labels;
        return SM_OK;
    }
    return sm__error(SM_ERR_STATE, "%s: the network takes a context (width %zu) and the data "
                     "set has neither contexts (sm_dataset_set_context()) nor labels", fn, c);
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
    const float *ctx;
    const int32_t *labels;
    if ((st = fit_contexts(tr, data, &ctx, &labels, fn)))
        return st;
    const size_t c = sm_net_context_dim(tr->net);
    const sm__cond cond = {tr->ctx, tr->drop};
    if (sm_net_parametrization(tr->net) == SM_PARAM_EDM && !(sm_net_sigma_data(tr->net) > 0.0)) {
        double sd = 0.0;
        if ((st = sm_dataset_sigma_data(data, &sd)) || (st = sm_net_set_sigma_data(tr->net, sd)))
            return sm__error_wrap(st, fn);
        if (tr->ema && (st = sm_net_set_sigma_data(tr->ema, sd)))
            return sm__error_wrap(st, fn);
    }
    const size_t dim = data->dim, n = tr->batch;
    /* Running mean over the last (up to) 100 step losses. */
    enum { WINDOW = 100 };
    double window[WINDOW];
    size_t filled = 0;
    tr->fitting = 1;
    for (uint64_t step = 1; step <= steps; step++) {
        for (size_t r = 0; r < n; r++) {
            size_t i = (size_t)sm__rng_below(rng, data->n);
            memcpy(tr->xb + r * dim, data->x + i * dim, dim * sizeof(float));
            if (ctx)
                memcpy(tr->ctx + r * c, ctx + i * c, c * sizeof(float));
            else if (labels)
                sm_labels_one_hot(labels + i, 1, c, tr->ctx + r * c); /* checked above */
        }
        /* Which rows train unconditionally, drawn after the batch (and only
         * for a network with a context, so other fits draw what they did). */
        for (size_t r = 0; c && r < n; r++)
            tr->drop[r] = sm__rng_uniform(rng) < tr->dropout;
        double l = 0.0;
        st = train_rows(tr, n, c ? &cond : NULL, rng, &l, fn);
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
    tr->fitting = 0;
    if (final_loss) {
        double sum = 0.0;
        for (size_t i = 0; i < filled; i++)
            sum += window[i];
        *final_loss = filled ? sum / (double)filled : NAN;
    }
    return st;
}
