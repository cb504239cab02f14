/* Model files: the documented byte layout (golden bytes written by hand,
 * checksums from an independent bitwise CRC-32), bit-exact round trips,
 * resuming training, every kind of corruption, atomic saving, arguments. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

/* Where the body (parameters) of a version-2 file starts. */
#define BODY 72

/* ---- helpers ----------------------------------------------------------- */

/* Bitwise CRC-32 (IEEE, reflected 0xEDB88320), independent of the library's
 * table-driven one. */
static uint32_t crc32_bitwise(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c & 1u) ? 0xedb88320u ^ (c >> 1) : c >> 1;
    }
    return ~c;
}

static void put_le32(unsigned char *p, uint32_t x)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(x >> (8 * i));
}

static void put_le64(unsigned char *p, uint64_t x)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(x >> (8 * i));
}

static void put_lef32(unsigned char *p, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    put_le32(p, u);
}

static void put_lef64(unsigned char *p, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    put_le64(p, u);
}

/* Rewrites the trailing CRC so that a patched field is what gets checked. */
static void fix_crc(unsigned char *b, size_t len)
{
    put_le32(b + len - 4, crc32_bitwise(b, len - 4));
}

static sm_net *make_net(size_t dim, size_t width, size_t depth, uint64_t seed)
{
    sm_rng *r;
    sm_net *net;
    ck_assert_ok(sm_rng_new(&r, seed));
    ck_assert_ok(sm_net_new(&net, dim, width, depth, r));
    sm_rng_free(r);
    return net;
}

/* Steps an optimizer a few times with made-up gradients so that its moments
 * and step count are non-trivial. */
static void warm_optimizer(sm_optim *opt, sm_net *net, uint64_t seed, int steps)
{
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, seed));
    size_t np = sm_net_num_params(net);
    for (int s = 0; s < steps; s++) {
        ck_assert_ok(sm_rng_fill_normal(r, sm_net_grads(net), np, 0.0, 1.0));
        ck_assert_ok(sm_optim_step_net(opt, net));
    }
    ck_assert_ok(sm_net_zero_grad(net));
    sm_rng_free(r);
}

/* Checks that two networks have the same architecture and parameter bits. */
static void assert_same_net(sm_net *a, sm_net *b)
{
    ck_assert_uint_eq(sm_net_dim(a), sm_net_dim(b));
    ck_assert_uint_eq(sm_net_width(a), sm_net_width(b));
    ck_assert_uint_eq(sm_net_depth(a), sm_net_depth(b));
    ck_assert_uint_eq(sm_net_num_params(a), sm_net_num_params(b));
    ck_assert_int_eq(memcmp(sm_net_params(a), sm_net_params(b),
                            sm_net_num_params(a) * sizeof(float)), 0);
}

static void assert_same_sched(const sm_schedule *a, const sm_schedule *b)
{
    ck_assert_uint_eq(sm_schedule_levels(a), sm_schedule_levels(b));
    for (size_t i = 0; i < sm_schedule_levels(a); i++) {
        float x = sm_schedule_sigma(a, i), y = sm_schedule_sigma(b, i);
        ck_assert_int_eq(memcmp(&x, &y, sizeof x), 0);
    }
}

/* A small model (dim 2, width 8, depth 2) with a warmed-up Adam or SGD
 * optimizer, saved to a malloc'ed buffer. */
typedef struct {
    sm_net *net;
    sm_schedule *sched;
    sm_optim *opt;
    unsigned char *buf;
    size_t len;
} fixture;

static void fixture_make(fixture *f, int adam, int with_opt)
{
    f->net = make_net(2, 8, 2, 7);
    ck_assert_ok(sm_schedule_new_geometric(&f->sched, 1.0, 0.01, 10));
    if (adam)
        ck_assert_ok(sm_optim_new_adam(&f->opt, sm_net_num_params(f->net), 1e-2, 0.9, 0.999,
                                       1e-8, 0.01));
    else
        ck_assert_ok(sm_optim_new_sgd(&f->opt, sm_net_num_params(f->net), 1e-2, 0.9, 1e-4));
    ck_assert_ok(sm_optim_set_clip_norm(f->opt, 5.0));
    warm_optimizer(f->opt, f->net, 11, 3);
    void *b;
    ck_assert_ok(sm_model_save_buffer(f->net, f->sched, with_opt ? f->opt : NULL, &b, &f->len));
    f->buf = malloc(f->len);
    ck_assert_ptr_nonnull(f->buf);
    memcpy(f->buf, b, f->len);
    sm_free(b);
}

static void fixture_free(fixture *f)
{
    sm_net_free(f->net);
    sm_schedule_free(f->sched);
    sm_optim_free(f->opt);
    free(f->buf);
}

/* Loads b and expects the given status, with every output NULL on failure. */
static sm_status load_expect_fail(const unsigned char *b, size_t len)
{
    sm_net *n = (sm_net *)&n;
    sm_schedule *s = (sm_schedule *)&s;
    sm_optim *o = (sm_optim *)&o;
    sm_status st = sm_model_load_buffer(b, len, &n, &s, &o);
    ck_assert_msg(st != SM_OK, "load of a corrupt buffer succeeded (len %zu)", len);
    ck_assert_ptr_null(n);
    ck_assert_ptr_null(s);
    ck_assert_ptr_null(o);
    return st;
}

#define ck_assert_load_fails(b, len, status, needle)                                      \
    do {                                                                                  \
        sm_status got_ = load_expect_fail((b), (len));                                    \
        ck_assert_msg(got_ == (status), "status %d (%s), expected %d; message: %s",      \
                      (int)got_, sm_strerror(got_), (int)(status), sm_last_error());      \
        ck_assert_msg(strstr(sm_last_error(), (needle)) != NULL,                          \
                      "message '%s' does not mention '%s'", sm_last_error(), (needle));   \
    } while (0)

static char tmpdir[256];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sm-test-model-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

/* ---- the documented layout --------------------------------------------- */

/* dim 1, width 1, depth 1: parameters W0 (1×2), b0, W1 (1×1), b1 = 5 floats. */
static const float tiny_params[5] = {1.0f, -2.0f, 0.5f, -0.0f, 3.0f};
static const float tiny_sigmas[2] = {1.0f, 0.125f};

static const unsigned char golden_plain[88] = {
    0x89, 0x53, 0x4d, 0x4d, 0x0d, 0x0a, 0x1a, 0x0a, /* magic */
    0x01, 0x00, 0x00, 0x00,                         /* version 1 */
    0x00, 0x00, 0x00, 0x00,                         /* flags: no optimizer */
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* dim 1 */
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* width 1 */
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* depth 1 */
    0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 5 parameters */
    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 2 levels */
    0x00, 0x00, 0x80, 0x3f,                         /* 1.0f */
    0x00, 0x00, 0x00, 0xc0,                         /* -2.0f */
    0x00, 0x00, 0x00, 0x3f,                         /* 0.5f */
    0x00, 0x00, 0x00, 0x80,                         /* -0.0f */
    0x00, 0x00, 0x40, 0x40,                         /* 3.0f */
    0x00, 0x00, 0x80, 0x3f,                         /* sigma 1.0f */
    0x00, 0x00, 0x00, 0x3e,                         /* sigma 0.125f */
    0x02, 0x51, 0xd0, 0xc3,                         /* CRC-32 0xc3d05102 */
};

static const unsigned char golden_sgd[188] = {
    0x89, 0x53, 0x4d, 0x4d, 0x0d, 0x0a, 0x1a, 0x0a, /* magic */
    0x01, 0x00, 0x00, 0x00,                         /* version 1 */
    0x01, 0x00, 0x00, 0x00,                         /* flags: optimizer */
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* dim 1 */
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* width 1 */
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* depth 1 */
    0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 5 parameters */
    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 2 levels */
    0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0xc0, /* 1, -2 */
    0x00, 0x00, 0x00, 0x3f, 0x00, 0x00, 0x00, 0x80, /* 0.5, -0 */
    0x00, 0x00, 0x40, 0x40,                         /* 3 */
    0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x3e, /* sigmas 1, 0.125 */
    0x02, 0x00, 0x00, 0x00,                         /* kind 2 = SGD */
    0x00, 0x00, 0x00, 0x00,                         /* reserved */
    0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* n = 5 */
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 1 step */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe0, 0x3f, /* lr 0.5 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* beta1 (unused) */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* beta2 (unused) */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* eps (unused) */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* weight decay 0 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xd0, 0x3f, /* momentum 0.25 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, /* clip norm 2.0 */
    0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x40, /* velocity 1, 2 */
    0x00, 0x00, 0x80, 0xbf, 0x00, 0x00, 0x00, 0x3f, /* -1, 0.5 */
    0x00, 0x00, 0x00, 0x00,                         /* 0 */
    0x80, 0x1c, 0x09, 0x64,                         /* CRC-32 0x64091c80 */
};

