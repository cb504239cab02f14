/* Control-loop latency: the time to draw one conditional sample.
 *
 * One point (n = 1) of a 7-dimensional x given a context of 32 features,
 * from an EDM-preconditioned network 41 → 256 → 256 → 256 → 7 (SiLU) with
 * random weights — latency does not depend on what the weights learned —
 * drawn with EDM's Heun sampler on Karras grids (σ 80 → 0.002) of 6 and 18
 * levels: 11 and 35 network evaluations. One thread. Prints the median and
 * minimum time per sample over --repeats samples after a warm-up, the same
 * network's evaluations alone (NFE × sm_net_denoise_cond on one row), and
 * the memory allocations each sm_sampler_run() call makes, counted by
 * wrapping malloc and friends in this program (glibc builds without
 * sanitizers), with the time one allocation of that size and its release
 * take.
 *
 * When /usr/bin/python3 can import torch it also runs
 * bench/torch/latency.py (the same MLP, preconditioning, grid and sampler
 * in PyTorch, one thread, torch.no_grad) and prints its figures and the
 * ratio measured in this run; otherwise only its own figures.
 *
 * usage: bench-latency [--repeats N] [--warmup N] [--no-torch]
 */
#define _GNU_SOURCE 1 /* setenv */
#include <errno.h>
#include <math.h>
#include <malloc.h> /* memalign */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <blis.h>
#include <scorematch.h>

#include "../examples/blis_kernels.h"

#ifndef LATENCY_PY
#define LATENCY_PY "bench/torch/latency.py"
#endif

enum { DIM = 7, CTX = 32, WIDTH = 256, DEPTH = 3 };

