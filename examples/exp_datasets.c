/* Harder distributions: the lab's model and training on circles, three
 * blobs, eight Gaussians, a pinwheel, a checkerboard and two spirals (two
 * moons as the reference). Prints coverage, precision, energy distance and
 * per-mode coverage for each, and draws real vs generated per data set. */
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

#define PROG "exp_datasets"
#define N_DATA 4000
#define N_SAMPLES 2000
#define MAX_MODES 16

static const char *const names[] = {"moons",   "circles",      "blobs",   "8gaussians",
                                    "pinwheel", "checkerboard", "spirals"};
#define N_SETS (sizeof names / sizeof names[0])

static sm_status make_data(size_t which, sm_rng *rng, sm_dataset **out)
{
    static const float centres[6] = {-6, 0, 6, 0, 0, 8};
    switch (which) {
    case 0: return sm_toy_moons(out, N_DATA, 0.05, 1, rng);
    case 1: return sm_toy_circles(out, N_DATA, 0.05, 0.5, 1, rng);
    case 2: return sm_toy_blobs(out, N_DATA, 2, centres, 3, 1.0, 1, rng);
    case 3: return sm_toy_eight_gaussians(out, N_DATA, 2 * sqrt(2.0), 0.5 / sqrt(2.0), 1, rng);
    case 4: return sm_toy_pinwheel(out, N_DATA, 5, 0.3, 0.1, 0.25, 1, rng);
    case 5: return sm_toy_checkerboard(out, N_DATA, 1, rng);
    default: return sm_toy_spirals(out, N_DATA, 0.1, 1, rng);
    }
}

static void usage(FILE *f, const char *argv0)
{
    fprintf(f,
            "usage: %s [options]\n"
            "Trains the lab model (MLP 128 x 3, 10 geometric levels down to 0.01, Adam\n"
            "1e-3, batch 256) on seven standardized toy sets of 4000 points, samples\n"
            "2000 points (K = 20, ratio 0.2) and prints coverage@0.15, precision@0.15,\n"
            "energy distance and the smallest per-mode coverage.\n\n"
            "  --train-steps N   training steps per data set (default 3000)\n"
            "  --threads T       BLIS threads (default: the CPUs it may use)\n"
            "  --seed N          model/training/sampling seed (default 0)\n"
            "  --sigma-max S     largest noise level: a number, or 'suggest' for\n"
            "                    sm_schedule_suggest_sigma_max() (default 1.0)\n"
            "  --only NAME       one data set: moons, circles, blobs, 8gaussians,\n"
            "                    pinwheel, checkerboard, spirals\n"
            "  --png-dir DIR     write DIR/NAME.png, real vs generated%s\n"
            "  --help            this text\n",
            argv0, plot_available() ? "" : " (not built: no cairo)");
}

typedef struct {
    const char *png_dir, *only;
    double sigma_max; /* 0: suggest */
} options;

/* --png-dir DIR, --only NAME, --sigma-max X|suggest. */
static int own_flag(void *ctx, const char *a, const char *val)
{
    options *o = ctx;
    if (!val)
        return -1;
    if (!strcmp(a, "--png-dir")) {
        o->png_dir = val;
    } else if (!strcmp(a, "--only")) {
        o->only = val;
        size_t j = 0;
        while (j < N_SETS && strcmp(names[j], val))
            j++;
        if (j == N_SETS) {
            fprintf(stderr, "%s: unknown data set '%s' (see --help)\n", PROG, val);
            return -2;
        }
    } else if (!strcmp(a, "--sigma-max")) {
        char *end;
        o->sigma_max = strcmp(val, "suggest") ? strtod(val, &end) : 0;
        if (strcmp(val, "suggest") && (*end || !(o->sigma_max > 0.01) || !isfinite(o->sigma_max))) {
            fprintf(stderr, "%s: --sigma-max needs 'suggest' or a number > 0.01\n", PROG);
            return -2;
        }
    } else {
        return -1;
    }
    return 1;
}