/* Version 2: the same network (a lab one), with the model fields. */
static const unsigned char golden_plain_v2[104] = {
    0x89, 0x53, 0x4d, 0x4d, 0x0d, 0x0a, 0x1a, 0x0a, /* magic */
    0x02, 0x00, 0x00, 0x00,                         /* version 2 */
    0x00, 0x00, 0x00, 0x00,                         /* flags: none */
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* dim 1 */
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* width 1 */
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* depth 1 */
    0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 5 parameters */
    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 2 levels */
    0x00, 0x00, 0x00, 0x00,                         /* parametrization 0 = lab */
    0x00, 0x00, 0x00, 0x00,                         /* reserved */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* sigma_data 0 */
    0x00, 0x00, 0x80, 0x3f,                         /* 1.0f */
    0x00, 0x00, 0x00, 0xc0,                         /* -2.0f */
    0x00, 0x00, 0x00, 0x3f,                         /* 0.5f */
    0x00, 0x00, 0x00, 0x80,                         /* -0.0f */
    0x00, 0x00, 0x40, 0x40,                         /* 3.0f */
    0x00, 0x00, 0x80, 0x3f,                         /* sigma 1.0f */
    0x00, 0x00, 0x00, 0x3e,                         /* sigma 0.125f */
    0x84, 0xe8, 0x4b, 0x27,                         /* CRC-32 0x274be884 */
};

/* Version 2: an EDM network with σ_data 0.5 and a normalization
 * (shift 4, scale 2). */
static const unsigned char golden_edm_v2[112] = {
    0x89, 0x53, 0x4d, 0x4d, 0x0d, 0x0a, 0x1a, 0x0a, /* magic */
    0x02, 0x00, 0x00, 0x00,                         /* version 2 */
    0x02, 0x00, 0x00, 0x00,                         /* flags: normalization */
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* dim 1 */
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* width 1 */
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* depth 1 */
    0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 5 parameters */
    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 2 levels */
    0x01, 0x00, 0x00, 0x00,                         /* parametrization 1 = EDM */
    0x00, 0x00, 0x00, 0x00,                         /* reserved */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xe0, 0x3f, /* sigma_data 0.5 */
    0x00, 0x00, 0x80, 0x3f,                         /* 1.0f */
    0x00, 0x00, 0x00, 0xc0,                         /* -2.0f */
    0x00, 0x00, 0x00, 0x3f,                         /* 0.5f */
    0x00, 0x00, 0x00, 0x80,                         /* -0.0f */
    0x00, 0x00, 0x40, 0x40,                         /* 3.0f */
    0x00, 0x00, 0x80, 0x3f,                         /* sigma 1.0f */
    0x00, 0x00, 0x00, 0x3e,                         /* sigma 0.125f */
    0x00, 0x00, 0x80, 0x40,                         /* shift 4.0f */
    0x00, 0x00, 0x00, 0x40,                         /* scale 2.0f */
    0x6e, 0xd7, 0x11, 0x40,                         /* CRC-32 0x4011d76e */
};

static void make_tiny(sm_net **net, sm_schedule **sched)
{
    *net = make_net(1, 1, 1, 1);
    ck_assert_uint_eq(sm_net_num_params(*net), 5);
    memcpy(sm_net_params(*net), tiny_params, sizeof tiny_params);
    ck_assert_ok(sm_schedule_new_from_array(sched, tiny_sigmas, 2));
}

START_TEST(crc_reference_value)
{
    /* The test's own CRC must be the standard one before it can judge. */
    ck_assert_uint_eq(crc32_bitwise((const unsigned char *)"123456789", 9), 0xcbf43926u);
    ck_assert_uint_eq(crc32_bitwise(golden_plain, 84), 0xc3d05102u);
    ck_assert_uint_eq(crc32_bitwise(golden_sgd, 184), 0x64091c80u);
}
END_TEST

START_TEST(golden_layout_without_optimizer)
{
    sm_net *net;
    sm_schedule *sched;
    make_tiny(&net, &sched);
    void *b;
    size_t len;
    ck_assert_ok(sm_model_save_buffer(net, sched, NULL, &b, &len));
    ck_assert_uint_eq(len, sizeof golden_plain_v2);
    for (size_t i = 0; i < len; i++)
        ck_assert_msg(((unsigned char *)b)[i] == golden_plain_v2[i],
                      "byte %zu is 0x%02x, the format says 0x%02x", i, ((unsigned char *)b)[i],
                      golden_plain_v2[i]);
    sm_free(b);

    /* The hand-written bytes of both versions load to the same values, sign
     * of -0 kept: files of version 1 still load. */
    sm_net *n2;
    sm_schedule *s2;
    sm_optim *o2 = (sm_optim *)&o2;
    for (int version = 1; version <= 2; version++) {
        const unsigned char *g = version == 1 ? golden_plain : golden_plain_v2;
        size_t glen = version == 1 ? sizeof golden_plain : sizeof golden_plain_v2;
        ck_assert_ok(sm_model_load_buffer(g, glen, &n2, &s2, &o2));
        ck_assert_ptr_null(o2);
        assert_same_net(net, n2);
        ck_assert(signbit(sm_net_params(n2)[3]));
        ck_assert_int_eq(sm_net_parametrization(n2), SM_PARAM_LAB);
        ck_assert(!sm_net_has_normalization(n2));
        assert_same_sched(sched, s2);
        ck_assert_float_eq(sm_schedule_sigma(s2, 1), 0.125f);
        sm_net_free(n2);
        sm_schedule_free(s2);
    }

    /* An EDM network with a normalization. */
    sm_net *e;
    sm_net_options eo = SM_NET_OPTIONS_INIT;
    eo.dim = 1;
    eo.width = 1;
    eo.depth = 1;
    eo.parametrization = SM_PARAM_EDM;
    eo.sigma_data = 0.5;
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 1));
    ck_assert_ok(sm_net_new_ex(&e, &eo, r));
    sm_rng_free(r);
    memcpy(sm_net_params(e), tiny_params, sizeof tiny_params);
    const float shift = 4.0f, scale = 2.0f;
    ck_assert_ok(sm_net_set_normalization(e, &shift, &scale, 1));
    ck_assert_ok(sm_model_save_buffer(e, sched, NULL, &b, &len));
    ck_assert_uint_eq(len, sizeof golden_edm_v2);
    ck_assert_int_eq(memcmp(b, golden_edm_v2, len), 0);
    sm_free(b);
    ck_assert_ok(sm_model_load_buffer(golden_edm_v2, sizeof golden_edm_v2, &n2, &s2, &o2));
    ck_assert_int_eq(sm_net_parametrization(n2), SM_PARAM_EDM);
    ck_assert_double_eq(sm_net_sigma_data(n2), 0.5);
    float sh, sc, pt = 1.5f;
    ck_assert_ok(sm_net_get_normalization(n2, &sh, &sc, 1));
    ck_assert_float_eq(sh, 4.0f);
    ck_assert_float_eq(sc, 2.0f);
    ck_assert_ok(sm_net_to_data_units(n2, &pt, 1, 1));
    ck_assert_float_eq(pt, 7.0f);
    ck_assert_ok(sm_net_from_data_units(n2, &pt, 1, 1));
    ck_assert_float_eq(pt, 1.5f);
    sm_net_free(n2);
    sm_schedule_free(s2);
    /* Its normalization section, bad values with a valid checksum. */
    unsigned char bad[sizeof golden_edm_v2];
    memcpy(bad, golden_edm_v2, sizeof bad);
    put_lef32(bad + sizeof bad - 8, 0.0f); /* scale 0 */
    fix_crc(bad, sizeof bad);
    ck_assert_load_fails(bad, sizeof bad, SM_ERR_FORMAT, "scale[0]");
    put_lef32(bad + sizeof bad - 12, NAN); /* shift NaN */
    fix_crc(bad, sizeof bad);
    ck_assert_load_fails(bad, sizeof bad, SM_ERR_NONFINITE, "shift[0]");
    memcpy(bad, golden_edm_v2, sizeof bad);
    put_lef64(bad + 64, -1.0); /* sigma_data */
    fix_crc(bad, sizeof bad);
    ck_assert_load_fails(bad, sizeof bad, SM_ERR_FORMAT, "sigma_data");
    put_lef64(bad + 64, 0.1); /* not a float value: this library never writes it */
    fix_crc(bad, sizeof bad);
    ck_assert_load_fails(bad, sizeof bad, SM_ERR_FORMAT, "not a float value");
    /* Every truncation fails. */
    for (size_t cut = 0; cut < sizeof golden_edm_v2; cut++)
        load_expect_fail(golden_edm_v2, cut);
    /* Version 1 has no normalization flag. */
    memcpy(bad, golden_plain, sizeof golden_plain);
    put_le32(bad + 12, 2);
    fix_crc(bad, sizeof golden_plain);
    ck_assert_load_fails(bad, sizeof golden_plain, SM_ERR_FORMAT, "flags");
    sm_net_free(e);
    sm_net_free(net);
    sm_schedule_free(sched);
}
END_TEST

