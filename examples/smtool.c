/* smtool: train a score model on a CSV file or a toy data set, sample it,
 * evaluate samples against data, and plot point sets. Uses only the public
 * API of libscorematch.
 *
 *   smtool train  (--data FILE.csv | --toy NAME) --out MODEL [options]
 *   smtool sample MODEL --out FILE.csv [options]
 *   smtool eval   REAL.csv GENERATED.csv [--radius R]
 *   smtool plot   OUT.png FILE.csv [FILE.csv ...] [--columns I,J,...] [--title TEXT]
 *
 * Exit status: 0 success, 1 a library or I/O error (message on stderr),
 * 2 bad usage.
 */
#define _GNU_SOURCE 1 /* setenv, strdup, mkstemp */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <scorematch.h>

#include "plot.h"
#include "progress.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

static const char *prog = "smtool";

/* --quiet: no progress or information on stderr (warnings and errors
 * stay). */
static int quiet;

/* --index-column: what the CSV reader does with a leading index column
 * (0: refuse it, SM_CSV_INDEX_SKIP, SM_CSV_INDEX_KEEP). */
static unsigned csv_flags;

static int fail(sm_status st)
{
    fprintf(stderr, "%s: %s: %s\n", prog, sm_strerror(st), sm_last_error());
    return EXIT_RUNTIME;
}

#define TRY(call)                       \
    do {                                \
        sm_status st_ = (call);         \
        if (st_ != SM_OK) {             \
            rc = fail(st_);             \
            goto done;                  \
        }                               \
    } while (0)

/* ---- argument helpers ---------------------------------------------------- */

typedef struct {
    int argc, i;
    char **argv;
    int bad;
} args;

static const char *next_value(args *a, const char *flag)
{
    if (a->i + 1 >= a->argc) {
        fprintf(stderr, "%s: %s needs a value\n", prog, flag);
        a->bad = 1;
        return NULL;
    }
    return a->argv[++a->i];
}

static uint64_t get_u64(args *a, const char *flag, uint64_t min)
{
    const char *v = next_value(a, flag);
    if (!v)
        return min;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || x < min) {
        fprintf(stderr, "%s: %s needs an integer >= %llu (got '%s')\n", prog, flag,
                (unsigned long long)min, v);
        a->bad = 1;
        return min;
    }
    return x;
}

static double get_double(args *a, const char *flag, int positive)
{
    const char *v = next_value(a, flag);
    if (!v)
        return 0;
    char *end;
    double x = strtod(v, &end);
    if (end == v || *end || !isfinite(x) || (positive && !(x > 0))) {
        fprintf(stderr, "%s: %s needs a %snumber (got '%s')\n", prog, flag,
                positive ? "positive " : "", v);
        a->bad = 1;
    }
    return x;
}

static sm_kernels get_kernels(args *a, const char *flag)
{
    const char *v = next_value(a, flag);
    if (v && !strcmp(v, "blis"))
        return SM_KERNELS_BLIS;
    if (v && strcmp(v, "auto")) {
        fprintf(stderr, "%s: %s needs 'auto' or 'blis' (got '%s')\n", prog, flag, v);
        a->bad = 1;
    }
    return SM_KERNELS_AUTO;
}

static size_t default_threads(void)
{
    return sm_net_default_threads(); /* the CPUs this process may use */
}

/* ---- checks made before the long work ------------------------------------ */

/* A byte count for messages: "74.5 GiB". */
static const char *fmt_bytes(double bytes, char buf[32])
{
    static const char *const unit[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    size_t u = 0;
    while (bytes >= 1024.0 && u + 1 < sizeof unit / sizeof unit[0])
        bytes /= 1024.0, u++;
    snprintf(buf, 32, u ? "%.1f %s" : "%.0f %s", bytes, unit[u]);
    return buf;
}

/* The machine's memory in bytes, 0 if unknown. */
static double machine_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (double)pages * (double)size : 0.0;
}

/* *bytes = count items of `each` bytes, for the value of `flag`. A size
 * that overflows, or exceeds the machine's memory, cannot be allocated:
 * say so before any work (usage error) instead of failing on it later. */
static int check_size(const char *cmd, const char *flag, uint64_t count, size_t each,
                      const char *what, size_t *bytes)
{
    const double need = (double)count * (double)each, mem = machine_memory();
    char b1[32], b2[32];
    if (count > SIZE_MAX / each) {
        fprintf(stderr, "%s %s: %s %llu is too large: %s would take %s\n", prog, cmd, flag,
                (unsigned long long)count, what, fmt_bytes(need, b1));
        return EXIT_USAGE;
    }
    if (mem > 0 && need > mem) {
        fprintf(stderr, "%s %s: %s %llu is too large: %s would take %s, more than the %s of "
                "memory of this machine\n", prog, cmd, flag, (unsigned long long)count, what,
                fmt_bytes(need, b1), fmt_bytes(mem, b2));
        return EXIT_USAGE;
    }
    *bytes = (size_t)count * each;
    return 0;
}

/* malloc(bytes), or NULL after saying what could not be allocated. */
static void *alloc_or_say(const char *cmd, size_t bytes, const char *what)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p) {
        char b[32];
        fprintf(stderr, "%s %s: out of memory: cannot allocate %s for %s\n", prog, cmd,
                fmt_bytes((double)bytes, b), what);
    }
    return p;
}

/* Before a long run that ends by writing `path`: fails at once if it cannot
 * be written (a missing directory, a directory as the target, no write
 * permission), so that a typo does not cost the run. A new or regular file
 * is replaced through a temporary file beside it, so the probe creates and
 * removes one there, as the writers do; special files and links (a pipe,
 * /dev/stdout, /dev/fd/N) are written in place, so for them write
 * permission is what counts. */
static int check_writable(const char *cmd, const char *flag, const char *path)
{
    struct stat sb, lsb;
    if (stat(path, &sb) == 0) {
        if (S_ISDIR(sb.st_mode)) {
            fprintf(stderr, "%s %s: cannot write %s '%s': it is a directory\n", prog, cmd,
                    flag, path);
            return EXIT_RUNTIME;
        }
        if (!S_ISREG(sb.st_mode) || (lstat(path, &lsb) == 0 && S_ISLNK(lsb.st_mode))) {
            if (access(path, W_OK) == 0)
                return 0;
            fprintf(stderr, "%s %s: cannot write %s '%s': %s\n", prog, cmd, flag, path,
                    strerror(errno));
            return EXIT_RUNTIME;
        }
    }
    static const char tag[] = ".tmp-XXXXXX";
    size_t n = strlen(path);
    char *probe = alloc_or_say(cmd, n + sizeof tag, "a file name");
    if (!probe)
        return EXIT_RUNTIME;
    memcpy(probe, path, n);
    memcpy(probe + n, tag, sizeof tag);
    int fd = mkstemp(probe);
    if (fd < 0) {
        fprintf(stderr, "%s %s: cannot write %s '%s': %s\n", prog, cmd, flag, path,
                strerror(errno));
        free(probe);
        return EXIT_RUNTIME;
    }
    close(fd);
    unlink(probe);
    free(probe);
    return 0;
}

/* The standardization sidecar of models written before format version 2:
 * MODEL.norm holds two CSV rows, mean and std. Newer models carry it. */
static char *norm_path(const char *model)
{
    size_t n = strlen(model);
    char *p = malloc(n + 6);
    if (p)
        memcpy(p, model, n), memcpy(p + n, ".norm", 6);
    return p;
}

/* Reads a CSV file (--index-column applies), saying when its first line was
 * taken as a header (column names) rather than data, so that no row goes
 * unnoticed. Returns 0, or an exit status after a message; a refused index
 * column gets the option that reads the file. */
static int read_points(const char *cmd, const char *path, sm_dataset **out)
{
    sm_status st = sm_dataset_read_csv_ex(out, NULL, path, csv_flags);
    if (st != SM_OK) {
        int rc = fail(st);
        if (st == SM_ERR_PARSE && csv_flags == 0) {
            sm_dataset *skipped = NULL;
            if (sm_dataset_read_csv_ex(&skipped, NULL, path, SM_CSV_INDEX_SKIP) == SM_OK)
                fprintf(stderr, "%s %s: '--index-column skip' drops that column, "
                        "'--index-column keep' reads it as data\n", prog, cmd);
            sm_dataset_free(skipped);
        }
        return rc;
    }
    if (!quiet && sm_dataset_header_rows(*out) > 0)
        fprintf(stderr, "%s %s: %s: first line taken as a header, %zu data rows\n", prog, cmd,
                path, sm_dataset_size(*out));
    if (!quiet && (csv_flags & SM_CSV_INDEX_SKIP) && sm_dataset_header_rows(*out) > 0) {
        /* Say whether a column was dropped: the file's width tells. */
        sm_dataset *all = NULL;
        if (sm_dataset_read_csv_ex(&all, NULL, path, SM_CSV_INDEX_KEEP) == SM_OK &&
            sm_dataset_dim(all) > sm_dataset_dim(*out))
            fprintf(stderr, "%s %s: %s: leading index column '%s' skipped\n", prog, cmd, path,
                    sm_dataset_column_name(all, 0));
        sm_dataset_free(all);
    }
    return 0;
}

