/* Data-parallel training with MPI: every rank computes the gradient of its
 * part of the batch, MPI_Allreduce averages the gradients, and every rank
 * takes the same optimizer step (sm_trainer_set_grad_reduce()). The library
 * itself does not link MPI; this program does.
 *
 *   mpirun -np 2 ./build/examples/mpi_train                 two moons, sharded
 *   mpirun -np 2 ./build/examples/mpi_train --csv data.csv  your CSV, sharded
 *   mpirun -np 2 ./build/examples/mpi_train --exact         the lab, exactly
 *
 * Sharded (the default): each rank holds only its share of the points (rows
 * r, r + p, r + 2p, … of the CSV, or the file the pattern names when the
 * path contains %d; or its share of a two-moons set drawn with its own
 * stream of the generator), standardized with the mean and spread of all
 * shards, and draws a batch of B/p rows per step from its own shard with
 * its own stream: the global batch is B.
 *
 * --exact: every rank holds the lab's whole data set and the same
 * generator, draws the whole batch of B rows and computes only its slice
 * (sm_trainer_set_shard()): the run takes the steps of one process with
 * batch B (moons_lab) up to float summation order.
 *
 * Rank 0 saves the model (--out), checkpoints (--checkpoint, every
 * --checkpoint-every steps, with the optimizer's state), samples with the
 * lab's annealed Langevin sampler and prints
 * final_loss=… coverage=… precision=… against its own points, with the
 * steps per second and rank 0's time in the reduction (reduce_s: the
 * transfer and the wait for the slowest rank).
 */
#define _GNU_SOURCE 1
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpi.h>
#include <scorematch.h>


typedef struct {
    uint64_t seed, steps, checkpoint_every, die_at;
    size_t batch, samples, threads, n_toy;
    double lr, ema;
    int exact, quiet;
    const char *csv, *out, *checkpoint, *resume, *samples_csv;
} options;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: mpirun -np P mpi_train [options]\n"
            "Trains the lab's score network on P processes (data parallel) and samples it.\n\n"
            "  --exact               every rank holds all data and computes its slice of the\n"
            "                        global batch: the same steps as one process (moons_lab)\n"
            "  --csv PATH            train on a CSV (numbers only); each rank keeps rows\n"
            "                        r, r+P, ...; a PATH with %%d names one file per rank\n"
            "  --points N            two-moons points over all ranks (default 4000)\n"
            "  --batch B             global batch (default 256; each rank computes B/P)\n"
            "  --steps N             training steps (default 3000)\n"
            "  --lr R                Adam's learning rate (default 1e-3)\n"
            "  --ema DECAY           sample from a moving average of the weights (0: off)\n"
            "  --seed N              seed (default 0)\n"
            "  --threads T           BLIS threads per rank (default: cores / ranks)\n"
            "  --samples N           samples drawn by rank 0 (default 2000)\n"
            "  --samples-csv PATH    rank 0 writes them, in data units\n"
            "  --out PATH            rank 0 saves the trained model\n"
            "  --checkpoint PATH     rank 0 saves model and optimizer state every\n"
            "  --checkpoint-every K  K steps (default 1000)\n"
            "  --resume PATH         every rank starts from this checkpoint\n"
            "  --die-at STEP         (testing) rank 1 exits without a word at this step\n"
            "  --quiet               no progress lines\n");
}

static int parse_u64(const char *s, uint64_t *v)
{
    if (!s || !*s)
        return -1;
    char *end;
    unsigned long long u = strtoull(s, &end, 10);
    if (*end || s[0] == '-')
        return -1;
    *v = u;
    return 0;
}

