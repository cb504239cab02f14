/* Class-conditional digits: one EDM network learns the 8×8 digits given
 * their class (context = one-hot label, width 10) and, through condition
 * dropout, without it; classifier-free guidance of weight w then draws
 * digits of a chosen class.
 *
 * Data, split, normalization, network body, training and sampler are those
 * of digits.c (x/8 − 1, MLP 512 × 3, Adam 2e-4, batch 256, 20 000 steps,
 * weights averaged with decay 0.999, edm-heun on 18 Karras levels); the
 * training rows carry their labels (examples/data/digits-labels.csv) and
 * 10 % of each batch is switched to the null context.
 *
 * Judging the classes needs a judge: a multinomial logistic regression on
 * standardized pixels, fitted here by batch gradient descent on the same
 * training rows (its accuracy on the held-out third is printed first, the
 * ceiling of what it can confirm). For every guidance weight asked
 * (--guidance, default 0,0.25,0.5,1,2,3) the program draws --per-class digits of each class
 * and prints the share the judge puts in the class asked for, per class and
 * on average; then --samples digits with classes in the training set's
 * proportions, compared with the held-out third like digits.c does
 * (Fréchet distance, improved precision/recall, k = 3). Every weight starts
 * sampling from the same seed, so the weights differ by guidance alone.
 * The sampling generator is seeded with --seed + 1, after training as
 * after --load: `--load MODEL --seed S` prints the figures of the run that
 * trained MODEL with --seed S, bit for bit (a loaded model without --seed
 * is sampled with seed 0's stream).
 *
 * --png writes one panel per weight: a row per class, 0 at the top.
 *
 * Measured (medians of seeds 0-2; share in the class asked for / Fréchet
 * distance of the proportional samples; the classifier's held-out accuracy
 * is 0.957; `--load cond-S.smm --seed S`): w = 0: 0.938 / 28.2; w = 0.25:
 * 0.978 / 26.6; w = 0.5: 0.986 / 28.8; w = 1: 0.994 / 42.1; w = 2:
 * 0.993 / 95.4; w = 3: 0.987 / 187. A small weight makes the classes right without losing the
 * spread of the data; larger ones pull every class onto its most typical
 * shapes (docs/real-data.md).
 */
#define _GNU_SOURCE 1
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <scorematch.h>

#include "digits_common.h"
#include "plot.h"
#include "progress.h"

#ifndef DIGITS_CSV
#define DIGITS_CSV "examples/data/digits.csv"
#endif
#ifndef DIGITS_LABELS_CSV
#define DIGITS_LABELS_CSV "examples/data/digits-labels.csv"
#endif

enum { DIM = DIGITS_DIM, K = DIGITS_CLASSES, MAX_W = 8 };

typedef struct {
    const char *data, *labels, *png, *save, *load;
    uint64_t seed, steps;
    size_t width, depth, batch, samples, per_class, levels, threads;
    double lr, ema, dropout;
    double w[MAX_W];
    size_t n_w;
    int quiet;
    sm_sampler_kind sampler;
} options;

static void usage(FILE *f, const char *argv0)
{
    fprintf(f,
            "usage: %s [options]\n"
            "Trains a class-conditional score model on the 8x8 digits, then for each\n"
            "guidance weight: the share of generated digits a classifier puts in the class\n"
            "asked for, and the held-out comparison (Frechet distance, precision, recall).\n\n"
            "  --data PATH        digits CSV (default %s)\n"
            "  --labels PATH      their labels (default %s)\n"
            "  --seed N           seed of the model, training and sampling (default 0);\n"
            "                     with --load it seeds the sampling alone: give the\n"
            "                     model's seed to repeat the figures of its training run\n"
            "  --steps N          training steps (default 20000)\n"
            "  --width N          hidden units (default 512)   --depth N  layers (default 3)\n"
            "  --batch N          batch size (default 256)     --lr X     Adam rate (2e-4)\n"
            "  --ema DECAY        sample from an average of the weights (default 0.999)\n"
            "  --dropout P        share of rows trained with the null context (default 0.1)\n"
            "  --guidance LIST    guidance weights, comma-separated, at most %d\n"
            "                     (default 0,0.25,0.5,1,2,3; 0: plain conditional sampling)\n"
            "  --per-class N      digits drawn per class to judge (default 100)\n"
            "  --samples N        digits in the training proportions to compare (default 1000)\n"
            "  --sampler KIND     edm-heun (default), dpmpp-2m, ...\n"
            "  --levels L         Karras grid levels, sigma 80 -> 0.002 (default 18)\n"
            "  --threads T        threads (default: the CPUs it may use)\n"
            "  --png PATH         a panel of generated digits per weight, a row per class%s\n"
            "  --save PATH        save the trained model (with its normalization)\n"
            "  --load PATH        sample a saved model instead of training one\n"
            "  --quiet            no progress display\n",
            argv0, DIGITS_CSV, DIGITS_LABELS_CSV, MAX_W,
            plot_available() ? "" : " (not built: no cairo)");
}