START_TEST(golden_layout_with_sgd)
{
    sm_net *net;
    sm_schedule *sched;
    make_tiny(&net, &sched);
    sm_optim *opt;
    ck_assert_ok(sm_optim_new_sgd(&opt, 5, 0.5, 0.25, 0.0));
    /* One unclipped step on scratch parameters makes the velocity equal to
     * the gradient; then set the clip norm that gets saved. */
    float scratch[5] = {0}, g[5] = {1.0f, 2.0f, -1.0f, 0.5f, 0.0f};
    ck_assert_ok(sm_optim_step(opt, scratch, g, 5));
    ck_assert_ok(sm_optim_set_clip_norm(opt, 2.0));
    void *b;
    size_t len;
    ck_assert_ok(sm_model_save_buffer(net, sched, opt, &b, &len));
    /* Version 2 is version 1 with the version field 2 and 16 bytes of model
     * fields (lab, reserved, σ_data 0) after the header. */
    ck_assert_uint_eq(len, sizeof golden_sgd + 16);
    const unsigned char *ub = b;
    ck_assert_int_eq(memcmp(ub, golden_sgd, 8), 0);
    ck_assert_uint_eq(ub[8], 2);
    ck_assert_int_eq(memcmp(ub + 12, golden_sgd + 12, 44), 0);
    for (size_t i = 56; i < 72; i++)
        ck_assert_uint_eq(ub[i], 0);
    ck_assert_int_eq(memcmp(ub + 72, golden_sgd + 56, sizeof golden_sgd - 60), 0);
    ck_assert_uint_eq(crc32_bitwise(ub, len - 4),
                      (uint32_t)ub[len - 4] | (uint32_t)ub[len - 3] << 8 |
                          (uint32_t)ub[len - 2] << 16 | (uint32_t)ub[len - 1] << 24);
    sm_free(b);

    sm_net *n2;
    sm_schedule *s2;
    sm_optim *o2;
    ck_assert_ok(sm_model_load_buffer(golden_sgd, sizeof golden_sgd, &n2, &s2, &o2));
    ck_assert_ptr_nonnull(o2);
    ck_assert_uint_eq(sm_optim_steps(o2), 1);
    ck_assert_double_eq(sm_optim_lr(o2), 0.5);
    /* Next step from velocity u = g: u ← 0.25·u + g', θ ← θ − 0.5·u. */
    float p1[5] = {0}, p2[5] = {0}, g2[5] = {0.1f, 0.1f, 0.1f, 0.1f, 0.1f};
    ck_assert_ok(sm_optim_step(opt, p1, g2, 5));
    ck_assert_ok(sm_optim_step(o2, p2, g2, 5));
    ck_assert_int_eq(memcmp(p1, p2, sizeof p1), 0);
    ck_assert_float_eq_tol(p2[1], -0.5f * (0.25f * 2.0f + 0.1f), 1e-6f);
    sm_net_free(n2);
    sm_schedule_free(s2);
    sm_optim_free(o2);
    sm_optim_free(opt);
    sm_net_free(net);
    sm_schedule_free(sched);
}
END_TEST

/* ---- round trips -------------------------------------------------------- */

static void check_round_trip(int adam, int with_opt, int via_file)
{
    fixture f;
    fixture_make(&f, adam, with_opt);
    sm_net *n;
    sm_schedule *s;
    sm_optim *o;
    if (via_file) {
        make_tmpdir();
        char path[300];
        snprintf(path, sizeof path, "%s/model.smm", tmpdir);
        ck_assert_ok(sm_model_save(path, f.net, f.sched, with_opt ? f.opt : NULL));
        size_t flen;
        unsigned char *fb = sm_test_read_whole(path, &flen);
        ck_assert_uint_eq(flen, f.len); /* the file holds the buffer's bytes */
        ck_assert_int_eq(memcmp(fb, f.buf, f.len), 0);
        free(fb);
        ck_assert_ok(sm_model_load(path, &n, &s, &o));
        sm_test_remove_tree(tmpdir);
    } else {
        ck_assert_ok(sm_model_load_buffer(f.buf, f.len, &n, &s, &o));
    }
    assert_same_net(f.net, n);
    assert_same_sched(f.sched, s);
    ck_assert_uint_eq(sm_net_threads(n), 1);
    if (!with_opt) {
        ck_assert_ptr_null(o);
    } else {
        ck_assert_ptr_nonnull(o);
        ck_assert_uint_eq(sm_optim_steps(o), 3);
        ck_assert_double_eq(sm_optim_lr(o), 1e-2);
    }
    /* Saving what was loaded gives the same bytes: moments, step count and
     * hyperparameters survived bit for bit. */
    void *b2;
    size_t len2;
    ck_assert_ok(sm_model_save_buffer(n, s, o, &b2, &len2));
    ck_assert_uint_eq(len2, f.len);
    ck_assert_int_eq(memcmp(b2, f.buf, f.len), 0);
    sm_free(b2);
    /* The loaded network computes exactly what the original does. */
    float x[6] = {0.1f, -0.2f, 1.5f, 0.3f, -2.0f, 0.0f}, y1[6], y2[6];
    ck_assert_ok(sm_net_forward_sigma(f.net, x, 0.3f, 3, 2, y1));
    ck_assert_ok(sm_net_forward_sigma(n, x, 0.3f, 3, 2, y2));
    ck_assert_int_eq(memcmp(y1, y2, sizeof y1), 0);
    sm_net_free(n);
    sm_schedule_free(s);
    sm_optim_free(o);
    fixture_free(&f);
}

START_TEST(round_trip_buffer)
{
    check_round_trip(1, 0, 0);
    check_round_trip(1, 1, 0);
    check_round_trip(0, 1, 0);
}
END_TEST

START_TEST(round_trip_file)
{
    check_round_trip(1, 0, 1);
    check_round_trip(1, 1, 1);
    check_round_trip(0, 1, 1);
}
END_TEST

START_TEST(optimizer_state_may_be_ignored)
{
    fixture f;
    fixture_make(&f, 1, 1);
    sm_net *n;
    sm_schedule *s;
    ck_assert_ok(sm_model_load_buffer(f.buf, f.len, &n, &s, NULL));
    assert_same_net(f.net, n);
    sm_net_free(n);
    sm_schedule_free(s);
    /* Ignored, but still checked: a bad moment fails the load. */
    size_t m0 = f.len - 4 - 2 * 4 * sm_net_num_params(f.net);
    put_lef32(f.buf + m0, NAN);
    fix_crc(f.buf, f.len);
    n = (sm_net *)&n;
    ck_assert_status(sm_model_load_buffer(f.buf, f.len, &n, &s, NULL), SM_ERR_NONFINITE);
    ck_assert_ptr_null(n);
    fixture_free(&f);
}
END_TEST

/* Train N steps, save with the optimizer, load, train M more on both with
 * identically seeded generators: the parameters must be bit-identical. */
static void check_resume(int adam)
{
    sm_rng *r;
    sm_dataset *ds;
    ck_assert_ok(sm_rng_new(&r, 3));
    ck_assert_ok(sm_toy_moons(&ds, 400, 0.05, 1, r));
    sm_rng_free(r);
    sm_net *net = make_net(2, 16, 2, 5);
    sm_schedule *sched;
    ck_assert_ok(sm_schedule_new_geometric(&sched, 1.0, 0.01, 10));
    sm_optim *opt;
    if (adam)
        ck_assert_ok(sm_optim_new_adam(&opt, sm_net_num_params(net), 3e-3, 0.9, 0.99, 1e-7,
                                       1e-3));
    else
        ck_assert_ok(sm_optim_new_sgd(&opt, sm_net_num_params(net), 1e-2, 0.8, 1e-3));
    ck_assert_ok(sm_optim_set_clip_norm(opt, 1.0));
    sm_trainer *tr;
    ck_assert_ok(sm_trainer_new(&tr, net, sched, opt, 32));
    ck_assert_ok(sm_rng_new(&r, 17));
    ck_assert_ok(sm_trainer_fit(tr, ds, 25, r, NULL, NULL, NULL));
    sm_rng_free(r);

    make_tmpdir();
    char path[300];
    snprintf(path, sizeof path, "%s/ckpt.smm", tmpdir);
    ck_assert_ok(sm_model_save(path, net, sched, opt));
    sm_net *net2;
    sm_schedule *sched2;
    sm_optim *opt2;
    ck_assert_ok(sm_model_load(path, &net2, &sched2, &opt2));
    ck_assert_ptr_nonnull(opt2);
    ck_assert_uint_eq(sm_optim_steps(opt2), 25);

    /* A control: the same network with a fresh optimizer of the same kind
     * must end up elsewhere, or the test could not tell states apart. */
    sm_net *net3;
    ck_assert_ok(sm_net_clone(net2, &net3));
    sm_optim *fresh;
    if (adam)
        ck_assert_ok(sm_optim_new_adam(&fresh, sm_net_num_params(net), 3e-3, 0.9, 0.99, 1e-7,
                                       1e-3));
    else
        ck_assert_ok(sm_optim_new_sgd(&fresh, sm_net_num_params(net), 1e-2, 0.8, 1e-3));
    ck_assert_ok(sm_optim_set_clip_norm(fresh, 1.0));

    sm_trainer *tr2, *tr3;
    ck_assert_ok(sm_trainer_new(&tr2, net2, sched2, opt2, 32));
    ck_assert_ok(sm_trainer_new(&tr3, net3, sched2, fresh, 32));
    sm_rng *ra, *rb, *rc;
    ck_assert_ok(sm_rng_new(&ra, 99));
    ck_assert_ok(sm_rng_new(&rb, 99));
    ck_assert_ok(sm_rng_new(&rc, 99));
    ck_assert_ok(sm_trainer_fit(tr, ds, 15, ra, NULL, NULL, NULL));
    ck_assert_ok(sm_trainer_fit(tr2, ds, 15, rb, NULL, NULL, NULL));
    ck_assert_ok(sm_trainer_fit(tr3, ds, 15, rc, NULL, NULL, NULL));
    size_t np = sm_net_num_params(net);
    ck_assert_int_eq(memcmp(sm_net_params(net), sm_net_params(net2), np * sizeof(float)), 0);
    ck_assert_int_ne(memcmp(sm_net_params(net), sm_net_params(net3), np * sizeof(float)), 0);
    ck_assert_uint_eq(sm_optim_steps(opt), 40);
    ck_assert_uint_eq(sm_optim_steps(opt2), 40);

    sm_rng_free(ra);
    sm_rng_free(rb);
    sm_rng_free(rc);
    sm_trainer_free(tr);
    sm_trainer_free(tr2);
    sm_trainer_free(tr3);
    sm_optim_free(fresh);
    sm_net_free(net3);
    sm_net_free(net2);
    sm_schedule_free(sched2);
    sm_optim_free(opt2);
    sm_net_free(net);
    sm_schedule_free(sched);
    sm_optim_free(opt);
    sm_dataset_free(ds);
    sm_test_remove_tree(tmpdir);
}