static int parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->steps = 3000;
    o->batch = 256;
    o->samples = 2000;
    o->n_toy = 4000;
    o->lr = 1e-3;
    o->checkpoint_every = 1000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t u;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 1;
        } else if (!strcmp(a, "--exact")) {
            o->exact = 1;
        } else if (!strcmp(a, "--quiet")) {
            o->quiet = 1;
        } else if (!strcmp(a, "--csv") && val) {
            o->csv = val, i++;
        } else if (!strcmp(a, "--out") && val) {
            o->out = val, i++;
        } else if (!strcmp(a, "--checkpoint") && val) {
            o->checkpoint = val, i++;
        } else if (!strcmp(a, "--resume") && val) {
            o->resume = val, i++;
        } else if (!strcmp(a, "--samples-csv") && val) {
            o->samples_csv = val, i++;
        } else if (!strcmp(a, "--points") && !parse_u64(val, &u) && u >= 1 && u <= 100000000) {
            o->n_toy = (size_t)u, i++;
        } else if (!strcmp(a, "--batch") && !parse_u64(val, &u) && u >= 1 && u <= 1000000) {
            o->batch = (size_t)u, i++;
        } else if (!strcmp(a, "--steps") && !parse_u64(val, &u) && u >= 1) {
            o->steps = u, i++;
        } else if (!strcmp(a, "--checkpoint-every") && !parse_u64(val, &u) && u >= 1) {
            o->checkpoint_every = u, i++;
        } else if (!strcmp(a, "--die-at") && !parse_u64(val, &u) && u >= 1) {
            o->die_at = u, i++;
        } else if (!strcmp(a, "--seed") && !parse_u64(val, &u)) {
            o->seed = u, i++;
        } else if (!strcmp(a, "--threads") && !parse_u64(val, &u) && u >= 1 && u <= 1024) {
            o->threads = (size_t)u, i++;
        } else if (!strcmp(a, "--samples") && !parse_u64(val, &u) && u >= 1 && u <= 10000000) {
            o->samples = (size_t)u, i++;
        } else if (!strcmp(a, "--lr") && val && (o->lr = strtod(val, NULL)) > 0.0) {
            i++;
        } else if (!strcmp(a, "--ema") && val && (o->ema = strtod(val, NULL)) >= 0.0 &&
                   o->ema < 1.0) {
            i++;
        } else {
            fprintf(stderr, "mpi_train: bad option or value: %s %s (see --help)\n", a,
                    val ? val : "");
            return -1;
        }
    }
    return 0;
}

/* The reduction the trainer calls twice a step (gradient, then loss): the
 * mean over the ranks of the communicator. */
typedef struct {
    MPI_Comm comm;
    int size;
    double seconds; /* time spent in the reduction (waiting included) */
} reduce_ctx;

static int allreduce_mean(void *user_data, float *buf, size_t n)
{
    reduce_ctx *c = user_data;
    const double t0 = MPI_Wtime();
    for (size_t done = 0; done < n;) { /* MPI counts are int */
        int count = n - done > (size_t)1 << 30 ? 1 << 30 : (int)(n - done);
        if (MPI_Allreduce(MPI_IN_PLACE, buf + done, count, MPI_FLOAT, MPI_SUM, c->comm) !=
            MPI_SUCCESS)
            return -1;
        done += (size_t)count;
    }
    const float inv = 1.0f / (float)c->size; /* exact for 1, 2, 4, … ranks */
    if (c->size > 1)
        for (size_t i = 0; i < n; i++)
            buf[i] *= inv;
    c->seconds += MPI_Wtime() - t0;
    return 0;
}

typedef struct {
    int rank;
    const options *o;
    const sm_net *net;
    const sm_schedule *sched;
    const sm_optim *opt;
    uint64_t first_step; /* steps done before this fit (resume) */
} progress_ctx;

static int on_step(uint64_t step, uint64_t total, double loss, void *user_data)
{
    progress_ctx *p = user_data;
    const options *o = p->o;
    if (o->die_at && step == o->die_at && p->rank == 1)
        _exit(3); /* a crashed rank: the others must not wait for it forever */
    if (p->rank != 0)
        return 0;
    uint64_t done = p->first_step + step;
    if (o->checkpoint && (done % o->checkpoint_every == 0 || step == total)) {
        sm_status st = sm_model_save(o->checkpoint, p->net, p->sched, p->opt);
        if (st) {
            fprintf(stderr, "mpi_train: checkpoint: %s\n", sm_last_error());
            return 1;
        }
    }
    if (!o->quiet && (step % 500 == 0 || step == total))
        fprintf(stderr, "mpi_train: step %llu/%llu loss %.4f\n", (unsigned long long)done,
                (unsigned long long)(p->first_step + total), loss);
    return 0;
}

