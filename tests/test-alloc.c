/* Allocation failures: every allocation the library makes on the training,
 * sampling, model file, CSV, metrics and likelihood paths is made to fail
 * in turn (the 1st, then the 2nd, ... until a run meets no failure). Each
 * failure must come back as SM_ERR_NOMEM, leak nothing, and leave the
 * handles usable: the failed call, retried on the same handles with
 * allocation working, succeeds and gives the result of a run without
 * failures.
 *
 * The library's objects are linked into this program with malloc, calloc,
 * realloc, strdup and free wrapped (-Wl,--wrap, tests/meson.build), so the
 * counter sees exactly the library's own calls (and this file's): BLIS,
 * LAPACKE and libc allocate through their own references and are never
 * failed. Live blocks are tracked from a scenario's setup to its teardown,
 * which must free them all; ASan/LSan and valgrind (CI) check the rest. */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

/* ---- the wrapped allocator ------------------------------------------------ */

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
char *__real_strdup(const char *s);
void __real_free(void *p);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
char *__wrap_strdup(const char *s);
void __wrap_free(void *p);

enum { MAX_LIVE = 1 << 14 };

/* The pool's workers allocate too: one lock around the counter. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    int armed;           /* count (and fail the fail_at-th) allocation */
    int tracking;        /* record live blocks */
    unsigned long calls; /* allocations counted since arming */
    unsigned long fail_at;
    int failed;          /* the fail_at-th allocation was failed */
    void *live[MAX_LIVE];
    size_t n_live;
    int overflow;
} A;

/* Whether this allocation must fail (lock held). */
static int inject(void)
{
    if (!A.armed)
        return 0;
    if (++A.calls != A.fail_at)
        return 0;
    A.failed = 1;
    return 1;
}

static void track(void *p)
{
    if (!p || !A.tracking)
        return;
    if (A.n_live == MAX_LIVE)
        A.overflow = 1;
    else
        A.live[A.n_live++] = p;
}

static void untrack(void *p)
{
    for (size_t i = A.n_live; p && i-- > 0;)
        if (A.live[i] == p) {
            A.live[i] = A.live[--A.n_live];
            return;
        }
}

void *__wrap_malloc(size_t size)
{
    pthread_mutex_lock(&lock);
    void *p = inject() ? NULL : __real_malloc(size);
    track(p);
    pthread_mutex_unlock(&lock);
    return p;
}

void *__wrap_calloc(size_t n, size_t size)
{
    pthread_mutex_lock(&lock);
    void *p = inject() ? NULL : __real_calloc(n, size);
    track(p);
    pthread_mutex_unlock(&lock);
    return p;
}

void *__wrap_realloc(void *old, size_t size)
{
    pthread_mutex_lock(&lock);
    void *p = inject() ? NULL : __real_realloc(old, size);
    if (p) {
        untrack(old);
        track(p);
    }
    pthread_mutex_unlock(&lock);
    return p;
}

char *__wrap_strdup(const char *s)
{
    pthread_mutex_lock(&lock);
    char *p = inject() ? NULL : __real_strdup(s);
    track(p);
    pthread_mutex_unlock(&lock);
    return p;
}

void __wrap_free(void *p)
{
    pthread_mutex_lock(&lock);
    untrack(p);
    __real_free(p);
    pthread_mutex_unlock(&lock);
}

static void arm(unsigned long fail_at)
{
    pthread_mutex_lock(&lock);
    A.armed = 1;
    A.calls = 0;
    A.fail_at = fail_at;
    A.failed = 0;
    pthread_mutex_unlock(&lock);
}

/* Stops counting; returns whether the armed allocation was failed. */
static int disarm(void)
{
    pthread_mutex_lock(&lock);
    A.armed = 0;
    int failed = A.failed;
    pthread_mutex_unlock(&lock);
    return failed;
}

static void set_tracking(int on)
{
    pthread_mutex_lock(&lock);
    A.tracking = on;
    if (on) {
        A.n_live = 0;
        A.overflow = 0;
    }
    pthread_mutex_unlock(&lock);
}

/* ---- scenarios -------------------------------------------------------------
 * A scenario is a list of steps on one context: the sweep runs them with the
 * Nth allocation failing, and from the step that failed on again without
 * failures. A step returns the library's status, or checks its result
 * against the context's reference and returns SM_ERR_STATE on a mismatch. */

