/* The Hands-On Lab end to end: two moons, a noise-conditioned score network
 * trained by denoising score matching, annealed Langevin sampling, and
 * coverage/precision against the real points.
 *
 * Defaults are the lab configuration: moons n = 4000, noise 0.05,
 * standardized; MLP 3 → 128 → 128 → 128 → 2 with SiLU; 10 geometric noise
 * levels 1.0 → 0.01; Adam lr 1e-3, batch 256, 3000 steps; 2000 samples,
 * 20 Langevin steps per level, step ratio α/σ² = 0.2 (NCSN's ε = 2e-5; the
 * lab's printed step rule diverges, see scorematch/sampler.h).
 *
 * --param edm switches to the preconditioned path with its own defaults
 * (each can be overridden): EDM preconditioning, log-normal σ in training,
 * batch 1024, Adam 4e-3 with a cosine decay to 0, weights averaged with
 * decay 0.99, and DPM-Solver++(2M) on a 35-level Karras grid from σ = 10 to
 * 0.002 (34 evaluations). σ_max = 10 is ten times the standardized data's
 * spread: EDM's 80 is for images, and on these data the larger top wastes
 * levels where nothing happens (the energy distance is lower with 5–20).
 */
#define _GNU_SOURCE 1 /* setenv */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <scorematch.h>

#include "plot.h"
#include "progress.h"

typedef struct {
    uint64_t seed;
    size_t steps_per_scale;
    int noise;
    size_t threads;
    sm_kernels kernels;
    const char *samples_csv;
    const char *png;
    uint64_t train_steps;
    size_t n_samples;
    double step_ratio;
    double ema; /* 0: off */
    int denoise;
    int quiet;
    int ssm;          /* train with sliced score matching instead of DSM */
    int level_losses; /* print the DSM loss per noise level after training */
    int edm;          /* EDM preconditioning, log-normal sigma, a sampler over D */
    int sampler_set;  /* --sampler given */
    sm_sampler_kind sampler;
    size_t levels;    /* sampling grid of the EDM path (0: 18) */
    double sigma_max; /* its largest sigma (0: 80) */
    double sigma_min; /* its smallest sigma (0: 0.002) */
    double p_mean;    /* EDM: mean of ln sigma in training */
    double lr;        /* Adam's learning rate */
    double p_std;     /* EDM: spread of ln sigma in training */
    size_t batch;     /* training batch */
    uint64_t warmup;  /* learning-rate warm-up steps */
    int lr_decay;     /* cosine decay of the learning rate to 0 at the end
                         (-1: unset, on for --param edm) */
} options;