/* Options every command takes: --quiet, --index-column. 1 if f was one
 * (its value consumed), 0 if not, -1 on a bad value. */
static int common_option(args *a, const char *f)
{
    if (!strcmp(f, "--quiet") || !strcmp(f, "-q")) {
        quiet = 1;
        return 1;
    }
    if (strcmp(f, "--index-column"))
        return 0;
    const char *v = next_value(a, f);
    if (!v)
        return -1;
    if (!strcmp(v, "refuse"))
        csv_flags = 0;
    else if (!strcmp(v, "skip"))
        csv_flags = SM_CSV_INDEX_SKIP;
    else if (!strcmp(v, "keep"))
        csv_flags = SM_CSV_INDEX_KEEP;
    else {
        fprintf(stderr, "%s: --index-column must be refuse, skip or keep (got '%s')\n", prog, v);
        a->bad = 1;
        return -1;
    }
    return 1;
}

/* Help text of the common options. */
#define COMMON_HELP                                                                       \
    "  --quiet, -q           no progress or information on stderr (warnings and\n"         \
    "                        errors stay)\n"                                                \
    "  --index-column refuse|skip|keep\n"                                                   \
    "                        a leading index column as pandas writes it (header\n"         \
    "                        '', 'index' or 'Unnamed: 0' over the row numbers\n"           \
    "                        0, 1, 2, ...): refuse the file (default), skip the\n"          \
    "                        column or read it as data\n"

/* ---- train ---------------------------------------------------------------- */

static void usage_train(FILE *f)
{
    fprintf(f,
            "usage: %s train (--data FILE.csv | --toy NAME) --out MODEL [options]\n"
            "  --data FILE.csv       training points, one per line (header and # comments allowed)\n"
            "  --toy NAME            moons, circles, blobs, swiss-roll, spirals, checkerboard,\n"
            "                        8gaussians or pinwheel (2-D)\n"
            "  --n N                 toy points (default 4000)\n"
            "  --noise X             toy noise (default 0.05)\n"
            "  --no-standardize      train on the raw coordinates (default: standardize, and\n"
            "                        keep mean/std in the model so samples come back in units)\n"
            "  --out MODEL           model file to write (network, noise levels, optimizer)\n"
            "  --param edm|lab       EDM preconditioning, log-normal sigma, sampled with\n"
            "                        EDM's Heun sampler on 18 levels (default), or the lab's\n"
            "                        network, sigma ladder and Langevin sampler\n"
            "  --sigma-data X        edm: the data's spread (default: measured)\n"
            "  --p-mean X --p-std X  edm: ln sigma ~ N(X, X^2) in training (-1.2, 1.2)\n"
            "  --steps N             training steps (default 3000)\n"
            "  --batch N             batch size (default 256)\n"
            "  --lr X                Adam learning rate (default 1e-3)\n"
            "  --warmup N            learning-rate warm-up steps (default 0)\n"
            "  --lr-decay            cosine decay of the learning rate to 0 at the last step\n"
            "  --ema DECAY           keep an average of the weights and save it (e.g. 0.999)\n"
            "  --width N --depth N   hidden units and layers (default 128, 3)\n"
            "  The noise levels kept in the model are the sampling grid: edm: a Karras\n"
            "  grid (rho 7) from --sigma-max (80) to --sigma-min (0.002), --levels 18;\n"
            "  lab: the training ladder, geometric:\n"
            "  --sigma-max X         largest noise level (default 1.0; 0 = largest pairwise\n"
            "                        distance of the data)\n"
            "  --sigma-min X         smallest noise level (default 0.01)\n"
            "  --levels N            number of noise levels (default 10)\n"
            "  --seed N              seed (default 0)\n"
            "  --threads T           threads (default: the CPUs it may use)\n"
            "  --kernels K           matrix products on auto (the library's kernels where the\n"
            "                        CPU has them, default) or blis\n"
            "  --loss-log FILE.csv   write step,loss per step\n"
            "  --save-data FILE.csv  --toy: write the generated training points (data\n"
            "                        units, no header) to FILE.csv\n"
            COMMON_HELP
            "conditional models (a context input, trained with condition dropout):\n"
            "  --context-columns L   --data: the columns in the comma-separated list L\n"
            "                        (0-based) are the context, the others the data; the\n"
            "                        context columns are standardized as the data columns\n"
            "                        are (mean/std of the training rows) and the model\n"
            "                        keeps that, so sample/impute --context take contexts\n"
            "                        in file units\n"
            "  --no-standardize-context  --context-columns: feed the context columns raw\n"
            "  --label-column K      --data: column K holds class labels 0, 1, ...; the\n"
            "                        context is their one-hot row, the other columns the data\n"
            "  --toy-labels          --toy: the generator's labels as one-hot context\n"
            "  --classes N           number of classes of the labels (default: largest + 1)\n"
            "  --context-dropout P   share of rows trained with the null context (0.1)\n",
            prog);
}

typedef struct {
    progress prog;
    FILE *log;
} train_watch;

static int train_callback(uint64_t step, uint64_t total, double loss, void *ud)
{
    train_watch *w = ud;
    if (w->log)
        fprintf(w->log, "%llu,%.6g\n", (unsigned long long)step, loss);
    return progress_train_callback(step, total, loss, &w->prog);
}

/* Every toy data set make_toy() draws is 2-D. */
#define TOY_DIM 2

static const char *const toy_names[] = {"moons",   "circles",      "blobs",      "swiss-roll",
                                        "spirals", "checkerboard", "8gaussians", "pinwheel"};

static int is_toy(const char *name)
{
    for (size_t i = 0; i < sizeof toy_names / sizeof toy_names[0]; i++)
        if (!strcmp(name, toy_names[i]))
            return 1;
    return 0;
}

/* Parses a comma-separated list of column indices into cols (sorted
 * membership flags of ncols columns); 0 and a message on a bad list. */
static int parse_columns(const char *list, unsigned char *cols, size_t ncols)
{
    const char *p = list;
    while (*p) {
        char *end;
        errno = 0;
        unsigned long long c = strtoull(p, &end, 10);
        if (errno || end == p || *p == '-' || (*end && *end != ',') || c >= ncols) {
            fprintf(stderr, "%s train: --context-columns needs column indices below %zu "
                    "separated by commas (got '%s')\n", prog, ncols, list);
            return 0;
        }
        cols[c] = 1;
        p = *end ? end + 1 : end;
    }
    return 1;
}

/* Splits the columns of a CSV data set into data and context (flags in
 * is_ctx), or one label column into one-hot contexts of `classes` classes
 * (0: largest label + 1). Replaces *ds by the data columns with their
 * contexts. Returns 0, or an exit status after a message. */
static int split_columns(sm_dataset **ds, const unsigned char *is_ctx, long label_col,
                         uint64_t classes)
{
    const size_t n = sm_dataset_size(*ds), cols = sm_dataset_dim(*ds);
    size_t nc = 0;
    for (size_t j = 0; j < cols; j++)
        nc += is_ctx ? is_ctx[j] : (long)j == label_col;
    if (nc == 0 || nc >= cols) {
        fprintf(stderr, "%s train: the context columns must leave at least one data column "
                "and take at least one\n", prog);
        return EXIT_USAGE;
    }
    const size_t dim = cols - nc;
    int rc = 0;
    float *x = malloc(n * dim * sizeof(float)), *ctx = NULL;
    int32_t *labels = label_col >= 0 ? malloc(n * sizeof(int32_t)) : NULL;
    size_t width = nc;
    sm_dataset *out = NULL;
    if (!x || (label_col >= 0 && !labels) || (is_ctx && !(ctx = malloc(n * nc * sizeof(float))))) {
        rc = fail(SM_ERR_NOMEM);
        goto done;
    }
    int32_t most = -1;
    for (size_t i = 0; i < n; i++) {
        const float *row = sm_dataset_row(*ds, i);
        size_t kx = 0, kc = 0;
        for (size_t j = 0; j < cols; j++) {
            if (is_ctx ? !is_ctx[j] : (long)j != label_col) {
                x[i * dim + kx++] = row[j];
            } else if (is_ctx) {
                ctx[i * nc + kc++] = row[j];
            } else {
                if (!(row[j] >= 0 && row[j] < 2147483647.0f && row[j] == floorf(row[j]))) {
                    fprintf(stderr, "%s train: row %zu: label %g is not an integer >= 0\n",
                            prog, i + 1, (double)row[j]);
                    rc = EXIT_RUNTIME;
                    goto done;
                }
                labels[i] = (int32_t)row[j];
                most = labels[i] > most ? labels[i] : most;
            }
        }
    }
    if (labels) {
        width = classes ? (size_t)classes : (size_t)most + 1;
        if (!(ctx = malloc(n * width * sizeof(float)))) {
            rc = fail(SM_ERR_NOMEM);
            goto done;
        }
        TRY(sm_labels_one_hot(labels, n, width, ctx));
    }
    TRY(sm_dataset_new(&out, x, n, dim));
    TRY(sm_dataset_set_context(out, ctx, n, width));
    if (labels)
        TRY(sm_dataset_set_labels(out, labels, n));
    sm_dataset_free(*ds);
    *ds = out;
    out = NULL;
done:
    sm_dataset_free(out);
    free(labels);
    free(ctx);
    free(x);
    return rc;
}