enum { N_PTS = 48, DIM = 2, DIM_HI = 16, N_GEN = 40, BATCH = 16 };

typedef struct {
    sm_rng *rng;
    sm_dataset *ds;
    float pts[N_PTS * DIM];
    float gen[N_GEN * DIM];
    float hi_real[N_PTS * DIM_HI], hi_gen[N_GEN * DIM_HI];
    int32_t labels[N_PTS];
    sm_net *net, *ema, *loaded;
    sm_schedule *sched, *loaded_sched;
    sm_optim *opt, *loaded_opt;
    sm_trainer *tr;
    sm_sampler *smp;
    sm_sampler_kind kind;
    sm_dataset *csv, *parsed, *copy, *toy;
    void *buf;
    size_t len;
    char path[PATH_MAX], csv_path[PATH_MAX];
    float x[N_GEN * DIM], ref_x[N_GEN * DIM], ref_imp[N_GEN * DIM];
    float spread[N_GEN * DIM], ref_imp2[N_GEN * DIM], ref_spread[N_GEN * DIM];
    int hi; /* metrics in DIM_HI dimensions */
    double m[12], ref_m[12], log_p[N_GEN], ref_log_p[N_GEN], ref_hutchinson[N_GEN];
} ctx;

typedef sm_status (*step_fn)(ctx *c);

typedef struct {
    const char *name;
    step_fn run;
} step;

typedef struct {
    const char *name;
    void (*setup)(ctx *c);
    const step *steps;
    size_t n_steps;
} scenario;

/* A step whose result differs from the reference: SM_ERR_STATE, with the
 * reason kept here for the sweep's message. */
static char mismatch_why[160];

static sm_status mismatch(const char *what)
{
    snprintf(mismatch_why, sizeof mismatch_why, "%s", what);
    return SM_ERR_STATE;
}

/* Data shared by the scenarios: two clusters in 2-D and in 16-D. */
static void base_setup(ctx *c)
{
    memset(c, 0, sizeof *c);
    ck_assert_ok(sm_rng_new(&c->rng, 5));
    for (size_t i = 0; i < N_PTS; i++) {
        c->labels[i] = (int32_t)(i % 2);
        for (size_t j = 0; j < DIM; j++)
            c->pts[i * DIM + j] = (float)(c->labels[i] * 3) + (float)sm_rng_normal(c->rng);
        for (size_t j = 0; j < DIM_HI; j++)
            c->hi_real[i * DIM_HI + j] =
                (float)(c->labels[i] * 2) + (float)sm_rng_normal(c->rng);
    }
    for (size_t i = 0; i < N_GEN * DIM; i++)
        c->gen[i] = 1.5f + 2.0f * (float)sm_rng_normal(c->rng);
    for (size_t i = 0; i < N_GEN * DIM_HI; i++)
        c->hi_gen[i] = 1.0f + 1.5f * (float)sm_rng_normal(c->rng);
    ck_assert_ok(sm_dataset_new(&c->ds, c->pts, N_PTS, DIM));
    ck_assert_ok(sm_schedule_new_geometric(&c->sched, 3.0, 0.05, 5));
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    snprintf(c->path, sizeof c->path, "%s/test-alloc-%ld.smm", dir, (long)getpid());
    snprintf(c->csv_path, sizeof c->csv_path, "%s/test-alloc-%ld.csv", dir, (long)getpid());
}

static void teardown(ctx *c)
{
    sm_sampler_free(c->smp);
    sm_trainer_free(c->tr);
    sm_optim_free(c->opt);
    sm_optim_free(c->loaded_opt);
    sm_net_free(c->net);
    sm_net_free(c->ema);
    sm_net_free(c->loaded);
    sm_schedule_free(c->sched);
    sm_schedule_free(c->loaded_sched);
    sm_dataset_free(c->ds);
    sm_dataset_free(c->csv);
    sm_dataset_free(c->parsed);
    sm_dataset_free(c->copy);
    sm_free(c->buf);
    sm_dataset_free(c->toy);
    sm_rng_free(c->rng);
    remove(c->path);
    remove(c->csv_path);
}

static int all_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

/* ---- training: DSM with an average of the weights, on two threads ---- */