/* Column means and spreads over all ranks' points, with
 * sm_dataset_standardize()'s floor (0.1 of the overall spread). */
static int global_standardization(const float *x, size_t n, size_t dim, MPI_Comm comm,
                                  float *mean, float *sd)
{
    double *acc = calloc(2 * dim + 1, sizeof(double));
    if (!acc)
        return -1;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < dim; j++) {
            acc[j] += x[i * dim + j];
            acc[dim + j] += (double)x[i * dim + j] * x[i * dim + j];
        }
    acc[2 * dim] = (double)n;
    if (MPI_Allreduce(MPI_IN_PLACE, acc, (int)(2 * dim + 1), MPI_DOUBLE, MPI_SUM, comm) !=
        MPI_SUCCESS) {
        free(acc);
        return -1;
    }
    double total = acc[2 * dim], spread = 0.0;
    for (size_t j = 0; j < dim; j++) {
        double m = acc[j] / total, v = acc[dim + j] / total - m * m;
        mean[j] = (float)m;
        sd[j] = (float)sqrt(v > 0 ? v : 0);
        spread += v > 0 ? v : 0;
    }
    spread = sqrt(spread / (double)dim);
    for (size_t j = 0; j < dim; j++) {
        double floor = 0.1 * spread;
        if (sd[j] < floor)
            sd[j] = (float)floor;
        if (!(sd[j] > 0))
            sd[j] = 1.0f;
    }
    free(acc);
    return 0;
}

/* This rank's points: rows r, r + p, … of the CSV (or its own file). */
static sm_status load_csv_shard(const char *path, int rank, int size, sm_dataset **out)
{
    const char *at = strstr(path, "%d");
    if (at) {
        char own[4096];
        snprintf(own, sizeof own, "%.*s%d%s", (int)(at - path), path, rank, at + 2);
        return sm_dataset_read_csv(out, own);
    }
    sm_dataset *all = NULL;
    sm_status st = sm_dataset_read_csv(&all, path);
    if (st)
        return st;
    const size_t n = sm_dataset_size(all), dim = sm_dataset_dim(all);
    size_t m = n > (size_t)rank ? (n - (size_t)rank + (size_t)size - 1) / (size_t)size : 0;
    float *x = m ? malloc(m * dim * sizeof(float)) : NULL;
    if (m && !x) {
        sm_dataset_free(all);
        return SM_ERR_NOMEM;
    }
    for (size_t k = 0; k < m; k++)
        memcpy(x + k * dim, sm_dataset_row(all, (size_t)rank + k * (size_t)size),
               dim * sizeof(float));
    st = sm_dataset_new(out, x, m, dim); /* m = 0: an error naming the empty shard */
    free(x);
    sm_dataset_free(all);
    return st;
}

#define TRY(call)                                                                    \
    do {                                                                             \
        sm_status st_ = (call);                                                      \
        if (st_ != SM_OK) {                                                          \
            fprintf(stderr, "mpi_train: rank %d: %s: %s\n", rank, sm_strerror(st_), \
                    sm_last_error());                                                \
            goto fail;                                                               \
        }                                                                            \
    } while (0)

