/* Inpainting the 8×8 digits with conditional models: the bottom half
 * (pixels 32 … 63) of every held-out digit (row i of
 * examples/data/digits.csv with i % 3 == 2) is drawn from a model of the
 * bottom half given the top half, trained on the other rows with the top
 * 32 pixels as its context (sm_dataset_set_context(),
 * sm_sampler_set_context()). Prints the RMSE on the missing half in pixel
 * units beside mean imputation and 5-nearest-neighbour imputation fitted
 * on the same training rows (examples/impute_baselines.c).
 *
 * One imputation of a digit is the average of K draws of its model
 * (--draws K, an estimate of the model's conditional mean); with
 * --models M, M models trained from different seeds (member m from seed
 * S + 1000·m) each give theirs, and the imputation is the average of the
 * M members' averages: an ensemble, which removes part of the error of
 * one network's conditional mean, not only the sampling noise. Each
 * member's own RMSE is printed too.
 *
 * --val evaluates on a validation split carved out of the training rows
 * (training row t with t % 4 == 3), trains on the other training rows and
 * fits the baselines on them: hyper-parameters are chosen there, never on
 * the held-out rows. --save PREFIX writes the members (PREFIX-m.smm),
 * --load A,B,… samples saved members instead of training (their seeds
 * S + 1000·m sample them as in the run that saved them). --out writes the
 * completed rows (observed top, imputed bottom), --member-out PREFIX each
 * member's (PREFIX-m.csv).
 *
 * --denoise SIGMA replaces each draw by one evaluation of the denoiser,
 * D(σ·ε, σ, top) with ε ~ N(0, I): at a σ large against the data's spread
 * the noisy point says little about the bottom half, and the denoiser,
 * trained to minimize the squared error, returns about the conditional
 * mean given the top alone (the spread of ε's is averaged over the draws).
 *
 * Defaults (chosen with --val): EDM network 65 → 256 → 256 → 256 → 32
 * (context: the top pixels as x/8 − 1), 8000 steps of batch 256, Adam
 * 3·10⁻³, weight average 0.999, no context dropout; EDM's Heun sampler on
 * 18 Karras levels, 35 evaluations per draw. Figures: docs/real-data.md.
 */
#define _GNU_SOURCE 1
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <scorematch.h>

#include "digits_common.h"
#include "impute_baselines.h"

#ifndef DIGITS_CSV
#define DIGITS_CSV "examples/data/digits.csv"
#endif

enum { DIM = DIGITS_DIM, HALF = DIGITS_DIM / 2, MAX_MODELS = 32 };

#define TRY(expr)                                                                   \
    do {                                                                            \
        sm_status st_ = (expr);                                                     \
        if (st_ != SM_OK) {                                                         \
            fprintf(stderr, "digits_inpaint_cond: %s\n", sm_last_error());          \
            goto fail;                                                              \
        }                                                                           \
    } while (0)

static void usage(FILE *f, const char *argv0)
{
    fprintf(f,
            "usage: %s [options]\n"
            "Fills in the bottom half of the held-out 8x8 digits with conditional models of\n"
            "the bottom half given the top half (an ensemble of M of them) and compares the\n"
            "RMSE with mean and 5-NN imputation.\n\n"
            "  --data PATH          digits CSV (default %s)\n"
            "  --seed S             seed: member m trains and samples from S + 1000 m (default 0)\n"
            "  --models M           members of the ensemble, 1 ... %d (default 1)\n"
            "  --draws K            draws averaged per member (default 16)\n"
            "  --val                evaluate on a validation split of the training rows\n"
            "                       (training row t with t %% 4 == 3), train on the others\n"
            "  --rows N             use only the first N training and evaluation rows\n"
            "  --width W            hidden width (default 256)\n"
            "  --depth D            hidden layers (default 3)\n"
            "  --steps N            training steps per member (default 8000)\n"
            "  --batch B            batch size (default 256)\n"
            "  --lr X               Adam learning rate (default 3e-3)\n"
            "  --weight-decay X     AdamW decoupled weight decay (default 0)\n"
            "  --ema X              weight average decay, 0 for none (default 0.999)\n"
            "  --context-dropout P  share of rows trained with the null context (default 0)\n"
            "  --levels L           Karras sampling levels, sigma 80 -> 0.002 (default 18)\n"
            "  --denoise SIGMA      instead of sampling, one evaluation per draw: the\n"
            "                       denoiser at noise level SIGMA from noise around 0\n"
            "  --save PREFIX        write member m to PREFIX-m.smm\n"
            "  --load A,B,...       sample these saved members instead of training\n"
            "  --out PATH           the completed evaluation rows (CSV, 64 columns)\n"
            "  --member-out PREFIX  member m's completed rows to PREFIX-m.csv\n"
            "  --threads T          threads (default: the CPUs it may use)\n",
            argv0, DIGITS_CSV, MAX_MODELS);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The context of a digit: its top half as x/8 − 1. */
static void top_context(const float *rows, size_t n, float *ctx)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < HALF; j++)
            ctx[i * HALF + j] = rows[i * DIM + j] / 8.0f - 1.0f;
}