int main(int argc, char **argv)
{
    uint64_t seed = 0, train_steps = 3000;
    size_t threads = exp_default_threads();
    options o = {.sigma_max = 1.0};
    int status = exp_parse_args(argc, argv, PROG, usage, own_flag, &o, &seed, &threads,
                                &train_steps);
    if (status >= 0)
        return status;
    const char *png_dir = o.png_dir, *only = o.only;
    const double sigma_max = o.sigma_max;

    int rc = 1;
    sm_rng *data_rng = NULL, *rng = NULL, *metric_rng = NULL;
    sm_dataset *data = NULL;
    sm_net *net = NULL;
    sm_schedule *sched = NULL;
    sm_sampler *smp = NULL;
    float *samples = malloc(N_SAMPLES * 2 * sizeof *samples);
    if (!samples) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        return 1;
    }
    EXP_TRY(PROG, sm_rng_new(&data_rng, 0));
    EXP_TRY(PROG, sm_rng_new(&rng, seed));
    EXP_TRY(PROG, sm_rng_new(&metric_rng, seed + 1000));
    fprintf(stderr, "%s: %zu thread%s, BLIS kernels '%s'\n", PROG, threads,
            threads == 1 ? "" : "s", sm_blas_config());
    printf("%-13s %5s %7s %8s %9s %10s %9s %9s  %s\n", "dataset", "modes", "sigma1", "train_s",
           "coverage", "precision", "energy", "min_mode", "per-mode coverage");
    for (size_t w = 0; w < N_SETS; w++) {
        if (only && strcmp(only, names[w]))
            continue;
        EXP_TRY(PROG, sm_rng_reseed(data_rng, 0));
        EXP_TRY(PROG, make_data(w, data_rng, &data));
        EXP_TRY(PROG, sm_dataset_standardize(data));
        double s1 = sigma_max;
        if (s1 == 0)
            EXP_TRY(PROG, sm_schedule_suggest_sigma_max(data, data_rng, &s1));
        double final_loss = NAN, train_s = 0;
        EXP_TRY(PROG, exp_train(data, s1, train_steps, threads, rng, isatty(2), &net, &sched,
                                &final_loss, &train_s));
        EXP_TRY(PROG, sm_sampler_new(&smp, net, sched));
        EXP_TRY(PROG, sm_sampler_run(smp, rng, samples, N_SAMPLES, 2));
        const float *real = sm_dataset_data(data);
        size_t n_real = sm_dataset_size(data), modes = sm_dataset_num_labels(data);
        double cov = 0, prec = 0, energy = 0, per_mode[MAX_MODES], min_mode = 1;
        size_t nonfinite = 0;
        if (modes == 0 || modes > MAX_MODES) {
            fprintf(stderr, "%s: %s: unexpected number of modes %zu\n", PROG, names[w], modes);
            goto fail;
        }
        EXP_TRY(PROG, sm_metric_coverage_precision(real, n_real, samples, N_SAMPLES, 2, 0.15,
                                                   &cov, &prec, &nonfinite));
        EXP_TRY(PROG, sm_metric_energy_distance(real, n_real, samples, N_SAMPLES, 2, 2000,
                                                metric_rng, &energy, NULL));
        EXP_TRY(PROG, sm_metric_per_mode_coverage(real, sm_dataset_labels(data), n_real, samples,
                                                  N_SAMPLES, 2, 0.15, per_mode, modes, NULL));
        char modes_txt[MAX_MODES * 7 + 1] = "";
        for (size_t m = 0; m < modes; m++) {
            min_mode = fmin(min_mode, per_mode[m]);
            size_t len = strlen(modes_txt);
            snprintf(modes_txt + len, sizeof modes_txt - len, "%s%.2f", m ? " " : "",
                     per_mode[m]);
        }
        printf("%-13s %5zu %7.3f %8.2f %9.4f %10.4f %9.5f %9.4f  %s%s\n", names[w], modes, s1,
               train_s, cov, prec, energy, min_mode, modes_txt,
               nonfinite ? "  (non-finite samples!)" : "");
        fflush(stdout);
        if (png_dir) {
            char path[4096], title[160], err[256];
            snprintf(path, sizeof path, "%s/%s.png", png_dir, names[w]);
            snprintf(title, sizeof title, "%s: coverage %.3f, precision %.3f, min mode %.2f",
                     names[w], cov, prec, min_mode);
            plot_series s[2] = {
                {real, n_real, 0.12, 0.47, 0.71, 0.30, "real"},
                {samples, N_SAMPLES, 1.00, 0.50, 0.05, 0.45, "generated"},
            };
            if (plot_scatter_png(path, s, 2, title, 560, 480, err, sizeof err)) {
                fprintf(stderr, "%s: %s\n", PROG, err);
                goto fail;
            }
        }
        sm_sampler_free(smp);
        sm_schedule_free(sched);
        sm_net_free(net);
        sm_dataset_free(data);
        smp = NULL, sched = NULL, net = NULL, data = NULL;
    }
    rc = 0;
fail:
    free(samples);
    sm_sampler_free(smp);
    sm_schedule_free(sched);
    sm_net_free(net);
    sm_dataset_free(data);
    sm_rng_free(metric_rng);
    sm_rng_free(rng);
    sm_rng_free(data_rng);
    return rc;
}