static sm_status t_net(ctx *c) { return sm_net_new(&c->net, DIM, 8, 2, c->rng); }
static sm_status t_threads(ctx *c) { return sm_net_set_threads(c->net, 2); }
static sm_status t_optim(ctx *c)
{
    return sm_optim_new_adam(&c->opt, sm_net_num_params(c->net), 1e-3, 0.9, 0.999, 1e-8, 0.0);
}
static sm_status t_trainer(ctx *c)
{
    return sm_trainer_new(&c->tr, c->net, c->sched, c->opt, BATCH);
}
static sm_status t_clone(ctx *c) { return sm_net_clone(c->net, &c->ema); }
static sm_status t_ema(ctx *c) { return sm_trainer_set_ema(c->tr, c->ema, 0.9); }
static sm_status t_fit(ctx *c)
{
    sm_status st = sm_trainer_fit(c->tr, c->ds, 3, c->rng, NULL, NULL, NULL);
    if (!st && !all_finite(sm_net_params(c->ema), sm_net_num_params(c->ema)))
        return mismatch("non-finite averaged parameters");
    return st;
}
static sm_status t_step(ctx *c) { return sm_trainer_step(c->tr, c->pts, BATCH, DIM, c->rng, NULL); }

static const step train_dsm[] = {
    {"sm_net_new", t_net},          {"sm_net_set_threads", t_threads},
    {"sm_optim_new_adam", t_optim}, {"sm_trainer_new", t_trainer},
    {"sm_net_clone", t_clone},      {"sm_trainer_set_ema", t_ema},
    {"sm_trainer_fit", t_fit},      {"sm_trainer_step", t_step},
};

/* ---- training: sliced score matching of an EDM network ---- */

static sm_status t_net_edm(ctx *c)
{
    sm_net_options o = SM_NET_OPTIONS_INIT;
    o.dim = DIM;
    o.width = 8;
    o.depth = 2;
    o.parametrization = SM_PARAM_EDM;
    return sm_net_new_ex(&c->net, &o, c->rng);
}
static sm_status t_ssm(ctx *c) { return sm_trainer_set_objective(c->tr, SM_OBJECTIVE_SSM_VR); }
static sm_status t_lr(ctx *c) { return sm_trainer_set_lr_schedule(c->tr, 1, 3, 0.1); }
static sm_status t_fit_plain(ctx *c)
{
    sm_status st = sm_trainer_fit(c->tr, c->ds, 3, c->rng, NULL, NULL, NULL);
    if (!st && !all_finite(sm_net_params(c->net), sm_net_num_params(c->net)))
        return mismatch("non-finite parameters");
    return st;
}

static const step train_ssm[] = {
    {"sm_net_new_ex", t_net_edm},     {"sm_optim_new_adam", t_optim},
    {"sm_trainer_new", t_trainer},    {"sm_trainer_set_objective", t_ssm},
    {"sm_trainer_set_lr_schedule", t_lr}, {"sm_trainer_fit", t_fit_plain},
    {"sm_trainer_step", t_step},
};

/* ---- sampling: each kind against a run without failures ---- */

/* The network is made in the scenario, so that the first run reserves its
 * workspace: the same seed gives the reference's network. */
static sm_status s_net(ctx *c)
{
    sm_status st = sm_rng_reseed(c->rng, 21);
    return st ? st : sm_net_new(&c->net, DIM, 8, 2, c->rng);
}
static sm_status s_threads(ctx *c) { return sm_net_set_threads(c->net, 2); }
static sm_status s_new(ctx *c) { return sm_sampler_new(&c->smp, c->net, c->sched); }
static sm_status s_kind(ctx *c)
{
    sm_status st = sm_sampler_set_kind(c->smp, c->kind);
    return st ? st : sm_sampler_set_final_denoise(c->smp, c->kind <= SM_SAMPLER_ODE_HEUN);
}
static sm_status s_run(ctx *c)
{
    sm_status st = sm_rng_reseed(c->rng, 7);
    if (!st)
        st = sm_sampler_run(c->smp, c->rng, c->x, N_GEN, DIM);
    if (!st && memcmp(c->x, c->ref_x, sizeof c->x))
        return mismatch("samples differ from the run without failures");
    return st;
}

