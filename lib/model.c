/* Model files: network + noise ladder + optional optimizer state in one
 * checksummed little-endian blob (layout in include/scorematch/model.h and
 * docs/model-format.md). Every value is written and read byte by byte, so
 * the format does not depend on the host's endianness. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32-private.h"
#include "internal.h"
#include "learning-private.h"
#include "net-private.h"
#include "scorematch/model.h"

static const unsigned char magic[8] = {0x89, 'S', 'M', 'M', '\r', '\n', 0x1a, '\n'};

#define HEADER_BYTES 56u    /* magic .. levels (version 1) */
#define MODEL_BYTES 16u     /* version 2: parametrization, reserved, sigma_data */
#define CONTEXT_BYTES 8u    /* version 3: context_dim */
#define OPT_HEADER_BYTES 80u /* kind .. clip norm */
#define CRC_BYTES 4u
#define FLAG_OPTIM 1u
#define FLAG_NORM 2u        /* version 2: normalization section present */
#define FLAG_CTX_NORM 4u    /* version 3: context normalization section present */
#define FILE_ADAM 1u
#define FILE_SGD 2u

/* ---- little-endian encoding ------------------------------------------- */

typedef struct {
    unsigned char *p;
} writer;

static void put_u32(writer *w, uint32_t x)
{
    for (int i = 0; i < 4; i++)
        *w->p++ = (unsigned char)(x >> (8 * i));
}

static void put_u64(writer *w, uint64_t x)
{
    for (int i = 0; i < 8; i++)
        *w->p++ = (unsigned char)(x >> (8 * i));
}

static void put_f32(writer *w, float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    put_u32(w, u);
}

static void put_f64(writer *w, double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    put_u64(w, u);
}

