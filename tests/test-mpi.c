/* Data-parallel training over MPI (run by check-mpi.py under mpirun -np 2):
 * two ranks, each computing half of a batch of B (sm_trainer_set_shard())
 * and averaging with MPI_Allreduce (sm_trainer_set_grad_reduce()), against
 * one process training on the whole batch. Rank 0 trains the one-process
 * reference itself after the parallel run. Exit status 0 when every check
 * holds; each rank prints the checks that failed on it.
 *
 * Tolerance. The two runs see the same rows, σ and ε; only the order of
 * the float sums over the batch differs (each rank sums its half, the
 * reduction adds the two halves), so the gradients differ by a few float
 * roundings (relative ~1e-7). Adam's update is lr·m̂/(√v̂ + ε), at most a
 * few times lr per parameter and step, and changes by about lr times the
 * relative change of the gradient; over T steps the differences add up
 * (and the training dynamics amplify them slowly). For T = 200 steps at
 * lr = 1e-3 a bound of 1e-5 on the largest parameter difference is 1% of
 * one step's update and about 18 times the difference measured (5.5e-7
 * for B = 64, 200 steps): a wrong slice, a rank drawing other random
 * numbers or a lost row moves parameters by whole updates (≥ 1e-3) within
 * a few steps and fails it. The losses of the last steps must agree to
 * 1e-4 (the loss is reduced as float: 6e-8 relative): a sum instead of a
 * mean, which Adam's steps hardly show, doubles the loss. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>
#include <scorematch.h>

static int failures;

#define CHECK(cond, ...)                                         \
    do {                                                         \
        if (!(cond)) {                                           \
            failures++;                                          \
            fprintf(stderr, "test-mpi: rank %d: ", g_rank);      \
            fprintf(stderr, __VA_ARGS__);                        \
            fprintf(stderr, " (%s:%d)\n", __FILE__, __LINE__);   \
        }                                                        \
    } while (0)

static int g_rank, g_size;

#define OK(call)                                                                      \
    do {                                                                              \
        sm_status st_ = (call);                                                       \
        if (st_) {                                                                    \
            fprintf(stderr, "test-mpi: rank %d: %s failed: %s\n", g_rank, #call,      \
                    sm_last_error());                                                 \
            MPI_Abort(MPI_COMM_WORLD, 1);                                             \
        }                                                                             \
    } while (0)

static int calls;
static float *first_local; /* this rank's first local gradient, before the reduction */

static int allreduce_mean(void *user_data, float *buf, size_t n)
{
    (void)user_data;
    if (calls++ == 0 && first_local)
        memcpy(first_local, buf, n * sizeof(float));
    if (MPI_Allreduce(MPI_IN_PLACE, buf, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) !=
        MPI_SUCCESS)
        return -1;
    for (size_t i = 0; i < n; i++)
        buf[i] /= (float)g_size;
    return 0;
}

typedef struct {
    sm_net *net, *ema;
    sm_schedule *sched;
    sm_optim *opt;
    sm_trainer *tr;
    sm_rng *rng;
    double final_loss;
} run;

/* The lab's network and ladder on moons; parallel: this rank's slice and
 * the MPI reduction, else one process. */
static void train(run *r, const sm_dataset *data, size_t batch, uint64_t steps, int parallel,
                  sm_objective objective)
{
    memset(r, 0, sizeof *r);
    OK(sm_rng_new(&r->rng, 11));
    OK(sm_net_new(&r->net, 2, 128, 3, r->rng));
    OK(sm_net_clone(r->net, &r->ema));
    OK(sm_schedule_new_geometric(&r->sched, 1.0, 0.01, 10));
    OK(sm_optim_new_adam(&r->opt, sm_net_num_params(r->net), 1e-3, 0.9, 0.999, 1e-8, 0.0));
    OK(sm_trainer_new(&r->tr, r->net, r->sched, r->opt, batch));
    OK(sm_trainer_set_objective(r->tr, objective));
    OK(sm_trainer_set_ema(r->tr, r->ema, 0.99));
    if (parallel) {
        OK(sm_trainer_set_grad_reduce(r->tr, allreduce_mean, NULL));
        OK(sm_trainer_set_shard(r->tr, (size_t)g_rank, (size_t)g_size));
    }
    OK(sm_trainer_fit(r->tr, data, steps, r->rng, NULL, NULL, &r->final_loss));
}

static void run_free(run *r)
{
    sm_trainer_free(r->tr);
    sm_optim_free(r->opt);
    sm_schedule_free(r->sched);
    sm_net_free(r->ema);
    sm_net_free(r->net);
    sm_rng_free(r->rng);
}

static double max_diff(const float *a, const float *b, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]);
        if (!(d <= m))
            m = d; /* NaN wins */
    }
    return m;
}