int main(int argc, char **argv)
{
    MPI_Init(&argc, &argv);
    /* A failed collective returns an error instead of aborting, so that the
     * trainer can report it; mpirun still ends the job when a rank dies. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int rank = 0, size = 1, rc = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    options o;
    int parsed = parse_args(argc, argv, &o);
    if (parsed) {
        MPI_Finalize();
        return parsed > 0 ? 0 : 2;
    }
    if (!o.threads) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        o.threads = cores > size ? (size_t)(cores / size) : 1;
    }
    const size_t local_batch = o.exact ? o.batch : o.batch / (size_t)size;
    if (local_batch == 0 || (size_t)size > o.batch) {
        if (rank == 0)
            fprintf(stderr, "mpi_train: a global batch of %zu for %d ranks\n", o.batch, size);
        MPI_Finalize();
        return 2;
    }

    sm_rng *data_rng = NULL, *rng = NULL, *init_rng = NULL;
    sm_dataset *data = NULL;
    sm_net *net = NULL, *ema = NULL;
    sm_schedule *sched = NULL;
    sm_optim *opt = NULL;
    sm_trainer *tr = NULL;
    sm_sampler *smp = NULL;
    float *samples = NULL;
    float *mean = NULL, *sd = NULL;

    /* The data: the lab's whole set (--exact), a CSV shard, or this rank's
     * share of two moons from its own stream (jumped `rank` times). */
    TRY(sm_rng_new(&data_rng, 0));
    if (o.exact) {
        TRY(sm_toy_moons(&data, 4000, 0.05, 1, data_rng));
        TRY(sm_dataset_standardize(data));
        mean = malloc(2 * sizeof(float));
        sd = malloc(2 * sizeof(float));
        if (!mean || !sd)
            goto fail;
        TRY(sm_dataset_get_standardization(data, mean, sd, 2));
    } else {
        if (o.csv) {
            TRY(load_csv_shard(o.csv, rank, size, &data));
        } else {
            for (int r = 0; r < rank; r++)
                TRY(sm_rng_jump(data_rng));
            size_t share = o.n_toy * (size_t)(rank + 1) / (size_t)size -
                           o.n_toy * (size_t)rank / (size_t)size;
            TRY(sm_toy_moons(&data, share, 0.05, 1, data_rng));
        }
        const size_t n = sm_dataset_size(data), dim = sm_dataset_dim(data);
        unsigned long dims[2] = {dim, dim};
        MPI_Allreduce(MPI_IN_PLACE, &dims[0], 1, MPI_UNSIGNED_LONG, MPI_MIN, MPI_COMM_WORLD);
        MPI_Allreduce(MPI_IN_PLACE, &dims[1], 1, MPI_UNSIGNED_LONG, MPI_MAX, MPI_COMM_WORLD);
        if (dims[0] != dims[1]) {
            fprintf(stderr, "mpi_train: rank %d: the shards have different widths\n", rank);
            goto fail;
        }
        mean = malloc(dim * sizeof(float));
        sd = malloc(dim * sizeof(float));
        if (!mean || !sd || global_standardization(sm_dataset_data(data), n, dim,
                                                   MPI_COMM_WORLD, mean, sd)) {
            fprintf(stderr, "mpi_train: rank %d: standardization failed\n", rank);
            goto fail;
        }
        float *x = (float *)sm_dataset_data(data);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < dim; j++)
                x[i * dim + j] = (x[i * dim + j] - mean[j]) / sd[j];
    }
    const size_t dim = sm_dataset_dim(data);

    /* The network starts the same on every rank: the same seed, and rank
     * 0's parameters broadcast (or the same checkpoint). */
    uint64_t first_step = 0;
    if (o.resume) {
        TRY(sm_model_load(o.resume, &net, &sched, &opt));
        if (!opt) {
            fprintf(stderr, "mpi_train: %s holds no optimizer state\n", o.resume);
            goto fail;
        }
        first_step = sm_optim_steps(opt);
    } else {
        TRY(sm_rng_new(&init_rng, o.seed));
        sm_net_options nopts = SM_NET_OPTIONS_INIT;
        nopts.dim = dim;
        TRY(sm_net_new_ex(&net, &nopts, init_rng));
        TRY(sm_schedule_new_geometric(&sched, 1.0, 0.01, 10));
        TRY(sm_optim_new_adam(&opt, sm_net_num_params(net), o.lr, 0.9, 0.999, 1e-8, 0.0));
    }
    if (sm_net_dim(net) != dim) {
        fprintf(stderr, "mpi_train: the model has dimension %zu, the data %zu\n",
                sm_net_dim(net), dim);
        goto fail;
    }
    TRY(sm_net_set_normalization(net, mean, sd, dim)); /* the model file keeps it */
    if (MPI_Bcast(sm_net_params(net), (int)sm_net_num_params(net), MPI_FLOAT, 0,
                  MPI_COMM_WORLD) != MPI_SUCCESS)
        goto fail;
    TRY(sm_net_set_threads(net, o.threads));

    /* --exact: the generator that drew the initial weights goes on, as in
     * moons_lab; sharded: each rank its own stream. */
    if (init_rng && o.exact) {
        rng = init_rng;
        init_rng = NULL;
    } else {
        TRY(sm_rng_new(&rng, o.seed ^ (first_step * 0x9E3779B97F4A7C15ull)));
        for (int r = 0; !o.exact && r < rank; r++)
            TRY(sm_rng_jump(rng));
    }

    reduce_ctx red = {MPI_COMM_WORLD, size, 0.0};
    TRY(sm_trainer_new(&tr, net, sched, opt, local_batch));
    TRY(sm_trainer_set_grad_reduce(tr, allreduce_mean, &red));
    if (o.exact)
        TRY(sm_trainer_set_shard(tr, (size_t)rank, (size_t)size));
    if (o.ema > 0) {
        TRY(sm_net_clone(net, &ema));
        TRY(sm_trainer_set_ema(tr, ema, o.ema));
    }
    progress_ctx prog = {rank, &o, net, sched, opt, first_step};
    double final_loss = NAN;
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    TRY(sm_trainer_fit(tr, data, o.steps, rng, on_step, &prog, &final_loss));
    double train_s = MPI_Wtime() - t0;

    if (rank == 0) {
        const sm_net *model = ema ? ema : net;
        if (o.out)
            TRY(sm_model_save(o.out, model, sched, NULL));
        samples = malloc(o.samples * dim * sizeof(float));
        if (!samples)
            goto fail;
        TRY(sm_sampler_new(&smp, (sm_net *)model, sched));
        TRY(sm_sampler_set_steps_per_scale(smp, 20));
        TRY(sm_sampler_set_step_ratio(smp, 0.2));
        TRY(sm_sampler_run(smp, rng, samples, o.samples, dim));
        double coverage = 0, precision = 0;
        size_t nonfinite = 0;
        TRY(sm_metric_coverage_precision(sm_dataset_data(data), sm_dataset_size(data), samples,
                                         o.samples, dim, 0.15, &coverage, &precision,
                                         &nonfinite));
        if (o.samples_csv) {
            TRY(sm_net_to_data_units(model, samples, o.samples, dim));
            TRY(sm_points_write_csv(o.samples_csv, samples, o.samples, dim));
        }
        printf("final_loss=%.4f coverage=%.4f precision=%.4f ranks=%d global_batch=%zu "
               "train_s=%.2f steps_per_s=%.1f reduce_s=%.2f threads_per_rank=%zu\n",
               final_loss, coverage, precision, size, local_batch * (o.exact ? 1 : (size_t)size),
               train_s, (double)o.steps / train_s, red.seconds, o.threads);
    }
    rc = 0;
fail:
    free(samples);
    free(mean);
    free(sd);
    sm_sampler_free(smp);
    sm_trainer_free(tr);
    sm_optim_free(opt);
    sm_schedule_free(sched);
    sm_net_free(ema);
    sm_net_free(net);
    sm_dataset_free(data);
    sm_rng_free(rng);
    sm_rng_free(init_rng);
    sm_rng_free(data_rng);
    if (rc) /* the other ranks may be waiting in a collective */
        MPI_Abort(MPI_COMM_WORLD, rc);
    MPI_Finalize();
    return rc;
}