static void usage(FILE *f, const char *argv0)
{
    fprintf(f,
            "usage: %s [options]\n"
            "Trains a score model on two moons and samples it (the Hands-On Lab).\n\n"
            "  --seed N              model/training/sampling seed (default 0; the data\n"
            "                        set is always make_moons(4000, noise=0.05) with seed 0)\n"
            "  --steps-per-scale K   Langevin steps per noise level (default 20)\n"
            "  --no-noise            drop the Langevin noise term (the collapse experiment)\n"
            "  --threads T           BLIS threads (default: the CPUs it may use)\n"
            "  --kernels K           matrix products on auto (the library's kernels where\n"
            "                        the CPU has them, default) or blis\n"
            "  --samples-csv PATH    write the samples as CSV, x,y per line, no header\n"
            "  --png PATH            scatter plot of real vs generated points%s\n"
            "  --train-steps N       training steps (default 3000)\n"
            "  --samples N           number of samples (default 2000)\n"
            "  --step-ratio R        Langevin step ratio alpha/sigma^2 (default 0.2)\n"
            "  --final-denoise       add the denoising step x += sigma_L^2 s(x, sigma_L)\n"
            "  --ema DECAY           sample from an exponential moving average of the\n"
            "                        weights (e.g. 0.999; 0: off; default off as in the\n"
            "                        lab, 0.99 with --param edm)\n"
            "  --objective dsm|ssm   training loss: denoising (default, the lab's) or\n"
            "                        sliced score matching with variance reduction\n"
            "  --param lab|edm       the lab's network (default) or EDM preconditioning,\n"
            "                        log-normal sigma in training, batch 1024, lr 4e-3\n"
            "                        with cosine decay, EMA 0.99 and DPM-Solver++(2M) on\n"
            "                        a 35-level Karras grid from sigma 10 (34 evaluations);\n"
            "                        prints the energy distance to fresh moons as well\n"
            "  --sampler KIND        langevin, pc, ode-euler, ode-heun, edm-heun,\n"
            "                        edm-stochastic, dpmpp-2m\n"
            "  --levels L            levels of the Karras grid used by the samplers other\n"
            "                        than langevin/pc (default 35 with --param edm, else 18)\n"
            "  --sigma-max S         its largest sigma (default 10 with --param edm, else 80)\n"
            "  --sigma-min S         its smallest sigma (default 0.002)\n"
            "  --p-mean X            EDM: mean of ln sigma in training (default -1.2)\n"
            "  --p-std X             EDM: spread of ln sigma in training (default 1.2)\n"
            "  --batch N             training batch (default 256; 1024 with --param edm)\n"
            "  --lr X                Adam's learning rate (default 1e-3; 4e-3 with\n"
            "                        --param edm)\n"
            "  --warmup N            learning-rate warm-up steps (default 0)\n"
            "  --lr-decay            cosine decay of the learning rate to 0 at the last step\n"
            "                        (default with --param edm; --no-lr-decay turns it off)\n"
            "  --level-losses        after training, print the DSM loss at every noise\n"
            "                        level (lines 'level I sigma S loss L')\n"
            "  --quiet               no progress display\n"
            "  --help                this text\n\n"
            "Prints one line at the end:\n"
            "  final_loss=... coverage=... precision=... train_s=... sample_s=...\n"
            "(coverage and precision at radius 0.15 against the 4000 real points).\n",
            argv0, plot_available() ? "" : " (not built: no cairo)");
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, options *o)
{
    *o = (options){.seed = 0, .steps_per_scale = 20, .noise = 1,
                   .threads = sm_net_default_threads(), .train_steps = 3000,
                   .n_samples = 2000, .step_ratio = 0.2, .p_mean = SM_EDM_P_MEAN,
                   .p_std = SM_EDM_P_STD, .ema = -1, .lr_decay = -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t u;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout, argv[0]);
            exit(0);
        } else if (!strcmp(a, "--no-noise")) {
            o->noise = 0;
        } else if (!strcmp(a, "--final-denoise")) {
            o->denoise = 1;
        } else if (!strcmp(a, "--quiet")) {
            o->quiet = 1;
        } else if (!strcmp(a, "--lr-decay")) {
            o->lr_decay = 1;
        } else if (!strcmp(a, "--no-lr-decay")) {
            o->lr_decay = 0;
        } else if (!strcmp(a, "--level-losses")) {
            o->level_losses = 1;
        } else if (!val) {
            fprintf(stderr, "%s: unknown option or missing value: %s (see --help)\n", argv[0], a);
            return -1;
        } else if (!strcmp(a, "--seed") && !parse_u64(val, &u)) {
            o->seed = u, i++;
        } else if (!strcmp(a, "--steps-per-scale") && !parse_u64(val, &u) && u >= 1) {
            o->steps_per_scale = (size_t)u, i++;
        } else if (!strcmp(a, "--threads") && !parse_u64(val, &u) && u >= 1 && u <= 1024) {
            o->threads = (size_t)u, i++;
        } else if (!strcmp(a, "--kernels") && (!strcmp(val, "auto") || !strcmp(val, "blis"))) {
            o->kernels = strcmp(val, "blis") ? SM_KERNELS_AUTO : SM_KERNELS_BLIS, i++;
        } else if (!strcmp(a, "--train-steps") && !parse_u64(val, &u) && u >= 1) {
            o->train_steps = u, i++;
        } else if (!strcmp(a, "--samples") && !parse_u64(val, &u) && u >= 1) {
            o->n_samples = (size_t)u, i++;
        } else if (!strcmp(a, "--step-ratio")) {
            char *end;
            o->step_ratio = strtod(val, &end);
            if (*end || !(o->step_ratio > 0)) {
                fprintf(stderr, "%s: --step-ratio needs a positive number\n", argv[0]);
                return -1;
            }
            i++;
        } else if (!strcmp(a, "--ema")) {
            char *end;
            o->ema = strtod(val, &end);
            if (*end || !(o->ema >= 0 && o->ema < 1)) {
                fprintf(stderr, "%s: --ema needs a decay in [0, 1) (0: off)\n", argv[0]);
                return -1;
            }
            i++;
        } else if (!strcmp(a, "--param") && val && (!strcmp(val, "lab") || !strcmp(val, "edm"))) {
            o->edm = !strcmp(val, "edm");
            i++;
        } else if (!strcmp(a, "--sampler") && val &&
                   sm_sampler_kind_from_name(val, &o->sampler) == SM_OK) {
            o->sampler_set = 1;
            i++;
        } else if (!strcmp(a, "--levels") && !parse_u64(val, &u) && u >= 2 && u <= 100000) {
            o->levels = (size_t)u;
            i++;
        } else if (!strcmp(a, "--sigma-max") && val && (o->sigma_max = strtod(val, NULL)) > 0.0) {
            i++;
        } else if (!strcmp(a, "--sigma-min") && val && (o->sigma_min = strtod(val, NULL)) > 0.0) {
            i++;
        } else if (!strcmp(a, "--p-mean") && val) {
            o->p_mean = strtod(val, NULL);
            i++;
        } else if (!strcmp(a, "--p-std") && val && (o->p_std = strtod(val, NULL)) > 0.0) {
            i++;
        } else if (!strcmp(a, "--batch") && !parse_u64(val, &u) && u >= 1 && u <= 1000000) {
            o->batch = (size_t)u;
            i++;
        } else if (!strcmp(a, "--lr") && val && (o->lr = strtod(val, NULL)) > 0.0) {
            i++;
        } else if (!strcmp(a, "--warmup") && !parse_u64(val, &u)) {
            o->warmup = u;
            i++;
        } else if (!strcmp(a, "--objective") && (!strcmp(val, "dsm") || !strcmp(val, "ssm"))) {
            o->ssm = !strcmp(val, "ssm"), i++;
        } else if (!strcmp(a, "--samples-csv")) {
            o->samples_csv = val, i++;
        } else if (!strcmp(a, "--png")) {
            o->png = val, i++;
        } else {
            fprintf(stderr, "%s: bad option or value: %s %s (see --help)\n", argv[0], a, val);
            return -1;
        }
    }
    /* What was not given follows the path: the lab's values, or the EDM
     * path's (see the top of this file). */
    if (!o->batch)
        o->batch = o->edm ? 1024 : 256;
    if (!(o->lr > 0))
        o->lr = o->edm ? 4e-3 : 1e-3;
    if (o->lr_decay < 0)
        o->lr_decay = o->edm;
    if (o->ema < 0)
        o->ema = o->edm ? 0.99 : 0.0;
    if (o->edm && !o->sampler_set) {
        o->sampler = SM_SAMPLER_DPMPP_2M;
        o->sampler_set = 1;
        if (!o->levels)
            o->levels = 35;
    }
    if (!(o->sigma_max > 0))
        o->sigma_max = o->edm ? 10.0 : 80.0;
    return 0;
}