typedef struct {
    size_t width, depth, batch;
    unsigned long long steps;
    double lr, weight_decay, ema, dropout;
    size_t threads;
} train_opts;

/* Trains one member on the bottom halves of the n rows given their tops:
 * the bottom halves standardized, the model carrying the normalization. */
static sm_status train_member(const float *rows, size_t n, const train_opts *o,
                              unsigned long long seed, const sm_schedule *sched, sm_net **out)
{
    *out = NULL;
    sm_status st = SM_ERR_NOMEM;
    sm_rng *rng = NULL;
    sm_dataset *data = NULL;
    sm_net *net = NULL, *ema = NULL;
    sm_optim *opt = NULL;
    sm_trainer *tr = NULL;
    float *bottom = malloc(n * HALF * sizeof(float)), *ctx = malloc(n * HALF * sizeof(float));
    float norm[2 * HALF];
    if (!bottom || !ctx)
        goto done;
    for (size_t i = 0; i < n; i++)
        memcpy(bottom + i * HALF, rows + i * DIM + HALF, HALF * sizeof(float));
    top_context(rows, n, ctx);
    if ((st = sm_rng_new(&rng, seed)) || (st = sm_dataset_new(&data, bottom, n, HALF)) ||
        (st = sm_dataset_set_context(data, ctx, n, HALF)) || (st = sm_dataset_standardize(data)) ||
        (st = sm_dataset_get_standardization(data, norm, norm + HALF, HALF)))
        goto done;
    sm_net_options no = SM_NET_OPTIONS_INIT;
    no.dim = HALF;
    no.width = o->width;
    no.depth = o->depth;
    no.parametrization = SM_PARAM_EDM;
    no.context_dim = HALF;
    if ((st = sm_net_new_ex(&net, &no, rng)) || (st = sm_net_set_threads(net, o->threads)) ||
        (st = sm_net_set_normalization(net, norm, norm + HALF, HALF)) ||
        (st = sm_optim_new_adam(&opt, sm_net_num_params(net), o->lr, 0.9, 0.999, 1e-8,
                                o->weight_decay)) ||
        (st = sm_trainer_new(&tr, net, sched, opt, o->batch)) ||
        (st = sm_trainer_set_sigma_sampling(tr, SM_SIGMA_LOGNORMAL, SM_EDM_P_MEAN,
                                            SM_EDM_P_STD)) ||
        (st = sm_trainer_set_context_dropout(tr, o->dropout)))
        goto done;
    if (o->ema > 0 &&
        ((st = sm_net_clone(net, &ema)) || (st = sm_trainer_set_ema(tr, ema, o->ema))))
        goto done;
    if ((st = sm_trainer_fit(tr, data, o->steps, rng, NULL, NULL, NULL)))
        goto done;
    if (ema) {
        if ((st = sm_net_set_normalization(ema, norm, norm + HALF, HALF)))
            goto done;
        *out = ema;
        ema = NULL;
    } else {
        *out = net;
        net = NULL;
    }
done:
    free(bottom);
    free(ctx);
    sm_trainer_free(tr);
    sm_optim_free(opt);
    sm_net_free(ema);
    sm_net_free(net);
    sm_dataset_free(data);
    sm_rng_free(rng);
    return st;
}

/* The average of K draws of the bottom halves of the n rows given their
 * tops (ctx), in pixel units, into bottom (n × 32); adds the network
 * evaluations per digit to *nfe. */
