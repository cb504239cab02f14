/* Threads: separate handles used on separate threads at the same time give
 * the same bits as the same work done one after the other on one thread,
 * also when every network runs its own worker threads; the last-error
 * message is per thread.
 *
 * Workers never call ck_assert (Check reports from the test's thread); they
 * record statuses and results, and the test thread checks them. BLIS runs
 * single-threaded per shard here, so Check's fork mode is safe. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

enum {
    WORKERS = 4,
    N_DATA = 1000,
    WIDTH = 32,
    DEPTH = 2,
    BATCH = 64,
    STEPS = 200,
    N_SAMPLES = 500,
    STEPS_PER_SCALE = 5,
};

/* Everything one unit of work produces. */
typedef struct {
    uint64_t seed;
    size_t net_threads;
    sm_status st;       /* first failing status, SM_OK if none */
    char where[128];    /* which call failed */
    size_t nparams;
    float *params;      /* nparams after training */
    float samples[N_SAMPLES * 2];
    double final_loss;
    char own_error[128]; /* sm_last_error() after the work, on that thread */
} job;

/* Runs a call unless an earlier one failed; records the first failure. */
#define TRY(j, call)                                                           \
    do {                                                                       \
        if ((j)->st == SM_OK) {                                                \
            sm_status st_ = (call);                                            \
            if (st_ != SM_OK) {                                                \
                (j)->st = st_;                                                 \
                snprintf((j)->where, sizeof (j)->where, "%s", #call);          \
            }                                                                  \
        }                                                                      \
    } while (0)

/* Moons, a small net, 200 DSM steps, 500 Langevin samples (10 levels × 5
 * steps): all from one seed, with handles that belong to this call alone. */
static void run_job(job *j)
{
    sm_rng *rng = NULL;
    sm_dataset *ds = NULL;
    sm_net *net = NULL;
    sm_schedule *sched = NULL;
    sm_optim *opt = NULL;
    sm_trainer *tr = NULL;
    sm_sampler *smp = NULL;
    j->st = SM_OK;
    j->where[0] = '\0';
    j->params = NULL;

    TRY(j, sm_rng_new(&rng, j->seed));
    TRY(j, sm_toy_moons(&ds, N_DATA, 0.05, 1, rng));
    TRY(j, sm_dataset_standardize(ds));
    TRY(j, sm_net_new(&net, 2, WIDTH, DEPTH, rng));
    /* A failing call whose message names this job: it must survive the
     * other threads' failures and this thread's later successful calls. */
    if (j->st == SM_OK &&
        sm_net_layer(net, 100 + (size_t)j->seed, NULL, NULL, NULL, NULL) != SM_ERR_INVALID_ARG)
        TRY(j, SM_ERR_STATE);
    if (j->net_threads > 1)
        TRY(j, sm_net_set_threads(net, j->net_threads));
    TRY(j, sm_schedule_new_geometric(&sched, 1.0, 0.01, 10));
    TRY(j, sm_optim_new_adam(&opt, sm_net_num_params(net), 1e-3, 0.9, 0.999, 1e-8, 0));
    TRY(j, sm_trainer_new(&tr, net, sched, opt, BATCH));
    TRY(j, sm_trainer_fit(tr, ds, STEPS, rng, NULL, NULL, &j->final_loss));
    TRY(j, sm_sampler_new(&smp, net, sched));
    TRY(j, sm_sampler_set_steps_per_scale(smp, STEPS_PER_SCALE));
    TRY(j, sm_sampler_run(smp, rng, j->samples, N_SAMPLES, 2));
    if (j->st == SM_OK) {
        j->nparams = sm_net_num_params(net);
        j->params = malloc(j->nparams * sizeof(float));
        if (j->params)
            memcpy(j->params, sm_net_params(net), j->nparams * sizeof(float));
        else
            TRY(j, SM_ERR_NOMEM);
    }
    snprintf(j->own_error, sizeof j->own_error, "%s", sm_last_error());
    sm_sampler_free(smp);
    sm_trainer_free(tr);
    sm_optim_free(opt);
    sm_schedule_free(sched);
    sm_net_free(net);
    sm_dataset_free(ds);
    sm_rng_free(rng);
}

static void *thread_main(void *arg)
{
    run_job(arg);
    return NULL;
}

static void check_job(const job *j)
{
    ck_assert_msg(j->st == SM_OK, "seed %llu: %s returned %d (%s)",
                  (unsigned long long)j->seed, j->where, (int)j->st, sm_strerror(j->st));
    ck_assert_ptr_nonnull(j->params);
    ck_assert(isfinite(j->final_loss));
    char want[32];
    snprintf(want, sizeof want, "layer %llu", (unsigned long long)(100 + j->seed));
    ck_assert_msg(strstr(j->own_error, "sm_net_layer") && strstr(j->own_error, want),
                  "seed %llu: last error on its thread is \"%s\"", (unsigned long long)j->seed,
                  j->own_error);
    for (size_t i = 0; i < N_SAMPLES * 2; i++)
        ck_assert_msg(isfinite(j->samples[i]), "seed %llu: sample value %zu is not finite",
                      (unsigned long long)j->seed, i);
}

/* Runs WORKERS jobs one after the other on this thread, then the same jobs
 * on WORKERS threads at once, and compares the bits. */
static void sequential_vs_concurrent(size_t net_threads)
{
    static job seq[WORKERS], par[WORKERS];
    for (int w = 0; w < WORKERS; w++) {
        seq[w].seed = par[w].seed = 1000 + (uint64_t)w;
        seq[w].net_threads = par[w].net_threads = net_threads;
        run_job(&seq[w]);
        check_job(&seq[w]);
    }
    /* The test thread's own message must not be touched by the workers. */
    ck_assert_status(sm_dataset_new(NULL, NULL, 7, 7), SM_ERR_INVALID_ARG);
    char mine[128];
    snprintf(mine, sizeof mine, "%s", sm_last_error());

    pthread_t th[WORKERS];
    for (int w = 0; w < WORKERS; w++)
        ck_assert_int_eq(pthread_create(&th[w], NULL, thread_main, &par[w]), 0);
    for (int w = 0; w < WORKERS; w++)
        ck_assert_int_eq(pthread_join(th[w], NULL), 0);
    ck_assert_str_eq(sm_last_error(), mine);

    for (int w = 0; w < WORKERS; w++) {
        check_job(&par[w]);
        ck_assert_uint_eq(par[w].nparams, seq[w].nparams);
        ck_assert_msg(memcmp(par[w].params, seq[w].params, seq[w].nparams * sizeof(float)) == 0,
                      "worker %d: parameters differ from the sequential run", w);
        ck_assert_msg(memcmp(par[w].samples, seq[w].samples, sizeof seq[w].samples) == 0,
                      "worker %d: samples differ from the sequential run", w);
        ck_assert_msg(par[w].final_loss == seq[w].final_loss,
                      "worker %d: loss %.17g, sequential %.17g", w, par[w].final_loss,
                      seq[w].final_loss);
    }
    /* Different seeds give different models: a mix-up between threads
     * could not pass the comparisons above. */
    for (int w = 1; w < WORKERS; w++)
        ck_assert(memcmp(seq[w].params, seq[0].params, seq[0].nparams * sizeof(float)) != 0);
    for (int w = 0; w < WORKERS; w++) {
        free(seq[w].params);
        free(par[w].params);
    }
}

START_TEST(separate_handles_on_four_threads)
{
    sequential_vs_concurrent(1);
}
END_TEST

START_TEST(nested_threads_four_by_two)
{
    /* Each network runs two threads of its own: 4 × 2 at once. The
     * reference is the sequential run with the same per-net setting (other
     * thread counts agree only to rounding). */
    sequential_vs_concurrent(2);
}
END_TEST

START_TEST(thread_count_is_per_handle)
{
    /* Worker threads belong to the network that started them: another
     * handle keeps its own setting, and freeing one network (joining its
     * workers) leaves the other usable. */
    sm_rng *r;
    sm_net *a, *b;
    ck_assert_ok(sm_rng_new(&r, 5));
    ck_assert_ok(sm_net_new(&a, 2, 16, 1, r));
    ck_assert_ok(sm_net_clone(a, &b));
    ck_assert_ok(sm_net_set_threads(a, 3));
    ck_assert_uint_eq(sm_net_threads(a), 3);
    ck_assert_uint_eq(sm_net_threads(b), 1);
    float x[200], y[200], z[200];
    ck_assert_ok(sm_rng_fill_normal(r, x, 200, 0.0f, 1.0f));
    ck_assert_ok(sm_net_forward_sigma(a, x, 0.5f, 100, 2, y));
    sm_net_free(a);
    ck_assert_ok(sm_net_forward_sigma(b, x, 0.5f, 100, 2, z));
    for (int i = 0; i < 200; i++)
        ck_assert_float_eq_tol(y[i], z[i], 1e-5f);
    sm_net_free(b);
    sm_rng_free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("threads");
    /* Seconds natively; valgrind serializes the threads. */
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, separate_handles_on_four_threads);
    tcase_add_test(tc, thread_count_is_per_handle);
    suite_add_tcase(s, tc);
    /* Eight networks' worker pools spin while they wait; under valgrind,
     * which runs one thread at a time, that takes minutes. Tagged "slow" so
     * the valgrind run skips it (see test-train.c); the plain and sanitizer
     * runs execute it. */
    TCase *nested = tcase_create("nested");
    tcase_set_tags(nested, "slow");
    tcase_set_timeout(nested, 300);
    tcase_add_test(nested, nested_threads_four_by_two);
    suite_add_tcase(s, nested);
    return sm_test_run(s);
}