/* name must satisfy is_toy(). */
static sm_status make_toy(const char *name, size_t n, double noise, sm_rng *rng,
                          sm_dataset **out)
{
    if (!strcmp(name, "moons"))
        return sm_toy_moons(out, n, noise, 1, rng);
    if (!strcmp(name, "circles"))
        return sm_toy_circles(out, n, noise, SM_TOY_CIRCLES_FACTOR_DEFAULT, 1, rng);
    if (!strcmp(name, "blobs"))
        return sm_toy_blobs(out, n, 2, NULL, 3, 1.0, 1, rng);
    if (!strcmp(name, "swiss-roll"))
        return sm_toy_swiss_roll(out, n, noise, NULL, rng);
    if (!strcmp(name, "spirals"))
        return sm_toy_spirals(out, n, noise, 1, rng);
    if (!strcmp(name, "checkerboard"))
        return sm_toy_checkerboard(out, n, 1, rng);
    if (!strcmp(name, "8gaussians"))
        return sm_toy_eight_gaussians(out, n, 2.0, 0.02, 1, rng);
    return sm_toy_pinwheel(out, n, 5, 0.3, 0.05, 0.25, 1, rng);
}

static int cmd_train(args *a)
{
    const char *data_path = NULL, *toy = NULL, *out = NULL, *loss_log = NULL, *param = "edm";
    const char *save_data = NULL;
    uint64_t n = 4000, steps = 3000, batch = 256, width = 128, depth = 3, levels = 0, seed = 0;
    uint64_t threads = default_threads(), warmup = 0;
    sm_kernels kernels = SM_KERNELS_AUTO;
    double noise = 0.05, lr = 1e-3, smax = -1.0, smin = 0.0, sigma_data = 0.0, ema_decay = 0.0;
    double p_mean = SM_EDM_P_MEAN, p_std = SM_EDM_P_STD, dropout = -1.0;
    int standardize = 1, lr_decay = 0, toy_labels = 0, standardize_ctx = 1;
    const char *ctx_cols = NULL;
    long label_col = -1;
    uint64_t classes = 0;
    for (a->i = 2; a->i < a->argc && !a->bad; a->i++) {
        const char *f = a->argv[a->i];
        if (!strcmp(f, "--help")) {
            usage_train(stdout);
            return 0;
        } else if (!strcmp(f, "--data")) data_path = next_value(a, f);
        else if (!strcmp(f, "--toy")) toy = next_value(a, f);
        else if (!strcmp(f, "--out")) out = next_value(a, f);
        else if (!strcmp(f, "--loss-log")) loss_log = next_value(a, f);
        else if (!strcmp(f, "--save-data")) save_data = next_value(a, f);
        else if (common_option(a, f)) continue;
        else if (!strcmp(f, "--n")) n = get_u64(a, f, 1);
        else if (!strcmp(f, "--noise")) noise = get_double(a, f, 0);
        else if (!strcmp(f, "--no-standardize")) standardize = 0;
        else if (!strcmp(f, "--no-standardize-context")) standardize_ctx = 0;
        else if (!strcmp(f, "--param")) param = next_value(a, f);
        else if (!strcmp(f, "--sigma-data")) sigma_data = get_double(a, f, 1);
        else if (!strcmp(f, "--p-mean")) p_mean = get_double(a, f, 0);
        else if (!strcmp(f, "--p-std")) p_std = get_double(a, f, 0);
        else if (!strcmp(f, "--warmup")) warmup = get_u64(a, f, 0);
        else if (!strcmp(f, "--lr-decay")) lr_decay = 1;
        else if (!strcmp(f, "--ema")) ema_decay = get_double(a, f, 1);
        else if (!strcmp(f, "--steps")) steps = get_u64(a, f, 1);
        else if (!strcmp(f, "--batch")) batch = get_u64(a, f, 1);
        else if (!strcmp(f, "--lr")) lr = get_double(a, f, 1);
        else if (!strcmp(f, "--width")) width = get_u64(a, f, 1);
        else if (!strcmp(f, "--depth")) depth = get_u64(a, f, 1);
        else if (!strcmp(f, "--sigma-max")) smax = get_double(a, f, 0);
        else if (!strcmp(f, "--sigma-min")) smin = get_double(a, f, 1);
        else if (!strcmp(f, "--levels")) levels = get_u64(a, f, 2);
        else if (!strcmp(f, "--seed")) seed = get_u64(a, f, 0);
        else if (!strcmp(f, "--threads")) threads = get_u64(a, f, 1);
        else if (!strcmp(f, "--kernels")) kernels = get_kernels(a, f);
        else if (!strcmp(f, "--context-columns")) ctx_cols = next_value(a, f);
        else if (!strcmp(f, "--label-column")) label_col = (long)get_u64(a, f, 0);
        else if (!strcmp(f, "--toy-labels")) toy_labels = 1;
        else if (!strcmp(f, "--classes")) classes = get_u64(a, f, 1);
        else if (!strcmp(f, "--context-dropout")) dropout = get_double(a, f, 0);
        else {
            fprintf(stderr, "%s train: unknown option '%s' (see --help)\n", prog, f);
            return EXIT_USAGE;
        }
    }
    if (a->bad)
        return EXIT_USAGE;
    if (toy && !is_toy(toy)) {
        fprintf(stderr, "%s train: unknown toy data set '%s'\n", prog, toy);
        return EXIT_USAGE;
    }
    if (!param || (strcmp(param, "edm") && strcmp(param, "lab"))) {
        fprintf(stderr, "%s train: --param must be edm or lab\n", prog);
        return EXIT_USAGE;
    }
    if (ema_decay >= 1.0) {
        fprintf(stderr, "%s train: --ema needs a decay in (0, 1)\n", prog);
        return EXIT_USAGE;
    }
    const int edm = !strcmp(param, "edm");
    /* Defaults of the kept noise levels: EDM's sampling grid, or the lab's
     * training ladder. */
    if (smax < 0)
        smax = edm ? 80.0 : 1.0;
    if (smin == 0)
        smin = edm ? 0.002 : 0.01;
    if (levels == 0)
        levels = edm ? 18 : 10;
    if (!out || (!data_path == !toy)) {
        fprintf(stderr, "%s train: need --out and exactly one of --data or --toy\n", prog);
        usage_train(stderr);
        return EXIT_USAGE;
    }
    if ((ctx_cols || label_col >= 0) && (toy || (ctx_cols && label_col >= 0))) {
        fprintf(stderr, "%s train: --context-columns or --label-column (one of them) go with "
                "--data; --toy takes --toy-labels\n", prog);
        return EXIT_USAGE;
    }
    if (save_data && !toy) {
        fprintf(stderr, "%s train: --save-data goes with --toy (the data of --data is in its "
                "file already)\n", prog);
        return EXIT_USAGE;
    }
    if (toy_labels && !toy) {
        fprintf(stderr, "%s train: --toy-labels goes with --toy\n", prog);
        return EXIT_USAGE;
    }
    if (dropout > 1.0) {
        fprintf(stderr, "%s train: --context-dropout needs a probability in [0, 1]\n", prog);
        return EXIT_USAGE;
    }
    unsigned char *is_ctx = NULL;
    size_t toy_bytes;
    int rc = toy ? check_size("train", "--n", n, TOY_DIM * sizeof(float), "the toy points",
                              &toy_bytes)
                 : 0;
    /* Every output is checked before the training. */
    if (rc || (rc = check_writable("train", "--out", out)) ||
        (loss_log && (rc = check_writable("train", "--loss-log", loss_log))) ||
        (save_data && (rc = check_writable("train", "--save-data", save_data))))
        return rc;
    sm_rng *rng = NULL;
    sm_dataset *data = NULL;
    sm_net *net = NULL, *ema = NULL;
    sm_schedule *sched = NULL;
    sm_optim *opt = NULL;
    sm_trainer *tr = NULL;
    train_watch w = {0};
    float *norm = NULL, *cnorm = NULL;
    TRY(sm_rng_new(&rng, seed));
    if (toy) {
        TRY(make_toy(toy, (size_t)n, noise, rng, &data));
        if (save_data) {
            TRY(sm_dataset_write_csv(data, save_data));
            if (!quiet)
                fprintf(stderr, "%s train: %zu %s points written to %s\n", prog,
                        sm_dataset_size(data), toy, save_data);
        }
    } else {
        if ((rc = read_points("train", data_path, &data)))
            goto done;
        const size_t cols = sm_dataset_dim(data);
        if (label_col >= 0 && (size_t)label_col >= cols) {
            fprintf(stderr, "%s train: --label-column %ld, the data has %zu columns\n", prog,
                    label_col, cols);
            rc = EXIT_USAGE;
            goto done;
        }
        if (ctx_cols) {
            if (!(is_ctx = calloc(cols, 1))) {
                rc = fail(SM_ERR_NOMEM);
                goto done;
            }
            if (!parse_columns(ctx_cols, is_ctx, cols)) {
                rc = EXIT_USAGE;
                goto done;
            }
        }
        if ((ctx_cols || label_col >= 0) &&
            (rc = split_columns(&data, is_ctx, label_col, classes)))
            goto done;
    }
    size_t context_dim = sm_dataset_context_dim(data);
    if (toy_labels) {
        const size_t k = classes ? (size_t)classes : sm_dataset_num_labels(data);
        const size_t nd = sm_dataset_size(data);
        float *oh = malloc(nd * k * sizeof(float));
        if (!oh) {
            rc = fail(SM_ERR_NOMEM);
            goto done;
        }
        sm_status st = sm_labels_one_hot(sm_dataset_labels(data), nd, k, oh);
        if (!st)
            st = sm_dataset_set_context(data, oh, nd, k);
        free(oh);
        TRY(st);
        context_dim = k;
    }
    if (ctx_cols && standardize_ctx && context_dim) {
        /* The context columns standardized as the data columns are
         * (sm_dataset_standardize(): mean and std, the divisor floored for
         * nearly constant columns): the network keeps the mean and divisor
         * and maps every context it is given. One-hot contexts
         * (--label-column, --toy-labels) stay as they are. */
        const size_t c = context_dim;
        if (!(cnorm = alloc_or_say("train", 2 * c * sizeof(float),
                                   "the context normalization"))) {
            rc = EXIT_RUNTIME;
            goto done;
        }
        sm_dataset *cols = NULL;
        sm_status st = sm_dataset_new(&cols, sm_dataset_context(data), sm_dataset_size(data), c);
        if (st == SM_OK)
            st = sm_dataset_standardize(cols);
        if (st == SM_OK)
            st = sm_dataset_get_standardization(cols, cnorm, cnorm + c, c);
        sm_dataset_free(cols);
        TRY(st);
    }
    if (standardize)
        TRY(sm_dataset_standardize(data));
    if (smax == 0)
        TRY(sm_schedule_suggest_sigma_max(data, rng, &smax));
    const size_t dim = sm_dataset_dim(data);
    sm_net_options nopts = SM_NET_OPTIONS_INIT;
    nopts.dim = dim;
    nopts.width = (size_t)width;
    nopts.depth = (size_t)depth;
    nopts.parametrization = edm ? SM_PARAM_EDM : SM_PARAM_LAB;
    nopts.sigma_data = sigma_data;
    nopts.context_dim = context_dim;
    TRY(sm_net_new_ex(&net, &nopts, rng));
    TRY(sm_net_set_threads(net, (size_t)threads));
    TRY(sm_net_set_kernels(net, kernels));
    /* The model carries the normalization: samples come back in data units. */
    if (!(norm = alloc_or_say("train", 2 * dim * sizeof(float), "the normalization"))) {
        rc = EXIT_RUNTIME;
        goto done;
    }
    TRY(sm_dataset_get_standardization(data, norm, norm + dim, dim));
    if (standardize)
        TRY(sm_net_set_normalization(net, norm, norm + dim, dim));
    if (cnorm)
        TRY(sm_net_set_context_normalization(net, cnorm, cnorm + context_dim, context_dim));
    if (edm)
        TRY(sm_schedule_new_karras(&sched, smax, smin, (size_t)levels, 7.0));
    else
        TRY(sm_schedule_new_geometric(&sched, smax, smin, (size_t)levels));
    TRY(sm_optim_new_adam(&opt, sm_net_num_params(net), lr, 0.9, 0.999, 1e-8, 0.0));
    TRY(sm_trainer_new(&tr, net, sched, opt, (size_t)batch));
    if (edm)
        TRY(sm_trainer_set_sigma_sampling(tr, SM_SIGMA_LOGNORMAL, p_mean, p_std));
    if (warmup || lr_decay)
        TRY(sm_trainer_set_lr_schedule(tr, warmup, lr_decay ? steps : 0, 0.0));
    if (context_dim && dropout >= 0)
        TRY(sm_trainer_set_context_dropout(tr, dropout));
    if (ema_decay > 0) {
        TRY(sm_net_clone(net, &ema));
        TRY(sm_trainer_set_ema(tr, ema, ema_decay));
    }
    progress_init(&w.prog, quiet ? NULL : stderr, 500);
    if (loss_log && !(w.log = fopen(loss_log, "w"))) {
        fprintf(stderr, "%s train: cannot create '%s': %s\n", prog, loss_log, strerror(errno));
        rc = EXIT_RUNTIME;
        goto done;
    }
    if (w.log)
        fprintf(w.log, "step,loss\n");
    if (!quiet)
    fprintf(stderr, "%s train: %zu points in %zu-D (context %zu), %s net %zu x %llu x %llu, "
            "%llu levels %.4g -> %.4g, %llu threads, kernels %s (BLIS '%s')\n",
            prog, sm_dataset_size(data), dim, context_dim, param,
            dim + 1 + (context_dim ? context_dim + 1 : 0), (unsigned long long)width,
            (unsigned long long)depth, (unsigned long long)levels, smax, smin,
            (unsigned long long)threads, sm_net_kernels(net), sm_blas_config());
    double final_loss = NAN;
    double t0 = progress_now();
    TRY(sm_trainer_fit(tr, data, steps, rng, train_callback, &w, &final_loss));
    if (ema) /* the average goes with the normalization of the trained net */
        TRY(sm_net_set_normalization(ema, standardize ? norm : NULL,
                                     standardize ? norm + dim : NULL, dim));
    if (ema)
        TRY(sm_net_set_context_normalization(ema, cnorm, cnorm ? cnorm + context_dim : NULL,
                                             context_dim));
    TRY(sm_model_save(out, ema ? ema : net, sched, ema ? NULL : opt));
    printf("model=%s final_loss=%.4f train_s=%.2f\n", out, final_loss, progress_now() - t0);
done:
    if (w.log && fclose(w.log) != 0 && rc == 0) {
        fprintf(stderr, "%s train: error writing the loss log\n", prog);
        rc = EXIT_RUNTIME;
    }
    free(norm);
    free(cnorm);
    free(is_ctx);
    sm_trainer_free(tr);
    sm_optim_free(opt);
    sm_schedule_free(sched);
    sm_net_free(ema);
    sm_net_free(net);
    sm_dataset_free(data);
    sm_rng_free(rng);
    return rc;
}