static sm_status impute_member(sm_net *net, const sm_schedule *grid, const float *ctx, size_t n,
                               size_t draws, double denoise_sigma, unsigned long long seed,
                               float *bottom, uint64_t *nfe)
{
    sm_status st;
    sm_sampler *s = NULL;
    sm_rng *rng = NULL;
    float *x = malloc(n * HALF * sizeof(float)), *y = malloc(n * HALF * sizeof(float));
    float *sig = malloc(n * sizeof(float));
    double *acc = calloc(n * HALF, sizeof(double));
    if (!x || !y || !sig || !acc) {
        st = SM_ERR_NOMEM;
        goto done;
    }
    if ((st = sm_rng_new(&rng, seed)) || (st = sm_sampler_new(&s, net, grid)) ||
        (st = sm_sampler_set_kind(s, SM_SAMPLER_EDM_HEUN)) ||
        (st = sm_sampler_set_context(s, ctx, n, HALF)))
        goto done;
    for (size_t i = 0; i < n; i++)
        sig[i] = (float)denoise_sigma;
    for (size_t k = 0; k < draws; k++) {
        if (denoise_sigma > 0) {
            /* One evaluation: the denoiser's estimate of the clean bottom
             * half from a point of noise level sigma around the origin. */
            if ((st = sm_rng_fill_normal(rng, y, n * HALF, 0.0f, (float)denoise_sigma)) ||
                (st = sm_net_denoise_cond(net, y, sig, ctx, n, HALF, HALF, x)))
                goto done;
            *nfe += 1;
        } else {
            if ((st = sm_sampler_run(s, rng, x, n, HALF)))
                goto done;
            *nfe += sm_sampler_nfe(s);
        }
        if ((st = sm_net_to_data_units(net, x, n, HALF)))
            goto done;
        for (size_t i = 0; i < n * HALF; i++)
            acc[i] += x[i];
    }
    for (size_t i = 0; i < n * HALF; i++)
        bottom[i] = (float)(acc[i] / (double)draws);
done:
    free(x);
    free(y);
    free(sig);
    free(acc);
    sm_sampler_free(s);
    sm_rng_free(rng);
    return st;
}

/* rows with their bottom halves replaced by bottom, written as CSV. */
static int write_completed(const char *path, const float *rows, const float *bottom, size_t n)
{
    float *x = malloc(n * DIM * sizeof(float));
    if (!x)
        return -1;
    for (size_t i = 0; i < n; i++) {
        memcpy(x + i * DIM, rows + i * DIM, HALF * sizeof(float));
        memcpy(x + i * DIM + HALF, bottom + i * HALF, HALF * sizeof(float));
    }
    const sm_status st = sm_points_write_csv(path, x, n, DIM);
    free(x);
    if (st)
        fprintf(stderr, "digits_inpaint_cond: %s\n", sm_last_error());
    return st ? -1 : 0;
}

static double rmse_bottom(const float *bottom, const float *rows, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < HALF; j++) {
            const double e = (double)bottom[i * HALF + j] - rows[i * DIM + HALF + j];
            s += e * e;
        }
    return sqrt(s / (double)(n * HALF));
}

static int parse_size(const char *v, size_t lo, size_t hi, size_t *out)
{
    char *end;
    const unsigned long long x = strtoull(v, &end, 10);
    if (end == v || *end || v[0] == '-' || x < lo || x > hi)
        return -1;
    *out = (size_t)x;
    return 0;
}

static int parse_real(const char *v, double lo, double hi, double *out)
{
    char *end;
    const double x = strtod(v, &end);
    if (end == v || *end || !(x >= lo && x <= hi))
        return -1;
    *out = x;
    return 0;
}

