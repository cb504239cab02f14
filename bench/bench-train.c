/* Training throughput of the lab configuration against plain BLIS.
 *
 * Times N DSM training steps (batch 256, 2 → 128 → 128 → 128 → 2 net, Adam)
 * and, in the same run, the bare BLIS sgemm calls of the same shapes and
 * strides that one training step makes. Reports steps/s, the achieved
 * GFLOP/s of training (counting only the matrix products) and its ratio to
 * the bare sgemm rate, and at one thread to the library's own kernels
 * (lib/gemm.c) run bare on the same shapes, by wall-clock and by CPU time
 * (the latter holds on a machine where other processes share the core).
 * Training and the bare products alternate in ten rounds, so a change of
 * the machine's load during the run weighs on all of them alike.
 *
 * The shapes default to the lab's; --dim/--width/--depth/--batch and
 * --param edm give others (e.g. the digits model: --dim 64 --width 512
 * --param edm), so the bare sgemm rate is the ceiling that any program
 * multiplying through the same BLIS kernels can reach on that model.
 *
 * usage: bench-train [--threads T] [--steps N] [--dim D] [--width W]
 *                    [--depth L] [--batch B] [--param lab|edm]
 */
#define _GNU_SOURCE 1 /* setenv */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <blis.h>
#include <scorematch.h>