/* ---- sample --------------------------------------------------------------- */

/* The format version of a model file (its bytes 8-11), 0 if unreadable. */
static unsigned model_file_version(const char *path)
{
    unsigned char h[12];
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t got = fread(h, 1, sizeof h, f);
    fclose(f);
    if (got != sizeof h)
        return 0;
    return (unsigned)h[8] | (unsigned)h[9] << 8 | (unsigned)h[10] << 16 | (unsigned)h[11] << 24;
}

/* A model without a normalization gives points in the network's own
 * coordinates: standardized ones for a version 1 file whose MODEL.norm
 * is missing, the training data's own only if it was not standardized. */
static void warn_no_normalization(const char *cmd, const char *model, const char *npath)
{
    if (model_file_version(model) == 1)
        fprintf(stderr,
                "%s %s: WARNING: '%s' is a format version 1 model without its side file "
                "'%s': the points come back in the network's STANDARDIZED coordinates "
                "(about mean 0, std 1 per column), NOT in the units of the data. Put the "
                "side file (two CSV rows: the columns' means, then their standard "
                "deviations) beside the model, or pass --raw to ask for these "
                "coordinates.\n",
                prog, cmd, model, npath ? npath : "MODEL.norm");
    else
        fprintf(stderr,
                "%s %s: WARNING: '%s' carries no normalization: the points are in the "
                "coordinates the network was trained in, which are the data's units only "
                "if it was trained on unstandardized data (--no-standardize); pass --raw to "
                "ask for these coordinates.\n",
                prog, cmd, model);
}