/* Imputation with resampling: coordinate 0 of every other row observed. */
static sm_status imputation(ctx *c, float *x)
{
    unsigned char mask[N_GEN * DIM];
    for (size_t i = 0; i < N_GEN * DIM; i++) {
        mask[i] = i % 4 == 0;
        x[i] = mask[i] ? 0.25f * (float)(i % 7) : NAN;
    }
    sm_status st = sm_sampler_set_resample(c->smp, 1);
    if (!st)
        st = sm_rng_reseed(c->rng, 8);
    return st ? st : sm_sampler_impute(c->smp, c->rng, x, mask, N_GEN, DIM);
}
static sm_status s_impute(ctx *c)
{
    sm_status st = imputation(c, c->x);
    if (!st && memcmp(c->x, c->ref_imp, sizeof c->x))
        return mismatch("imputations differ from the run without failures");
    return st;
}

/* The average of two imputations and their spread. */
static sm_status imputation2(ctx *c, float *x, float *spread)
{
    unsigned char mask[N_GEN * DIM];
    for (size_t i = 0; i < N_GEN * DIM; i++) {
        mask[i] = i % 3 == 0;
        x[i] = mask[i] ? 0.5f * (float)(i % 5) : NAN;
    }
    sm_status st = sm_sampler_set_impute_draws(c->smp, 2);
    if (!st)
        st = sm_rng_reseed(c->rng, 9);
    if (!st)
        st = sm_sampler_impute_spread(c->smp, c->rng, x, spread, mask, N_GEN, DIM);
    sm_status st2 = sm_sampler_set_impute_draws(c->smp, 1);
    return st ? st : st2;
}
static sm_status s_impute2(ctx *c)
{
    sm_status st = imputation2(c, c->x, c->spread);
    if (!st && (memcmp(c->x, c->ref_imp2, sizeof c->x) ||
                memcmp(c->spread, c->ref_spread, sizeof c->spread)))
        return mismatch("averaged imputations differ from the run without failures");
    return st;
}

static const step sample_steps[] = {
    {"sm_net_new", s_net},
    {"sm_net_set_threads", s_threads},
    {"sm_sampler_new", s_new},
    {"sm_sampler_set_kind", s_kind},
    {"sm_sampler_run", s_run},
    {"sm_sampler_impute", s_impute},
    {"sm_sampler_impute_spread", s_impute2},
};

static void sample_setup(ctx *c, sm_sampler_kind kind)
{
    base_setup(c);
    c->kind = kind;
    ck_assert_ok(s_net(c));
    ck_assert_ok(s_threads(c));
    ck_assert_ok(s_new(c));
    ck_assert_ok(s_kind(c));
    ck_assert_ok(sm_rng_reseed(c->rng, 7));
    ck_assert_ok(sm_sampler_run(c->smp, c->rng, c->ref_x, N_GEN, DIM));
    ck_assert_ok(imputation(c, c->ref_imp));
    ck_assert_ok(imputation2(c, c->ref_imp2, c->ref_spread));
    sm_sampler_free(c->smp);
    sm_net_free(c->net);
    c->smp = NULL;
    c->net = NULL;
}

#define SAMPLE_SETUP(name, kind) \
    static void name(ctx *c) { sample_setup(c, kind); }
SAMPLE_SETUP(setup_langevin, SM_SAMPLER_LANGEVIN)
SAMPLE_SETUP(setup_pc, SM_SAMPLER_PC)
SAMPLE_SETUP(setup_ode_heun, SM_SAMPLER_ODE_HEUN)
SAMPLE_SETUP(setup_edm_stochastic, SM_SAMPLER_EDM_STOCHASTIC)
SAMPLE_SETUP(setup_dpmpp_2m, SM_SAMPLER_DPMPP_2M)

/* ---- conditional: contexts, guidance, training on labels with dropout ---- */