START_TEST(resume_training_is_bit_identical)
{
    check_resume(1);
    check_resume(0);
}
END_TEST

/* ---- corruption --------------------------------------------------------- */

START_TEST(every_truncation_fails)
{
    for (int adam = 0; adam <= 1; adam++) {
        fixture f;
        fixture_make(&f, adam, 1);
        for (size_t len = 0; len < f.len; len++) {
            /* A fresh allocation of exactly len bytes, so that ASan and
             * valgrind see any read past the end. */
            unsigned char *b = malloc(len ? len : 1);
            ck_assert_ptr_nonnull(b);
            memcpy(b, f.buf, len);
            sm_status st = load_expect_fail(b, len);
            ck_assert_msg(st == SM_ERR_FORMAT, "length %zu: status %d: %s", len, (int)st,
                          sm_last_error());
            free(b);
        }
        /* One byte too many is trailing garbage. */
        unsigned char *b = malloc(f.len + 1);
        memcpy(b, f.buf, f.len);
        b[f.len] = 0;
        ck_assert_load_fails(b, f.len + 1, SM_ERR_FORMAT, "trailing");
        free(b);
        fixture_free(&f);
    }
}
END_TEST

START_TEST(every_bit_flip_fails)
{
    fixture f;
    fixture_make(&f, 1, 1);
    for (size_t i = 0; i < f.len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            f.buf[i] ^= (unsigned char)(1u << bit);
            sm_status st = load_expect_fail(f.buf, f.len);
            ck_assert_msg(st == SM_ERR_FORMAT || (st == SM_ERR_VERSION && i >= 8 && i < 12),
                          "byte %zu bit %d: status %d: %s", i, bit, (int)st, sm_last_error());
            f.buf[i] ^= (unsigned char)(1u << bit);
        }
        f.buf[i] ^= 0xff;
        load_expect_fail(f.buf, f.len);
        f.buf[i] ^= 0xff;
    }
    /* Flipping a data byte is caught by the checksum. */
    f.buf[100] ^= 0x10;
    ck_assert_load_fails(f.buf, f.len, SM_ERR_FORMAT, "checksum");
    f.buf[100] ^= 0x10;
    f.buf[f.len - 1] ^= 0x01;
    ck_assert_load_fails(f.buf, f.len, SM_ERR_FORMAT, "checksum");
    fixture_free(&f);
}
END_TEST

START_TEST(magic_and_version)
{
    fixture f;
    fixture_make(&f, 1, 0);
    f.buf[1] = 'X';
    fix_crc(f.buf, f.len);
    ck_assert_load_fails(f.buf, f.len, SM_ERR_FORMAT, "magic");
    f.buf[1] = 'S';
    put_le32(f.buf + 8, SM_MODEL_FORMAT_VERSION + 1);
    fix_crc(f.buf, f.len);
    ck_assert_load_fails(f.buf, f.len, SM_ERR_VERSION, "version 4");
    put_le32(f.buf + 8, 0);
    fix_crc(f.buf, f.len);
    ck_assert_load_fails(f.buf, f.len, SM_ERR_VERSION, "version 0");
    /* A future version is recognised even if the rest is not understood. */
    static const unsigned char v7[12] = {0x89, 'S', 'M', 'M', '\r', '\n', 0x1a, '\n', 7, 0, 0, 0};
    ck_assert_load_fails(v7, sizeof v7, SM_ERR_VERSION, "version 7");
    static const unsigned char text[] = "not a model at all, just some text of some length....";
    ck_assert_load_fails(text, sizeof text, SM_ERR_FORMAT, "magic");
    ck_assert_load_fails(text, 3, SM_ERR_FORMAT, "magic");
    ck_assert_load_fails(v7, 5, SM_ERR_FORMAT, "truncated");
    fixture_free(&f);
}
END_TEST

/* Patches a u64 header field of a copy, fixes the CRC, expects a failure
 * naming `needle`. */
static void expect_u64_rejected(const fixture *f, size_t off, uint64_t value, sm_status status,
                                const char *needle)
{
    unsigned char *b = malloc(f->len);
    ck_assert_ptr_nonnull(b);
    memcpy(b, f->buf, f->len);
    put_le64(b + off, value);
    fix_crc(b, f->len);
    ck_assert_load_fails(b, f->len, status, needle);
    free(b);
}

START_TEST(absurd_sizes_with_valid_checksum)
{
    fixture f;
    fixture_make(&f, 1, 1);
    const uint64_t np = sm_net_num_params(f.net);
    expect_u64_rejected(&f, 16, 0, SM_ERR_FORMAT, "dim is 0");
    expect_u64_rejected(&f, 16, (uint64_t)1 << 40, SM_ERR_FORMAT, "dim");
    expect_u64_rejected(&f, 16, UINT64_MAX, SM_ERR_FORMAT, "dim");
    expect_u64_rejected(&f, 24, 0, SM_ERR_FORMAT, "width is 0");
    expect_u64_rejected(&f, 24, (uint64_t)1 << 31, SM_ERR_FORMAT, "width");
    expect_u64_rejected(&f, 32, 0, SM_ERR_FORMAT, "depth is 0");
    expect_u64_rejected(&f, 32, (uint64_t)1 << 33, SM_ERR_FORMAT, "depth");
    /* Architecture and parameter count disagree. */
    expect_u64_rejected(&f, 40, np + 1, SM_ERR_FORMAT, "parameter count");
    expect_u64_rejected(&f, 40, 0, SM_ERR_FORMAT, "parameter count");
    expect_u64_rejected(&f, 24, 9, SM_ERR_FORMAT, "parameter count");
    /* Levels beyond the data: the loader must not trust the field. */
    expect_u64_rejected(&f, 48, 0, SM_ERR_FORMAT, "levels is 0");
    expect_u64_rejected(&f, 48, (uint64_t)1 << 62, SM_ERR_FORMAT, "levels");
    expect_u64_rejected(&f, 48, UINT64_MAX, SM_ERR_FORMAT, "levels");
    expect_u64_rejected(&f, 48, 11, SM_ERR_FORMAT, "");
    expect_u64_rejected(&f, 48, 9, SM_ERR_FORMAT, "");

    /* A huge but self-consistent architecture in a small file: every size
     * field agrees, only the length gives it away. Must fail before
     * allocating ~2^60 bytes (which would fail or crash under ASan). */
    {
        unsigned char b[200];
        memset(b, 0, sizeof b);
        memcpy(b, f.buf, 16);
        put_le32(b + 12, 0);
        put_le64(b + 16, 1);
        uint64_t w = (uint64_t)1 << 29;
        put_le64(b + 24, w);
        put_le64(b + 32, 3);
        put_le64(b + 40, 2 * w + w + 2 * (w * w + w) + w + 1);
        put_le64(b + 48, 2);
        fix_crc(b, sizeof b);
        ck_assert_load_fails(b, sizeof b, SM_ERR_FORMAT, "parameters do not fit");
        put_le64(b + 32, ((uint64_t)1 << 29));
        put_le64(b + 24, ((uint64_t)1 << 29));
        put_le64(b + 16, ((uint64_t)1 << 29));
        fix_crc(b, sizeof b);
        ck_assert_load_fails(b, sizeof b, SM_ERR_FORMAT, "overflows");
    }

    /* Flags and the optimizer section. */
    unsigned char *b = malloc(f.len);
    const size_t o = BODY + 4 * np + 4 * 10;
    memcpy(b, f.buf, f.len);
    put_le32(b + 12, 5);
    fix_crc(b, f.len);
    ck_assert_load_fails(b, f.len, SM_ERR_FORMAT, "flags");
    memcpy(b, f.buf, f.len);
    put_le32(b + 12, 0);
    fix_crc(b, f.len);
    ck_assert_load_fails(b, f.len, SM_ERR_FORMAT, "trailing");
    memcpy(b, f.buf, f.len);
    put_le32(b + o, 3);
    fix_crc(b, f.len);
    ck_assert_load_fails(b, f.len, SM_ERR_FORMAT, "kind 3");
    put_le32(b + o, 0);
    fix_crc(b, f.len);
    ck_assert_load_fails(b, f.len, SM_ERR_FORMAT, "kind 0");
    put_le32(b + o, 2); /* SGD: one moment vector fewer, so data is left over */
    fix_crc(b, f.len);
    ck_assert_load_fails(b, f.len, SM_ERR_FORMAT, "trailing");
    memcpy(b, f.buf, f.len);
    put_le32(b + o + 4, 1);
    fix_crc(b, f.len);
    ck_assert_load_fails(b, f.len, SM_ERR_FORMAT, "reserved");
    memcpy(b, f.buf, f.len);
    put_le64(b + o + 8, np - 1);
    fix_crc(b, f.len);
    ck_assert_load_fails(b, f.len, SM_ERR_FORMAT, "optimizer size");
    memcpy(b, f.buf, f.len);
    put_le64(b + o + 8, UINT64_MAX);
    fix_crc(b, f.len);
    ck_assert_load_fails(b, f.len, SM_ERR_FORMAT, "optimizer size");
    free(b);
    fixture_free(&f);
}
END_TEST