/* One configuration: the parallel run against rank 0's one-process run. */
static void compare(const sm_dataset *data, size_t batch, uint64_t steps,
                    sm_objective objective, double tol)
{
    run par, one;
    calls = 0;
    /* The lab's network: 3 → 128 → 128 → 128 → 2 (x ‖ log σ in). */
    const size_t np = (3 * 128 + 128) + 2 * (128 * 128 + 128) + (128 * 2 + 2);
    first_local = malloc(np * sizeof(float));
    float *rank0_local = malloc(np * sizeof(float));
    if (!first_local || !rank0_local)
        MPI_Abort(MPI_COMM_WORLD, 1);
    train(&par, data, batch, steps, 1, objective);
    CHECK(sm_net_num_params(par.net) == np, "the lab's network has %zu parameters, not %zu",
          sm_net_num_params(par.net), np);
    CHECK(calls == (int)(2 * steps), "%d reduction calls for %llu steps", calls,
          (unsigned long long)steps);
    /* Each rank computed its own slice: the local gradients differ. */
    memcpy(rank0_local, first_local, np * sizeof(float));
    MPI_Bcast(rank0_local, (int)np, MPI_FLOAT, 0, MPI_COMM_WORLD);
    if (g_rank != 0)
        CHECK(memcmp(rank0_local, first_local, np * sizeof(float)) != 0,
              "rank %d computed the same local gradient as rank 0", g_rank);
    free(first_local);
    free(rank0_local);
    first_local = NULL;
    /* Every rank must hold the same parameters: the reduced gradient is
     * the same everywhere. */
    float *other = malloc(np * sizeof(float));
    if (!other)
        MPI_Abort(MPI_COMM_WORLD, 1);
    memcpy(other, sm_net_params(par.net), np * sizeof(float));
    MPI_Bcast(other, (int)np, MPI_FLOAT, 0, MPI_COMM_WORLD);
    CHECK(memcmp(other, sm_net_params(par.net), np * sizeof(float)) == 0,
          "the ranks' parameters differ (batch %zu)", batch);
    if (g_rank == 0) {
        train(&one, data, batch, steps, 0, objective);
        double dp = max_diff(sm_net_params(one.net), sm_net_params(par.net), np);
        double de = max_diff(sm_net_params(one.ema), sm_net_params(par.ema), np);
        double dl = fabs(one.final_loss - par.final_loss);
        printf("batch %zu objective %d steps %llu: max |param diff| %.3g, EMA %.3g, "
               "final loss %.6f vs %.6f\n",
               batch, (int)objective, (unsigned long long)steps, dp, de, par.final_loss,
               one.final_loss);
        CHECK(dp <= tol, "parameters differ by %g (tolerance %g)", dp, tol);
        CHECK(de <= tol, "averaged parameters differ by %g (tolerance %g)", de, tol);
        CHECK(dl <= 1e-4, "final losses %g and %g", par.final_loss, one.final_loss);
        /* The runs moved far from the start: the comparison is not trivial. */
        sm_net *start = NULL;
        sm_rng *r0 = NULL;
        OK(sm_rng_new(&r0, 11));
        OK(sm_net_new(&start, 2, 128, 3, r0));
        CHECK(max_diff(sm_net_params(start), sm_net_params(one.net), np) > 100 * tol,
              "training did not move the parameters");
        sm_net_free(start);
        sm_rng_free(r0);
        run_free(&one);
    }
    free(other);
    run_free(&par);
}

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    if (g_size < 2) {
        fprintf(stderr, "test-mpi: run with mpirun -np 2 (or more)\n");
        MPI_Finalize();
        return 1;
    }
    sm_rng *rng = NULL;
    sm_dataset *data = NULL;
    OK(sm_rng_new(&rng, 0));
    OK(sm_toy_moons(&data, 1000, 0.05, 1, rng));
    OK(sm_dataset_standardize(data));

    /* B = 64: equal halves. */
    compare(data, 64, 200, SM_OBJECTIVE_DSM, 1e-5);
    /* B = 63: slices of 31 and 32, weighted by their shares. */
    compare(data, 63, 100, SM_OBJECTIVE_DSM, 1e-5);
    /* Sliced score matching: its projections are drawn for the whole batch. */
    compare(data, 32, 50, SM_OBJECTIVE_SSM_VR, 1e-5);

    sm_dataset_free(data);
    sm_rng_free(rng);
    int all = 0;
    MPI_Allreduce(&failures, &all, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (g_rank == 0)
        printf("%s: %d failed check%s\n", all ? "FAIL" : "OK", all, all == 1 ? "" : "s");
    MPI_Finalize();
    return all ? 1 : 0;
}