static void put_f32s(writer *w, const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put_f32(w, x[i]);
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static float get_f32(const unsigned char *p)
{
    uint32_t u = get_u32(p);
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

static double get_f64(const unsigned char *p)
{
    uint64_t u = get_u64(p);
    double x;
    memcpy(&x, &u, sizeof x);
    return x;
}

/* Decodes n floats; returns the index of the first non-finite one, or n. */
static size_t get_f32s(const unsigned char *p, float *out, size_t n)
{
    size_t bad = n;
    for (size_t i = 0; i < n; i++) {
        out[i] = get_f32(p + 4 * i);
        if (bad == n && !isfinite(out[i]))
            bad = i;
    }
    return bad;
}

/* Index of the first non-finite encoded float in p[0 .. 4n), or n. */
static size_t first_nonfinite_le(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(get_f32(p + 4 * i)))
            return i;
    return n;
}

/* ---- saving ------------------------------------------------------------ */

static sm_status encode(const sm_net *net, const sm_schedule *sched, const sm_optim *opt,
                        unsigned char **out, size_t *out_len, const char *fn)
{
    *out = NULL;
    *out_len = 0;
    if (!net || !sched)
        return sm__error(SM_ERR_INVALID_ARG, "%s: %s is NULL", fn, net ? "sched" : "net");
    const size_t np = sm_net_num_params(net), levels = sm_schedule_levels(sched);
    sm__optim_state os = {0};
    if (opt) {
        sm__optim_get_state(opt, &os);
        if (os.n != np)
            return sm__error(SM_ERR_SHAPE,
                             "%s: the optimizer has %zu parameters, the network %zu", fn, os.n,
                             np);
    }
    size_t bad = sm__first_nonfinite(sm__net_weights(net), np);
    if (bad < np)
        return sm__error(SM_ERR_NONFINITE, "%s: parameter %zu is not finite; nothing was saved",
                         fn, bad);
    if (opt) {
        if ((bad = sm__first_nonfinite(os.m, np)) < np)
            return sm__error(SM_ERR_NONFINITE,
                             "%s: optimizer moment m[%zu] is not finite; nothing was saved", fn,
                             bad);
        if (os.v && (bad = sm__first_nonfinite(os.v, np)) < np)
            return sm__error(SM_ERR_NONFINITE,
                             "%s: optimizer moment v[%zu] is not finite; nothing was saved", fn,
                             bad);
    }
    /* Length: header, model fields, parameters, sigmas, [normalization],
     * [context normalization], [optimizer], CRC; checked. */
    const size_t vectors = !opt ? 0 : os.kind == SM__OPTIM_ADAM ? 2 : 1;
    const size_t dim = sm_net_dim(net), cdim = sm_net_context_dim(net);
    const int norm = sm_net_has_normalization(net);
    const int cnorm = sm_net_has_context_normalization(net); /* only with cdim > 0 */
    /* The oldest version that holds the network: files of networks without
     * a context stay version 2, readable by earlier releases. */
    const uint32_t version = cdim ? 3u : 2u;
    size_t pbytes, lbytes, obytes, len = HEADER_BYTES + MODEL_BYTES + CRC_BYTES;
    len += version >= 3 ? CONTEXT_BYTES : 0;
    len += norm ? 8 * dim : 0; /* dim < 2^30: no overflow */
    len += cnorm ? 8 * cdim : 0; /* likewise context_dim */
    if (sm__mul_size(np, 4, &pbytes) || sm__mul_size(levels, 4, &lbytes) ||
        sm__mul_size(pbytes, vectors, &obytes) || pbytes > SIZE_MAX - len ||
        lbytes > SIZE_MAX - len - pbytes ||
        obytes > SIZE_MAX - len - pbytes - lbytes - OPT_HEADER_BYTES)
        return sm__error(SM_ERR_OVERFLOW, "%s: model size overflows", fn);
    len += pbytes + lbytes + (opt ? OPT_HEADER_BYTES + obytes : 0);
    unsigned char *buf = malloc(len);
    if (!buf)
        return sm__error(SM_ERR_NOMEM, "%s: out of memory for %zu bytes", fn, len);

    writer w = {buf};
    memcpy(w.p, magic, sizeof magic);
    w.p += sizeof magic;
    put_u32(&w, version);
    put_u32(&w, (opt ? FLAG_OPTIM : 0u) | (norm ? FLAG_NORM : 0u) |
                    (cnorm ? FLAG_CTX_NORM : 0u));
    put_u64(&w, dim);
    put_u64(&w, sm_net_width(net));
    put_u64(&w, sm_net_depth(net));
    put_u64(&w, np);
    put_u64(&w, levels);
    put_u32(&w, (uint32_t)sm_net_parametrization(net));
    put_u32(&w, 0);
    put_f64(&w, sm_net_sigma_data(net));
    if (version >= 3)
        put_u64(&w, cdim);
    put_f32s(&w, sm__net_weights(net), np);
    put_f32s(&w, sm__schedule_sigmas(sched), levels);
    if (norm || cnorm) {
        /* Each section: shifts, then scales. */
        float *tmp = malloc(2 * (dim > cdim ? dim : cdim) * sizeof(float));
        if (!tmp) {
            free(buf);
            return sm__error(SM_ERR_NOMEM, "%s: out of memory", fn);
        }
        if (norm) {
            sm_net_get_normalization(net, tmp, tmp + dim, dim);
            put_f32s(&w, tmp, 2 * dim);
        }
        if (cnorm) {
            sm_net_get_context_normalization(net, tmp, tmp + cdim, cdim);
            put_f32s(&w, tmp, 2 * cdim);
        }
        free(tmp);
    }
    if (opt) {
        put_u32(&w, os.kind == SM__OPTIM_ADAM ? FILE_ADAM : FILE_SGD);
        put_u32(&w, 0);
        put_u64(&w, np);
        put_u64(&w, os.t);
        put_f64(&w, os.lr);
        put_f64(&w, os.beta1);
        put_f64(&w, os.beta2);
        put_f64(&w, os.eps);
        put_f64(&w, os.weight_decay);
        put_f64(&w, os.momentum);
        put_f64(&w, os.clip);
        put_f32s(&w, os.m, np);
        if (os.v)
            put_f32s(&w, os.v, np);
    }
    put_u32(&w, sm__crc32(0, buf, (size_t)(w.p - buf)));
    *out = buf;
    *out_len = len;
    return SM_OK;
}

sm_status sm_model_save_buffer(const sm_net *net, const sm_schedule *sched, const sm_optim *opt,
                               void **out, size_t *out_len)
{
    const char *fn = "sm_model_save_buffer";
    if (!out || !out_len) {
        if (out)
            *out = NULL;
        if (out_len)
            *out_len = 0;
        return sm__error(SM_ERR_INVALID_ARG, "%s: %s is NULL", fn, out ? "out_len" : "out");
    }
    unsigned char *buf;
    sm_status st = encode(net, sched, opt, &buf, out_len, fn);
    *out = buf;
    return st;
}

void sm_free(void *p)
{
    free(p);
}

sm_status sm_model_save(const char *path, const sm_net *net, const sm_schedule *sched,
                        const sm_optim *opt)
{
    const char *fn = "sm_model_save";
    if (!path)
        return sm__error(SM_ERR_INVALID_ARG, "%s: path is NULL", fn);
    unsigned char *buf;
    size_t len;
    sm_status st = encode(net, sched, opt, &buf, &len, fn);
    if (st)
        return st;
    sm__outfile f;
    st = sm__outfile_open(&f, path, fn);
    if (st == SM_OK) {
        sm__outfile_write(&f, buf, len);
        st = sm__outfile_commit(&f, fn);
    }
    free(buf);
    return st;
}

/* ---- loading ----------------------------------------------------------- */

/* Where each part of a checked input lies. */
typedef struct {
    uint32_t version;
    uint64_t dim, width, depth;
    uint64_t context_dim; /* version 3; 0 before */
    size_t np, levels;
    uint32_t param;     /* version 2; 0 (lab) for version 1 */
    double sigma_data;  /* version 2; 0 for version 1 */
    const unsigned char *params, *sigmas;
    const unsigned char *norm; /* 2·dim floats, or NULL */
    const unsigned char *ctx_norm; /* 2·context_dim floats, or NULL (version 3) */
    int has_opt;
    uint32_t kind;
    const unsigned char *opt; /* optimizer section */
    const unsigned char *m, *v;
} layout;

static int bits_zero(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u == 0;
}

/* Checks the structure of buf (magic, version, sizes against the length,
 * checksum) without allocating anything. `who` prefixes messages. */
static sm_status check_layout(const unsigned char *b, size_t len, layout *lo, const char *who)
{
    if (len < sizeof magic && memcmp(b, magic, len) == 0)
        return sm__error(SM_ERR_FORMAT, "%s: truncated: %zu bytes, shorter than the magic", who,
                         len);
    if (len < sizeof magic || memcmp(b, magic, sizeof magic) != 0)
        return sm__error(SM_ERR_FORMAT, "%s: not a libscorematch model (wrong magic bytes)",
                         who);
    if (len < 12)
        return sm__error(SM_ERR_FORMAT, "%s: truncated in the format version", who);
    uint32_t version = get_u32(b + 8);
    if (version < 1 || version > SM_MODEL_FORMAT_VERSION)
        return sm__error(SM_ERR_VERSION,
                         "%s: format version %u is not supported (this library reads versions 1 "
                         "to %d)",
                         who, (unsigned)version, SM_MODEL_FORMAT_VERSION);
    lo->version = version;
    const size_t header = HEADER_BYTES + (version >= 2 ? MODEL_BYTES : 0) +
                          (version >= 3 ? CONTEXT_BYTES : 0);
    if (len < header + CRC_BYTES)
        return sm__error(SM_ERR_FORMAT, "%s: truncated: %zu bytes, the header alone needs %zu",
                         who, len, header + CRC_BYTES);
    uint32_t flags = get_u32(b + 12);
    const uint32_t known = version >= 3   ? FLAG_OPTIM | FLAG_NORM | FLAG_CTX_NORM
                           : version >= 2 ? FLAG_OPTIM | FLAG_NORM
                                          : FLAG_OPTIM;
    if (flags & ~known)
        return sm__error(SM_ERR_FORMAT, "%s: flags 0x%08x has unknown bits set", who,
                         (unsigned)flags);
    lo->has_opt = (flags & FLAG_OPTIM) != 0;
    if (version >= 2) {
        lo->param = get_u32(b + HEADER_BYTES);
        if (lo->param != SM_PARAM_LAB && lo->param != SM_PARAM_EDM)
            return sm__error(SM_ERR_FORMAT, "%s: unknown parametrization %u", who,
                             (unsigned)lo->param);
        if (get_u32(b + HEADER_BYTES + 4) != 0)
            return sm__error(SM_ERR_FORMAT, "%s: model reserved field is not 0", who);
        lo->sigma_data = get_f64(b + HEADER_BYTES + 8);
    }
    if (version >= 3) {
        /* Only networks with a context are written as version 3, so that
         * every model has one encoding. */
        lo->context_dim = get_u64(b + HEADER_BYTES + MODEL_BYTES);
        if (lo->context_dim == 0)
            return sm__error(SM_ERR_FORMAT,
                             "%s: context_dim is 0 (version 3 holds a network with a context)",
                             who);
        size_t probe;
        if (lo->context_dim > SIZE_MAX ||
            sm__net_param_count(1, (size_t)lo->context_dim, 1, 1, &probe) != SM_OK)
            return sm__error(SM_ERR_FORMAT, "%s: context_dim = %llu exceeds the network size "
                             "limit", who, (unsigned long long)lo->context_dim);
    }
    lo->dim = get_u64(b + 16);
    lo->width = get_u64(b + 24);
    lo->depth = get_u64(b + 32);
    uint64_t np = get_u64(b + 40), levels = get_u64(b + 48);
    const struct {
        const char *name;
        uint64_t value;
    } dims[3] = {{"dim", lo->dim}, {"width", lo->width}, {"depth", lo->depth}};
    for (int i = 0; i < 3; i++) {
        if (dims[i].value == 0)
            return sm__error(SM_ERR_FORMAT, "%s: %s is 0", who, dims[i].name);
        /* Architecture limits are sm_net_new()'s; probe one size at a time
         * so that the message names the field. */
        size_t probe;
        if (dims[i].value > SIZE_MAX ||
            sm__net_param_count(i == 0 ? (size_t)dims[i].value : 1, 0,
                                i == 1 ? (size_t)dims[i].value : 1,
                                i == 2 ? (size_t)dims[i].value : 1, &probe) != SM_OK)
            return sm__error(SM_ERR_FORMAT, "%s: %s = %llu exceeds the network size limit",
                             who, dims[i].name, (unsigned long long)dims[i].value);
    }
    size_t expect;
    if (sm__net_param_count((size_t)lo->dim, (size_t)lo->context_dim, (size_t)lo->width,
                            (size_t)lo->depth, &expect))
        return sm__error(SM_ERR_FORMAT,
                         "%s: the parameter count of dim %llu, context_dim %llu, width %llu, "
                         "depth %llu overflows",
                         who, (unsigned long long)lo->dim, (unsigned long long)lo->context_dim,
                         (unsigned long long)lo->width, (unsigned long long)lo->depth);
    if (np != expect)
        return sm__error(SM_ERR_FORMAT,
                         "%s: parameter count %llu does not match the architecture (%zu)", who,
                         (unsigned long long)np, expect);
    if (levels == 0)
        return sm__error(SM_ERR_FORMAT, "%s: levels is 0", who);

    /* Consume the body against the bytes that are actually there. */
    size_t rest = len - header - CRC_BYTES;
    const unsigned char *p = b + header;
    if (np > rest / 4)
        return sm__error(SM_ERR_FORMAT,
                         "%s: truncated: %llu parameters do not fit in the %zu bytes left", who,
                         (unsigned long long)np, rest);
    lo->np = (size_t)np;
    lo->params = p;
    p += 4 * lo->np;
    rest -= 4 * lo->np;
    if (levels > rest / 4)
        return sm__error(SM_ERR_FORMAT,
                         "%s: truncated: %llu levels do not fit in the %zu bytes left", who,
                         (unsigned long long)levels, rest);
    lo->levels = (size_t)levels;
    lo->sigmas = p;
    p += 4 * lo->levels;
    rest -= 4 * lo->levels;
    if (flags & FLAG_NORM) {
        if (lo->dim > rest / 8)
            return sm__error(SM_ERR_FORMAT,
                             "%s: truncated: the normalization of %llu columns does not fit in "
                             "the %zu bytes left", who, (unsigned long long)lo->dim, rest);
        lo->norm = p;
        p += 8 * lo->dim;
        rest -= 8 * lo->dim;
    }
    if (flags & FLAG_CTX_NORM) {
        /* version 3, so context_dim ≥ 1 and within the size limit */
        if (lo->context_dim > rest / 8)
            return sm__error(SM_ERR_FORMAT,
                             "%s: truncated: the context normalization of %llu columns does not "
                             "fit in the %zu bytes left",
                             who, (unsigned long long)lo->context_dim, rest);
        lo->ctx_norm = p;
        p += 8 * lo->context_dim;
        rest -= 8 * lo->context_dim;
    }
    if (lo->has_opt) {
        if (rest < OPT_HEADER_BYTES)
            return sm__error(SM_ERR_FORMAT,
                             "%s: truncated: the optimizer section needs %u bytes, %zu remain",
                             who, OPT_HEADER_BYTES, rest);
        lo->opt = p;
        lo->kind = get_u32(p);
        if (lo->kind != FILE_ADAM && lo->kind != FILE_SGD)
            return sm__error(SM_ERR_FORMAT, "%s: unknown optimizer kind %u", who,
                             (unsigned)lo->kind);
        if (get_u32(p + 4) != 0)
            return sm__error(SM_ERR_FORMAT, "%s: optimizer reserved field is not 0", who);
        uint64_t n = get_u64(p + 8);
        if (n != np)
            return sm__error(SM_ERR_FORMAT,
                             "%s: optimizer size %llu does not match the parameter count %zu",
                             who, (unsigned long long)n, lo->np);
        p += OPT_HEADER_BYTES;
        rest -= OPT_HEADER_BYTES;
        size_t vectors = lo->kind == FILE_ADAM ? 2 : 1;
        if (lo->np > rest / 4 / vectors)
            return sm__error(SM_ERR_FORMAT,
                             "%s: truncated: %zu optimizer moment vectors of %zu floats do not "
                             "fit in the %zu bytes left",
                             who, vectors, lo->np, rest);
        lo->m = p;
        p += 4 * lo->np;
        lo->v = vectors == 2 ? p : NULL;
        p += (vectors - 1) * 4 * lo->np;
        rest -= vectors * 4 * lo->np;
    }
    if (rest != 0)
        return sm__error(SM_ERR_FORMAT, "%s: %zu bytes of trailing data after the model", who,
                         rest);
    uint32_t stored = get_u32(p), actual = sm__crc32(0, b, (size_t)(p - b));
    if (stored != actual)
        return sm__error(SM_ERR_FORMAT,
                         "%s: checksum mismatch (stored 0x%08x, computed 0x%08x): the data is "
                         "corrupted",
                         who, (unsigned)stored, (unsigned)actual);
    return SM_OK;
}

/* Checks the values of a structurally valid input: finite parameters,
 * moments and hyperparameters, a valid ladder, hyperparameters in range. */
static sm_status check_values(const layout *lo, sm__optim_state *os, const char *who)
{
    size_t bad = first_nonfinite_le(lo->params, lo->np);
    if (bad < lo->np)
        return sm__error(SM_ERR_NONFINITE, "%s: parameter %zu is not finite", who, bad);
    float prev = 0.0f;
    for (size_t i = 0; i < lo->levels; i++) {
        float s = get_f32(lo->sigmas + 4 * i);
        if (!isfinite(s))
            return sm__error(SM_ERR_NONFINITE, "%s: sigma[%zu] is not finite", who, i);
        if (!(s > 0.0f))
            return sm__error(SM_ERR_FORMAT, "%s: sigma[%zu] = %g is not > 0", who, i, (double)s);
        if (i > 0 && !(s < prev))
            return sm__error(SM_ERR_FORMAT,
                             "%s: sigmas must strictly decrease (sigma[%zu] = %g >= sigma[%zu] = %g)",
                             who, i, (double)s, i - 1, (double)prev);
        prev = s;
    }
    if (!isfinite(lo->sigma_data))
        return sm__error(SM_ERR_NONFINITE, "%s: sigma_data is not finite", who);
    if (lo->param == SM_PARAM_LAB && !bits_zero(lo->sigma_data))
        return sm__error(SM_ERR_FORMAT, "%s: sigma_data must be 0 for a lab network", who);
    if (lo->param == SM_PARAM_EDM &&
        !(lo->sigma_data == 0.0 || (lo->sigma_data > 0.0 && (float)lo->sigma_data > 0.0f &&
                                    lo->sigma_data <= 1e30)))
        return sm__error(SM_ERR_FORMAT, "%s: sigma_data = %g is not > 0 (or 0: unknown)", who,
                         lo->sigma_data);
    /* Networks keep σ_data in float: a value float cannot hold exactly was
     * not written by this library (and would not save back the same). */
    if ((double)(float)lo->sigma_data != lo->sigma_data)
        return sm__error(SM_ERR_FORMAT, "%s: sigma_data = %.17g is not a float value", who,
                         lo->sigma_data);
    if (lo->norm) {
        const size_t d = (size_t)lo->dim;
        if ((bad = first_nonfinite_le(lo->norm, 2 * d)) < 2 * d)
            return sm__error(SM_ERR_NONFINITE, "%s: normalization %s[%zu] is not finite", who,
                             bad < d ? "shift" : "scale", bad % d);
        for (size_t j = 0; j < d; j++)
            if (!(get_f32(lo->norm + 4 * (d + j)) > 0.0f))
                return sm__error(SM_ERR_FORMAT, "%s: normalization scale[%zu] is not > 0", who,
                                 j);
    }
    if (lo->ctx_norm) {
        const size_t c = (size_t)lo->context_dim;
        if ((bad = first_nonfinite_le(lo->ctx_norm, 2 * c)) < 2 * c)
            return sm__error(SM_ERR_NONFINITE, "%s: context normalization %s[%zu] is not finite",
                             who, bad < c ? "shift" : "scale", bad % c);
        for (size_t j = 0; j < c; j++)
            if (!(get_f32(lo->ctx_norm + 4 * (c + j)) > 0.0f))
                return sm__error(SM_ERR_FORMAT,
                                 "%s: context normalization scale[%zu] is not > 0", who, j);
    }
    if (!lo->has_opt)
        return SM_OK;

    const unsigned char *o = lo->opt;
    const int adam = lo->kind == FILE_ADAM;
    os->kind = adam ? SM__OPTIM_ADAM : SM__OPTIM_SGD;
    os->n = lo->np;
    os->t = get_u64(o + 16);
    if (os->t == UINT64_MAX)
        return sm__error(SM_ERR_FORMAT, "%s: optimizer step count %llu cannot grow", who,
                         (unsigned long long)os->t);
    struct {
        const char *name;
        double *slot;
    } hp[7] = {{"lr", &os->lr},
               {"beta1", &os->beta1},
               {"beta2", &os->beta2},
               {"eps", &os->eps},
               {"weight_decay", &os->weight_decay},
               {"momentum", &os->momentum},
               {"clip_norm", &os->clip}};
    for (int i = 0; i < 7; i++) {
        *hp[i].slot = get_f64(o + 24 + 8 * i);
        if (!isfinite(*hp[i].slot))
            return sm__error(SM_ERR_NONFINITE, "%s: optimizer %s is not finite", who,
                             hp[i].name);
    }
    const char *range = NULL;
    if (!(os->lr > 0.0))
        range = "lr must be > 0";
    else if (!(os->weight_decay >= 0.0))
        range = "weight_decay must be >= 0";
    else if (!(os->clip >= 0.0))
        range = "clip_norm must be >= 0";
    else if (adam && !(os->beta1 >= 0.0 && os->beta1 < 1.0))
        range = "beta1 must be in [0, 1)";
    else if (adam && !(os->beta2 >= 0.0 && os->beta2 < 1.0))
        range = "beta2 must be in [0, 1)";
    else if (adam && !(os->eps > 0.0))
        range = "eps must be > 0";
    else if (adam && !bits_zero(os->momentum))
        range = "momentum must be 0 for Adam";
    else if (!adam && !(os->momentum >= 0.0 && os->momentum < 1.0))
        range = "momentum must be in [0, 1)";
    else if (!adam && !(bits_zero(os->beta1) && bits_zero(os->beta2) && bits_zero(os->eps)))
        range = "beta1, beta2 and eps must be 0 for SGD";
    if (range)
        return sm__error(SM_ERR_FORMAT, "%s: optimizer %s", who, range);
    if ((bad = first_nonfinite_le(lo->m, lo->np)) < lo->np)
        return sm__error(SM_ERR_NONFINITE, "%s: optimizer moment m[%zu] is not finite", who,
                         bad);
    if (lo->v) {
        if ((bad = first_nonfinite_le(lo->v, lo->np)) < lo->np)
            return sm__error(SM_ERR_NONFINITE, "%s: optimizer moment v[%zu] is not finite", who,
                             bad);
        for (size_t i = 0; i < lo->np; i++)
            if (!(get_f32(lo->v + 4 * i) >= 0.0f))
                return sm__error(SM_ERR_FORMAT, "%s: optimizer second moment v[%zu] is negative",
                                 who, i);
    }
    return SM_OK;
}

/* Checks everything, then builds the handles; all or nothing. */
static sm_status decode(const unsigned char *b, size_t len, sm_net **net, sm_schedule **sched,
                        sm_optim **opt, const char *who)
{
    layout lo = {0};
    sm__optim_state os = {0};
    sm_status st = check_layout(b, len, &lo, who);
    if (!st)
        st = check_values(&lo, &os, who);
    if (st)
        return st;

    /* Allocations below are bounded by len: every float was in the input. */
    sm_net *n = NULL;
    sm_schedule *s = NULL;
    sm_optim *o = NULL;
    float *tmp = NULL, *tmp_v = NULL;
    size_t count = lo.np > lo.levels ? lo.np : lo.levels;
    if (lo.norm && count < 2 * (size_t)lo.dim)
        count = 2 * (size_t)lo.dim;
    if (lo.ctx_norm && count < 2 * (size_t)lo.context_dim)
        count = 2 * (size_t)lo.context_dim;
    if (!(tmp = sm__calloc(count, sizeof(float))) ||
        (opt && lo.v && !(tmp_v = sm__calloc(lo.np, sizeof(float))))) {
        st = sm__error(SM_ERR_NOMEM, "%s: out of memory", who);
        goto fail;
    }
    get_f32s(lo.params, tmp, lo.np);
    sm_net_options nopts = SM_NET_OPTIONS_INIT;
    nopts.dim = (size_t)lo.dim;
    nopts.width = (size_t)lo.width;
    nopts.depth = (size_t)lo.depth;
    nopts.parametrization = (sm_parametrization)lo.param;
    nopts.sigma_data = lo.sigma_data;
    nopts.context_dim = (size_t)lo.context_dim;
    if ((st = sm__net_new_with_params(&n, &nopts, tmp, who)))
        goto fail;
    if (lo.norm) {
        get_f32s(lo.norm, tmp, 2 * (size_t)lo.dim);
        if ((st = sm_net_set_normalization(n, tmp, tmp + lo.dim, (size_t)lo.dim)))
            goto fail;
    }
    if (lo.ctx_norm) {
        const size_t c = (size_t)lo.context_dim;
        get_f32s(lo.ctx_norm, tmp, 2 * c);
        if ((st = sm_net_set_context_normalization(n, tmp, tmp + c, c)))
            goto fail;
    }
    get_f32s(lo.sigmas, tmp, lo.levels);
    if ((st = sm_schedule_new_from_array(&s, tmp, lo.levels)))
        goto fail;
    if (opt && lo.has_opt) {
        st = os.kind == SM__OPTIM_ADAM
                 ? sm_optim_new_adam(&o, os.n, os.lr, os.beta1, os.beta2, os.eps,
                                     os.weight_decay)
                 : sm_optim_new_sgd(&o, os.n, os.lr, os.momentum, os.weight_decay);
        if (!st)
            st = sm_optim_set_clip_norm(o, os.clip);
        if (st)
            goto fail;
        get_f32s(lo.m, tmp, lo.np);
        if (lo.v)
            get_f32s(lo.v, tmp_v, lo.np);
        sm__optim_restore(o, os.t, tmp, tmp_v);
    }
    free(tmp);
    free(tmp_v);
    *net = n;
    *sched = s;
    if (opt)
        *opt = o;
    return SM_OK;
fail:
    free(tmp);
    free(tmp_v);
    sm_net_free(n);
    sm_schedule_free(s);
    sm_optim_free(o);
    return st;
}

/* Sets the outputs to NULL and checks that the required ones exist. */
static sm_status prepare_outputs(sm_net **net, sm_schedule **sched, sm_optim **opt,
                                 const char *fn)
{
    if (net)
        *net = NULL;
    if (sched)
        *sched = NULL;
    if (opt)
        *opt = NULL;
    if (!net || !sched)
        return sm__error(SM_ERR_INVALID_ARG, "%s: %s is NULL", fn, net ? "sched" : "net");
    return SM_OK;
}

sm_status sm_model_load_buffer(const void *buf, size_t len, sm_net **net, sm_schedule **sched,
                               sm_optim **opt)
{
    const char *fn = "sm_model_load_buffer";
    sm_status st = prepare_outputs(net, sched, opt, fn);
    if (st)
        return st;
    if (!buf && len)
        return sm__error(SM_ERR_INVALID_ARG, "%s: buf is NULL", fn);
    return decode(buf ? buf : (const void *)"", len, net, sched, opt, fn);
}

sm_status sm_model_load(const char *path, sm_net **net, sm_schedule **sched, sm_optim **opt)
{
    const char *fn = "sm_model_load";
    sm_status st = prepare_outputs(net, sched, opt, fn);
    if (st)
        return st;
    if (!path)
        return sm__error(SM_ERR_INVALID_ARG, "%s: path is NULL", fn);
    unsigned char *buf;
    size_t len;
    st = sm__read_file(path, fn, &buf, &len);
    if (!st) {
        char who[300];
        snprintf(who, sizeof who, "%s: '%s'", fn, path);
        st = decode(buf ? (const void *)buf : (const void *)"", len, net, sched, opt, who);
    }
    free(buf);
    return st;
}