static void usage_sample(FILE *f)
{
    fprintf(f,
            "usage: %s sample MODEL --out FILE.csv [options]\n"
            "  --n N                 samples (default 2000)\n"
            "  --sampler KIND        langevin, pc, ode-euler, ode-heun, edm-heun,\n"
            "                        edm-stochastic, dpmpp-2m (default: edm-heun for an EDM\n"
            "                        model, langevin for a lab model)\n"
            "  --levels L            levels of a sampling grid of its own between the\n"
            "                        model's largest and smallest sigma (pc: geometric;\n"
            "                        other kinds: Karras, rho 7). Default: the model's own\n"
            "                        levels (edm: 18, 35 evaluations with edm-heun), or 10\n"
            "                        for pc and ode with a lab model\n"
            "  --snr X               pc: the corrector's signal-to-noise ratio (default 0.16)\n"
            "  --init-std X          pc and ode: start from N(0, X^2 I) (default\n"
            "                        sqrt(sigma_1^2 + 1), p_sigma_1 of standardized data)\n"
            "  --steps-per-scale K   Langevin steps per noise level (default 20)\n"
            "  --step-ratio R        step size alpha/sigma^2 (default 0.2)\n"
            "  --no-noise            drop the Langevin noise term\n"
            "  --final-denoise       finish with x += sigma_L^2 s(x, sigma_L)\n"
            "  --raw                 keep the network's (standardized) coordinates\n"
            "  --seed N              seed (default 0)\n"
            "  --threads T           threads (default: the CPUs it may use)\n"
            "  --kernels K           matrix products on auto (default) or blis\n"
            "conditional models:\n"
            "  --context FILE.csv    the condition: one context row for every sample, or one\n"
            "                        row per sample (default: none, the unconditional model),\n"
            "                        in the units of the training file's context columns\n"
            "                        (the model applies its context standardization)\n"
            "  --label L             the condition is class L (one-hot)\n"
            "  --guidance W          classifier-free guidance weight (default 0: plain\n"
            "                        conditional; W > 0 costs two evaluations per step)\n"
            "  --guidance-sigma LO,HI  guide only at noise levels sigma in [LO, HI] (HI may\n"
            "                        be inf; default 0,inf: every level); plain\n"
            "                        conditional evaluations elsewhere\n"
            "imputation (%s impute MODEL [MODEL ...] --data FILE.csv --out FILE.csv [options]):\n"
            "  --data FILE.csv       points whose empty or NaN fields are missing; the\n"
            "                        output holds them with the missing values imputed\n"
            "                        (data units; the observed values unchanged)\n"
            "  --resample R          jump back R times per level (RePaint; about (1 + R)\n"
            "                        times the evaluations, default 0)\n"
            "  --draws K             write the average of K imputations of every point (an\n"
            "                        estimate of the conditional mean: lower squared error\n"
            "                        than one draw; K times the evaluations; default 1)\n"
            "  --spread-out FILE.csv with --draws K >= 2: the standard deviation of the K\n"
            "                        imputations of every entry (data units; 0 where\n"
            "                        observed); one model only\n"
            "  several MODELs        an ensemble: each model imputes every point (K draws,\n"
            "                        model m from seed N + 1000 m) and the output is the\n"
            "                        average of the models' imputations\n"
            "  --n does not apply; the other options are those of sample\n"
            "common options:\n"
            COMMON_HELP
            "A model without a normalization (a format version 1 file without its\n"
            "MODEL.norm side file, or trained with --no-standardize) gives points in\n"
            "the network's own coordinates: a warning on stderr says so (--raw, which\n"
            "asks for them, silences it).\n",
            prog, prog);
}