static sm_status c_net(ctx *c)
{
    sm_status st = sm_rng_reseed(c->rng, 31);
    sm_net_options o = SM_NET_OPTIONS_INIT;
    o.dim = DIM;
    o.width = 8;
    o.depth = 2;
    o.parametrization = SM_PARAM_EDM;
    o.sigma_data = 1.0;
    o.context_dim = 2;
    return st ? st : sm_net_new_ex(&c->net, &o, c->rng);
}
static sm_status c_ctx_norm(ctx *c)
{
    const float shift[2] = {0.5f, -0.25f}, scale[2] = {2.0f, 0.5f};
    return sm_net_set_context_normalization(c->net, shift, scale, 2);
}
static sm_status c_kind(ctx *c) { return sm_sampler_set_kind(c->smp, SM_SAMPLER_DPMPP_2M); }
static sm_status c_context(ctx *c)
{
    const float upper[2] = {1.0f, 0.0f};
    return sm_sampler_set_context(c->smp, upper, 1, 2);
}
static sm_status c_guidance(ctx *c) { return sm_sampler_set_guidance(c->smp, 1.5, 0.0, 1e30); }
static sm_status c_labels(ctx *c) { return sm_dataset_set_labels(c->ds, c->labels, N_PTS); }
static sm_status c_dropout(ctx *c) { return sm_trainer_set_context_dropout(c->tr, 0.5); }
static sm_status c_fit(ctx *c)
{
    sm_status st = sm_trainer_fit(c->tr, c->ds, 3, c->rng, NULL, NULL, NULL);
    if (!st && !all_finite(sm_net_params(c->net), sm_net_num_params(c->net)))
        return mismatch("non-finite parameters after training on labels");
    return st;
}

static const step cond_steps[] = {
    {"sm_net_new_ex (context)", c_net},
    {"sm_net_set_context_normalization", c_ctx_norm},
    {"sm_sampler_new", s_new},
    {"sm_sampler_set_kind", c_kind},
    {"sm_sampler_set_context", c_context},
    {"sm_sampler_set_guidance", c_guidance},
    {"sm_sampler_run (guided)", s_run},
    {"sm_dataset_set_labels", c_labels},
    {"sm_optim_new_adam", t_optim},
    {"sm_trainer_new", t_trainer},
    {"sm_trainer_set_context_dropout", c_dropout},
    {"sm_trainer_fit (one-hot labels)", c_fit},
};

/* The guided run's reference: the same network and seeds, no failures. */
static void cond_setup(ctx *c)
{
    base_setup(c);
    ck_assert_ok(c_net(c));
    ck_assert_ok(c_ctx_norm(c));
    ck_assert_ok(s_new(c));
    ck_assert_ok(c_kind(c));
    ck_assert_ok(c_context(c));
    ck_assert_ok(c_guidance(c));
    ck_assert_ok(sm_rng_reseed(c->rng, 7));
    ck_assert_ok(sm_sampler_run(c->smp, c->rng, c->ref_x, N_GEN, DIM));
    sm_sampler_free(c->smp);
    sm_net_free(c->net);
    c->smp = NULL;
    c->net = NULL;
}

/* ---- model files: an EDM network with its normalization and Adam's state ---- */

static void model_setup(ctx *c)
{
    base_setup(c);
    ck_assert_ok(t_net_edm(c));
    ck_assert_ok(sm_net_set_sigma_data(c->net, 0.7));
    const float shift[DIM] = {0.5f, -1.0f}, scale[DIM] = {2.0f, 0.25f};
    ck_assert_ok(sm_net_set_normalization(c->net, shift, scale, DIM));
    ck_assert_ok(t_optim(c));
    ck_assert_ok(t_trainer(c));
    ck_assert_ok(sm_trainer_fit(c->tr, c->ds, 2, c->rng, NULL, NULL, NULL));
}

/* The loaded network, schedule and optimizer are those saved. */
static sm_status same_model(ctx *c)
{
    const size_t np = sm_net_num_params(c->net);
    if (sm_net_num_params(c->loaded) != np ||
        memcmp(sm_net_params(c->loaded), sm_net_params(c->net), np * sizeof(float)))
        return mismatch("loaded parameters differ");
    if (sm_schedule_levels(c->loaded_sched) != sm_schedule_levels(c->sched) ||
        sm_schedule_sigma(c->loaded_sched, 0) != sm_schedule_sigma(c->sched, 0))
        return mismatch("loaded schedule differs");
    if (sm_optim_steps(c->loaded_opt) != sm_optim_steps(c->opt))
        return mismatch("loaded optimizer differs");
    return SM_OK;
}