/* Patches 4 or 8 bytes at off of a copy with a float or double, fixes the
 * CRC and expects a failure naming needle. */
static void expect_value_rejected(const fixture *f, size_t off, int is_double, double value,
                                  sm_status status, const char *needle)
{
    unsigned char *b = malloc(f->len);
    ck_assert_ptr_nonnull(b);
    memcpy(b, f->buf, f->len);
    if (is_double)
        put_lef64(b + off, value);
    else
        put_lef32(b + off, (float)value);
    fix_crc(b, f->len);
    ck_assert_load_fails(b, f->len, status, needle);
    free(b);
}

START_TEST(bad_values_with_valid_checksum)
{
    fixture f;
    fixture_make(&f, 1, 1);
    const size_t np = sm_net_num_params(f.net);
    const size_t sig = BODY + 4 * np, o = sig + 4 * 10, m = o + 80, v = m + 4 * np;
    expect_value_rejected(&f, BODY, 0, NAN, SM_ERR_NONFINITE, "parameter 0");
    expect_value_rejected(&f, BODY + 4 * (np - 1), 0, -INFINITY, SM_ERR_NONFINITE,
                          "parameter 121");
    expect_value_rejected(&f, sig, 0, INFINITY, SM_ERR_NONFINITE, "sigma[0]");
    expect_value_rejected(&f, sig + 4 * 9, 0, NAN, SM_ERR_NONFINITE, "sigma[9]");
    expect_value_rejected(&f, sig + 4 * 9, 0, 0.0, SM_ERR_FORMAT, "sigma[9]");
    expect_value_rejected(&f, sig + 4 * 9, 0, -0.01, SM_ERR_FORMAT, "sigma[9]");
    expect_value_rejected(&f, sig + 4 * 3, 0, 1.0, SM_ERR_FORMAT, "strictly decrease");
    expect_value_rejected(&f, o + 24, 1, NAN, SM_ERR_NONFINITE, "lr");
    expect_value_rejected(&f, o + 24, 1, 0.0, SM_ERR_FORMAT, "lr");
    expect_value_rejected(&f, o + 32, 1, 1.0, SM_ERR_FORMAT, "beta1");
    expect_value_rejected(&f, o + 40, 1, -0.5, SM_ERR_FORMAT, "beta2");
    expect_value_rejected(&f, o + 48, 1, 0.0, SM_ERR_FORMAT, "eps");
    expect_value_rejected(&f, o + 56, 1, -1.0, SM_ERR_FORMAT, "weight_decay");
    expect_value_rejected(&f, o + 56, 1, INFINITY, SM_ERR_NONFINITE, "weight_decay");
    expect_value_rejected(&f, o + 64, 1, 0.5, SM_ERR_FORMAT, "momentum");
    expect_value_rejected(&f, o + 72, 1, -1.0, SM_ERR_FORMAT, "clip_norm");
    expect_value_rejected(&f, m + 8, 0, NAN, SM_ERR_NONFINITE, "m[2]");
    expect_value_rejected(&f, v + 12, 0, INFINITY, SM_ERR_NONFINITE, "v[3]");
    expect_value_rejected(&f, v + 12, 0, -1.0, SM_ERR_FORMAT, "v[3]");
    expect_u64_rejected(&f, o + 16, UINT64_MAX, SM_ERR_FORMAT, "step count");
    /* Version 2's model fields: a lab network has σ_data exactly 0. */
    expect_value_rejected(&f, 64, 1, 0.5, SM_ERR_FORMAT, "sigma_data");
    expect_value_rejected(&f, 64, 1, NAN, SM_ERR_NONFINITE, "sigma_data");
    expect_u64_rejected(&f, 56, 2, SM_ERR_FORMAT, "unknown parametrization");
    expect_u64_rejected(&f, 56, (uint64_t)1 << 32, SM_ERR_FORMAT, "reserved");
    fixture_free(&f);

    /* SGD leaves β₁, β₂ and ε unused: they must be exactly 0. */
    fixture_make(&f, 0, 1);
    const size_t o2 = BODY + 4 * np + 4 * 10;
    expect_value_rejected(&f, o2 + 32, 1, 0.9, SM_ERR_FORMAT, "must be 0 for SGD");
    expect_value_rejected(&f, o2 + 48, 1, -0.0, SM_ERR_FORMAT, "must be 0 for SGD");
    expect_value_rejected(&f, o2 + 64, 1, 1.0, SM_ERR_FORMAT, "momentum");
    fixture_free(&f);
}
END_TEST

/* ---- saving ------------------------------------------------------------- */

START_TEST(atomic_save)
{
    fixture f;
    fixture_make(&f, 1, 1);
    make_tmpdir();
    char path[400], dirpath[400];

    /* A missing directory: an I/O error, and nothing is created. */
    snprintf(dirpath, sizeof dirpath, "%s/missing", tmpdir);
    snprintf(path, sizeof path, "%s/missing/model.smm", tmpdir);
    ck_assert_status(sm_model_save(path, f.net, f.sched, f.opt), SM_ERR_IO);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "missing"));
    struct stat sb;
    ck_assert_int_ne(stat(dirpath, &sb), 0);
    ck_assert_int_eq(sm_test_count_temp_files(tmpdir), 0);

    /* Replacing an existing file, with the umask's permissions. */
    snprintf(path, sizeof path, "%s/model.smm", tmpdir);
    sm_test_write_whole(path, "old contents", 12);
    mode_t mask = umask(022);
    umask(mask);
    ck_assert_ok(sm_model_save(path, f.net, f.sched, f.opt));
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_uint_eq((unsigned)(sb.st_mode & 0777), (unsigned)(0666 & ~mask));
    size_t len;
    unsigned char *b = sm_test_read_whole(path, &len);
    ck_assert_uint_eq(len, f.len);
    ck_assert_int_eq(memcmp(b, f.buf, len), 0);
    free(b);
    ck_assert_int_eq(sm_test_count_temp_files(tmpdir), 0);

    /* Failed saves leave the old file as it was and no temporary behind:
     * a non-finite parameter, a mismatched optimizer. */
    sm_net_params(f.net)[5] = NAN;
    ck_assert_status(sm_model_save(path, f.net, f.sched, f.opt), SM_ERR_NONFINITE);
    sm_net_params(f.net)[5] = 0.5f;
    sm_optim *small;
    ck_assert_ok(sm_optim_new_adam(&small, 3, 1e-3, 0.9, 0.999, 1e-8, 0.0));
    ck_assert_status(sm_model_save(path, f.net, f.sched, small), SM_ERR_SHAPE);
    sm_optim_free(small);
    b = sm_test_read_whole(path, &len);
    ck_assert_uint_eq(len, f.len);
    ck_assert_int_eq(memcmp(b, f.buf, len), 0);
    free(b);

    /* The target is a directory: the temporary is written, the rename
     * fails, the temporary is removed and the directory is untouched. */
    snprintf(dirpath, sizeof dirpath, "%s/adir", tmpdir);
    ck_assert_int_eq(mkdir(dirpath, 0755), 0);
    snprintf(path, sizeof path, "%s/adir/inside", tmpdir);
    sm_test_write_whole(path, "x", 1);
    ck_assert_status(sm_model_save(dirpath, f.net, f.sched, NULL), SM_ERR_IO);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "rename"));
    ck_assert_int_eq(stat(path, &sb), 0);
    ck_assert_int_eq(sm_test_count_temp_files(tmpdir), 0);
    ck_assert_status(sm_model_save("", f.net, f.sched, NULL), SM_ERR_INVALID_ARG);

    /* A relative path (temporary in the current directory). */
    char cwd[400];
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    ck_assert_int_eq(chdir(tmpdir), 0);
    ck_assert_ok(sm_model_save("rel.smm", f.net, f.sched, NULL));
    sm_net *n;
    sm_schedule *s;
    ck_assert_ok(sm_model_load("rel.smm", &n, &s, NULL));
    assert_same_net(f.net, n);
    sm_net_free(n);
    sm_schedule_free(s);
    ck_assert_int_eq(sm_test_count_temp_files("."), 0);
    ck_assert_int_eq(chdir(cwd), 0);

    sm_test_remove_tree(tmpdir);
    fixture_free(&f);
}
END_TEST

/* A save whose write fails half way (the file size limit stands in for a
 * full disk): an I/O error naming the write, the old file as it was, no
 * temporary left behind. */
typedef struct {
    const char *path;
    fixture *f;
} save_args;

static sm_status save_call(void *p)
{
    save_args *a = p;
    return sm_model_save(a->path, a->f->net, a->f->sched, a->f->opt);
}