/* sample, and impute (the same run from points with missing values). */
static int cmd_sample(args *a)
{
    const int impute = !strcmp(a->argv[1], "impute");
    const char *cmd = impute ? "impute" : "sample";
    const char *data_path = NULL;
    uint64_t resample = 0, draws = 1;
    const char *spread_path = NULL;
    float *spread = NULL;
    unsigned char *mask = NULL;
    sm_dataset *data = NULL;
    enum { MAX_MODELS = 32 };
    const char *models[MAX_MODELS], *model = NULL, *out = NULL;
    size_t n_models = 0;
    double *acc = NULL;
    uint64_t total_nfe = 0;
    uint64_t n = 2000, k = 20, seed = 0, threads = default_threads(), levels = 0;
    sm_kernels kernels = SM_KERNELS_AUTO;
    double ratio = 0.2, snr = 0.16, init_std = 0;
    int noise = 1, denoise = 0, raw = 0, kind = -1;
    const char *ctx_path = NULL;
    long label = -1;
    double guidance = 0.0, guide_lo = 0.0, guide_hi = INFINITY;
    for (a->i = 2; a->i < a->argc && !a->bad; a->i++) {
        const char *f = a->argv[a->i];
        if (!strcmp(f, "--help")) {
            usage_sample(stdout);
            return 0;
        } else if (!strcmp(f, "--out")) out = next_value(a, f);
        else if (!strcmp(f, "--n") && !impute) n = get_u64(a, f, 1);
        else if (!strcmp(f, "--data") && impute) data_path = next_value(a, f);
        else if (!strcmp(f, "--resample") && impute) resample = get_u64(a, f, 0);
        else if (!strcmp(f, "--draws") && impute) draws = get_u64(a, f, 1);
        else if (!strcmp(f, "--spread-out") && impute) spread_path = next_value(a, f);
        else if (!strcmp(f, "--guidance-sigma")) {
            const char *v = next_value(a, f);
            char *end = NULL;
            if (v) {
                guide_lo = strtod(v, &end);
                if (end != v && *end == ',') {
                    const char *h = end + 1;
                    guide_hi = strtod(h, &end);
                    if (end == h)
                        end = NULL;
                } else {
                    end = NULL;
                }
            }
            if (v && (!end || *end || !(guide_lo >= 0.0) || !isfinite(guide_lo) ||
                      !(guide_hi >= guide_lo))) {
                fprintf(stderr, "%s: --guidance-sigma needs LO,HI with 0 <= LO <= HI, LO "
                        "finite (got '%s')\n", prog, v);
                a->bad = 1;
            }
        }
        else if (!strcmp(f, "--steps-per-scale")) k = get_u64(a, f, 1);
        else if (!strcmp(f, "--levels")) levels = get_u64(a, f, 2);
        else if (!strcmp(f, "--snr")) snr = get_double(a, f, 1);
        else if (!strcmp(f, "--init-std")) init_std = get_double(a, f, 1);
        else if (!strcmp(f, "--sampler")) {
            const char *v = next_value(a, f);
            sm_sampler_kind sk;
            if (v && sm_sampler_kind_from_name(v, &sk) != SM_OK) {
                fprintf(stderr, "%s sample: unknown sampler '%s' (langevin, pc, ode-euler, "
                        "ode-heun, edm-heun, edm-stochastic, dpmpp-2m)\n", prog, v);
                return EXIT_USAGE;
            }
            if (v)
                kind = (int)sk;
        }
        else if (!strcmp(f, "--step-ratio")) ratio = get_double(a, f, 1);
        else if (!strcmp(f, "--no-noise")) noise = 0;
        else if (!strcmp(f, "--final-denoise")) denoise = 1;
        else if (!strcmp(f, "--raw")) raw = 1;
        else if (common_option(a, f)) continue;
        else if (!strcmp(f, "--context")) ctx_path = next_value(a, f);
        else if (!strcmp(f, "--label")) label = (long)get_u64(a, f, 0);
        else if (!strcmp(f, "--guidance")) guidance = get_double(a, f, 0);
        else if (!strcmp(f, "--seed")) seed = get_u64(a, f, 0);
        else if (!strcmp(f, "--threads")) threads = get_u64(a, f, 1);
        else if (!strcmp(f, "--kernels")) kernels = get_kernels(a, f);
        else if (f[0] != '-' && (impute ? n_models < MAX_MODELS : !model))
            model = models[n_models++] = f;
        else {
            fprintf(stderr, "%s %s: unknown argument '%s' (see --help)\n", prog, cmd, f);
            return EXIT_USAGE;
        }
    }
    if (a->bad)
        return EXIT_USAGE;
    if (!model || !out || (impute && !data_path)) {
        usage_sample(stderr);
        return EXIT_USAGE;
    }
    if (ctx_path && label >= 0) {
        fprintf(stderr, "%s sample: give --context or --label, not both\n", prog);
        return EXIT_USAGE;
    }
    if (label > INT32_MAX) {
        fprintf(stderr, "%s sample: --label %ld is too large\n", prog, label);
        return EXIT_USAGE;
    }
    if (resample > 1000) {
        fprintf(stderr, "%s impute: --resample must be at most 1000\n", prog);
        return EXIT_USAGE;
    }
    if (draws > 10000) {
        fprintf(stderr, "%s impute: --draws must be at most 10000\n", prog);
        return EXIT_USAGE;
    }
    if (spread_path && n_models > 1) {
        fprintf(stderr, "%s impute: --spread-out goes with one model, not an ensemble\n", prog);
        return EXIT_USAGE;
    }
    if (spread_path && draws < 2) {
        fprintf(stderr, "%s impute: --spread-out needs --draws 2 or more\n", prog);
        return EXIT_USAGE;
    }
    int rc = check_writable(cmd, "--out", out);
    if (!rc && spread_path)
        rc = check_writable(cmd, "--spread-out", spread_path);
    if (rc)
        return rc;
    sm_rng *rng = NULL;
    sm_net *net = NULL;
    sm_schedule *sched = NULL, *grid = NULL;
    sm_sampler *s = NULL;
    sm_dataset *norm = NULL, *cds = NULL;
    float *x = NULL, *onehot = NULL;
    char *npath = NULL;
    double sample_s = 0;
    size_t dim = 0;
    const float *mean = NULL, *sd = NULL;
    for (size_t mi = 0; mi < (n_models ? n_models : 1); mi++) {
        if (mi > 0) { /* the next member of an ensemble: its own network and sampler */
            sm_sampler_free(s);
            sm_schedule_free(grid);
            sm_schedule_free(sched);
            sm_net_free(net);
            sm_rng_free(rng);
            sm_dataset_free(norm);
            free(npath);
            s = NULL, grid = sched = NULL, net = NULL, rng = NULL, norm = NULL, npath = NULL;
        }
        model = models[mi];
        TRY(sm_model_load(model, &net, &sched, NULL));
        TRY(sm_net_set_threads(net, (size_t)threads));
        TRY(sm_net_set_kernels(net, kernels));
        TRY(sm_rng_new(&rng, seed + 1000u * (uint64_t)mi));
        const int edm = sm_net_parametrization(net) == SM_PARAM_EDM;
        if (kind < 0)
            kind = edm ? SM_SAMPLER_EDM_HEUN : SM_SAMPLER_LANGEVIN;
        const double s1 = sm_schedule_sigma(sched, 0),
                     sl = sm_schedule_sigma(sched, sm_schedule_levels(sched) - 1);
        if (levels == 0 && !edm && kind != SM_SAMPLER_LANGEVIN)
            levels = 10; /* a lab ladder is too coarse a grid for the other kinds */
        if (levels > 0) {
            /* A grid of its own inside the model's range: the network takes
             * log sigma, so levels between the kept ones are valid. */
            if (kind == SM_SAMPLER_PC)
                TRY(sm_schedule_new_geometric(&grid, s1, sl, (size_t)levels));
            else
                TRY(sm_schedule_new_karras(&grid, s1, sl, (size_t)levels, 7.0));
        }
        TRY(sm_sampler_new(&s, net, grid ? grid : sched));
        TRY(sm_sampler_set_kind(s, (sm_sampler_kind)kind));
        TRY(sm_sampler_set_corrector(s, 1, snr));
        if (init_std > 0)
            TRY(sm_sampler_set_init_normal(s, init_std));
        else if (!edm && kind != SM_SAMPLER_LANGEVIN)
            TRY(sm_sampler_set_init_normal(s, sqrt(s1 * s1 + 1.0)));
        TRY(sm_sampler_set_steps_per_scale(s, (size_t)k));
        TRY(sm_sampler_set_step_ratio(s, ratio));
        TRY(sm_sampler_set_noise(s, noise));
        TRY(sm_sampler_set_final_denoise(s, denoise));
        const size_t cdim = sm_net_context_dim(net);
        if ((ctx_path || label >= 0) && cdim == 0) {
            fprintf(stderr, "%s sample: '%s' has no context input: --context and --label need a "
                    "model trained with contexts\n", prog, model);
            rc = EXIT_USAGE;
            goto done;
        }
        if (ctx_path) {
            if (!cds)
                TRY(sm_dataset_read_csv_ex(&cds, NULL, ctx_path, csv_flags));
            TRY(sm_sampler_set_context(s, sm_dataset_data(cds), sm_dataset_size(cds),
                                       sm_dataset_dim(cds)));
        } else if (label >= 0) {
            const int32_t l = (int32_t)label;
            free(onehot);
            if (!(onehot = malloc(cdim * sizeof(float)))) {
                rc = fail(SM_ERR_NOMEM);
                goto done;
            }
            TRY(sm_labels_one_hot(&l, 1, cdim, onehot));
            TRY(sm_sampler_set_context(s, onehot, 1, cdim));
        }
        TRY(sm_sampler_set_guidance(s, guidance, guide_lo, guide_hi));
        TRY(sm_sampler_set_resample(s, (size_t)resample));
        TRY(sm_sampler_set_impute_draws(s, (size_t)draws));
        dim = sm_net_dim(net);
        if (impute) {
            if (!data)
                TRY(sm_dataset_read_csv_ex(&data, &mask, data_path, csv_flags));
            if (sm_dataset_dim(data) != dim) {
                fprintf(stderr, "%s impute: '%s' has %zu columns, the model '%s' %zu\n", prog,
                        data_path, sm_dataset_dim(data), model, dim);
                rc = EXIT_RUNTIME;
                goto done;
            }
            n = sm_dataset_size(data);
        }
        char what[64];
        snprintf(what, sizeof what, "%llu samples of %zu floats", (unsigned long long)n, dim);
        size_t bytes;
        if ((rc = check_size(cmd, "--n", n, dim * sizeof(float), what, &bytes)))
            goto done;
        if ((!x && !(x = alloc_or_say(cmd, bytes, what))) ||
            (spread_path && !(spread = alloc_or_say(cmd, bytes, what))) ||
            (n_models > 1 && !acc && !(acc = alloc_or_say(cmd, (size_t)n * dim * sizeof(double),
                                                          "the ensemble's sums")))) {
            rc = EXIT_RUNTIME;
            goto done;
        }
        if (acc && mi == 0)
            memset(acc, 0, (size_t)n * dim * sizeof(double));
        npath = norm_path(model);
        mean = sd = NULL;
        if (!raw && !sm_net_has_normalization(net) && npath && access(npath, R_OK) == 0) {
            /* Models saved before format version 2 kept it beside the model. */
            if ((rc = read_points(cmd, npath, &norm)))
                goto done;
            if (sm_dataset_size(norm) != 2 || sm_dataset_dim(norm) != dim) {
                fprintf(stderr, "%s %s: '%s' does not hold 2 rows of %zu values\n", prog, cmd,
                        npath, dim);
                rc = EXIT_RUNTIME;
                goto done;
            }
            mean = sm_dataset_row(norm, 0);
            sd = sm_dataset_row(norm, 1);
        }
        if (!raw && !sm_net_has_normalization(net) && !mean)
            warn_no_normalization(cmd, model, npath);
        if (impute) { /* observed values into the network's units */
            memcpy(x, sm_dataset_data(data), (size_t)n * dim * sizeof(float));
            if (!raw && sm_net_has_normalization(net))
                TRY(sm_net_from_data_units(net, x, (size_t)n, dim));
            for (size_t i = 0; mean && i < (size_t)n * dim; i++)
                x[i] = (x[i] - mean[i % dim]) / sd[i % dim];
        }
        double t0 = progress_now();
        if (impute && spread)
            TRY(sm_sampler_impute_spread(s, rng, x, spread, mask, (size_t)n, dim));
        else if (impute)
            TRY(sm_sampler_impute(s, rng, x, mask, (size_t)n, dim));
        else
            TRY(sm_sampler_run(s, rng, x, (size_t)n, dim));
        sample_s += progress_now() - t0;
        total_nfe += sm_sampler_nfe(s);
        if (!raw && sm_net_has_normalization(net))
            TRY(sm_net_to_data_units(net, x, (size_t)n, dim));
        for (size_t i = 0; mean && i < (size_t)n * dim; i++)
            x[i] = x[i] * sd[i % dim] + mean[i % dim];
        /* The observed values exactly as read, not through a round trip of
         * the units' float arithmetic. */
        for (size_t i = 0; impute && i < (size_t)n * dim; i++)
            if (mask[i])
                x[i] = sm_dataset_data(data)[i];
        for (size_t i = 0; acc && i < (size_t)n * dim; i++)
            acc[i] += x[i];
    } /* the models of an ensemble */
    for (size_t i = 0; acc && i < (size_t)n * dim; i++) /* observed entries stay exact */
        x[i] = mask[i] ? sm_dataset_data(data)[i] : (float)(acc[i] / (double)n_models);
    TRY(sm_points_write_csv(out, x, (size_t)n, dim));
    if (spread) { /* a spread scales as the data; the shift does not apply */
        float *scale = malloc(dim * sizeof(float));
        if (!scale) {
            rc = fail(SM_ERR_NOMEM);
            goto done;
        }
        sm_status st = raw ? SM_OK : sm_net_get_normalization(net, NULL, scale, dim);
        for (size_t i = 0; !st && i < (size_t)n * dim; i++)
            spread[i] *= (raw ? 1.0f : scale[i % dim]) * (sd ? sd[i % dim] : 1.0f);
        free(scale);
        TRY(st);
        TRY(sm_points_write_csv(spread_path, spread, (size_t)n, dim));
    }
    printf("%s=%s n=%llu nfe=%llu sample_s=%.2f\n", impute ? "imputed" : "samples", out,
           (unsigned long long)n, (unsigned long long)total_nfe, sample_s);
done:
    free(acc);
    free(spread);
    sm_free(mask);
    sm_dataset_free(data);
    free(npath);
    free(x);
    free(onehot);
    sm_dataset_free(cds);
    sm_dataset_free(norm);
    sm_sampler_free(s);
    sm_schedule_free(grid);
    sm_schedule_free(sched);
    sm_net_free(net);
    sm_rng_free(rng);
    return rc;
}