static void free_loaded(ctx *c)
{
    sm_net_free(c->loaded);
    sm_schedule_free(c->loaded_sched);
    sm_optim_free(c->loaded_opt);
    c->loaded = NULL;
    c->loaded_sched = NULL;
    c->loaded_opt = NULL;
}

static sm_status m_save(ctx *c) { return sm_model_save(c->path, c->net, c->sched, c->opt); }
static sm_status m_load(ctx *c)
{
    sm_status st = sm_model_load(c->path, &c->loaded, &c->loaded_sched, &c->loaded_opt);
    return st ? st : same_model(c);
}
static sm_status m_save_buffer(ctx *c)
{
    return sm_model_save_buffer(c->net, c->sched, c->opt, &c->buf, &c->len);
}
static sm_status m_load_buffer(ctx *c)
{
    free_loaded(c);
    sm_status st =
        sm_model_load_buffer(c->buf, c->len, &c->loaded, &c->loaded_sched, &c->loaded_opt);
    return st ? st : same_model(c);
}

static const step model_steps[] = {
    {"sm_model_save", m_save},
    {"sm_model_load", m_load},
    {"sm_model_save_buffer", m_save_buffer},
    {"sm_model_load_buffer", m_load_buffer},
};

/* ---- CSV files and data sets ---- */

static const char CSV_TEXT[] = "# two columns\nx,y\n1.5,-2\n\n3,4.25\n-0.5,1e-3\n";

static void csv_setup(ctx *c)
{
    base_setup(c);
    ck_assert_ok(sm_points_write_csv(c->csv_path, c->pts, N_PTS, DIM));
}

static sm_status d_read(ctx *c)
{
    sm_status st = sm_dataset_read_csv(&c->csv, c->csv_path);
    if (!st && (sm_dataset_size(c->csv) != N_PTS ||
                memcmp(sm_dataset_data(c->csv), c->pts, sizeof c->pts)))
        return mismatch("the CSV file read back differs");
    return st;
}
static sm_status d_parse(ctx *c)
{
    sm_status st = sm_dataset_parse_csv(&c->parsed, CSV_TEXT, sizeof CSV_TEXT - 1);
    if (!st && (sm_dataset_size(c->parsed) != 3 || sm_dataset_row(c->parsed, 2)[1] != 1e-3f))
        return mismatch("the parsed CSV text differs");
    return st;
}
static sm_status d_write(ctx *c) { return sm_dataset_write_csv(c->parsed, c->csv_path); }
static sm_status d_clone(ctx *c) { return sm_dataset_clone(c->csv, &c->copy); }
static sm_status d_labels(ctx *c) { return sm_dataset_set_labels(c->copy, c->labels, N_PTS); }
static sm_status d_standardize(ctx *c) { return sm_dataset_standardize(c->copy); }
static sm_status d_suggest(ctx *c)
{
    double smax = 0.0;
    return sm_schedule_suggest_sigma_max(c->copy, c->rng, &smax);
}

static const step csv_steps[] = {
    {"sm_dataset_read_csv", d_read},     {"sm_dataset_parse_csv", d_parse},
    {"sm_dataset_write_csv", d_write},   {"sm_dataset_clone", d_clone},
    {"sm_dataset_set_labels", d_labels}, {"sm_dataset_standardize", d_standardize},
    {"sm_schedule_suggest_sigma_max", d_suggest},
};

/* ---- metrics: in 2-D (k-d tree) and 16-D (blocked brute force) ---- */

/* Metric `which` of real against gen, into its slots of m (energy distance
 * on subsamples, MMD exact). */
static sm_status metrics(ctx *c, const float *real, const float *gen, size_t dim, double *m,
                         int which)
{
    double per_mode[2];
    switch (which) {
    case 0:
        return sm_metric_coverage_precision(real, N_PTS, gen, N_GEN, dim, 1.0, &m[0], &m[1],
                                            NULL);
    case 1: {
        sm_status st = sm_metric_per_mode_coverage(real, c->labels, N_PTS, gen, N_GEN, dim, 1.0,
                                                   per_mode, 2, NULL);
        m[2] = per_mode[0];
        m[3] = per_mode[1];
        return st;
    }
    case 2:
        return sm_metric_prdc(real, N_PTS, gen, N_GEN, dim, 0, 0, &m[4], &m[5], &m[6], &m[7],
                              NULL);
    case 3: {
        sm_status st = sm_rng_reseed(c->rng, 3);
        return st ? st : sm_metric_energy_distance(real, N_PTS, gen, N_GEN, dim, 30, c->rng,
                                                   &m[8], NULL);
    }
    case 4:
        return sm_metric_mmd_rbf(real, N_PTS, gen, N_GEN, dim, 0.0, 0, NULL, &m[9], &m[10],
                                 NULL);
    default:
        return sm_metric_frechet_distance(real, N_PTS, gen, N_GEN, dim, &m[11], NULL);
    }
}