START_TEST(failed_write_leaves_no_temporary)
{
    fixture f;
    fixture_make(&f, 1, 1);
    make_tmpdir();
    char path[400], msg[600];
    snprintf(path, sizeof path, "%s/model.smm", tmpdir);
    save_args a = {path, &f};
    const rlim_t limit = (rlim_t)(f.len / 2);

    /* No file yet: none afterwards. */
    ck_assert_int_eq(sm_test_with_file_size_limit(save_call, &a, limit, msg, sizeof msg),
                     SM_ERR_IO);
    ck_assert_ptr_nonnull(strstr(msg, "write of"));
    ck_assert_ptr_nonnull(strstr(msg, strerror(EFBIG)));
    ck_assert_int_eq(sm_test_count_temp_files(tmpdir), 0);
    ck_assert_int_ne(access(path, F_OK), 0);

    /* An older file stays as it was. */
    sm_test_write_whole(path, "old contents", 12);
    ck_assert_int_eq(sm_test_with_file_size_limit(save_call, &a, limit, msg, sizeof msg),
                     SM_ERR_IO);
    ck_assert_int_eq(sm_test_count_temp_files(tmpdir), 0);
    size_t len;
    unsigned char *b = sm_test_read_whole(path, &len);
    ck_assert_uint_eq(len, 12);
    ck_assert_int_eq(memcmp(b, "old contents", 12), 0);
    free(b);

    /* The same save without the limit succeeds: the limit made it fail. */
    ck_assert_int_eq(sm_test_with_file_size_limit(save_call, &a, RLIM_INFINITY, msg, sizeof msg),
                     SM_OK);
    b = sm_test_read_whole(path, &len);
    ck_assert_uint_eq(len, f.len);
    ck_assert_int_eq(memcmp(b, f.buf, len), 0);
    free(b);
    sm_test_remove_tree(tmpdir);
    fixture_free(&f);
}
END_TEST

/* Special files: never read (they may not end, or block), written in place
 * (a rename would replace them with a plain file). */
START_TEST(special_files)
{
    fixture f;
    fixture_make(&f, 1, 1);
    make_tmpdir();
    char fifo[400];
    snprintf(fifo, sizeof fifo, "%s/pipe", tmpdir);
    ck_assert_int_eq(mkfifo(fifo, 0600), 0);
    sm_net *n = (sm_net *)&n;
    sm_schedule *s = (sm_schedule *)&s;
    sm_optim *o = (sm_optim *)&o;

    /* A FIFO without a writer: refused at once instead of blocking. */
    ck_assert_status(sm_model_load(fifo, &n, &s, &o), SM_ERR_IO);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "FIFO"));
    ck_assert_ptr_null(n);
    ck_assert_ptr_null(s);
    ck_assert_ptr_null(o);
    ck_assert_status(sm_model_load("/dev/zero", &n, &s, &o), SM_ERR_IO);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "character device"));
    ck_assert_status(sm_model_load(tmpdir, &n, &s, &o), SM_ERR_IO);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "directory"));

    /* Saving into a FIFO nobody reads: refused, not waited on. */
    ck_assert_status(sm_model_save(fifo, f.net, f.sched, f.opt), SM_ERR_IO);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "no process reads it"));
    /* With a reader, the bytes go through the FIFO, which stays one. */
    int rd = open(fifo, O_RDONLY | O_NONBLOCK);
    ck_assert_int_ge(rd, 0);
    ck_assert_ok(sm_model_save(fifo, f.net, f.sched, f.opt));
    unsigned char *got = malloc(f.len + 1);
    ck_assert_ptr_nonnull(got);
    ck_assert_int_eq(read(rd, got, f.len + 1), (ssize_t)f.len);
    ck_assert_int_eq(memcmp(got, f.buf, f.len), 0);
    free(got);
    close(rd);
    struct stat sb;
    ck_assert_int_eq(stat(fifo, &sb), 0);
    ck_assert(S_ISFIFO(sb.st_mode));
    ck_assert_int_eq(sm_test_count_temp_files(tmpdir), 0);

    /* A link to an open descriptor (/dev/stdout redirected to a file) is
     * written through: the file behind it gets the model. */
    char redirect[400], fd_link[64];
    snprintf(redirect, sizeof redirect, "%s/redirected.smm", tmpdir);
    sm_test_write_whole(redirect, "old", 3);
    int fd = open(redirect, O_RDWR);
    ck_assert_int_ge(fd, 0);
    snprintf(fd_link, sizeof fd_link, "/proc/self/fd/%d", fd);
    if (lstat(fd_link, &sb) == 0) {
        ck_assert_ok(sm_model_save(fd_link, f.net, f.sched, f.opt));
        size_t len;
        unsigned char *b = sm_test_read_whole(redirect, &len);
        ck_assert_uint_eq(len, f.len);
        ck_assert_int_eq(memcmp(b, f.buf, len), 0);
        free(b);
    }
    close(fd);
    /* A device that refuses the bytes: the write error is reported. */
    if (stat("/dev/full", &sb) == 0 && S_ISCHR(sb.st_mode)) {
        ck_assert_status(sm_model_save("/dev/full", f.net, f.sched, f.opt), SM_ERR_IO);
        ck_assert_ptr_nonnull(strstr(sm_last_error(), strerror(ENOSPC)));
        ck_assert_int_eq(stat("/dev/full", &sb), 0);
        ck_assert(S_ISCHR(sb.st_mode));
    }
    sm_test_remove_tree(tmpdir);
    fixture_free(&f);
}
END_TEST

START_TEST(load_file_errors)
{
    make_tmpdir();
    char path[400];
    sm_net *n = (sm_net *)&n;
    sm_schedule *s = (sm_schedule *)&s;
    sm_optim *o = (sm_optim *)&o;
    snprintf(path, sizeof path, "%s/none.smm", tmpdir);
    ck_assert_status(sm_model_load(path, &n, &s, &o), SM_ERR_IO);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "none.smm"));
    ck_assert_ptr_null(n);
    ck_assert_ptr_null(s);
    ck_assert_ptr_null(o);
    ck_assert_status(sm_model_load(tmpdir, &n, &s, &o), SM_ERR_IO); /* a directory */
    /* A corrupt file: the message names the file and the field. */
    fixture f;
    fixture_make(&f, 0, 1);
    f.buf[16] ^= 1; /* dim 2 -> 3 */
    sm_test_write_whole(path, f.buf, f.len);
    ck_assert_status(sm_model_load(path, &n, &s, &o), SM_ERR_FORMAT);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "none.smm"));
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "parameter count"));
    sm_test_write_whole(path, "", 0);
    ck_assert_status(sm_model_load(path, &n, &s, &o), SM_ERR_FORMAT);
    fixture_free(&f);
    sm_test_remove_tree(tmpdir);
}
END_TEST

START_TEST(null_arguments)
{
    fixture f;
    fixture_make(&f, 1, 1);
    void *b = &b;
    size_t len = 99;
    ck_assert_status(sm_model_save_buffer(NULL, f.sched, NULL, &b, &len), SM_ERR_INVALID_ARG);
    ck_assert_ptr_null(b);
    ck_assert_uint_eq(len, 0);
    ck_assert_status(sm_model_save_buffer(f.net, NULL, NULL, &b, &len), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_model_save_buffer(f.net, f.sched, NULL, NULL, &len), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_model_save_buffer(f.net, f.sched, NULL, &b, NULL), SM_ERR_INVALID_ARG);
    ck_assert_ptr_null(b);
    sm_optim *small;
    ck_assert_ok(sm_optim_new_sgd(&small, 3, 0.1, 0.0, 0.0));
    ck_assert_status(sm_model_save_buffer(f.net, f.sched, small, &b, &len), SM_ERR_SHAPE);
    sm_optim_free(small);
    ck_assert_status(sm_model_save(NULL, f.net, f.sched, NULL), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_model_save("/tmp/x", NULL, f.sched, NULL), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_model_save("/tmp/x", f.net, NULL, NULL), SM_ERR_INVALID_ARG);
    sm_net_params(f.net)[0] = INFINITY;
    ck_assert_status(sm_model_save_buffer(f.net, f.sched, NULL, &b, &len), SM_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "parameter 0"));

    sm_net *n = (sm_net *)&n;
    sm_schedule *s = (sm_schedule *)&s;
    sm_optim *o = (sm_optim *)&o;
    ck_assert_status(sm_model_load_buffer(f.buf, f.len, NULL, &s, &o), SM_ERR_INVALID_ARG);
    ck_assert_ptr_null(s);
    ck_assert_ptr_null(o);
    ck_assert_status(sm_model_load_buffer(f.buf, f.len, &n, NULL, &o), SM_ERR_INVALID_ARG);
    ck_assert_ptr_null(n);
    ck_assert_status(sm_model_load_buffer(NULL, 10, &n, &s, &o), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_model_load_buffer(NULL, 0, &n, &s, &o), SM_ERR_FORMAT);
    ck_assert_status(sm_model_load(NULL, &n, &s, &o), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_model_load("/tmp/x", NULL, &s, &o), SM_ERR_INVALID_ARG);
    sm_free(NULL);
    fixture_free(&f);
}
END_TEST


/* Version 3: a lab network with a context of width 1 (first layer
 * x ‖ ln σ ‖ context ‖ flag: 4 inputs, 7 parameters). */