/* ---- eval ----------------------------------------------------------------- */

static void usage_eval(FILE *f)
{
    fprintf(f,
            "usage: %s eval REAL.csv GENERATED.csv [--radius R] [--radius-units std|data]\n"
            "                [--seed N]\n"
            "Prints coverage and precision at radius R (default 0.15), measured by\n"
            "default in the real set's standardized coordinates (each column centred\n"
            "and divided by its standard deviation in REAL.csv, both sets alike), so\n"
            "that R means the same on data of any scale; --radius-units data applies\n"
            "R to the files' own units. Then improved\n"
            "precision/recall (k=3), density/coverage (k=5), energy distance and RBF\n"
            "MMD^2 (median-heuristic bandwidth; both on at most 5000 points per set)\n"
            "and the Frechet distance between Gaussian fits of the two sets.\n"
            "Metrics that a set is too small for (the k-NN ones with k or fewer\n"
            "points, the Frechet distance with one) are skipped, with a note on stderr.\n"
            COMMON_HELP,
            prog);
}

static int cmd_eval(args *a)
{
    const char *real_path = NULL, *gen_path = NULL;
    double radius = 0.15;
    uint64_t seed = 0;
    const char *units = "std";
    for (a->i = 2; a->i < a->argc && !a->bad; a->i++) {
        const char *f = a->argv[a->i];
        if (!strcmp(f, "--help")) {
            usage_eval(stdout);
            return 0;
        } else if (!strcmp(f, "--radius")) radius = get_double(a, f, 1);
        else if (!strcmp(f, "--radius-units")) units = next_value(a, f);
        else if (!strcmp(f, "--seed")) seed = get_u64(a, f, 0);
        else if (common_option(a, f)) continue;
        else if (f[0] != '-' && !real_path) real_path = f;
        else if (f[0] != '-' && !gen_path) gen_path = f;
        else {
            fprintf(stderr, "%s eval: unknown argument '%s' (see --help)\n", prog, f);
            return EXIT_USAGE;
        }
    }
    if (a->bad)
        return EXIT_USAGE;
    if (!real_path || !gen_path) {
        usage_eval(stderr);
        return EXIT_USAGE;
    }
    if (!units || (strcmp(units, "std") && strcmp(units, "data"))) {
        fprintf(stderr, "%s eval: --radius-units must be std or data\n", prog);
        return EXIT_USAGE;
    }
    const int std_units = !strcmp(units, "std");
    int rc = 0;
    sm_dataset *real = NULL, *gen = NULL, *real_std = NULL;
    float *gen_std = NULL;
    sm_rng *rng = NULL;
    if ((rc = read_points("eval", real_path, &real)) || (rc = read_points("eval", gen_path, &gen)))
        goto done;
    if (sm_dataset_dim(real) != sm_dataset_dim(gen)) {
        fprintf(stderr, "%s eval: %s has %zu columns, %s has %zu\n", prog, real_path,
                sm_dataset_dim(real), gen_path, sm_dataset_dim(gen));
        rc = EXIT_RUNTIME;
        goto done;
    }
    TRY(sm_rng_new(&rng, seed));
    const float *X = sm_dataset_data(real), *Y = sm_dataset_data(gen);
    size_t N = sm_dataset_size(real), M = sm_dataset_size(gen), d = sm_dataset_dim(real);
    double cov, prec, ip, ir, dens, dcov, energy, mmd, bw, fd;
    /* The k-nearest-neighbour metrics need more than k points in the set
     * whose neighbours they take, the Fréchet distance two per set to fit a
     * covariance: small sets get the metrics that exist for them. */
    const size_t kp = SM_METRIC_K_PR_DEFAULT, kd = SM_METRIC_K_DC_DEFAULT;
    const int has_ip = N > kp, has_ir = M > kp, has_dc = N > kd, has_fd = N >= 2 && M >= 2;
    if (std_units) {
        /* The radius-based metrics on copies in the real set's standardized
         * coordinates; the others stay in the files' units. */
        TRY(sm_dataset_clone(real, &real_std));
        TRY(sm_dataset_standardize(real_std));
        if (!(gen_std = alloc_or_say("eval", M * d * sizeof(float), "the standardized points"))) {
            rc = EXIT_RUNTIME;
            goto done;
        }
        memcpy(gen_std, Y, M * d * sizeof(float));
        TRY(sm_dataset_standardize_points(real_std, gen_std, M, d));
        TRY(sm_metric_coverage_precision(sm_dataset_data(real_std), N, gen_std, M, d, radius,
                                         &cov, &prec, NULL));
    } else {
        TRY(sm_metric_coverage_precision(X, N, Y, M, d, radius, &cov, &prec, NULL));
    }
    if (has_ip || has_ir || has_dc)
        TRY(sm_metric_prdc(X, N, Y, M, d, kp, kd, has_ip ? &ip : NULL, has_ir ? &ir : NULL,
                           has_dc ? &dens : NULL, has_dc ? &dcov : NULL, NULL));
    TRY(sm_metric_energy_distance(X, N, Y, M, d, 5000, rng, &energy, NULL));
    TRY(sm_metric_mmd_rbf(X, N, Y, M, d, 0.0, 5000, rng, &mmd, &bw, NULL));
    if (has_fd)
        TRY(sm_metric_frechet_distance(X, N, Y, M, d, &fd, NULL));
    if (!quiet && !has_ip)
        fprintf(stderr, "%s eval: improved_precision skipped: it needs more than %zu real "
                "points (k = %zu), %s has %zu\n", prog, kp, kp, real_path, N);
    if (!quiet && !has_ir)
        fprintf(stderr, "%s eval: improved_recall skipped: it needs more than %zu generated "
                "points (k = %zu), %s has %zu\n", prog, kp, kp, gen_path, M);
    if (!quiet && !has_dc)
        fprintf(stderr, "%s eval: density and dc_coverage skipped: they need more than %zu real "
                "points (k = %zu), %s has %zu\n", prog, kd, kd, real_path, N);
    if (!quiet && !has_fd)
        fprintf(stderr, "%s eval: frechet_distance skipped: it needs at least 2 points in each "
                "set\n", prog);
    printf("coverage=%.4f precision=%.4f radius=%g radius_units=%s\n", cov, prec, radius,
           std_units ? "std" : "data");
    if (has_ip || has_ir || has_dc) {
        const char *sep = "";
        if (has_ip)
            printf("improved_precision=%.4f", ip), sep = " ";
        if (has_ir)
            printf("%simproved_recall=%.4f", sep, ir), sep = " ";
        if (has_dc)
            printf("%sdensity=%.4f dc_coverage=%.4f", sep, dens, dcov);
        printf("\n");
    }
    printf("energy_distance=%.6f mmd2=%.6f mmd_bandwidth=%.4g", energy, mmd, bw);
    if (has_fd)
        printf(" frechet_distance=%.6f", fd);
    printf(" real=%zu generated=%zu\n", N, M);
done:
    free(gen_std);
    sm_rng_free(rng);
    sm_dataset_free(real_std);
    sm_dataset_free(real);
    sm_dataset_free(gen);
    return rc;
}