static int parse_weights(const char *v, options *o)
{
    o->n_w = 0;
    while (*v) {
        char *end = NULL;
        const double w = strtod(v, &end);
        if (end == v || !isfinite(w) || w < 0 || o->n_w == MAX_W || (*end && *end != ','))
            return -1;
        o->w[o->n_w++] = w;
        v = *end ? end + 1 : end;
    }
    return o->n_w ? 0 : -1;
}

static int parse_args(int argc, char **argv, options *o)
{
    *o = (options){.data = DIGITS_CSV, .labels = DIGITS_LABELS_CSV, .steps = 20000, .width = 512,
                   .depth = 3, .batch = 256, .samples = 1000, .per_class = 100, .levels = 18,
                   .threads = sm_net_default_threads(), .lr = 2e-4, .ema = 0.999,
                   .dropout = 0.1, .w = {0, 0.25, 0.5, 1, 2, 3}, .n_w = 6, .sampler = SM_SAMPLER_EDM_HEUN};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if (!strcmp(a, "--help")) {
            usage(stdout, argv[0]);
            exit(0);
        } else if (!strcmp(a, "--quiet")) {
            o->quiet = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "%s: %s needs a value (see --help)\n", argv[0], a);
            return -1;
        }
        i++;
        double x = strtod(v, &end);
        int num = end != v && *end == '\0' && isfinite(x) && x >= 0;
        if (!strcmp(a, "--data")) o->data = v;
        else if (!strcmp(a, "--labels")) o->labels = v;
        else if (!strcmp(a, "--save")) o->save = v;
        else if (!strcmp(a, "--load")) o->load = v;
        else if (!strcmp(a, "--png")) o->png = v;
        else if (!strcmp(a, "--guidance")) {
            if (parse_weights(v, o)) {
                fprintf(stderr, "%s: --guidance takes 1 to %d weights >= 0, comma-separated\n",
                        argv[0], MAX_W);
                return -1;
            }
        } else if (!strcmp(a, "--sampler")) {
            if (sm_sampler_kind_from_name(v, &o->sampler) != SM_OK) {
                fprintf(stderr, "%s: unknown sampler '%s'\n", argv[0], v);
                return -1;
            }
        } else if (!num) {
            fprintf(stderr, "%s: %s needs a number >= 0 (got '%s')\n", argv[0], a, v);
            return -1;
        } else if (!strcmp(a, "--seed")) o->seed = (uint64_t)x;
        else if (!strcmp(a, "--steps") && x >= 1) o->steps = (uint64_t)x;
        else if (!strcmp(a, "--width") && x >= 1) o->width = (size_t)x;
        else if (!strcmp(a, "--depth") && x >= 1) o->depth = (size_t)x;
        else if (!strcmp(a, "--batch") && x >= 1) o->batch = (size_t)x;
        else if (!strcmp(a, "--samples") && x >= 2 && x <= 1e6) o->samples = (size_t)x;
        else if (!strcmp(a, "--per-class") && x >= 1 && x <= 1e5) o->per_class = (size_t)x;
        else if (!strcmp(a, "--levels") && x >= 2) o->levels = (size_t)x;
        else if (!strcmp(a, "--threads") && x >= 1) o->threads = (size_t)x;
        else if (!strcmp(a, "--lr") && x > 0) o->lr = x;
        else if (!strcmp(a, "--ema") && x < 1) o->ema = x;
        else if (!strcmp(a, "--dropout") && x <= 1) o->dropout = x;
        else {
            fprintf(stderr, "%s: bad option or value: %s %s (see --help)\n", argv[0], a, v);
            return -1;
        }
    }
    return 0;
}

#define TRY(call)                                                                         \
    do {                                                                                  \
        sm_status st_ = (call);                                                           \
        if (st_ != SM_OK) {                                                               \
            fprintf(stderr, "digits_cond: %s: %s\n", sm_strerror(st_), sm_last_error());  \
            goto fail;                                                                    \
        }                                                                                 \
    } while (0)

/* The judge: softmax(W·z + b) on pixels standardized by the training
 * rows' per-pixel mean and standard deviation (always-blank pixels keep
 * scale 1). */
typedef struct {
    double mu[DIM], sd[DIM];
    double w[K][DIM], b[K];
} classifier;

