/* The learned score field: s_θ(x, σ) of the lab model on two moons at
 * σ = 1.0, 0.3, 0.1, 0.03, drawn as a grid of arrows over the data, and the
 * annealed Langevin trajectories of a few samples, recorded level by level
 * through sm_sampler_set_callback(), drawn as polylines. */
#define _GNU_SOURCE 1 /* setenv, pthread_barrier_t in blis.h */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <scorematch.h>

#include "exp_common.h"
#include "plot.h"
#include "progress.h"

#define PROG "exp_field"
#define LO (-2.4)
#define HI 2.4
#define N_SHOWN 1500 /* data points drawn (the set is shuffled): smaller PNGs */

static const float sigmas[] = {1.0f, 0.3f, 0.1f, 0.03f};
#define N_SIG (sizeof sigmas / sizeof sigmas[0])

static void usage(FILE *f, const char *argv0)
{
    fprintf(f,
            "usage: %s [options]\n"
            "Trains the lab model on two moons, prints the score field's statistics\n"
            "at sigma = 1.0, 0.3, 0.1, 0.03 and follows Langevin trajectories.\n\n"
            "  --seed N          model/training/sampling seed (default 0)\n"
            "  --threads T       BLIS threads (default: the CPUs it may use)\n"
            "  --train-steps N   training steps (default 3000)\n"
            "  --grid N          arrows per side (default 21)\n"
            "  --paths N         trajectories to follow (default 20)\n"
            "  --png-dir DIR     write DIR/field_sigma_<s>.png and DIR/trajectories.png%s\n"
            "  --help            this text\n",
            argv0, plot_available() ? "" : " (not built: no cairo)");
}

typedef struct {
    float *path; /* n_paths × (levels + 1) × 2 */
    size_t n_paths, n_pts;
} recorder;

static int record_level(size_t level, size_t levels, float sigma, const float *x, size_t n,
                        size_t dim, void *user_data)
{
    (void)sigma;
    recorder *r = user_data;
    if (level >= levels) /* the final denoising call, if enabled */
        return 0;
    for (size_t p = 0; p < n && p < r->n_paths; p++)
        for (size_t j = 0; j < dim && j < 2; j++)
            r->path[(p * r->n_pts + level + 1) * 2 + j] = x[p * dim + j];
    return 0;
}

typedef struct {
    uint64_t grid, n_paths;
    const char *png_dir;
} options;

/* --grid N, --paths N, --png-dir DIR. */
static int own_flag(void *ctx, const char *a, const char *val)
{
    options *o = ctx;
    uint64_t u;
    if (!val)
        return -1;
    if (!strcmp(a, "--grid") && !exp_parse_u64(val, &u) && u >= 2 && u <= 200)
        o->grid = u;
    else if (!strcmp(a, "--paths") && !exp_parse_u64(val, &u) && u >= 1 && u <= 10000)
        o->n_paths = u;
    else if (!strcmp(a, "--png-dir"))
        o->png_dir = val;
    else
        return -1;
    return 1;
}