/* ---- plot ----------------------------------------------------------------- */

static void usage_plot(FILE *f)
{
    fprintf(f,
            "usage: %s plot OUT.png FILE.csv [FILE.csv ...] [options]\n"
            "Draws up to 8 point sets (in order, later ones on top) into a PNG, with\n"
            "axes, ticks and the column names of the first file with a header (x0,\n"
            "x1, ... otherwise). Two columns: one scatter plot; more: a pair plot (a\n"
            "scatter plot of every pair, the histograms on the diagonal).\n"
            "  --columns I,J[,K...]  the columns to draw, numbered from 0 (2 to 8)\n"
            "  --x I --y J           the same as --columns I,J\n"
            "  --pairs K             without --columns: the first K columns (default:\n"
            "                        2 for 2-column files, else min(4, columns))\n"
            "  --title TEXT          a title above the plot (default: none)\n"
            COMMON_HELP,
            prog);
}

/* Parses "I,J,..." into cols (at most PLOT_MAX_COLUMNS); their count, or 0
 * after a message. */
static size_t parse_plot_columns(const char *list, size_t *cols)
{
    size_t k = 0;
    const char *p = list;
    while (*p) {
        char *end;
        errno = 0;
        unsigned long long c = strtoull(p, &end, 10);
        if (errno || end == p || *p == '-' || (*end && *end != ',') || k == PLOT_MAX_COLUMNS) {
            fprintf(stderr, "%s plot: --columns needs 2 to %d column numbers separated by "
                    "commas (got '%s')\n", prog, PLOT_MAX_COLUMNS, list);
            return 0;
        }
        cols[k++] = (size_t)c;
        p = *end ? end + 1 : end;
    }
    if (k < 2) {
        fprintf(stderr, "%s plot: --columns needs at least 2 columns (got '%s')\n", prog, list);
        return 0;
    }
    return k;
}

static int cmd_plot(args *a)
{
    const char *out = NULL, *title = NULL, *columns = NULL;
    const char *files[PLOT_MAX_SETS];
    size_t nf = 0;
    long cx = -1, cy = -1;
    uint64_t pairs = 0;
    for (a->i = 2; a->i < a->argc && !a->bad; a->i++) {
        const char *f = a->argv[a->i];
        if (!strcmp(f, "--help")) {
            usage_plot(stdout);
            return 0;
        } else if (!strcmp(f, "--title")) title = next_value(a, f);
        else if (!strcmp(f, "--columns")) columns = next_value(a, f);
        else if (!strcmp(f, "--x")) cx = (long)get_u64(a, f, 0);
        else if (!strcmp(f, "--y")) cy = (long)get_u64(a, f, 0);
        else if (!strcmp(f, "--pairs")) pairs = get_u64(a, f, 2);
        else if (common_option(a, f)) continue;
        else if (f[0] != '-' && !out) out = f;
        else if (f[0] != '-' && nf < PLOT_MAX_SETS) files[nf++] = f;
        else {
            fprintf(stderr, "%s plot: unknown or extra argument '%s'\n", prog, f);
            return EXIT_USAGE;
        }
    }
    if (a->bad)
        return EXIT_USAGE;
    if (!out || nf == 0) {
        usage_plot(stderr);
        return EXIT_USAGE;
    }
    size_t cols[PLOT_MAX_COLUMNS], k = 0;
    if (columns && (cx >= 0 || cy >= 0)) {
        fprintf(stderr, "%s plot: give --columns or --x/--y, not both\n", prog);
        return EXIT_USAGE;
    }
    if ((cx >= 0) != (cy >= 0)) {
        fprintf(stderr, "%s plot: --x and --y go together\n", prog);
        return EXIT_USAGE;
    }
    if (pairs > PLOT_MAX_COLUMNS || (pairs && (columns || cx >= 0))) {
        fprintf(stderr, "%s plot: --pairs takes 2 to %d and goes without --columns, --x, --y\n",
                prog, PLOT_MAX_COLUMNS);
        return EXIT_USAGE;
    }
    if (columns && !(k = parse_plot_columns(columns, cols)))
        return EXIT_USAGE;
    if (cx >= 0) {
        cols[0] = (size_t)cx;
        cols[1] = (size_t)cy;
        k = 2;
    }
    int rc = check_writable("plot", "OUT.png", out);
    if (rc)
        return rc;
    static const double colours[PLOT_MAX_SETS][3] = {
        {0.12, 0.47, 0.71}, {1.0, 0.5, 0.05},   {0.17, 0.63, 0.17}, {0.84, 0.15, 0.16},
        {0.58, 0.40, 0.74}, {0.55, 0.34, 0.29}, {0.89, 0.47, 0.76}, {0.5, 0.5, 0.5}};
    sm_dataset *sets[PLOT_MAX_SETS] = {0};
    plot_set ps[PLOT_MAX_SETS];
    const char **names = NULL;
    size_t min_dim = SIZE_MAX;
    for (size_t i = 0; i < nf; i++) {
        if ((rc = read_points("plot", files[i], &sets[i])))
            goto done;
        const size_t d = sm_dataset_dim(sets[i]);
        min_dim = d < min_dim ? d : min_dim;
        ps[i] = (plot_set){sm_dataset_data(sets[i]), sm_dataset_size(sets[i]), d,
                           colours[i][0], colours[i][1], colours[i][2], 0.4, files[i]};
    }
    if (k == 0) {
        if (min_dim < 2) {
            fprintf(stderr, "%s plot: a plot needs 2 columns; the files have %zu\n", prog,
                    min_dim);
            rc = EXIT_RUNTIME;
            goto done;
        }
        k = pairs ? (size_t)pairs : min_dim == 2 ? 2 : min_dim < 4 ? min_dim : 4;
        if (k > min_dim) {
            fprintf(stderr, "%s plot: --pairs %zu, the files have %zu columns\n", prog, k,
                    min_dim);
            rc = EXIT_USAGE;
            goto done;
        }
        for (size_t j = 0; j < k; j++)
            cols[j] = j;
    }
    /* Column names: those of the first file with a header. */
    for (size_t i = 0; i < nf && !names; i++) {
        if (!sm_dataset_header_rows(sets[i]))
            continue;
        const size_t d = sm_dataset_dim(sets[i]);
        if (!(names = calloc(min_dim, sizeof *names))) {
            rc = fail(SM_ERR_NOMEM);
            goto done;
        }
        for (size_t j = 0; j < min_dim && j < d; j++) {
            const char *nm = sm_dataset_column_name(sets[i], j);
            names[j] = nm && *nm ? nm : NULL;
        }
    }
    const int w = k == 2 ? 720 : 76 + 220 * (int)k, h = k == 2 ? 640 : 58 + 220 * (int)k;
    char err[256];
    if (plot_columns_png(out, ps, nf, cols, k, names, title, w, h + (title && *title ? 36 : 0),
                         err, sizeof err)) {
        fprintf(stderr, "%s plot: %s\n", prog, err);
        rc = EXIT_RUNTIME;
        goto done;
    }
    printf("plot=%s sets=%zu columns=", out, nf);
    for (size_t j = 0; j < k; j++)
        printf("%s%zu", j ? "," : "", cols[j]);
    printf(" size=%dx%d\n", w, h + (title && *title ? 36 : 0));
done:
    free(names);
    for (size_t i = 0; i < nf; i++)
        sm_dataset_free(sets[i]);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s COMMAND [options]   (libscorematch %s)\n\n"
            "  train   train a score model on a CSV file or a toy data set\n"
            "  sample  draw samples from a model file into a CSV file\n"
            "  impute  fill in the missing values of a CSV file with a model\n"
            "  eval    compare generated points with real ones\n"
            "  plot    draw CSV point sets into a PNG%s\n\n"
            "'%s COMMAND --help' describes each command.\n",
            prog, sm_version_string(), plot_available() ? "" : " (not built: no cairo)", prog);
}

int main(int argc, char **argv)
{
    args a = {argc, 2, argv, 0};
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("smtool (libscorematch %s)\n", sm_version_string());
        return 0;
    }
    if (!strcmp(argv[1], "train"))
        return cmd_train(&a);
    if (!strcmp(argv[1], "sample") || !strcmp(argv[1], "impute"))
        return cmd_sample(&a);
    if (!strcmp(argv[1], "eval"))
        return cmd_eval(&a);
    if (!strcmp(argv[1], "plot"))
        return cmd_plot(&a);
    fprintf(stderr, "%s: unknown command '%s'\n", prog, argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