static void standardize_row(const classifier *c, const float *x, double z[DIM])
{
    for (size_t j = 0; j < DIM; j++)
        z[j] = (x[j] - c->mu[j]) / c->sd[j];
}

static int classify(const classifier *c, const float *x)
{
    double z[DIM];
    standardize_row(c, x, z);
    int best = 0;
    double best_s = -INFINITY;
    for (int k = 0; k < K; k++) {
        double s = c->b[k];
        for (size_t j = 0; j < DIM; j++)
            s += c->w[k][j] * z[j];
        if (s > best_s) {
            best_s = s;
            best = k;
        }
    }
    return best;
}

/* Batch gradient descent on the mean cross-entropy plus l2/2·|W|²: the
 * loss is convex and the 64 standardized inputs are well scaled, so a
 * fixed step converges without any line search. Returns -1 when out of
 * memory. */
static int classifier_fit(classifier *c, const float *x, const int32_t *y, size_t n, double l2,
                          size_t iters, double rate)
{
    memset(c, 0, sizeof *c);
    for (size_t j = 0; j < DIM; j++) {
        double s = 0, ss = 0;
        for (size_t i = 0; i < n; i++)
            s += x[i * DIM + j];
        c->mu[j] = s / (double)n;
        for (size_t i = 0; i < n; i++)
            ss += (x[i * DIM + j] - c->mu[j]) * (x[i * DIM + j] - c->mu[j]);
        c->sd[j] = ss > 0 ? sqrt(ss / (double)n) : 1.0;
    }
    double *z = malloc(n * DIM * sizeof(double));
    if (!z)
        return -1;
    for (size_t i = 0; i < n; i++)
        standardize_row(c, x + i * DIM, z + i * DIM);
    for (size_t it = 0; it < iters; it++) {
        double gw[K][DIM] = {{0}}, gb[K] = {0};
        for (size_t i = 0; i < n; i++) {
            const double *zi = z + i * DIM;
            double p[K], m = -INFINITY, sum = 0;
            for (int k = 0; k < K; k++) {
                p[k] = c->b[k];
                for (size_t j = 0; j < DIM; j++)
                    p[k] += c->w[k][j] * zi[j];
                m = fmax(m, p[k]);
            }
            for (int k = 0; k < K; k++)
                sum += p[k] = exp(p[k] - m);
            for (int k = 0; k < K; k++) {
                const double g = p[k] / sum - (y[i] == k);
                gb[k] += g;
                for (size_t j = 0; j < DIM; j++)
                    gw[k][j] += g * zi[j];
            }
        }
        for (int k = 0; k < K; k++) {
            c->b[k] -= rate * gb[k] / (double)n;
            for (size_t j = 0; j < DIM; j++)
                c->w[k][j] -= rate * (gw[k][j] / (double)n + l2 * c->w[k][j]);
        }
    }
    free(z);
    return 0;
}