int main(int argc, char **argv)
{
    uint64_t seed = 0, train_steps = 3000;
    size_t threads = exp_default_threads();
    options o = {.grid = 21, .n_paths = 20};
    int status = exp_parse_args(argc, argv, PROG, usage, own_flag, &o, &seed, &threads,
                                &train_steps);
    if (status >= 0)
        return status;
    const uint64_t grid = o.grid, n_paths = o.n_paths;
    const char *png_dir = o.png_dir;

    int rc = 1;
    sm_rng *data_rng = NULL, *rng = NULL;
    sm_dataset *data = NULL;
    sm_net *net = NULL;
    sm_schedule *sched = NULL;
    sm_sampler *smp = NULL;
    size_t ng = (size_t)grid * (size_t)grid, n_data = 4000;
    float *gxy = malloc(ng * 2 * sizeof *gxy), *gs = malloc(ng * 2 * sizeof *gs);
    float *noisy = malloc(n_data * 2 * sizeof *noisy), *z = malloc(n_data * 2 * sizeof *z);
    float *ds = malloc(n_data * 2 * sizeof *ds);
    recorder rec = {NULL, (size_t)n_paths, 0};
    float *x = malloc(rec.n_paths * 2 * sizeof *x);
    if (!gxy || !gs || !noisy || !z || !ds || !x) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        goto fail;
    }
    EXP_TRY(PROG, sm_rng_new(&data_rng, 0));
    EXP_TRY(PROG, sm_toy_moons(&data, n_data, 0.05, 1, data_rng));
    EXP_TRY(PROG, sm_dataset_standardize(data));
    EXP_TRY(PROG, sm_rng_new(&rng, seed));
    double final_loss = NAN, train_s = 0;
    EXP_TRY(PROG, exp_train(data, 1.0, train_steps, threads, rng, isatty(2), &net, &sched,
                            &final_loss, &train_s));
    fprintf(stderr, "%s: trained %llu steps in %.2f s (final loss %.4f)\n", PROG,
            (unsigned long long)train_steps, train_s, final_loss);
    const float *real = sm_dataset_data(data);

    double cell = (HI - LO) / (double)(grid - 1);
    for (size_t i = 0; i < grid; i++)
        for (size_t j = 0; j < grid; j++) {
            gxy[(i * grid + j) * 2] = (float)(LO + cell * (double)j);
            gxy[(i * grid + j) * 2 + 1] = (float)(LO + cell * (double)i);
        }

    /* Per σ: the field's size on the grid and on the data, and the
     * denoising error E|σ s(x + σz, σ) + z|² / d (the DSM loss per
     * coordinate; 1 for the zero field). */
    printf("%6s %12s %12s %14s %10s\n", "sigma", "mean|s|grid", "mean|s|data", "sigma*|s|data",
           "dsm_loss");
    for (size_t k = 0; k < N_SIG; k++) {
        float sg = sigmas[k];
        EXP_TRY(PROG, sm_net_forward_sigma(net, gxy, sg, ng, 2, gs));
        double sum_grid = 0, max_norm = 0;
        for (size_t i = 0; i < ng; i++) {
            double nrm = hypot(gs[2 * i], gs[2 * i + 1]);
            sum_grid += nrm;
            max_norm = fmax(max_norm, nrm);
        }
        EXP_TRY(PROG, sm_rng_fill_normal(rng, z, n_data * 2, 0, 1));
        for (size_t i = 0; i < n_data * 2; i++)
            noisy[i] = real[i] + sg * z[i];
        EXP_TRY(PROG, sm_net_forward_sigma(net, noisy, sg, n_data, 2, ds));
        double sum_data = 0, loss = 0;
        for (size_t i = 0; i < n_data; i++) {
            sum_data += hypot(ds[2 * i], ds[2 * i + 1]);
            for (size_t j = 0; j < 2; j++) {
                double e = sg * ds[2 * i + j] + z[2 * i + j];
                loss += e * e;
            }
        }
        printf("%6.2f %12.3f %12.3f %14.3f %10.4f\n", sg, sum_grid / (double)ng,
               sum_data / (double)n_data, sg * sum_data / (double)n_data,
               loss / (double)(n_data * 2));
        if (png_dir) {
            /* Arrows: the direction of s, length 0.9 cell × sqrt(|s| / max|s|). */
            for (size_t i = 0; i < ng; i++) {
                double nrm = hypot(gs[2 * i], gs[2 * i + 1]);
                double len = nrm > 0 ? 0.9 * cell * sqrt(nrm / max_norm) / nrm : 0;
                gs[2 * i] = (float)(gs[2 * i] * len);
                gs[2 * i + 1] = (float)(gs[2 * i + 1] * len);
            }
            plot_series s = {real, N_SHOWN, 0.12, 0.47, 0.71, 0.35, "data"};
            plot_arrows arr = {gxy, gs, ng, 0.75, 0.15, 0.1, 0.9};
            char path[4096], title[160], err[256];
            snprintf(path, sizeof path, "%s/field_sigma_%g.png", png_dir, sg);
            snprintf(title, sizeof title, "score s(x, sigma=%g), max |s| on grid %.3g", sg,
                     max_norm);
            if (plot_field_png(path, &s, 1, &arr, NULL, title, 560, 560, err, sizeof err)) {
                fprintf(stderr, "%s: %s\n", PROG, err);
                goto fail;
            }
        }
    }

    /* Trajectories: start from N(0, I), record after every level. */
    size_t levels = sm_schedule_levels(sched);
    rec.n_pts = levels + 1;
    rec.path = malloc(rec.n_paths * rec.n_pts * 2 * sizeof *rec.path);
    if (!rec.path) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        goto fail;
    }
    EXP_TRY(PROG, sm_rng_fill_normal(rng, x, rec.n_paths * 2, 0, 1));
    for (size_t p = 0; p < rec.n_paths; p++)
        for (size_t j = 0; j < 2; j++)
            rec.path[(p * rec.n_pts) * 2 + j] = x[p * 2 + j];
    EXP_TRY(PROG, sm_sampler_new(&smp, net, sched));
    EXP_TRY(PROG, sm_sampler_set_callback(smp, record_level, &rec));
    EXP_TRY(PROG, sm_sampler_run_from(smp, rng, x, rec.n_paths, 2));

    /* How far the walkers are from the data after each level. */
    printf("\n%5s %7s %16s %14s\n", "level", "sigma", "precision@0.15", "mean_step");
    float *lv = malloc(rec.n_paths * 2 * sizeof *lv);
    if (!lv) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        goto fail;
    }
    for (size_t l = 1; l <= levels; l++) {
        double step = 0, prec = 0;
        for (size_t p = 0; p < rec.n_paths; p++) {
            const float *q = rec.path + (p * rec.n_pts + l) * 2;
            lv[2 * p] = q[0], lv[2 * p + 1] = q[1];
            step += hypot(q[0] - q[-2], q[1] - q[-1]);
        }
        sm_status st = sm_metric_precision(real, n_data, lv, rec.n_paths, 2, 0.15, &prec, NULL);
        if (st != SM_OK) {
            fprintf(stderr, "%s: %s: %s\n", PROG, sm_strerror(st), sm_last_error());
            free(lv);
            goto fail;
        }
        printf("%5zu %7.4f %16.3f %14.4f\n", l - 1, sm_schedule_sigma(sched, l - 1), prec,
               step / (double)rec.n_paths);
    }
    free(lv);
    if (png_dir) {
        plot_series s[2] = {
            {real, N_SHOWN, 0.12, 0.47, 0.71, 0.35, "data"},
            {x, rec.n_paths, 0.1, 0.1, 0.1, 1.0, "final samples"},
        };
        plot_paths paths = {rec.path, rec.n_paths, rec.n_pts, -1, 0, 0, 0.75};
        char path[4096], title[160], err[256];
        snprintf(path, sizeof path, "%s/trajectories.png", png_dir);
        snprintf(title, sizeof title, "%zu Langevin trajectories, one point per level",
                 rec.n_paths);
        if (plot_field_png(path, s, 2, NULL, &paths, title, 560, 560, err, sizeof err)) {
            fprintf(stderr, "%s: %s\n", PROG, err);
            goto fail;
        }
    }
    rc = 0;
fail:
    free(rec.path);
    free(x);
    free(gxy);
    free(gs);
    free(noisy);
    free(z);
    free(ds);
    sm_sampler_free(smp);
    sm_schedule_free(sched);
    sm_net_free(net);
    sm_dataset_free(data);
    sm_rng_free(rng);
    sm_rng_free(data_rng);
    return rc;
}