#define TRY(call)                                                                     \
    do {                                                                              \
        sm_status st_ = (call);                                                       \
        if (st_ != SM_OK) {                                                           \
            fprintf(stderr, "moons_lab: %s: %s\n", sm_strerror(st_), sm_last_error()); \
            goto fail;                                                                \
        }                                                                             \
    } while (0)

int main(int argc, char **argv)
{
    options o;
    if (parse_args(argc, argv, &o))
        return 2;
    if (!o.quiet)
        fprintf(stderr, "moons_lab: %zu thread%s, kernels %s (BLIS '%s')\n", o.threads,
                o.threads == 1 ? "" : "s",
                o.kernels == SM_KERNELS_BLIS ? "blis" : sm_kernel_config(), sm_blas_config());

    int rc = 1;
    sm_rng *data_rng = NULL, *rng = NULL;
    sm_dataset *data = NULL;
    sm_net *net = NULL, *ema = NULL;
    sm_schedule *sched = NULL, *grid = NULL;
    sm_optim *opt = NULL;
    sm_dataset *fresh = NULL;
    sm_trainer *tr = NULL;
    sm_sampler *smp = NULL;
    float *samples = NULL;

    /* Step 1: the distribution. */
    TRY(sm_rng_new(&data_rng, 0));
    TRY(sm_toy_moons(&data, 4000, 0.05, 1, data_rng));
    TRY(sm_dataset_standardize(data));

    /* Steps 2-4: network, noise ladder, optimizer, training. */
    TRY(sm_rng_new(&rng, o.seed));
    sm_net_options nopts = SM_NET_OPTIONS_INIT;
    nopts.dim = 2;
    nopts.parametrization = o.edm ? SM_PARAM_EDM : SM_PARAM_LAB;
    TRY(sm_net_new_ex(&net, &nopts, rng));
    TRY(sm_net_set_threads(net, o.threads));
    TRY(sm_net_set_kernels(net, o.kernels));
    TRY(sm_schedule_new_geometric(&sched, 1.0, 0.01, 10));
    TRY(sm_optim_new_adam(&opt, sm_net_num_params(net), o.lr, 0.9, 0.999, 1e-8, 0.0));
    TRY(sm_trainer_new(&tr, net, sched, opt, o.batch));
    if (o.edm)
        TRY(sm_trainer_set_sigma_sampling(tr, SM_SIGMA_LOGNORMAL, o.p_mean, o.p_std));
    if (o.warmup || o.lr_decay)
        TRY(sm_trainer_set_lr_schedule(tr, o.warmup, o.lr_decay ? o.train_steps : 0, 0.0));
    if (o.ssm)
        TRY(sm_trainer_set_objective(tr, SM_OBJECTIVE_SSM_VR));
    if (o.ema > 0) {
        TRY(sm_net_clone(net, &ema));
        TRY(sm_trainer_set_ema(tr, ema, o.ema));
    }
    progress prog;
    progress_init(&prog, stderr, 500);
    double final_loss = NAN;
    double t0 = progress_now();
    TRY(sm_trainer_fit(tr, data, o.train_steps, rng, o.quiet ? NULL : progress_train_callback,
                       &prog, &final_loss));
    double train_s = progress_now() - t0;
    if (o.level_losses) {
        /* Which scales were learned: the DSM loss level by level on the
         * data, with fresh noise (its own generator: the samples stay the
         * same with or without this flag). */
        double losses[10];
        sm_rng *eval_rng = NULL;
        TRY(sm_rng_new(&eval_rng, o.seed + 7));
        sm_status st = sm_dsm_loss_per_level(ema ? ema : net, sched, sm_dataset_data(data),
                                             sm_dataset_size(data), 2, eval_rng, losses, 10);
        sm_rng_free(eval_rng);
        TRY(st);
        for (size_t i = 0; i < 10; i++)
            printf("level %zu sigma %.4f loss %.4f\n", i + 1, (double)sm_schedule_sigma(sched, i),
                   losses[i]);
    }

    /* Step 5: annealed Langevin dynamics. */
    samples = malloc(o.n_samples * 2 * sizeof(float));
    if (!samples) {
        fprintf(stderr, "moons_lab: out of memory\n");
        goto fail;
    }
    if (o.edm)
        TRY(sm_schedule_new_karras(&grid, o.sigma_max,
                                   o.sigma_min > 0 ? o.sigma_min : 0.002,
                                   o.levels ? o.levels : 18, 7.0));
    TRY(sm_sampler_new(&smp, ema ? ema : net, grid ? grid : sched));
    if (o.sampler_set)
        TRY(sm_sampler_set_kind(smp, o.sampler));
    TRY(sm_sampler_set_steps_per_scale(smp, o.steps_per_scale));
    TRY(sm_sampler_set_step_ratio(smp, o.step_ratio));
    TRY(sm_sampler_set_noise(smp, o.noise));
    TRY(sm_sampler_set_final_denoise(smp, o.denoise));
    t0 = progress_now();
    TRY(sm_sampler_run(smp, rng, samples, o.n_samples, 2));
    double sample_s = progress_now() - t0;

    /* Step 6: measure. */
    double coverage = 0, precision = 0;
    size_t nonfinite = 0;
    TRY(sm_metric_coverage_precision(sm_dataset_data(data), sm_dataset_size(data), samples,
                                     o.n_samples, 2, 0.15, &coverage, &precision, &nonfinite));

    if (o.samples_csv)
        TRY(sm_points_write_csv(o.samples_csv, samples, o.n_samples, 2));
    if (o.png) {
        plot_series s[2] = {
            {sm_dataset_data(data), sm_dataset_size(data), 0.12, 0.47, 0.71, 0.30, "real"},
            {samples, o.n_samples, 1.00, 0.50, 0.05, 0.45, "generated"},
        };
        char title[160], err[256];
        snprintf(title, sizeof title,
                 "score-based samples vs data (K=%zu%s): coverage %.3f, precision %.3f",
                 o.steps_per_scale, o.noise ? "" : ", no noise", coverage, precision);
        if (plot_scatter_png(o.png, s, 2, title, 720, 640, err, sizeof err)) {
            fprintf(stderr, "moons_lab: %s\n", err);
            goto fail;
        }
    }
    printf("final_loss=%.4f coverage=%.4f precision=%.4f train_s=%.2f sample_s=%.2f "
           "nfe=%llu nonfinite=%zu\n",
           final_loss, coverage, precision, train_s, sample_s,
           (unsigned long long)sm_sampler_nfe(smp), nonfinite);
    if (o.edm || o.sampler_set) {
        /* Against held-out points of the true distribution (fresh moons,
         * put in the training set's units), beside the distance between two
         * such fresh draws: the floor no model can beat at this size. */
        float mean[2], sd[2];
        TRY(sm_dataset_get_standardization(data, mean, sd, 2));
        sm_dataset *fresh2 = NULL;
        double ed = 0, ed_floor = 0;
        sm_rng *ed_rng = NULL;
        TRY(sm_rng_new(&ed_rng, 99));
        sm_status st = sm_toy_moons(&fresh, o.n_samples, 0.05, 1, ed_rng);
        if (!st)
            st = sm_toy_moons(&fresh2, o.n_samples, 0.05, 1, ed_rng);
        if (!st)
            st = sm_dataset_standardize_points(data, (float *)sm_dataset_data(fresh),
                                               o.n_samples, 2);
        if (!st)
            st = sm_dataset_standardize_points(data, (float *)sm_dataset_data(fresh2),
                                               o.n_samples, 2);
        if (!st)
            st = sm_metric_energy_distance(sm_dataset_data(fresh), o.n_samples, samples,
                                           o.n_samples, 2, 0, ed_rng, &ed, NULL);
        if (!st)
            st = sm_metric_energy_distance(sm_dataset_data(fresh), o.n_samples,
                                           sm_dataset_data(fresh2), o.n_samples, 2, 0, ed_rng,
                                           &ed_floor, NULL);
        sm_dataset_free(fresh2);
        sm_rng_free(ed_rng);
        TRY(st);
        printf("energy_distance=%.5f floor=%.5f param=%s sampler=%s\n", ed, ed_floor,
               o.edm ? "edm" : "lab", sm_sampler_kind_name(sm_sampler_get_kind(smp)));
    }
    rc = 0;
fail:
    free(samples);
    sm_sampler_free(smp);
    sm_trainer_free(tr);
    sm_optim_free(opt);
    sm_schedule_free(sched);
    sm_schedule_free(grid);
    sm_dataset_free(fresh);
    sm_net_free(ema);
    sm_net_free(net);
    sm_dataset_free(data);
    sm_rng_free(rng);
    sm_rng_free(data_rng);
    return rc;
}