int main(int argc, char **argv)
{
    options o;
    if (parse_args(argc, argv, &o))
        return 2;
    int rc = 1;
    digits_split sp = {0};
    sm_dataset *train = NULL;
    sm_rng *rng = NULL, *srng = NULL;
    sm_net *net = NULL, *ema = NULL;
    sm_schedule *grid = NULL;
    sm_optim *opt = NULL;
    sm_trainer *tr = NULL;
    sm_sampler *smp = NULL;
    float *u = NULL, *ctx_cls = NULL, *ctx_prop = NULL, *gen_cls = NULL, *gen_prop = NULL;
    float *grids = NULL;
    int32_t *y_cls = NULL, *y_prop = NULL;
    plot_image_panel panels[MAX_W];
    char panel_label[MAX_W][32];
    classifier *judge = NULL;

    if (digits_split_load(&sp, o.data, o.labels))
        goto fail;
    const size_t n_cls = K * o.per_class, cols = o.per_class < 10 ? o.per_class : 10;
    u = malloc(sp.n_tr * DIM * sizeof(float));
    y_cls = malloc(n_cls * sizeof(int32_t));
    y_prop = malloc(o.samples * sizeof(int32_t));
    ctx_cls = malloc(n_cls * K * sizeof(float));
    ctx_prop = malloc(o.samples * K * sizeof(float));
    gen_cls = malloc(n_cls * DIM * sizeof(float));
    gen_prop = malloc(o.samples * DIM * sizeof(float));
    grids = malloc(o.n_w * K * cols * DIM * sizeof(float));
    judge = malloc(sizeof *judge);
    if (!u || !y_cls || !y_prop || !ctx_cls || !ctx_prop || !gen_cls || !gen_prop || !grids ||
        !judge) {
        fprintf(stderr, "digits_cond: out of memory\n");
        goto fail;
    }

    /* The judge first: its held-out accuracy bounds what it can confirm. */
    if (classifier_fit(judge, sp.xtr, sp.ytr, sp.n_tr, 1e-3, 500, 0.5)) {
        fprintf(stderr, "digits_cond: out of memory\n");
        goto fail;
    }
    size_t right = 0;
    for (size_t i = 0; i < sp.n_ho; i++)
        right += classify(judge, sp.xho + i * DIM) == sp.yho[i];
    printf("classifier     held_out_accuracy=%.4f (logistic regression on the training rows)\n",
           (double)right / (double)sp.n_ho);

    /* The training rows, normalized, with their labels. */
    float shift[DIM], scale[DIM];
    double sigma_data = 0;
    digits_pixel_affine(sp.xtr, sp.n_tr, shift, scale, &sigma_data);
    for (size_t i = 0; i < sp.n_tr * DIM; i++)
        u[i] = (sp.xtr[i] - shift[i % DIM]) / scale[i % DIM];
    TRY(sm_dataset_new(&train, u, sp.n_tr, DIM));
    TRY(sm_dataset_set_labels(train, sp.ytr, sp.n_tr));

    TRY(sm_rng_new(&rng, o.seed));
    TRY(sm_schedule_new_karras(&grid, 80.0, 0.002, o.levels, 7.0));
    double loss = NAN, train_s = 0;
    sm_net *model = NULL;
    if (o.load) {
        sm_schedule *kept = NULL;
        TRY(sm_model_load(o.load, &net, &kept, NULL));
        sm_schedule_free(kept);
        if (sm_net_dim(net) != DIM || sm_net_context_dim(net) != K ||
            !sm_net_has_normalization(net)) {
            fprintf(stderr, "digits_cond: %s is not a 64-d model with a 10-class context and a "
                    "normalization\n", o.load);
            goto fail;
        }
        model = net;
    } else {
        sm_net_options nopts = SM_NET_OPTIONS_INIT;
        nopts.dim = DIM;
        nopts.width = o.width;
        nopts.depth = o.depth;
        nopts.parametrization = SM_PARAM_EDM;
        nopts.sigma_data = sigma_data;
        nopts.context_dim = K;
        TRY(sm_net_new_ex(&net, &nopts, rng));
        TRY(sm_net_set_normalization(net, shift, scale, DIM));
        TRY(sm_net_set_threads(net, o.threads));
        TRY(sm_optim_new_adam(&opt, sm_net_num_params(net), o.lr, 0.9, 0.999, 1e-8, 0.0));
        TRY(sm_trainer_new(&tr, net, grid, opt, o.batch));
        TRY(sm_trainer_set_context_dropout(tr, o.dropout));
        if (o.ema > 0) {
            TRY(sm_net_clone(net, &ema));
            TRY(sm_trainer_set_ema(tr, ema, o.ema));
        }
        if (!o.quiet)
            fprintf(stderr, "digits_cond: %zu training rows, %zu held out; EDM net 65+10 x %zu "
                    "x %zu, dropout %g, %zu thread%s\n", sp.n_tr, sp.n_ho, o.width, o.depth,
                    o.dropout, o.threads, o.threads == 1 ? "" : "s");
        progress prog;
        progress_init(&prog, stderr, 2000);
        const double t0 = progress_now();
        TRY(sm_trainer_fit(tr, train, o.steps, rng, o.quiet ? NULL : progress_train_callback,
                           &prog, &loss));
        train_s = progress_now() - t0;
        model = ema ? ema : net;
        if (ema)
            TRY(sm_net_set_normalization(ema, shift, scale, DIM));
        if (o.save)
            TRY(sm_model_save(o.save, model, grid, NULL));
    }
    TRY(sm_net_set_threads(model, o.threads));

    /* The classes asked for: per_class of each, class-major; and the
     * training proportions over o.samples rows, rounded by largest
     * remainders so that the counts add up. */
    for (size_t i = 0; i < n_cls; i++)
        y_cls[i] = (int32_t)(i / o.per_class);
    {
        size_t count[K] = {0}, got[K], total = 0;
        double rem[K];
        for (size_t i = 0; i < sp.n_tr; i++)
            count[sp.ytr[i]]++;
        for (int k = 0; k < K; k++) {
            const double share = (double)o.samples * (double)count[k] / (double)sp.n_tr;
            got[k] = (size_t)share;
            rem[k] = share - (double)got[k];
            total += got[k];
        }
        for (; total < o.samples; total++) {
            int best = 0;
            for (int k = 1; k < K; k++)
                if (rem[k] > rem[best])
                    best = k;
            got[best]++;
            rem[best] = -1;
        }
        for (size_t k = 0, i = 0; k < K; k++)
            for (size_t j = 0; j < got[k]; j++)
                y_prop[i++] = (int32_t)k;
    }
    TRY(sm_labels_one_hot(y_cls, n_cls, K, ctx_cls));
    TRY(sm_labels_one_hot(y_prop, o.samples, K, ctx_prop));

    char extra[200];
    snprintf(extra, sizeof extra, " (the data itself: the best a model can do)");
    TRY(digits_report("training-rows", sp.xho, sp.n_ho, sp.xtr, sp.n_tr, extra));
    TRY(sm_sampler_new(&smp, model, grid));
    TRY(sm_sampler_set_kind(smp, o.sampler));
    for (size_t wi = 0; wi < o.n_w; wi++) {
        const double w = o.w[wi];
        TRY(sm_sampler_set_guidance(smp, w, 0.0, INFINITY));
        sm_rng_free(srng);
        srng = NULL;
        TRY(sm_rng_new(&srng, o.seed + 1));

        TRY(sm_sampler_set_context(smp, ctx_cls, n_cls, K));
        const double t1 = progress_now();
        TRY(sm_sampler_run(smp, srng, gen_cls, n_cls, DIM));
        const double sample_s = progress_now() - t1;
        TRY(sm_net_to_data_units(model, gen_cls, n_cls, DIM));
        double acc[K], mean = 0, worst = 1;
        for (int k = 0; k < K; k++) {
            size_t hit = 0;
            for (size_t i = 0; i < o.per_class; i++)
                hit += classify(judge, gen_cls + ((size_t)k * o.per_class + i) * DIM) == k;
            acc[k] = (double)hit / (double)o.per_class;
            mean += acc[k] / K;
            worst = fmin(worst, acc[k]);
            memcpy(grids + ((wi * K + (size_t)k) * cols) * DIM,
                   gen_cls + (size_t)k * o.per_class * DIM, cols * DIM * sizeof(float));
        }
        printf("w=%-5g class_accuracy mean=%.3f min=%.3f per_class=", w, mean, worst);
        for (int k = 0; k < K; k++)
            printf("%s%.2f", k ? "," : "", acc[k]);
        printf(" nfe=%llu sample_s=%.2f\n", (unsigned long long)sm_sampler_nfe(smp), sample_s);

        TRY(sm_sampler_set_context(smp, ctx_prop, o.samples, K));
        TRY(sm_sampler_run(smp, srng, gen_prop, o.samples, DIM));
        TRY(sm_net_to_data_units(model, gen_prop, o.samples, DIM));
        char name[32];
        snprintf(name, sizeof name, "w=%g", w);
        int len = snprintf(extra, sizeof extra, " proportional n=%zu nfe=%llu", o.samples,
                           (unsigned long long)sm_sampler_nfe(smp));
        if (!o.load && len > 0 && (size_t)len < sizeof extra)
            snprintf(extra + len, sizeof extra - (size_t)len, " final_loss=%.4f train_s=%.1f",
                     loss, train_s);
        TRY(digits_report(name, sp.xho, sp.n_ho, gen_prop, o.samples, extra));
        fflush(stdout);

        snprintf(panel_label[wi], sizeof panel_label[wi], "guidance w = %g", w);
        panels[wi] = (plot_image_panel){grids + wi * K * cols * DIM, K * cols, 8, 8, K, cols,
                                        0.0f, 16.0f, panel_label[wi]};
    }
    if (o.png) {
        char title[200], err[256];
        snprintf(title, sizeof title, "8x8 digits by class (rows 0-9): conditional EDM model, "
                 "%s, %llu levels", sm_sampler_kind_name(o.sampler), (unsigned long long)o.levels);
        if (plot_images_png(o.png, panels, o.n_w, title, 6, err, sizeof err)) {
            fprintf(stderr, "digits_cond: %s\n", err);
            goto fail;
        }
    }
    rc = 0;
fail:
    free(judge);
    free(grids);
    free(gen_prop);
    free(gen_cls);
    free(ctx_prop);
    free(ctx_cls);
    free(y_prop);
    free(y_cls);
    free(u);
    sm_sampler_free(smp);
    sm_trainer_free(tr);
    sm_optim_free(opt);
    sm_schedule_free(grid);
    sm_net_free(ema);
    sm_net_free(net);
    sm_rng_free(srng);
    sm_rng_free(rng);
    sm_dataset_free(train);
    digits_split_free(&sp);
    return rc;
}