int main(int argc, char **argv)
{
    const char *data = DIGITS_CSV, *save = NULL, *out = NULL, *member_out = NULL;
    char *load = NULL;
    unsigned long long seed = 0;
    size_t models = 1, draws = 16, rows = 0, levels = 18, steps = 8000;
    double denoise_sigma = 0;
    int val = 0;
    train_opts o = {256, 3, 256, 8000, 3e-3, 0.0, 0.999, 0.0, sm_net_default_threads()};
    for (int i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "--help")) {
            usage(stdout, argv[0]);
            return 0;
        }
        if (!strcmp(f, "--val")) {
            val = 1;
            continue;
        }
        const char *v = i + 1 < argc ? argv[++i] : NULL;
        int bad = !v;
        if (bad);
        else if (!strcmp(f, "--data")) data = v;
        else if (!strcmp(f, "--save")) save = v;
        else if (!strcmp(f, "--load")) load = (char *)v;
        else if (!strcmp(f, "--out")) out = v;
        else if (!strcmp(f, "--member-out")) member_out = v;
        else if (!strcmp(f, "--seed")) {
            size_t s;
            bad = parse_size(v, 0, (size_t)1 << 40, &s);
            seed = s;
        }
        else if (!strcmp(f, "--models")) bad = parse_size(v, 1, MAX_MODELS, &models);
        else if (!strcmp(f, "--draws")) bad = parse_size(v, 1, 10000, &draws);
        else if (!strcmp(f, "--rows")) bad = parse_size(v, 1, (size_t)1 << 30, &rows);
        else if (!strcmp(f, "--width")) bad = parse_size(v, 1, 8192, &o.width);
        else if (!strcmp(f, "--depth")) bad = parse_size(v, 1, 64, &o.depth);
        else if (!strcmp(f, "--steps")) bad = parse_size(v, 1, (size_t)1 << 40, &steps);
        else if (!strcmp(f, "--batch")) bad = parse_size(v, 1, 1 << 20, &o.batch);
        else if (!strcmp(f, "--levels")) bad = parse_size(v, 2, 10000, &levels);
        else if (!strcmp(f, "--threads")) bad = parse_size(v, 1, 4096, &o.threads);
        else if (!strcmp(f, "--lr")) bad = parse_real(v, 1e-12, 10.0, &o.lr);
        else if (!strcmp(f, "--weight-decay")) bad = parse_real(v, 0.0, 100.0, &o.weight_decay);
        else if (!strcmp(f, "--ema")) bad = parse_real(v, 0.0, 0.999999, &o.ema);
        else if (!strcmp(f, "--denoise")) bad = parse_real(v, 1e-6, 1e6, &denoise_sigma);
        else if (!strcmp(f, "--context-dropout")) bad = parse_real(v, 0.0, 1.0, &o.dropout);
        else {
            usage(stderr, argv[0]);
            return 2;
        }
        if (bad) {
            fprintf(stderr, "digits_inpaint_cond: bad or missing value for %s (see --help)\n", f);
            return 2;
        }
    }
    o.steps = steps;
    /* --load: the comma-separated list sets the number of members. */
    char *paths[MAX_MODELS];
    if (load) {
        models = 0;
        for (char *p = load;; p++) {
            if (models == MAX_MODELS) {
                fprintf(stderr, "digits_inpaint_cond: --load takes at most %d models\n",
                        MAX_MODELS);
                return 2;
            }
            paths[models++] = p;
            p = strchr(p, ',');
            if (!p)
                break;
            *p = '\0';
        }
        for (size_t m = 0; m < models; m++)
            if (!paths[m][0]) {
                fprintf(stderr, "digits_inpaint_cond: --load has an empty model path\n");
                return 2;
            }
        if (save) {
            fprintf(stderr, "digits_inpaint_cond: --save goes with training, not --load\n");
            return 2;
        }
    }
    int rc = 1;
    digits_split sp = {0};
    sm_schedule *sched = NULL, *grid = NULL, *kept = NULL;
    sm_net *net = NULL;
    float *tr = NULL, *ev = NULL, *ctx = NULL, *bottom = NULL, *base = NULL;
    double *ens = NULL;
    unsigned char *mask = NULL;
    char *name = NULL;
    if (digits_split_load(&sp, data, NULL))
        goto fail;
    /* Training and evaluation rows: the split's, or with --val the
     * training rows split again. */
    size_t n_tr = 0, n_ev = 0;
    tr = malloc(sp.n_tr * DIM * sizeof(float));
    ev = malloc((val ? sp.n_tr : sp.n_ho) * DIM * sizeof(float));
    if (!tr || !ev)
        goto nomem;
    if (val) {
        for (size_t t = 0; t < sp.n_tr; t++)
            memcpy(t % 4 == 3 ? ev + DIM * n_ev++ : tr + DIM * n_tr++, sp.xtr + DIM * t,
                   DIM * sizeof(float));
    } else {
        memcpy(tr, sp.xtr, sp.n_tr * DIM * sizeof(float));
        memcpy(ev, sp.xho, sp.n_ho * DIM * sizeof(float));
        n_tr = sp.n_tr;
        n_ev = sp.n_ho;
    }
    if (rows) {
        n_tr = rows < n_tr ? rows : n_tr;
        n_ev = rows < n_ev ? rows : n_ev;
    }
    ctx = malloc(n_ev * HALF * sizeof(float));
    bottom = malloc(n_ev * HALF * sizeof(float));
    ens = calloc(n_ev * HALF, sizeof(double));
    base = malloc(n_ev * DIM * sizeof(float));
    mask = malloc(n_ev * DIM);
    name = malloc((save ? strlen(save) : 0) + (member_out ? strlen(member_out) : 0) + 32);
    if (!ctx || !bottom || !ens || !base || !mask || !name)
        goto nomem;
    top_context(ev, n_ev, ctx);
    TRY(sm_schedule_new_karras(&sched, 80.0, 0.002, 18, 7.0));
    TRY(sm_schedule_new_karras(&grid, 80.0, 0.002, levels, 7.0));
    printf("rows: %zu training, %zu %s; %zu member%s, %zu draw%s each\n", n_tr, n_ev,
           val ? "validation (from the training rows)" : "held-out", models,
           models == 1 ? "" : "s", draws, draws == 1 ? "" : "s");
    uint64_t nfe = 0;
    double train_s = 0;
    for (size_t m = 0; m < models; m++) {
        const unsigned long long ms = seed + 1000ull * m;
        const double t0 = now_s();
        if (load) {
            TRY(sm_model_load(paths[m], &net, &kept, NULL));
            sm_schedule_free(kept);
            kept = NULL;
            if (sm_net_dim(net) != HALF || sm_net_context_dim(net) != HALF) {
                fprintf(stderr, "digits_inpaint_cond: %s is not a model of 32 pixels given 32 "
                        "(dim %zu, context %zu)\n", paths[m], sm_net_dim(net),
                        sm_net_context_dim(net));
                goto fail;
            }
            TRY(sm_net_set_threads(net, o.threads));
        } else {
            TRY(train_member(tr, n_tr, &o, ms, sched, &net));
            if (save) {
                sprintf(name, "%s-%zu.smm", save, m);
                TRY(sm_model_save(name, net, sched, NULL));
            }
        }
        const double t1 = now_s();
        train_s += t1 - t0;
        uint64_t member_nfe = 0;
        TRY(impute_member(net, grid, ctx, n_ev, draws, denoise_sigma, ms, bottom, &member_nfe));
        nfe += member_nfe;
        sm_net_free(net);
        net = NULL;
        for (size_t i = 0; i < n_ev * HALF; i++)
            ens[i] += bottom[i];
        if (member_out) {
            sprintf(name, "%s-%zu.csv", member_out, m);
            if (write_completed(name, ev, bottom, n_ev))
                goto fail;
        }
        const double member_rmse = rmse_bottom(bottom, ev, n_ev);
        for (size_t i = 0; i < n_ev * HALF; i++)
            bottom[i] = (float)(ens[i] / (double)(m + 1));
        printf("member %zu  seed=%llu  rmse=%.4f  first %zu: %.4f  %s_s=%.1f  sample_s=%.1f\n",
               m, ms, member_rmse, m + 1, rmse_bottom(bottom, ev, n_ev),
               load ? "load" : "train", t1 - t0, now_s() - t1);
        fflush(stdout);
    }
    for (size_t i = 0; i < n_ev * HALF; i++)
        bottom[i] = (float)(ens[i] / (double)models);
    printf("model   rmse=%.4f (%zu member%s x %zu draws)  nfe=%llu per digit  train_s=%.1f\n",
           rmse_bottom(bottom, ev, n_ev), models, models == 1 ? "" : "s", draws,
           (unsigned long long)nfe, train_s);
    if (out && write_completed(out, ev, bottom, n_ev))
        goto fail;
    const size_t total = n_ev * DIM;
    for (size_t k = 0; k < total; k++) {
        mask[k] = k % DIM < HALF;
        base[k] = mask[k] ? ev[k] : 0.0f;
    }
    impute_mean(tr, n_tr, DIM, base, mask, n_ev);
    printf("mean    rmse=%.4f\n", rmse_missing(base, ev, mask, total));
    for (size_t k = 0; k < total; k++)
        base[k] = mask[k] ? ev[k] : 0.0f;
    if (impute_knn(tr, n_tr, DIM, base, mask, n_ev, 5))
        goto nomem;
    printf("knn-5   rmse=%.4f\n", rmse_missing(base, ev, mask, total));
    rc = 0;
    goto fail;
nomem:
    fprintf(stderr, "digits_inpaint_cond: out of memory\n");
fail:
    free(name);
    free(mask);
    free(base);
    free(ens);
    free(bottom);
    free(ctx);
    free(ev);
    free(tr);
    sm_net_free(net);
    sm_schedule_free(kept);
    sm_schedule_free(grid);
    sm_schedule_free(sched);
    digits_split_free(&sp);
    return rc;
}