/* ---- allocation counting ----------------------------------------------
 * Definitions in the executable take the place of the C library's for the
 * whole process, the shared libscorematch and BLIS included; they forward
 * to glibc's own entry points. Sanitizers bring their own allocator, so
 * those builds count nothing. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define NO_MALLOC_HOOK 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || !defined(__GLIBC__)
#define NO_MALLOC_HOOK 1
#endif

static volatile int counting;
static volatile size_t allocations;

#ifndef NO_MALLOC_HOOK
#define HAVE_MALLOC_HOOK 1
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

void *malloc(size_t n)
{
    if (counting)
        allocations++;
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    if (counting)
        allocations++;
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    if (counting)
        allocations++;
    return __libc_realloc(p, n);
}

void *memalign(size_t align, size_t n)
{
    if (counting)
        allocations++;
    return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n) { return memalign(align, n); }

int posix_memalign(void **out, size_t align, size_t n)
{
    void *p = memalign(align, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}
#else
#define HAVE_MALLOC_HOOK 0
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts t in place; returns its median. */
static double median(double *t, size_t n)
{
    qsort(t, n, sizeof *t, cmp_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

#define CHECK(call)                                                                   \
    do {                                                                              \
        sm_status st_ = (call);                                                       \
        if (st_) {                                                                    \
            fprintf(stderr, "bench-latency: %s: %s\n", sm_strerror(st_), sm_last_error()); \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

typedef struct {
    size_t levels;
    unsigned long long nfe;
    double median_us, min_us, net_us, allocs_per_run, alloc_us;
} result;

static result measure(sm_net *net, const float *ctx, sm_rng *rng, size_t levels, size_t warmup,
                      size_t repeats, double *t)
{
    result r = {.levels = levels};
    sm_schedule *grid = NULL;
    sm_sampler *smp = NULL;
    float x[DIM];
    CHECK(sm_schedule_new_karras(&grid, 80.0, 0.002, levels, 7.0));
    CHECK(sm_sampler_new(&smp, net, grid));
    CHECK(sm_sampler_set_kind(smp, SM_SAMPLER_EDM_HEUN));
    CHECK(sm_sampler_set_context(smp, ctx, 1, CTX));
    for (size_t i = 0; i < warmup; i++)
        CHECK(sm_sampler_run(smp, rng, x, 1, DIM));
    r.nfe = (unsigned long long)sm_sampler_nfe(smp);

    allocations = 0;
    counting = 1;
    for (size_t i = 0; i < repeats; i++) {
        const double t0 = now();
        sm_status st = sm_sampler_run(smp, rng, x, 1, DIM);
        t[i] = now() - t0;
        if (st) {
            counting = 0;
            CHECK(st);
        }
    }
    counting = 0;
    r.allocs_per_run = (double)allocations / (double)repeats;
    r.min_us = 1e6 * t[0];
    for (size_t i = 1; i < repeats; i++)
        r.min_us = 1e6 * t[i] < r.min_us ? 1e6 * t[i] : r.min_us;
    r.median_us = 1e6 * median(t, repeats);

    /* The network alone: the same number of one-row evaluations at the
     * grid's σ values, without the sampler around them. */
    const float sigma = 1.0f;
    float out[DIM];
    for (size_t i = 0; i < repeats; i++) {
        const double t0 = now();
        for (unsigned long long e = 0; e < r.nfe; e++)
            CHECK(sm_net_denoise_cond(net, x, &sigma, ctx, 1, DIM, CTX, out));
        t[i] = now() - t0;
    }
    r.net_us = 1e6 * median(t, repeats);

    /* What the sampler's allocation per run costs: its work arrays for one
     * point are five rows of DIM floats, zeroed, then released. */
    for (size_t i = 0; i < repeats; i++) {
        const double t0 = now();
        for (int k = 0; k < 100; k++) {
            float *volatile p = calloc(5 * DIM, sizeof(float));
            free(p);
        }
        t[i] = (now() - t0) / 100.0;
    }
    r.alloc_us = 1e6 * median(t, repeats);
    sm_sampler_free(smp);
    sm_schedule_free(grid);
    return r;
}

/* The same forward pass for one row made of bare BLIS calls on weights
 * laid out as the library's (fout × fin row-major, read transposed), with
 * the bias and SiLU between: as matrix products of one row (sgemm, what
 * the library calls for any number of rows) or as matrix-vector products
 * (sgemv). Their time is what a pass through the same kernels costs
 * without the library around it; the allocation count is BLIS's own. */
typedef struct {
    float *w[DEPTH + 1], *b[DEPTH + 1];
    size_t fin[DEPTH + 1], fout[DEPTH + 1];
    float act[2][WIDTH];
    rntm_t rntm;
} bare_net;

static void bare_init(bare_net *bn, sm_rng *rng)
{
    rntm_t init = BLIS_RNTM_INITIALIZER;
    bn->rntm = init;
    bli_rntm_set_num_threads(1, &bn->rntm);
    for (size_t l = 0; l <= DEPTH; l++) {
        bn->fin[l] = l ? WIDTH : DIM + 1 + CTX + 1;
        bn->fout[l] = l < DEPTH ? WIDTH : DIM;
        bn->w[l] = malloc(bn->fin[l] * bn->fout[l] * sizeof(float));
        bn->b[l] = malloc(bn->fout[l] * sizeof(float));
        if (!bn->w[l] || !bn->b[l])
            exit(1);
        for (size_t i = 0; i < bn->fin[l] * bn->fout[l]; i++)
            bn->w[l][i] = (float)(sm_rng_normal(rng) / 16.0);
        for (size_t i = 0; i < bn->fout[l]; i++)
            bn->b[l][i] = 0.0f;
    }
    for (size_t i = 0; i < WIDTH; i++)
        bn->act[0][i] = (float)sm_rng_normal(rng);
}

static void bare_free(bare_net *bn)
{
    for (size_t l = 0; l <= DEPTH; l++) {
        free(bn->w[l]);
        free(bn->b[l]);
    }
}

static void bare_forward(bare_net *bn, int gemv)
{
    float one = 1.0f, zero = 0.0f;
    for (size_t l = 0; l <= DEPTH; l++) {
        float *in = bn->act[l % 2], *out = bn->act[(l + 1) % 2];
        const dim_t fin = (dim_t)bn->fin[l], fout = (dim_t)bn->fout[l];
        if (gemv)
            bli_sgemv_ex(BLIS_NO_TRANSPOSE, BLIS_NO_CONJUGATE, fout, fin, &one, bn->w[l], fin, 1,
                         in, 1, &zero, out, 1, NULL, &bn->rntm);
        else
            bli_sgemm_ex(BLIS_NO_TRANSPOSE, BLIS_NO_TRANSPOSE, 1, fout, fin, &one, in, fin, 1,
                         bn->w[l], 1, fin, &zero, out, fout, 1, NULL, &bn->rntm);
        for (dim_t j = 0; j < fout; j++) {
            const float z = out[j] + bn->b[l][j];
            out[j] = l < DEPTH ? z / (1.0f + expf(-z)) : z;
        }
    }
}

/* Median time of nfe bare passes, and the allocations per pass. */
static double bare_measure(bare_net *bn, int gemv, unsigned long long nfe, size_t warmup,
                           size_t repeats, double *t, double *allocs_per_pass)
{
    for (size_t i = 0; i < warmup; i++)
        bare_forward(bn, gemv);
    allocations = 0;
    counting = 1;
    for (size_t i = 0; i < repeats; i++) {
        const double t0 = now();
        for (unsigned long long e = 0; e < nfe; e++)
            bare_forward(bn, gemv);
        t[i] = now() - t0;
    }
    counting = 0;
    *allocs_per_pass = (double)allocations / (double)(repeats * nfe);
    return 1e6 * median(t, repeats);
}

/* Runs the PyTorch script; fills torch_us[i] for levels[i]. Returns the
 * number of figures read (0: no PyTorch or the script failed). */
static size_t run_torch(const size_t *levels, size_t n_levels, size_t warmup, size_t repeats,
                        double *torch_us)
{
    if (system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0)
        return 0;
    char cmd[1024], list[64] = "";
    for (size_t i = 0; i < n_levels; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%zu", i ? "," : "",
                 levels[i]);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 '%s' --levels %s --warmup %zu --repeats %zu",
             LATENCY_PY, list, warmup, repeats);
    FILE *p = popen(cmd, "r");
    if (!p)
        return 0;
    char line[256];
    size_t got = 0;
    while (fgets(line, sizeof line, p)) {
        size_t lv = 0;
        unsigned long long nfe = 0;
        double med = 0, mn = 0;
        if (sscanf(line, "torch levels=%zu nfe=%llu median_us=%lf min_us=%lf", &lv, &nfe, &med,
                   &mn) == 4)
            for (size_t i = 0; i < n_levels; i++)
                if (levels[i] == lv) {
                    torch_us[i] = med;
                    got++;
                }
    }
    return pclose(p) == 0 ? got : 0;
}

int main(int argc, char **argv)
{
    size_t repeats = 2000, warmup = 200;
    int torch = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v && !strcmp(a, "--repeats") && atol(v) > 0)
            repeats = (size_t)atol(v), i++;
        else if (v && !strcmp(a, "--warmup") && atol(v) >= 0)
            warmup = (size_t)atol(v), i++;
        else if (!strcmp(a, "--no-torch"))
            torch = 0;
        else {
            fprintf(stderr, "usage: %s [--repeats N] [--warmup N] [--no-torch]\n", argv[0]);
            return 2;
        }
    }
    choose_blis_kernels();
    setenv("BLIS_NUM_THREADS", "1", 0);

    sm_rng *rng = NULL;
    sm_net *net = NULL;
    CHECK(sm_rng_new(&rng, 0));
    sm_net_options o = SM_NET_OPTIONS_INIT;
    o.dim = DIM;
    o.width = WIDTH;
    o.depth = DEPTH;
    o.parametrization = SM_PARAM_EDM;
    o.sigma_data = 0.5;
    o.context_dim = CTX;
    CHECK(sm_net_new_ex(&net, &o, rng));
    CHECK(sm_net_set_threads(net, 1));
    float ctx[CTX];
    for (size_t j = 0; j < CTX; j++)
        ctx[j] = (float)sm_rng_normal(rng);

    const size_t levels[2] = {6, 18};
    result r[2];
    double *t = malloc(repeats * sizeof *t);
    if (!t)
        return 1;
    for (size_t i = 0; i < 2; i++)
        r[i] = measure(net, ctx, rng, levels[i], warmup, repeats, t);
    bare_net bn;
    bare_init(&bn, rng);
    double gemm_us[2], gemv_us[2], gemm_allocs = 0, gemv_allocs = 0;
    for (size_t i = 0; i < 2; i++) {
        gemm_us[i] = bare_measure(&bn, 0, r[i].nfe, warmup, repeats, t, &gemm_allocs);
        gemv_us[i] = bare_measure(&bn, 1, r[i].nfe, warmup, repeats, t, &gemv_allocs);
    }
    bare_free(&bn);
    double torch_us[2] = {0, 0};
    const size_t have_torch = torch ? run_torch(levels, 2, warmup, repeats, torch_us) : 0;

    printf("one conditional sample: x %d dims, context %d, EDM MLP %d x %d, edm-heun, 1 thread, "
           "median of %zu after %zu warm-up runs\n", DIM, CTX, WIDTH, DEPTH, repeats, warmup);
    for (size_t i = 0; i < 2; i++) {
        printf("levels=%zu nfe=%llu median_us=%.1f min_us=%.1f network_only_us=%.1f "
               "per_nfe_us=%.2f", r[i].levels, r[i].nfe, r[i].median_us, r[i].min_us,
               r[i].net_us, r[i].median_us / (double)r[i].nfe);
        if (HAVE_MALLOC_HOOK)
            printf(" allocations_per_run=%.2f alloc_free_us=%.3f (%.2f%% of the run)",
                   r[i].allocs_per_run, r[i].alloc_us,
                   100.0 * r[i].allocs_per_run * r[i].alloc_us / r[i].median_us);
        else
            printf(" allocations_per_run=n/a (sanitizer or non-glibc build)");
        if (have_torch == 2)
            printf(" torch_median_us=%.1f ratio=%.1f", torch_us[i], torch_us[i] / r[i].median_us);
        printf("\n");
    }
    for (size_t i = 0; i < 2; i++)
        printf("bare BLIS, same passes: nfe=%llu sgemm_1row_us=%.1f sgemv_us=%.1f\n", r[i].nfe,
               gemm_us[i], gemv_us[i]);
    if (HAVE_MALLOC_HOOK)
        printf("bare BLIS allocations per pass: sgemm_1row=%.2f sgemv=%.2f\n", gemm_allocs,
               gemv_allocs);
    if (torch && have_torch != 2)
        printf("PyTorch: not measured (/usr/bin/python3 cannot import torch, or %s failed)\n",
               LATENCY_PY);
    free(t);
    sm_net_free(net);
    sm_rng_free(rng);
    return 0;
}