static const unsigned char golden_cond_v3[120] = {
    0x89, 0x53, 0x4d, 0x4d, 0x0d, 0x0a, 0x1a, 0x0a, /* magic */
    0x03, 0x00, 0x00, 0x00,                         /* version 3 */
    0x00, 0x00, 0x00, 0x00,                         /* flags: none */
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* dim 1 */
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* width 1 */
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* depth 1 */
    0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 7 parameters */
    0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 2 levels */
    0x00, 0x00, 0x00, 0x00,                         /* parametrization 0 = lab */
    0x00, 0x00, 0x00, 0x00,                         /* reserved */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* sigma_data 0 */
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* context_dim 1 */
    0x00, 0x00, 0x80, 0x3f,                         /* W_0: 1.0f */
    0x00, 0x00, 0x00, 0xc0,                         /* -2.0f */
    0x00, 0x00, 0x00, 0x3f,                         /* 0.5f (context) */
    0x00, 0x00, 0x80, 0x3e,                         /* 0.25f (flag) */
    0x00, 0x00, 0x00, 0x80,                         /* b_0: -0.0f */
    0x00, 0x00, 0x40, 0x40,                         /* W_1: 3.0f */
    0x00, 0x00, 0xc0, 0x3f,                         /* b_1: 1.5f */
    0x00, 0x00, 0x80, 0x3f,                         /* sigma 1.0f */
    0x00, 0x00, 0x00, 0x3e,                         /* sigma 0.125f */
    0xc2, 0x20, 0x36, 0x37,                         /* CRC-32 0x373620c2 */
};

START_TEST(golden_layout_version_3)
{
    ck_assert_uint_eq(crc32_bitwise(golden_cond_v3, 116), 0x373620c2u);
    sm_net_options o = SM_NET_OPTIONS_INIT;
    o.dim = 1;
    o.width = 1;
    o.depth = 1;
    o.context_dim = 1;
    sm_rng *r;
    sm_net *net, *n2;
    sm_schedule *sched, *s2;
    sm_optim *o2;
    ck_assert_ok(sm_rng_new(&r, 1));
    ck_assert_ok(sm_net_new_ex(&net, &o, r));
    sm_rng_free(r);
    ck_assert_uint_eq(sm_net_num_params(net), 7);
    const float params[7] = {1.0f, -2.0f, 0.5f, 0.25f, -0.0f, 3.0f, 1.5f};
    memcpy(sm_net_params(net), params, sizeof params);
    ck_assert_ok(sm_schedule_new_from_array(&sched, tiny_sigmas, 2));
    void *b;
    size_t len;
    ck_assert_ok(sm_model_save_buffer(net, sched, NULL, &b, &len));
    ck_assert_uint_eq(len, sizeof golden_cond_v3);
    ck_assert_int_eq(memcmp(b, golden_cond_v3, len), 0);
    sm_free(b);
    ck_assert_ok(sm_model_load_buffer(golden_cond_v3, sizeof golden_cond_v3, &n2, &s2, &o2));
    ck_assert_uint_eq(sm_net_context_dim(n2), 1);
    ck_assert_int_eq(memcmp(sm_net_params(n2), params, sizeof params), 0);
    /* The loaded network evaluates like the original, with a context. */
    const float x = 0.3f, sg = 0.5f, c = 2.0f;
    float y1, y2;
    ck_assert_ok(sm_net_forward_cond(net, &x, &sg, &c, 1, 1, 1, &y1));
    ck_assert_ok(sm_net_forward_cond(n2, &x, &sg, &c, 1, 1, 1, &y2));
    ck_assert(y1 == y2);
    sm_net_free(n2);
    sm_schedule_free(s2);
    /* context_dim 0 in version 3, or too large: refused. */
    unsigned char bad[sizeof golden_cond_v3];
    memcpy(bad, golden_cond_v3, sizeof bad);
    put_le32(bad + 72, 0);
    fix_crc(bad, sizeof bad);
    ck_assert_load_fails(bad, sizeof bad, SM_ERR_FORMAT, "context_dim is 0");
    put_le32(bad + 72, 2); /* the parameter count no longer matches */
    fix_crc(bad, sizeof bad);
    ck_assert_load_fails(bad, sizeof bad, SM_ERR_FORMAT, "parameter count");
    put_le32(bad + 76, 0x40000000u); /* context_dim ≥ 2^62 */
    fix_crc(bad, sizeof bad);
    ck_assert_load_fails(bad, sizeof bad, SM_ERR_FORMAT, "context_dim");
    for (size_t cut = 0; cut < sizeof golden_cond_v3; cut++)
        load_expect_fail(golden_cond_v3, cut);
    /* A network without a context is still written as version 2. */
    sm_net *plain = make_net(1, 1, 1, 1);
    ck_assert_ok(sm_model_save_buffer(plain, sched, NULL, &b, &len));
    ck_assert_uint_eq(((unsigned char *)b)[8], 2);
    sm_free(b);
    sm_net_free(plain);
    sm_net_free(net);
    sm_schedule_free(sched);
}
END_TEST

/* A trained-size network with a context, EDM, a normalization and Adam:
 * file round trip, same outputs with contexts, same bytes saved again. */
START_TEST(round_trip_version_3)
{
    sm_net_options o = SM_NET_OPTIONS_INIT;
    o.dim = 3;
    o.width = 16;
    o.depth = 2;
    o.parametrization = SM_PARAM_EDM;
    o.sigma_data = 0.75;
    o.context_dim = 4;
    sm_rng *r;
    sm_net *net, *n2;
    sm_schedule *sched, *s2;
    sm_optim *opt, *o2;
    ck_assert_ok(sm_rng_new(&r, 5));
    ck_assert_ok(sm_net_new_ex(&net, &o, r));
    const float shift[3] = {1, 2, 3}, scale[3] = {0.5f, 1, 2};
    ck_assert_ok(sm_net_set_normalization(net, shift, scale, 3));
    ck_assert_ok(sm_schedule_new_geometric(&sched, 2.0, 0.02, 5));
    ck_assert_ok(sm_optim_new_adam(&opt, sm_net_num_params(net), 1e-3, 0.9, 0.999, 1e-8, 0));
    warm_optimizer(opt, net, 3, 2);
    char path[] = "/tmp/sm-test-v3-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    ck_assert_ok(sm_model_save(path, net, sched, opt));
    ck_assert_ok(sm_model_load(path, &n2, &s2, &o2));
    unlink(path);
    ck_assert_uint_eq(sm_net_context_dim(n2), 4);
    float x[6], sg[2] = {0.3f, 1.1f}, c[8], y1[6], y2[6];
    ck_assert_ok(sm_rng_fill_normal(r, x, 6, 0, 1));
    ck_assert_ok(sm_rng_fill_normal(r, c, 8, 0, 1));
    ck_assert_ok(sm_net_denoise_cond(net, x, sg, c, 2, 3, 4, y1));
    ck_assert_ok(sm_net_denoise_cond(n2, x, sg, c, 2, 3, 4, y2));
    ck_assert_int_eq(memcmp(y1, y2, sizeof y1), 0);
    void *b1, *b2;
    size_t l1, l2;
    ck_assert_ok(sm_model_save_buffer(net, sched, opt, &b1, &l1));
    ck_assert_ok(sm_model_save_buffer(n2, s2, o2, &b2, &l2));
    ck_assert_uint_eq(l1, l2);
    ck_assert_int_eq(memcmp(b1, b2, l1), 0);
    ck_assert_uint_eq(((unsigned char *)b1)[8], 3);
    sm_free(b1);
    sm_free(b2);
    sm_net_free(n2);
    sm_schedule_free(s2);
    sm_optim_free(o2);
    sm_optim_free(opt);
    sm_schedule_free(sched);
    sm_net_free(net);
    sm_rng_free(r);
}
END_TEST

/* The context normalization section (flag bit 2, version 3): the golden
 * network of golden_layout_version_3 with shift 2 and scale 4 on its one
 * context column appends 8 bytes before the CRC; raw contexts through it
 * give the bits of pre-normalized contexts without it; the section is
 * checked like the data normalization. */