static sm_status metric_step(ctx *c, int which)
{
    const int hi = c->hi;
    sm_status st = metrics(c, hi ? c->hi_real : c->pts, hi ? c->hi_gen : c->gen,
                           hi ? DIM_HI : DIM, c->m, which);
    if (!st && memcmp(c->m, c->ref_m, sizeof c->m))
        return mismatch("a metric differs from its value without failures");
    return st;
}

static void metrics_setup(ctx *c, int hi)
{
    base_setup(c);
    c->hi = hi;
    for (int w = 0; w < 6; w++)
        ck_assert_ok(metrics(c, hi ? c->hi_real : c->pts, hi ? c->hi_gen : c->gen,
                             hi ? DIM_HI : DIM, c->ref_m, w));
    memcpy(c->m, c->ref_m, sizeof c->m);
}

static void setup_metrics_2d(ctx *c) { metrics_setup(c, 0); }
static void setup_metrics_16d(ctx *c) { metrics_setup(c, 1); }

#define METRIC_STEP(name, which) \
    static sm_status name(ctx *c) { return metric_step(c, which); }
METRIC_STEP(x_coverage, 0)
METRIC_STEP(x_per_mode, 1)
METRIC_STEP(x_prdc, 2)
METRIC_STEP(x_energy, 3)
METRIC_STEP(x_mmd, 4)
METRIC_STEP(x_frechet, 5)

static const step metric_steps[] = {
    {"sm_metric_coverage_precision", x_coverage}, {"sm_metric_per_mode_coverage", x_per_mode},
    {"sm_metric_prdc", x_prdc},                   {"sm_metric_energy_distance", x_energy},
    {"sm_metric_mmd_rbf", x_mmd},                 {"sm_metric_frechet_distance", x_frechet},
};

/* ---- log-likelihood, exact and Hutchinson, and toy data ---- */

static sm_status likelihood(ctx *c, size_t probes, double *out)
{
    sm_status st = sm_rng_reseed(c->rng, 11);
    return st ? st : sm_log_likelihood(c->net, c->sched, c->gen, N_GEN, DIM, 0.0, probes,
                                       c->rng, out);
}

static void likelihood_setup(ctx *c)
{
    base_setup(c);
    ck_assert_ok(sm_net_new(&c->net, DIM, 8, 1, c->rng));
    ck_assert_ok(likelihood(c, 0, c->ref_log_p));
    ck_assert_ok(likelihood(c, 2, c->ref_hutchinson));
}

static sm_status l_exact(ctx *c)
{
    sm_status st = likelihood(c, 0, c->log_p);
    if (!st && memcmp(c->log_p, c->ref_log_p, sizeof c->log_p))
        return mismatch("exact log-densities differ from those without failures");
    return st;
}
static sm_status l_hutchinson(ctx *c)
{
    sm_status st = likelihood(c, 2, c->log_p);
    if (!st && memcmp(c->log_p, c->ref_hutchinson, sizeof c->log_p))
        return mismatch("Hutchinson log-densities differ from those without failures");
    return st;
}
static sm_status y_moons(ctx *c)
{
    sm_dataset_free(c->toy);
    c->toy = NULL;
    return sm_toy_moons(&c->toy, 64, 0.05, 1, c->rng);
}
static sm_status y_blobs(ctx *c)
{
    sm_dataset_free(c->toy);
    c->toy = NULL;
    return sm_toy_blobs(&c->toy, 64, 3, NULL, 4, 1.0, 1, c->rng);
}

static const step likelihood_steps[] = {
    {"sm_log_likelihood (exact)", l_exact},
    {"sm_log_likelihood (Hutchinson)", l_hutchinson},
    {"sm_toy_moons", y_moons},
    {"sm_toy_blobs", y_blobs},
};