#include "../examples/blis_kernels.h"
#include "blas-private.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of this process: at one thread it is what the work cost even
 * when other processes share the core. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#define CHECK(call)                                                                   \
    do {                                                                              \
        sm_status st_ = (call);                                                       \
        if (st_) {                                                                    \
            fprintf(stderr, "%s: %s\n", sm_strerror(st_), sm_last_error());          \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

typedef struct {
    dim_t m, n, k;
    inc_t rsa, csa, rsb, csb, rsc, csc;
} shape;

int main(int argc, char **argv)
{
    int threads = 1, steps = 3000, edm = 0;
    long dim = 2, width = 128, layers = 3, batch_arg = 256;
    choose_blis_kernels();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v && !strcmp(a, "--threads"))
            threads = atoi(v);
        else if (v && !strcmp(a, "--steps"))
            steps = atoi(v);
        else if (v && !strcmp(a, "--dim"))
            dim = atol(v);
        else if (v && !strcmp(a, "--width"))
            width = atol(v);
        else if (v && !strcmp(a, "--depth"))
            layers = atol(v);
        else if (v && !strcmp(a, "--batch"))
            batch_arg = atol(v);
        else if (v && !strcmp(a, "--param") && (!strcmp(v, "lab") || !strcmp(v, "edm")))
            edm = !strcmp(v, "edm");
        else {
            fprintf(stderr, "usage: %s [--threads T] [--steps N] [--dim D] [--width W] "
                            "[--depth L] [--batch B] [--param lab|edm]\n", argv[0]);
            return 2;
        }
        i++;
    }
    if (threads < 1 || steps < 1 || dim < 1 || width < 1 || layers < 1 || batch_arg < 1)
        return 2;
    const size_t d = (size_t)dim, w = (size_t)width, depth = (size_t)layers,
                 batch = (size_t)batch_arg, n_data = 4000;

    sm_rng *rng;
    sm_net *net;
    sm_schedule *sched;
    sm_optim *opt;
    sm_trainer *tr;
    sm_dataset *ds;
    float *x = malloc(n_data * d * sizeof(float));
    CHECK(sm_rng_new(&rng, 0));
    CHECK(sm_rng_fill_normal(rng, x, n_data * d, 0, 1));
    CHECK(sm_dataset_new(&ds, x, n_data, d));
    sm_net_options nopts = SM_NET_OPTIONS_INIT;
    nopts.dim = d;
    nopts.width = w;
    nopts.depth = depth;
    nopts.parametrization = edm ? SM_PARAM_EDM : SM_PARAM_LAB;
    CHECK(sm_net_new_ex(&net, &nopts, rng));
    CHECK(sm_net_set_threads(net, (size_t)threads));
    CHECK(sm_schedule_new_geometric(&sched, 1.0, 0.01, 10));
    CHECK(sm_optim_new_adam(&opt, sm_net_num_params(net), 1e-3, 0.9, 0.999, 1e-8, 0));
    CHECK(sm_trainer_new(&tr, net, sched, opt, batch));
    if (edm) /* the digits example's σ sampling (its σ_data is measured by fit) */
        CHECK(sm_trainer_set_sigma_sampling(tr, SM_SIGMA_LOGNORMAL, SM_EDM_P_MEAN, SM_EDM_P_STD));

    /* The products of one step, exactly as the network issues them. */
    shape sh[16];
    int ns = 0;
    double flop_step = 0;
    for (size_t l = 0; l <= depth; l++) {
        dim_t fin = l == 0 ? (dim_t)d + 1 : (dim_t)w, fout = l == depth ? (dim_t)d : (dim_t)w;
        sh[ns++] = (shape){(dim_t)batch, fout, fin, fin, 1, 1, fin, fout, 1};  /* forward */
        sh[ns++] = (shape){fout, fin, (dim_t)batch, 1, fout, fin, 1, fin, 1};  /* dW */
        flop_step += 4.0 * (double)batch * (double)fin * (double)fout;
        if (l > 0) {
            sh[ns++] = (shape){(dim_t)batch, fin, fout, fout, 1, fin, 1, fin, 1}; /* dh */
            flop_step += 2.0 * (double)batch * (double)fin * (double)fout;
        }
    }

    /* Operands of the bare products: three buffers large enough for any of
     * them, shared by all products (they stay in cache), and, for the own
     * kernels a second time, every operand of every product in its own
     * buffer, as the network's layers have them. */
    size_t big = batch * w > w * w ? batch * w : w * w;
    if (batch * (d + 1) > big)
        big = batch * (d + 1);
    float *a = calloc(big, sizeof(float)), *b = calloc(big, sizeof(float)),
          *c = calloc(big, sizeof(float));
    float *ops[16][3];
    for (int s = 0; s < ns; s++) {
        const size_t m = (size_t)sh[s].m, n = (size_t)sh[s].n, k = (size_t)sh[s].k;
        ops[s][0] = malloc(m * k * sizeof(float));
        ops[s][1] = malloc(k * n * sizeof(float));
        ops[s][2] = calloc(m * n, sizeof(float));
        if (!a || !b || !c || !ops[s][0] || !ops[s][1] || !ops[s][2])
            return 1;
        for (size_t i = 0; i < m * k; i++)
            ops[s][0][i] = 0.01f * (float)(i % 97);
        for (size_t i = 0; i < k * n; i++)
            ops[s][1][i] = 0.01f * (float)(i % 89);
    }
    for (size_t i = 0; i < big; i++)
        a[i] = b[i] = 0.01f * (float)(i % 97);
    rntm_t rntm = BLIS_RNTM_INITIALIZER;
    bli_rntm_set_num_threads(threads, &rntm);
    float one = 1.0f;
    /* The library's own kernels run bare at one thread only: the library
     * splits rows between threads above them. */
    sm__blas *own = threads == 1 ? sm__blas_new(1) : NULL;

    /* The four timed parts alternate in ROUNDS rounds of steps/ROUNDS steps
     * each, after a warm-up round of each, so that a change in the machine's
     * load during the run falls on all of them alike. */
    enum { ROUNDS = 10 };
    double t_train = 0, c_train = 0, t_blas = 0, t_own = 0, c_own = 0, t_own_sep = 0,
           c_own_sep = 0, loss = 0;
    for (int round = -1; round < ROUNDS; round++) {
        const int reps = round < 0 ? 50 : steps / ROUNDS + (round < steps % ROUNDS);
        double t0 = now(), c0 = cpu_now();
        CHECK(sm_trainer_fit(tr, ds, (uint64_t)reps, rng, NULL, NULL, &loss));
        if (round >= 0) {
            t_train += now() - t0;
            c_train += cpu_now() - c0;
        }
        t0 = now();
        for (int rep = 0; rep < reps; rep++)
            for (int s = 0; s < ns; s++)
                bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, sh[s].m, sh[s].n, sh[s].k,
                             &one, a, sh[s].rsa, sh[s].csa, b, sh[s].rsb, sh[s].csb, &one, c,
                             sh[s].rsc, sh[s].csc, NULL, &rntm);
        if (round >= 0)
            t_blas += now() - t0;
        if (!own)
            continue;
        t0 = now();
        c0 = cpu_now();
        for (int rep = 0; rep < reps; rep++)
            for (int s = 0; s < ns; s++)
                sm__sgemm(own, (size_t)sh[s].m, (size_t)sh[s].n, (size_t)sh[s].k, 1.0f, a,
                          sh[s].rsa, sh[s].csa, b, sh[s].rsb, sh[s].csb, 1.0f, c, sh[s].rsc,
                          sh[s].csc);
        if (round >= 0) {
            t_own += now() - t0;
            c_own += cpu_now() - c0;
        }
        t0 = now();
        c0 = cpu_now();
        for (int rep = 0; rep < reps; rep++)
            for (int s = 0; s < ns; s++)
                sm__sgemm(own, (size_t)sh[s].m, (size_t)sh[s].n, (size_t)sh[s].k, 1.0f,
                          ops[s][0], sh[s].rsa, sh[s].csa, ops[s][1], sh[s].rsb, sh[s].csb,
                          1.0f, ops[s][2], sh[s].rsc, sh[s].csc);
        if (round >= 0) {
            t_own_sep += now() - t0;
            c_own_sep += cpu_now() - c0;
        }
    }
    for (int s = 0; s < ns; s++)
        for (int q = 0; q < 3; q++)
            free(ops[s][q]);

    double gf_train = flop_step * steps / t_train * 1e-9;
    double gf_blas = flop_step * steps / t_blas * 1e-9;
    printf("threads=%d steps=%d batch=%zu net=%zu->%zux%zu->%zu param=%s blis=%s kernels=%s\n",
           threads, steps, batch, d + 1, w, depth, d, edm ? "edm" : "lab", sm_blas_config(),
           sm_net_kernels(net));
    printf("train: %.3f s, %.0f steps/s, %.1f GFLOP/s (products only, %.1f MFLOP/step), loss %.4f\n",
           t_train, steps / t_train, gf_train, flop_step * 1e-6, loss);
    printf("bare BLIS sgemm, same shapes: %.3f s, %.1f GFLOP/s\n", t_blas, gf_blas);
    if (own) {
        double gf_own = flop_step * steps / t_own * 1e-9;
        printf("bare %s kernels, same shapes: %.3f s, %.1f GFLOP/s\n", sm__blas_kernels(own),
               t_own, gf_own);
        printf("ratio train/own kernels = %.2f (CPU time: train %.3f s, kernels %.3f s, "
               "ratio %.2f)\n",
               gf_train / gf_own, c_train, c_own, c_own / c_train);
        printf("bare %s kernels, an own buffer per operand: %.3f s (CPU %.3f s), "
               "ratio train/these = %.2f (CPU time %.2f)\n",
               sm__blas_kernels(own), t_own_sep, c_own_sep, t_own_sep / t_train,
               c_own_sep / c_train);
        sm__blas_free(own);
    }
    printf("ratio train/BLIS = %.2f\n", gf_train / gf_blas);
    free(a);
    free(b);
    free(c);
    free(x);
    sm_trainer_free(tr);
    sm_optim_free(opt);
    sm_schedule_free(sched);
    sm_net_free(net);
    sm_dataset_free(ds);
    sm_rng_free(rng);
    return 0;
}