START_TEST(context_normalization_section)
{
    sm_net *net, *n2;
    sm_schedule *sched, *s2;
    sm_optim *o2;
    ck_assert_ok(sm_model_load_buffer(golden_cond_v3, sizeof golden_cond_v3, &net, &sched,
                                      &o2));
    ck_assert_int_eq(sm_net_has_context_normalization(net), 0);
    const float shift = 2.0f, scale = 4.0f;
    ck_assert_ok(sm_net_set_context_normalization(net, &shift, &scale, 1));
    void *b;
    size_t len;
    ck_assert_ok(sm_model_save_buffer(net, sched, NULL, &b, &len));
    enum { LEN = sizeof golden_cond_v3 + 8 };
    ck_assert_uint_eq(len, LEN);
    unsigned char file[LEN];
    memcpy(file, b, LEN);
    sm_free(b);
    /* Same bytes up to the section, flag bit 2, then shift and scale. */
    ck_assert_int_eq(memcmp(file + 16, golden_cond_v3 + 16, sizeof golden_cond_v3 - 20), 0);
    ck_assert_uint_eq(file[12], 4);
    unsigned char sec[8];
    put_lef32(sec, 2.0f);
    put_lef32(sec + 4, 4.0f);
    ck_assert_int_eq(memcmp(file + LEN - 12, sec, 8), 0);
    ck_assert_ok(sm_model_load_buffer(file, LEN, &n2, &s2, &o2));
    float sh = 0, sc = 0;
    ck_assert_int_eq(sm_net_has_context_normalization(n2), 1);
    ck_assert_ok(sm_net_get_context_normalization(n2, &sh, &sc, 1));
    ck_assert_float_eq(sh, 2.0f);
    ck_assert_float_eq(sc, 4.0f);
    /* Raw contexts with the normalization = normalized ones without it. */
    sm_net *plain;
    sm_schedule *s3;
    ck_assert_ok(sm_model_load_buffer(golden_cond_v3, sizeof golden_cond_v3, &plain, &s3,
                                      NULL));
    sm_schedule_free(s3);
    const float x[3] = {0.3f, -1.0f, 2.5f}, sg[3] = {0.5f, 0.1f, 3.0f};
    const float raw[3] = {7.0f, -3.0f, 2.0f};
    float normed[3], y1[3], y2[3], y3[3];
    for (int i = 0; i < 3; i++)
        normed[i] = (raw[i] - shift) / scale;
    ck_assert_ok(sm_net_forward_cond(n2, x, sg, raw, 3, 1, 1, y1));
    ck_assert_ok(sm_net_forward_cond(plain, x, sg, normed, 3, 1, 1, y2));
    ck_assert_int_eq(memcmp(y1, y2, sizeof y1), 0);
    ck_assert_ok(sm_net_forward_cond(plain, x, sg, raw, 3, 1, 1, y3));
    ck_assert_int_ne(memcmp(y1, y3, sizeof y1), 0); /* it did change something */
    /* The null context is not normalized. */
    ck_assert_ok(sm_net_forward_cond(n2, x, sg, NULL, 3, 1, 1, y1));
    ck_assert_ok(sm_net_forward_cond(plain, x, sg, NULL, 3, 1, 1, y2));
    ck_assert_int_eq(memcmp(y1, y2, sizeof y1), 0);
    ck_assert_ok(sm_net_denoise_cond(n2, x, sg, raw, 3, 1, 1, y1));
    ck_assert_ok(sm_net_denoise_cond(plain, x, sg, normed, 3, 1, 1, y2));
    ck_assert_int_eq(memcmp(y1, y2, sizeof y1), 0);
    /* Saved again: the same bytes; a clone keeps it. */
    ck_assert_ok(sm_model_save_buffer(n2, s2, NULL, &b, &len));
    ck_assert_uint_eq(len, LEN);
    ck_assert_int_eq(memcmp(b, file, LEN), 0);
    sm_free(b);
    sm_net *cl;
    ck_assert_ok(sm_net_clone(n2, &cl));
    ck_assert_int_eq(sm_net_has_context_normalization(cl), 1);
    sm_net_free(cl);
    /* Removed: the golden bytes again. */
    ck_assert_ok(sm_net_set_context_normalization(n2, NULL, NULL, 0));
    ck_assert_ok(sm_model_save_buffer(n2, s2, NULL, &b, &len));
    ck_assert_uint_eq(len, sizeof golden_cond_v3);
    ck_assert_int_eq(memcmp(b, golden_cond_v3, len), 0);
    sm_free(b);
    sm_net_free(n2);
    sm_schedule_free(s2);
    sm_net_free(plain);

    /* Bad values with a valid checksum. */
    unsigned char bad[LEN];
    const float bad_scale[] = {0.0f, -1.0f, -0.0f};
    for (int i = 0; i < 3; i++) {
        memcpy(bad, file, LEN);
        put_lef32(bad + LEN - 8, bad_scale[i]);
        fix_crc(bad, LEN);
        ck_assert_load_fails(bad, LEN, SM_ERR_FORMAT, "context normalization scale[0]");
    }
    const float nonfinite[] = {NAN, INFINITY, -INFINITY};
    for (int i = 0; i < 3; i++) {
        memcpy(bad, file, LEN);
        put_lef32(bad + LEN - 12, nonfinite[i]);
        fix_crc(bad, LEN);
        ck_assert_load_fails(bad, LEN, SM_ERR_NONFINITE, "context normalization shift[0]");
        memcpy(bad, file, LEN);
        put_lef32(bad + LEN - 8, nonfinite[i]);
        fix_crc(bad, LEN);
        ck_assert_load_fails(bad, LEN, SM_ERR_NONFINITE, "context normalization scale[0]");
    }
    /* The flag without the section: truncated. */
    memcpy(bad, golden_cond_v3, sizeof golden_cond_v3);
    put_le32(bad + 12, 4);
    fix_crc(bad, sizeof golden_cond_v3);
    ck_assert_load_fails(bad, sizeof golden_cond_v3, SM_ERR_FORMAT,
                         "the context normalization of 1 columns does not fit");
    /* The section without the flag: trailing data. */
    memcpy(bad, file, LEN);
    put_le32(bad + 12, 0);
    fix_crc(bad, LEN);
    ck_assert_load_fails(bad, LEN, SM_ERR_FORMAT, "trailing");
    /* Versions 1 and 2 do not know the bit. */
    memcpy(bad, golden_plain, sizeof golden_plain);
    put_le32(bad + 12, 4);
    fix_crc(bad, sizeof golden_plain);
    ck_assert_load_fails(bad, sizeof golden_plain, SM_ERR_FORMAT, "flags");
    sm_net *p2 = make_net(1, 1, 1, 1);
    ck_assert_ok(sm_model_save_buffer(p2, sched, NULL, &b, &len));
    sm_net_free(p2);
    ck_assert_uint_eq(((unsigned char *)b)[8], 2);
    unsigned char *v2 = b;
    put_le32(v2 + 12, 4);
    fix_crc(v2, len);
    ck_assert_load_fails(v2, len, SM_ERR_FORMAT, "flags");
    sm_free(b);
    /* Every truncation and every bit flip fails. */
    for (size_t cut = 0; cut < LEN; cut++)
        load_expect_fail(file, cut);
    for (size_t bit = 0; bit < 8 * LEN; bit++) {
        memcpy(bad, file, LEN);
        bad[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        load_expect_fail(bad, LEN);
    }
    sm_net_free(net);
    sm_schedule_free(sched);
}
END_TEST


/* The fuzzer's seed corpus (every format version): each file loads, its
 * network runs, and it saves back to the same bytes (version 1 as version
 * 2, the same bytes with the 16 model bytes inserted). */
START_TEST(seed_corpus_loads_and_round_trips)
{
    const char *dir = SM_TEST_SRCDIR "/../fuzz/corpus/model";
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int seen[4] = {0}, ctx_norms = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 4, ".smm"))
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *f = fopen(path, "rb");
        ck_assert_ptr_nonnull(f);
        static unsigned char buf[1 << 20];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        sm_net *net;
        sm_schedule *sched;
        sm_optim *opt;
        ck_assert_msg(sm_model_load_buffer(buf, n, &net, &sched, &opt) == SM_OK, "%s: %s",
                      e->d_name, sm_last_error());
        const unsigned version = buf[8];
        ck_assert_uint_le(version, 3);
        seen[version]++;
        ck_assert_uint_eq(sm_net_context_dim(net) > 0, version == 3);
        ctx_norms += sm_net_has_context_normalization(net);
        void *b;
        size_t blen;
        ck_assert_ok(sm_model_save_buffer(net, sched, opt, &b, &blen));
        if (version == 1)
            ck_assert_uint_eq(blen, n + 16);
        else
            ck_assert_msg(blen == n && memcmp(b, buf, n) == 0, "%s saves other bytes",
                          e->d_name);
        sm_free(b);
        sm_net_free(net);
        sm_schedule_free(sched);
        sm_optim_free(opt);
    }
    closedir(d);
    ck_assert_int_gt(seen[1], 0);
    ck_assert_int_gt(seen[2], 0);
    ck_assert_int_gt(seen[3], 0);
    ck_assert_int_gt(ctx_norms, 0); /* the context normalization section */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("format");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, crc_reference_value);
    tcase_add_test(tc, golden_layout_without_optimizer);
    tcase_add_test(tc, golden_layout_with_sgd);
    tcase_add_test(tc, golden_layout_version_3);
    tcase_add_test(tc, round_trip_version_3);
    tcase_add_test(tc, context_normalization_section);
    tcase_add_test(tc, seed_corpus_loads_and_round_trips);
    tcase_add_test(tc, round_trip_buffer);
    tcase_add_test(tc, round_trip_file);
    tcase_add_test(tc, optimizer_state_may_be_ignored);
    tcase_add_test(tc, resume_training_is_bit_identical);
    tcase_add_test(tc, every_truncation_fails);
    tcase_add_test(tc, every_bit_flip_fails);
    tcase_add_test(tc, magic_and_version);
    tcase_add_test(tc, absurd_sizes_with_valid_checksum);
    tcase_add_test(tc, bad_values_with_valid_checksum);
    tcase_add_test(tc, atomic_save);
    tcase_add_test(tc, load_file_errors);
    tcase_add_test(tc, failed_write_leaves_no_temporary);
    tcase_add_test(tc, special_files);
    tcase_add_test(tc, null_arguments);
    suite_add_tcase(s, tc);
    return sm_test_run(s);
}