#define SCENARIO(name, setup, steps) {name, setup, steps, sizeof steps / sizeof steps[0]}
static const scenario scenarios[] = {
    SCENARIO("training: DSM, EMA, two threads", base_setup, train_dsm),
    SCENARIO("training: SSM, EDM, learning-rate schedule", base_setup, train_ssm),
    SCENARIO("sampling: langevin", setup_langevin, sample_steps),
    SCENARIO("sampling: pc", setup_pc, sample_steps),
    SCENARIO("sampling: ode-heun", setup_ode_heun, sample_steps),
    SCENARIO("sampling: edm-stochastic", setup_edm_stochastic, sample_steps),
    SCENARIO("sampling: dpmpp-2m", setup_dpmpp_2m, sample_steps),
    SCENARIO("conditional: context, guidance, labels", cond_setup, cond_steps),
    SCENARIO("model file and buffer", model_setup, model_steps),
    SCENARIO("CSV and data sets", csv_setup, csv_steps),
    SCENARIO("metrics, 2-D", setup_metrics_2d, metric_steps),
    SCENARIO("metrics, 16-D", setup_metrics_16d, metric_steps),
    SCENARIO("log-likelihood and toy data", likelihood_setup, likelihood_steps),
};
enum { N_SCENARIOS = sizeof scenarios / sizeof scenarios[0] };

static ctx the_ctx; /* large: not on the stack */

/* Fails the 1st, 2nd, ... allocation of the scenario until a run meets no
 * failure; returns the number of allocations failed (injection points). */
static unsigned long sweep(const scenario *sc)
{
    ctx *c = &the_ctx;
    for (unsigned long n = 1;; n++) {
        set_tracking(1);
        sc->setup(c);
        mismatch_why[0] = '\0';
        sm_clear_error();
        arm(n);
        size_t i = 0;
        sm_status st = SM_OK;
        while (i < sc->n_steps && !(st = sc->steps[i].run(c)))
            i++;
        const int failed = disarm();
        /* A failed allocation is reported, never hidden. */
        ck_assert_msg(st || !failed, "%s: allocation %lu failed and every call succeeded",
                      sc->name, n);
        if (st) {
            ck_assert_msg(failed && st == SM_ERR_NOMEM,
                          "%s: with allocation %lu failing, %s returned %d (%s): %s%s", sc->name,
                          n, sc->steps[i].name, (int)st, sm_strerror(st), sm_last_error(),
                          mismatch_why);
            ck_assert_msg(!strncmp(sm_last_error(), "sm_", 3),
                          "%s: allocation %lu: %s gave the message '%s'", sc->name, n,
                          sc->steps[i].name, sm_last_error());
            /* The same handles, allocation working: the failed call and
             * the rest of the scenario succeed. */
            for (; i < sc->n_steps; i++) {
                st = sc->steps[i].run(c);
                ck_assert_msg(st == SM_OK,
                              "%s: after allocation %lu failed, %s returned %d (%s) on retry: "
                              "%s%s", sc->name, n, sc->steps[i].name, (int)st, sm_strerror(st),
                              sm_last_error(), mismatch_why);
            }
        }
        teardown(c);
        pthread_mutex_lock(&lock);
        const size_t live = A.n_live;
        const int overflow = A.overflow;
        pthread_mutex_unlock(&lock);
        set_tracking(0);
        ck_assert_msg(live == 0 && !overflow, "%s: allocation %lu failing: %zu blocks leaked",
                      sc->name, n, live);
        if (!failed)
            return n - 1;
    }
}

START_TEST(every_allocation_failure_is_clean)
{
    const scenario *sc = &scenarios[_i];
    const unsigned long points = sweep(sc);
    /* The wrapping must have worked: every scenario allocates. */
    ck_assert_msg(points > 0, "%s: no allocation was counted", sc->name);
    printf("allocation failures: %-44s %4lu injection points, all clean\n", sc->name, points);
    fflush(stdout);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("alloc");
    TCase *tc = tcase_create("alloc");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, every_allocation_failure_is_clean, 0, N_SCENARIOS);
    suite_add_tcase(s, tc);
    return sm_test_run(s);
}
