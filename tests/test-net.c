/* Score network: layout, initialisation, BLIS against the reference
 * product, and the whole net + DSM loss gradient against central finite
 * differences. Linked against the library's objects to reach the reference
 * path (sm__net_use_reference). */
#include <math.h>
#include <string.h>

#include "testutil.h"
#include "activation.h"
#include "blas-private.h"
#include "dsm-private.h"
#include "gemm-private.h"
#include "learning-private.h"
#include "net-private.h"
#include "ssm-private.h"

/* The parametrization of the networks make_net() builds (the gradient and
 * JVP checks run under both). */
static sm_parametrization param_under_test = SM_PARAM_LAB;

static sm_net *make_net(size_t dim, size_t width, size_t depth, uint64_t seed)
{
    sm_rng *r;
    sm_net *net;
    sm_net_options o = SM_NET_OPTIONS_INIT;
    o.dim = dim;
    o.width = width;
    o.depth = depth;
    o.parametrization = param_under_test;
    o.sigma_data = 0.7;
    ck_assert_ok(sm_rng_new(&r, seed));
    ck_assert_ok(sm_net_new_ex(&net, &o, r));
    sm_rng_free(r);
    return net;
}

START_TEST(fast_exp_accuracy)
{
    double worst = 0;
    for (float x = -87.0f; x <= 87.0f; x += 0.0137f) {
        double ref = exp((double)x);
        worst = fmax(worst, fabs((double)sm__expf(x) - ref) / ref);
    }
    ck_assert_double_lt(worst, 3e-7);
    ck_assert_float_eq(sm__expf(0.0f), 1.0f);
    float z[3] = {NAN, -200.0f, 200.0f}, h[3], s[3];
    sm__silu_forward(z, h, s, NULL, 3);
    ck_assert(isnan(h[0]));
    ck_assert_float_eq_tol(h[1], 0.0f, 1e-30f);
    ck_assert_float_eq(h[2], 200.0f);
}
END_TEST

START_TEST(lab_layout)
{
    sm_net *net = make_net(2, 128, 3, 0);
    /* 3→128, 128→128, 128→128, 128→2 with biases. */
    ck_assert_uint_eq(sm_net_num_params(net), 3 * 128 + 128 + 2 * (128 * 128 + 128) + 128 * 2 + 2);
    size_t w, b, fin, fout;
    ck_assert_ok(sm_net_layer(net, 0, &w, &b, &fin, &fout));
    ck_assert_uint_eq(w, 0);
    ck_assert_uint_eq(b, 3 * 128);
    ck_assert_uint_eq(fin, 3);
    ck_assert_uint_eq(fout, 128);
    ck_assert_ok(sm_net_layer(net, 3, &w, &b, &fin, &fout));
    ck_assert_uint_eq(fin, 128);
    ck_assert_uint_eq(fout, 2);
    ck_assert_uint_eq(b + fout, sm_net_num_params(net));
    ck_assert_status(sm_net_layer(net, 4, &w, NULL, NULL, NULL), SM_ERR_INVALID_ARG);
    /* The parameters start on a cache line (so do the weights of the
     * 128-wide hidden layer 1: 3·128 + 128 floats after them), here and in
     * a clone, whatever address the allocator gave. */
    sm_net *c = NULL;
    ck_assert_ok(sm_net_clone(net, &c));
    for (int i = 0; i < 2; i++) {
        const float *p = sm_net_params(i ? c : net);
        ck_assert_ok(sm_net_layer(i ? c : net, 1, &w, NULL, NULL, NULL));
        ck_assert_uint_eq((uintptr_t)p % 64, 0);
        ck_assert_uint_eq((uintptr_t)(p + w) % 64, 0);
    }
    ck_assert_int_eq(memcmp(sm_net_params(c), sm_net_params(net),
                            sm_net_num_params(net) * sizeof(float)), 0);
    sm_net_free(c);
    ck_assert_uint_eq(sm_net_dim(net), 2);
    ck_assert_uint_eq(sm_net_width(net), 128);
    ck_assert_uint_eq(sm_net_depth(net), 3);
    sm_net_free(net);
}
END_TEST

START_TEST(init_like_pytorch)
{
    sm_net *a = make_net(2, 64, 2, 5), *b = make_net(2, 64, 2, 5), *c = make_net(2, 64, 2, 6);
    size_t n = sm_net_num_params(a);
    ck_assert_int_eq(memcmp(sm_net_params(a), sm_net_params(b), n * sizeof(float)), 0);
    ck_assert_int_ne(memcmp(sm_net_params(a), sm_net_params(c), n * sizeof(float)), 0);
    for (size_t l = 0; l <= 2; l++) {
        size_t w, fin, fout;
        ck_assert_ok(sm_net_layer(a, l, &w, NULL, &fin, &fout));
        float bound = 1.0f / sqrtf((float)fin), mx = 0;
        double sum = 0;
        for (size_t i = w; i < w + fin * fout + fout; i++) {
            float v = sm_net_params(a)[i];
            ck_assert_float_le(fabsf(v), bound);
            mx = fmaxf(mx, fabsf(v));
            sum += v;
        }
        ck_assert_float_gt(mx, 0.9f * bound); /* the whole range is used */
        ck_assert_double_lt(fabs(sum / (double)(fin * fout + fout)), 0.2 * bound);
    }
    sm_net_free(a);
    sm_net_free(b);
    sm_net_free(c);
}
END_TEST

START_TEST(blis_matches_reference)
{
    const size_t shapes[][3] = {{2, 128, 3}, {1, 8, 1}, {5, 33, 2}};
    for (size_t s = 0; s < 3; s++) {
        size_t d = shapes[s][0];
        sm_net *net = make_net(d, shapes[s][1], shapes[s][2], 11);
        enum { N = 300 };
        float x[N * 5], sig[N], y1[N * 5], y2[N * 5];
        sm_rng *r;
        ck_assert_ok(sm_rng_new(&r, 3));
        ck_assert_ok(sm_rng_fill_normal(r, x, N * d, 0, 1));
        ck_assert_ok(sm_rng_fill_uniform(r, sig, N, 0.01f, 1.0f));
        ck_assert_ok(sm_net_reserve(net, 128)); /* forces several blocks */
        ck_assert_ok(sm_net_forward(net, x, sig, N, d, y1));
        ck_assert_ok(sm__net_use_reference(net, 1));
        ck_assert_ok(sm_net_forward(net, x, sig, N, d, y2));
        for (size_t i = 0; i < N * d; i++)
            ck_assert_float_eq_tol(y1[i], y2[i], 1e-4f * (1.0f + fabsf(y2[i])));
        /* The scalar-σ entry point agrees with per-row σ. */
        for (size_t i = 0; i < N; i++)
            sig[i] = 0.3f;
        ck_assert_ok(sm_net_forward(net, x, sig, N, d, y1));
        ck_assert_ok(sm_net_forward_sigma(net, x, 0.3f, N, d, y2));
        ck_assert_int_eq(memcmp(y1, y2, N * d * sizeof(float)), 0);
        sm_rng_free(r);
        sm_net_free(net);
    }
}
END_TEST

/* Products of one row take BLIS's matrix-vector path: they match the
 * reference loops for the strides the network uses (B read transposed or
 * not, C contiguous or strided), with beta 0 overwriting C even where it
 * holds NaN and beta 1 accumulating; one row of a network agrees with the
 * same row evaluated among others. */
START_TEST(one_row_products_match_reference)
{
    enum { K = 37, N = 29 };
    float a[3 * K], bm[K * N], c1[2 * N], c2[2 * N];
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 5));
    ck_assert_ok(sm_rng_fill_normal(r, a, 3 * K, 0, 1));
    ck_assert_ok(sm_rng_fill_normal(r, bm, K * N, 0, 1));
    sm__blas *blas = sm__blas_new(1);
    ck_assert_ptr_nonnull(blas);
    for (int csa = 1; csa <= 3; csa += 2)
        for (int bt = 0; bt < 2; bt++)
            for (int csc = 1; csc <= 2; csc++)
                for (int acc = 0; acc < 2; acc++) {
                    const ptrdiff_t rsb = bt ? 1 : N, csb = bt ? K : 1;
                    for (size_t i = 0; i < 2 * N; i++)
                        c1[i] = c2[i] = acc ? (float)i / 7.0f : NAN;
                    const float beta = acc ? 1.0f : 0.0f;
                    sm__sgemm(blas, 1, N, K, 0.5f, a, 3 * K, csa, bm, rsb, csb, beta, c1,
                              N * csc, csc);
                    sm__sgemm(NULL, 1, N, K, 0.5f, a, 3 * K, csa, bm, rsb, csb, beta, c2,
                              N * csc, csc);
                    for (size_t i = 0; i < 2 * N; i++) {
                        if (csc == 2 && i % 2) {
                            /* Between the strided outputs: untouched. */
                            ck_assert(acc ? c1[i] == (float)i / 7.0f : isnan(c1[i]));
                            continue;
                        }
                        if (i >= (size_t)N * (size_t)csc)
                            continue;
                        ck_assert_msg(isfinite(c1[i]) &&
                                          fabsf(c1[i] - c2[i]) <= 1e-4f * (1.0f + fabsf(c2[i])),
                                      "csa %d, B %s, csc %d, beta %g: C[%zu] %g, reference %g",
                                      csa, bt ? "transposed" : "plain", csc, (double)beta, i,
                                      (double)c1[i], (double)c2[i]);
                    }
                }
    sm__blas_free(blas);

    /* A network's one-row evaluation against its batch evaluation. */
    sm_net *net = make_net(5, 64, 3, 12);
    float x[4 * 5], sig[4], all[4 * 5], one[5];
    ck_assert_ok(sm_rng_fill_normal(r, x, 4 * 5, 0, 1));
    ck_assert_ok(sm_rng_fill_uniform(r, sig, 4, 0.05f, 2.0f));
    ck_assert_ok(sm_net_forward(net, x, sig, 4, 5, all));
    for (size_t i = 0; i < 4; i++) {
        ck_assert_ok(sm_net_forward(net, x + 5 * i, sig + i, 1, 5, one));
        for (size_t j = 0; j < 5; j++)
            ck_assert_float_eq_tol(one[j], all[5 * i + j], 1e-4f * (1.0f + fabsf(all[5 * i + j])));
    }
    sm_net_free(net);
    sm_rng_free(r);
}
END_TEST

/* The SiLU of whole arrays (vectorized for the CPU) gives, element for
 * element, the bits of the scalar formula, for ordinary values, the clamp's
 * edges, ±0, infinities, NaN and subnormals, with a tail shorter than a
 * vector. */
START_TEST(silu_vectors_match_scalar)
{
    enum { N = 16 * 70 + 5 };
    static float z[N], h[N], s[N];
    const float special[] = {0.0f, -0.0f, 87.0f, -87.0f, 87.5f, -87.5f, 100.0f, -100.0f,
                             INFINITY, -INFINITY, NAN, 1e-40f, -1e-40f, 88.7f, -88.7f};
    const size_t ns = sizeof special / sizeof *special;
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 77));
    ck_assert_ok(sm_rng_fill_normal(r, z, N, 0, 6));
    for (size_t i = 0; i < ns; i++) {
        z[7 * i] = special[i];
        z[N - 1 - i] = special[i];
    }
    static float h2[N], d[N], h3[N];
    sm__silu_forward(z, h, s, NULL, N);
    sm__silu_forward(z, h2, NULL, d, N);
    sm__silu_forward(z, h3, NULL, NULL, N);
    for (size_t i = 0; i < N; i++) {
        const float sg = 1.0f / (1.0f + sm__expf(-z[i])), hi = z[i] * sg;
        const float di = sg * (1.0f + z[i] * (1.0f - sg));
        if (isnan(sg)) {
            ck_assert_msg(isnan(s[i]) && isnan(h[i]) && isnan(h2[i]) && isnan(d[i]) && isnan(h3[i]),
                          "z[%zu] = %g", i, (double)z[i]);
            continue;
        }
        ck_assert_msg(memcmp(&sg, &s[i], sizeof sg) == 0 && memcmp(&hi, &h[i], sizeof hi) == 0,
                      "z[%zu] = %a: s %a against %a, h %a against %a", i, (double)z[i],
                      (double)s[i], (double)sg, (double)h[i], (double)hi);
        ck_assert_msg(memcmp(&hi, &h2[i], sizeof hi) == 0 && memcmp(&di, &d[i], sizeof di) == 0 &&
                          memcmp(&hi, &h3[i], sizeof hi) == 0,
                      "z[%zu] = %a: with d: h %a against %a, d %a against %a; h alone %a",
                      i, (double)z[i], (double)h2[i], (double)hi, (double)d[i], (double)di,
                      (double)h3[i]);
    }
    sm_rng_free(r);
}
END_TEST

/* The library's own kernels (every instruction set this CPU runs) against
 * the reference loops: shapes around the micro-tile and block edges
 * (12×32 and 6×16 tiles, depth blocks of 256, row blocks of 144), the four
 * stride layouts the network uses plus strided C, alpha ≠ 1, beta 0 over
 * NaN and beta 1 accumulating, and k = 0. Elements of C outside the
 * product stay untouched. */
START_TEST(own_kernels_match_reference)
{
    static const size_t ms[] = {2, 13, 150};
    static const size_t ns[] = {1, 33, 65};
    static const size_t ks[] = {0, 3, 31, 300};
    const size_t M = 150, N = 65, K = 300, CS = 2 * M * N;
    sm__isa best = sm__isa_detect();
    if (best == SM__ISA_NONE)
        return; /* no kernel of ours on this CPU: BLIS runs everything */
    float *a = malloc(M * K * sizeof *a), *b = malloc(K * N * sizeof *b);
    float *c1 = malloc(CS * sizeof *c1), *c2 = malloc(CS * sizeof *c2);
    float *ws = sm__gemm_workspace_new();
    ck_assert(a && b && c1 && c2 && ws);
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 8));
    ck_assert_ok(sm_rng_fill_normal(r, a, M * K, 0, 1));
    ck_assert_ok(sm_rng_fill_normal(r, b, K * N, 0, 1));
    size_t checked = 0;
    for (int isa = SM__ISA_AVX2; isa <= (int)best; isa++)
        for (size_t mi = 0; mi < sizeof ms / sizeof *ms; mi++)
            for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++)
                for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++)
                    for (int layout = 0; layout < 5; layout++) {
                        const size_t m = ms[mi], n = ns[ni], k = ks[ki];
                        /* A row- or column-major, B row- or column-major;
                         * layout 4: C with column stride 2. */
                        const int at = layout & 1, bt = (layout >> 1) & 1, cst = layout == 4;
                        const ptrdiff_t rsa = at ? 1 : (ptrdiff_t)k, csa = at ? (ptrdiff_t)m : 1;
                        const ptrdiff_t rsb = bt ? 1 : (ptrdiff_t)n, csb = bt ? (ptrdiff_t)k : 1;
                        const ptrdiff_t csc = cst ? 2 : 1, rsc = (ptrdiff_t)n * csc;
                        const int acc = (int)((mi + ni + ki + (size_t)layout) % 2);
                        const float alpha = acc ? 0.5f : 1.0f, beta = acc ? 1.0f : 0.0f;
                        for (size_t i = 0; i < CS; i++)
                            c1[i] = c2[i] = acc ? (float)(i % 97) / 7.0f : NAN;
                        sm__gemm_run((sm__isa)isa, ws, m, n, k, alpha, a, rsa, csa, b, rsb, csb,
                                     beta, c1, rsc, csc);
                        sm__sgemm(NULL, m, n, k, alpha, a, rsa, csa, b, rsb, csb, beta, c2, rsc,
                                  csc);
                        for (size_t i = 0; i < CS; i++) {
                            const int inside = i < m * (size_t)rsc && (!cst || i % 2 == 0);
                            if (!inside) {
                                ck_assert_msg(acc ? c1[i] == c2[i] : isnan(c1[i]),
                                              "%s m%zu n%zu k%zu layout %d: C[%zu] written",
                                              sm__isa_name((sm__isa)isa), m, n, k, layout, i);
                                continue;
                            }
                            const float tol = 2e-5f * (float)(k + 1) * (1.0f + fabsf(c2[i]));
                            ck_assert_msg(isfinite(c1[i]) && fabsf(c1[i] - c2[i]) <= tol,
                                          "%s m%zu n%zu k%zu layout %d: C[%zu] %g, reference %g",
                                          sm__isa_name((sm__isa)isa), m, n, k, layout, i,
                                          (double)c1[i], (double)c2[i]);
                        }
                        checked++;
                    }
    ck_assert_uint_gt(checked, 0);
    sm_rng_free(r);
    free(a);
    free(b);
    free(c1);
    free(c2);
    free(ws);
}
END_TEST

/* What follows a layer's product (bias, activation and its derivative;
 * the backward's multiplication by the derivative and bias-gradient sum)
 * done tile by tile gives the bits of doing it in passes afterwards, for
 * every instruction set of ours, on BLIS, one row (the matrix-vector
 * path), tile edges and depths beyond one packed slice (k > 256). */
START_TEST(epilogue_matches_passes)
{
    static const size_t ms[] = {1, 2, 13, 150}, ns[] = {1, 17, 32, 70}, ks[] = {1, 3, 300};
    enum { M = 150, N = 70, K = 300 };
    float *a = malloc(M * K * sizeof *a), *w = malloc(N * K * sizeof *w);
    float *bias = malloc(N * sizeof *bias), *mul = malloc(M * N * sizeof *mul);
    float *c1 = malloc(M * N * sizeof *c1), *c2 = malloc(M * N * sizeof *c2);
    float *h1 = malloc(M * N * sizeof *h1), *h2 = malloc(M * N * sizeof *h2);
    float *d1 = malloc(M * N * sizeof *d1), *d2 = malloc(M * N * sizeof *d2);
    float cs1[N], cs2[N];
    ck_assert(a && w && bias && mul && c1 && c2 && h1 && h2 && d1 && d2);
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 10));
    ck_assert_ok(sm_rng_fill_normal(r, a, M * K, 0, 1));
    ck_assert_ok(sm_rng_fill_normal(r, w, N * K, 0, 0.2));
    ck_assert_ok(sm_rng_fill_normal(r, bias, N, 0, 1));
    ck_assert_ok(sm_rng_fill_normal(r, mul, M * N, 0, 1));
    size_t checked = 0, expected = 0;
    float *ws = sm__gemm_workspace_new();
    ck_assert_ptr_nonnull(ws);
    sm__blas *bl = sm__blas_new(1);
    ck_assert_ptr_nonnull(bl);
    sm__blas_use_blis(bl, 1);
    /* isa NONE: BLIS through the handle; then each instruction set of ours. */
    for (int isa = SM__ISA_NONE; isa <= (int)sm__isa_detect(); isa++) {
        expected += 4 * 4 * 3 * 4;
        for (size_t mi = 0; mi < 4; mi++)
            for (size_t ni = 0; ni < 4; ni++)
                for (size_t ki = 0; ki < 3; ki++)
                    for (int mode = 0; mode < 4; mode++) {
                        const size_t m = ms[mi], n = ns[ni], k = ks[ki];
                        for (size_t i = 0; i < M * N; i++)
                            c1[i] = c2[i] = h1[i] = h2[i] = d1[i] = d2[i] = NAN;
                        for (size_t j = 0; j < N; j++)
                            cs1[j] = cs2[j] = (float)j / 3.0f;
                        sm__epilogue epi = {0};
                        /* mode 0: forward with silu'; 1: with sigmoid; 2: backward;
                         * 3: forward, h alone (d1 and d2 stay NaN) */
                        if (mode != 2) {
                            epi.bias = bias;
                            epi.h = h1;
                            if (mode < 2)
                                *(mode == 0 ? &epi.d : &epi.s) = d1;
                        } else {
                            epi.mul = mul;
                            epi.colsum = cs1;
                        }
                        /* C (m×n) = A (m×k) · Wᵀ, W n×k row-major, as in the forward. */
                        const float beta2 = mode != 2 ? 1.0f : 0.0f;
                        if (mode != 2)
                            for (size_t i = 0; i < m; i++)
                                memcpy(c2 + i * n, bias, n * sizeof *c2);
                        if (isa == SM__ISA_NONE) {
                            sm__sgemm_ex(bl, m, n, k, 1.0f, a, (ptrdiff_t)k, 1, w, 1,
                                         (ptrdiff_t)k, 0.0f, c1, (ptrdiff_t)n, 1, &epi);
                            sm__sgemm(bl, m, n, k, 1.0f, a, (ptrdiff_t)k, 1, w, 1, (ptrdiff_t)k,
                                      beta2, c2, (ptrdiff_t)n, 1);
                        } else {
                            sm__gemm_run_ex((sm__isa)isa, ws, m, n, k, 1.0f, a, (ptrdiff_t)k, 1,
                                            w, 1, (ptrdiff_t)k, 0.0f, c1, (ptrdiff_t)n, 1, &epi);
                            sm__gemm_run((sm__isa)isa, ws, m, n, k, 1.0f, a, (ptrdiff_t)k, 1, w,
                                         1, (ptrdiff_t)k, beta2, c2, (ptrdiff_t)n, 1);
                        }
                        if (mode == 0)
                            sm__silu_forward(c2, h2, NULL, d2, m * n);
                        else if (mode == 1)
                            sm__silu_forward(c2, h2, d2, NULL, m * n);
                        else if (mode == 3)
                            sm__silu_forward(c2, h2, NULL, NULL, m * n);
                        else {
                            sm__mul_inplace(c2, mul, m * n);
                            for (size_t i = 0; i < m; i++)
                                for (size_t j = 0; j < n; j++)
                                    cs2[j] += c2[i * n + j];
                        }
                        const size_t bytes = m * n * sizeof(float);
                        ck_assert_msg(!memcmp(h1, h2, bytes) && !memcmp(d1, d2, bytes) &&
                                          !memcmp(c1, c2, bytes) &&
                                          !memcmp(cs1, cs2, sizeof cs1),
                                      "%s m%zu n%zu k%zu mode %d: the epilogue's bits differ",
                                      sm__isa_name((sm__isa)isa), m, n, k, mode);
                        checked++;
                    }
    }
    ck_assert_uint_eq(checked, expected);
    sm__blas_free(bl);
    free(ws);
    /* discard_c: h and the derivative are the same; C is scratch. */
    bl = sm__blas_new(1);
    ck_assert_ptr_nonnull(bl);
    sm__epilogue keep = {.bias = bias, .h = h1, .d = d1};
    sm__epilogue discard = {.bias = bias, .h = h2, .d = d2, .discard_c = 1};
    sm__sgemm_ex(bl, M, N, K, 1.0f, a, K, 1, w, 1, K, 0.0f, c1, N, 1, &keep);
    sm__sgemm_ex(bl, M, N, K, 1.0f, a, K, 1, w, 1, K, 0.0f, c2, N, 1, &discard);
    ck_assert(!memcmp(h1, h2, M * N * sizeof(float)) && !memcmp(d1, d2, M * N * sizeof(float)));
    sm__blas_free(bl);
    sm_rng_free(r);
    free(a);
    free(w);
    free(bias);
    free(mul);
    free(c1);
    free(c2);
    free(h1);
    free(h2);
    free(d1);
    free(d2);
}
END_TEST

/* Splitting rows between threads must not change a bit: any block of rows
 * (m ≥ 2) of a product gives the same bits as those rows of the whole. */
START_TEST(own_kernels_rows_independent)
{
    enum { M = 150, N = 70, K = 300 };
    sm__isa best = sm__isa_detect();
    if (best == SM__ISA_NONE)
        return;
    float *a = malloc(M * K * sizeof *a), *b = malloc(K * N * sizeof *b);
    float *all = malloc(M * N * sizeof *all), *part = malloc(M * N * sizeof *part);
    float *ws = sm__gemm_workspace_new();
    ck_assert(a && b && all && part && ws);
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 9));
    ck_assert_ok(sm_rng_fill_normal(r, a, M * K, 0, 1));
    ck_assert_ok(sm_rng_fill_normal(r, b, K * N, 0, 1));
    for (int isa = SM__ISA_AVX2; isa <= (int)best; isa++) {
        /* The network's forward layout: A row-major, B a transposed W. */
        sm__gemm_run((sm__isa)isa, ws, M, N, K, 1.0f, a, K, 1, b, 1, K, 0.0f, all, N, 1);
        static const size_t cuts[][2] = {{0, 2}, {1, 14}, {13, 150}, {75, 150}, {149 - 1, 150}};
        for (size_t c = 0; c < sizeof cuts / sizeof *cuts; c++) {
            const size_t r0 = cuts[c][0], r1 = cuts[c][1];
            sm__gemm_run((sm__isa)isa, ws, r1 - r0, N, K, 1.0f, a + r0 * K, K, 1, b, 1, K, 0.0f,
                         part + r0 * N, N, 1);
            ck_assert_msg(memcmp(part + r0 * N, all + r0 * N, (r1 - r0) * N * sizeof(float)) == 0,
                          "%s rows %zu..%zu differ from the whole product",
                          sm__isa_name((sm__isa)isa), r0, r1);
        }
    }
    sm_rng_free(r);
    free(a);
    free(b);
    free(all);
    free(part);
    free(ws);
}
END_TEST

/* One-row products (m = 1, the matrix-vector kernels) of every instruction
 * set this CPU runs against the reference loops: n around the 16-column
 * blocks, k around the 16-element chunks and the 256-element panels of a
 * held in registers (1 … 600), B read transposed (with its columns packed
 * or further apart than k) or not, y contiguous or strided, alpha ≠ 1,
 * beta 0 over NaN and beta 1 accumulating. B's last column ends where its
 * allocation ends, so a read past it shows under the memory checkers;
 * elements of y between the strided outputs stay untouched. And a column's
 * bits do not depend on how many columns share the call: every prefix of
 * the columns gives the bits of the whole. */
START_TEST(own_kernels_one_row)
{
    static const size_t ns[] = {1, 7, 15, 16, 17, 40, 257};
    static const size_t ks[] = {1, 5, 15, 16, 17, 41, 100, 200, 255, 256, 257, 300, 512, 513, 600};
    enum { NMAX = 257, KMAX = 600, YS = 2 * NMAX };
    sm__isa best = sm__isa_detect();
    if (best == SM__ISA_NONE)
        return;
    float *a = malloc(2 * KMAX * sizeof *a);
    float *y1 = malloc(YS * sizeof *y1), *y2 = malloc(YS * sizeof *y2);
    float *whole = malloc(NMAX * sizeof *whole), *part = malloc(NMAX * sizeof *part);
    float *ws = sm__gemm_workspace_new();
    ck_assert(a && y1 && y2 && whole && part && ws);
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 10));
    ck_assert_ok(sm_rng_fill_normal(r, a, 2 * KMAX, 0, 1));
    size_t checked = 0;
    for (int isa = SM__ISA_AVX2; isa <= (int)best; isa++)
        for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++)
            for (size_t ki = 0; ki < sizeof ks / sizeof *ks; ki++)
                for (int layout = 0; layout < 6; layout++) {
                    const size_t n = ns[ni], k = ks[ki];
                    /* 0, 1: B transposed (csb = k, or k + 3); 2: B plain;
                     * 3: a strided; 4, 5: layouts 0 and 2 with y strided. */
                    const int bt = layout != 2 && layout != 5;
                    const ptrdiff_t inca = layout == 3 ? 2 : 1, incy = layout >= 4 ? 2 : 1;
                    const ptrdiff_t csb = bt ? (ptrdiff_t)k + (layout == 1 ? 3 : 0) : 1;
                    const ptrdiff_t rsb = bt ? 1 : (ptrdiff_t)n;
                    const size_t span = bt ? (size_t)csb * (n - 1) + k : k * n;
                    float *b = malloc(span * sizeof *b);
                    ck_assert_ptr_nonnull(b);
                    ck_assert_ok(sm_rng_fill_normal(r, b, span, 0, 1));
                    const int acc = (int)((ni + ki + (size_t)layout) % 2);
                    const float alpha = acc ? 0.5f : 1.0f, beta = acc ? 1.0f : 0.0f;
                    for (size_t i = 0; i < YS; i++)
                        y1[i] = y2[i] = acc ? (float)(i % 97) / 7.0f : NAN;
                    sm__gemm_run((sm__isa)isa, ws, 1, n, k, alpha, a, 2 * KMAX, inca, b, rsb, csb,
                                 beta, y1, (ptrdiff_t)n * incy, incy);
                    sm__sgemm(NULL, 1, n, k, alpha, a, 2 * KMAX, inca, b, rsb, csb, beta, y2,
                              (ptrdiff_t)n * incy, incy);
                    for (size_t i = 0; i < YS; i++) {
                        const int inside = i < n * (size_t)incy && i % (size_t)incy == 0;
                        if (!inside) {
                            ck_assert_msg(acc ? y1[i] == y2[i] : isnan(y1[i]),
                                          "%s n%zu k%zu layout %d: y[%zu] written",
                                          sm__isa_name((sm__isa)isa), n, k, layout, i);
                            continue;
                        }
                        const float tol = 2e-5f * (float)(k + 1) * (1.0f + fabsf(y2[i]));
                        ck_assert_msg(isfinite(y1[i]) && fabsf(y1[i] - y2[i]) <= tol,
                                      "%s n%zu k%zu layout %d: y[%zu] %g, reference %g",
                                      sm__isa_name((sm__isa)isa), n, k, layout, i,
                                      (double)y1[i], (double)y2[i]);
                    }
                    /* The first p columns alone, against all n. */
                    sm__gemm_run((sm__isa)isa, ws, 1, n, k, 1.0f, a, 2 * KMAX, inca, b, rsb, csb,
                                 0.0f, whole, (ptrdiff_t)n, 1);
                    for (size_t p = 1; p < n; p += p < 20 ? 1 : 37) {
                        sm__gemm_run((sm__isa)isa, ws, 1, p, k, 1.0f, a, 2 * KMAX, inca, b, rsb,
                                     csb, 0.0f, part, (ptrdiff_t)p, 1);
                        ck_assert_msg(memcmp(part, whole, p * sizeof *part) == 0,
                                      "%s n%zu k%zu layout %d: %zu columns differ from %zu",
                                      sm__isa_name((sm__isa)isa), n, k, layout, p, n);
                    }
                    free(b);
                    checked++;
                }
    ck_assert_uint_gt(checked, 0);
    sm_rng_free(r);
    free(a);
    free(y1);
    free(y2);
    free(whole);
    free(part);
    free(ws);
}
END_TEST

/* A network on BLIS and on the library's kernels computes the same
 * function (to float rounding); the choice is kept by a clone and refused
 * when unknown. */
START_TEST(kernel_choice)
{
    sm_net *net = make_net(4, 64, 2, 21);
    float x[40 * 4], sig[40], y1[40 * 4], y2[40 * 4];
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 4));
    ck_assert_ok(sm_rng_fill_normal(r, x, 40 * 4, 0, 1));
    ck_assert_ok(sm_rng_fill_uniform(r, sig, 40, 0.05f, 2.0f));
    ck_assert_str_eq(sm_net_kernels(net), sm_kernel_config());
    ck_assert_ok(sm_net_forward(net, x, sig, 40, 4, y1));
    ck_assert_ok(sm_net_set_kernels(net, SM_KERNELS_BLIS));
    ck_assert_str_eq(sm_net_kernels(net), "blis");
    ck_assert_ok(sm_net_forward(net, x, sig, 40, 4, y2));
    for (size_t i = 0; i < 40 * 4; i++)
        ck_assert_float_eq_tol(y1[i], y2[i], 1e-4f * (1.0f + fabsf(y2[i])));
    ck_assert_ok(sm_net_set_threads(net, 2));
    ck_assert_str_eq(sm_net_kernels(net), "blis");
    sm_net *c = NULL;
    ck_assert_ok(sm_net_clone(net, &c));
    ck_assert_str_eq(sm_net_kernels(c), "blis");
    ck_assert_int_eq(sm_net_set_kernels(c, (sm_kernels)2), SM_ERR_INVALID_ARG);
    ck_assert_str_eq(sm_net_kernels(c), "blis");
    ck_assert_ok(sm_net_set_kernels(c, SM_KERNELS_AUTO));
    ck_assert_str_eq(sm_net_kernels(c), sm_kernel_config());
    sm_net_free(c);
    sm_net_free(net);
    sm_rng_free(r);
}
END_TEST

/* Adam's update split between a network's threads gives the bits of the
 * single-threaded update (elementwise, sliced on cache lines). */
START_TEST(pooled_adam_matches_serial)
{
    sm_net *net = make_net(3, 128, 3, 31);
    ck_assert_ok(sm_net_set_threads(net, 3));
    const size_t np = sm_net_num_params(net);
    ck_assert_uint_ge(np, 4096 * 3); /* large enough for the pooled path */
    float *params = malloc(np * sizeof *params), *grads = sm_net_grads(net);
    ck_assert_ptr_nonnull(params);
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 2));
    sm_optim *serial, *pooled;
    ck_assert_ok(sm_optim_new_adam(&serial, np, 1e-2, 0.9, 0.999, 1e-8, 0.01));
    ck_assert_ok(sm_optim_new_adam(&pooled, np, 1e-2, 0.9, 0.999, 1e-8, 0.01));
    float *backup = malloc(np * sizeof *backup);
    ck_assert_ptr_nonnull(backup);
    memcpy(params, sm_net_params(net), np * sizeof *params);
    for (int t = 0; t < 3; t++) {
        ck_assert_ok(sm_rng_fill_normal(r, grads, np, 0, 1));
        ck_assert_ok(sm_optim_step(serial, params, grads, np));
        /* The update also keeps the parameters before it. */
        float *before = malloc(np * sizeof *before);
        ck_assert_ptr_nonnull(before);
        memcpy(before, sm_net_params(net), np * sizeof *before);
        int diverged = -1;
        ck_assert_ok(sm__optim_step_pool(pooled, net, t == 1 ? NULL : backup,
                                         t == 1 ? NULL : &diverged, "test"));
        if (t != 1) {
            ck_assert_int_eq(diverged, 0);
            ck_assert_int_eq(memcmp(before, backup, np * sizeof *backup), 0);
        }
        free(before);
    }
    ck_assert_int_eq(memcmp(params, sm_net_params(net), np * sizeof *params), 0);
    /* An update that leaves a parameter infinite is reported, on the
     * pooled path and on one thread, wherever the parameter is. */
    static const size_t thread_counts[] = {3, 1};
    for (size_t ti = 0; ti < 2; ti++) {
        const size_t threads = thread_counts[ti];
        ck_assert_ok(sm_net_set_threads(net, threads));
        const size_t at = threads == 3 ? np - 1 : np / 2;
        float *pnet = sm_net_params(net);
        const float keep = pnet[at];
        pnet[at] = INFINITY;
        int diverged = 0;
        ck_assert_ok(sm__optim_step_pool(pooled, net, backup, &diverged, "test"));
        ck_assert_int_eq(diverged, 1);
        ck_assert(isinf(backup[at]));
        pnet[at] = keep;
    }
    memcpy(sm_net_params(net), params, np * sizeof *params);
    /* A non-finite gradient is refused before anything moves. */
    grads[np - 1] = NAN;
    ck_assert_int_eq(sm__optim_step_pool(pooled, net, NULL, NULL, "test"), SM_ERR_NONFINITE);
    ck_assert_int_eq(memcmp(params, sm_net_params(net), np * sizeof *params), 0);
    free(backup);
    sm_optim_free(serial);
    sm_optim_free(pooled);
    sm_rng_free(r);
    free(params);
    sm_net_free(net);
}
END_TEST

/* Fixed inputs of a loss: points, noise levels, perturbation, projections. */
typedef struct {
    int ssm; /* 0: sm_dsm_loss, 1: sm_ssm_loss */
    size_t n, d;
    float x[6 * 8], sig[6], eps[6 * 8], v[6 * 8];
} loss_inputs;

static void loss_inputs_draw(loss_inputs *in, int ssm, size_t d, uint64_t seed)
{
    sm_rng *r;
    in->ssm = ssm;
    in->n = 6;
    in->d = d;
    ck_assert_ok(sm_rng_new(&r, seed));
    ck_assert_ok(sm_rng_fill_normal(r, in->x, in->n * d, 0, 1));
    ck_assert_ok(sm_rng_fill_normal(r, in->eps, in->n * d, 0, 1));
    ck_assert_ok(sm_rng_fill_normal(r, in->v, in->n * d, 0, 1));
    for (size_t i = 0; i < in->n; i++)
        in->sig[i] = (float)(0.05 + 0.9 * sm_rng_uniform(r));
    sm_rng_free(r);
}

/* The loss at the current parameters, adding its gradient if asked. */
static double loss_of(sm_net *net, const loss_inputs *in, int with_grad)
{
    double l;
    if (in->ssm)
        ck_assert_ok(sm_ssm_loss(net, in->x, in->sig, in->eps, in->v, in->n, in->d, with_grad, &l));
    else
        ck_assert_ok(sm_dsm_loss(net, in->x, in->sig, in->eps, in->n, in->d, with_grad, &l));
    return l;
}

/* Gradient of net + loss (DSM, or SSM through the hand-written Jacobian-
 * vector product and its reverse pass) against central differences in
 * every parameter, on the reference path (double accumulation) so that
 * float rounding stays far below the tolerance while a wrong or missing
 * term (a SiLU' or SiLU'' factor, a bias sum, a transposed product) is far
 * above it. */
static void gradient_check(int ssm, size_t d, size_t width, size_t depth, int use_blis)
{
    sm_net *net = make_net(d, width, depth, (ssm ? 300 : 100) + d);
    if (!use_blis)
        ck_assert_ok(sm__net_use_reference(net, 1));
    loss_inputs in;
    loss_inputs_draw(&in, ssm, d, ssm ? 17 : 7);
    ck_assert_ok(sm_net_reserve(net, in.n));
    ck_assert_ok(sm_net_zero_grad(net));
    loss_of(net, &in, 1);
    const double tol = ssm ? 3e-3 : 2e-3;
    size_t np = sm_net_num_params(net);
    float *p = sm_net_params(net);
    const float *g = sm_net_grads(net);
    double num2 = 0, diff2 = 0, gmax = 0;
    for (size_t i = 0; i < np; i++)
        gmax = fmax(gmax, fabs(g[i]));
    const float h = 1e-2f;
    for (size_t i = 0; i < np; i++) {
        float keep = p[i];
        p[i] = keep + h;
        double lp = loss_of(net, &in, 0);
        p[i] = keep - h;
        double lm = loss_of(net, &in, 0);
        p[i] = keep;
        double num = (lp - lm) / (2.0 * (double)h);
        ck_assert_msg(fabs(num - g[i]) <= tol * gmax + 1e-5,
                      "%s, shape (%zu,%zu,%zu) param %zu: analytic %g numeric %g",
                      ssm ? "SSM" : "DSM", d, width, depth, i, (double)g[i], num);
        num2 += num * num;
        diff2 += (num - g[i]) * (num - g[i]);
    }
    ck_assert_double_lt(sqrt(diff2 / num2), use_blis ? 1e-2 : tol);
    sm_net_free(net);
}

START_TEST(gradient_matches_finite_differences)
{
    param_under_test = (sm_parametrization)_i;
    for (int ssm = 0; ssm < 2; ssm++) {
        gradient_check(ssm, 1, 8, 1, 0);
        gradient_check(ssm, 3, 16, 2, 0);
        gradient_check(ssm, 5, 7, 3, 0);
        gradient_check(ssm, 2, 12, 2, 1);
    }
}
END_TEST

/* J·v against central differences of the forward pass in x, on the
 * reference path and on BLIS, and the score output against sm_net_forward. */
static void jvp_check(size_t d, size_t width, size_t depth, int use_blis)
{
    sm_net *net = make_net(d, width, depth, 200 + d);
    if (!use_blis)
        ck_assert_ok(sm__net_use_reference(net, 1));
    enum { N = 300 }; /* more than one 256-row block */
    static float x[N * 8], v[N * 8], sig[N], out[N * 8], jv[N * 8], ref[N * 8], xp[N * 8],
        xm[N * 8], fp[N * 8], fm[N * 8];
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 9));
    ck_assert_ok(sm_rng_fill_normal(r, x, N * d, 0, 1));
    ck_assert_ok(sm_rng_fill_normal(r, v, N * d, 0, 1));
    for (size_t i = 0; i < N; i++)
        sig[i] = (float)(0.05 + 0.9 * sm_rng_uniform(r));
    ck_assert_ok(sm_net_jvp(net, x, sig, v, N, d, out, jv));
    ck_assert_ok(sm_net_forward(net, x, sig, N, d, ref));
    for (size_t i = 0; i < N * d; i++)
        ck_assert_float_eq_tol(out[i], ref[i], 1e-5f * (1.0f + fabsf(ref[i])));
    const float h = 1e-2f;
    for (size_t i = 0; i < N * d; i++) {
        xp[i] = x[i] + h * v[i];
        xm[i] = x[i] - h * v[i];
    }
    ck_assert_ok(sm_net_forward(net, xp, sig, N, d, fp));
    ck_assert_ok(sm_net_forward(net, xm, sig, N, d, fm));
    double err2 = 0, ref2 = 0;
    for (size_t i = 0; i < N * d; i++) {
        double num = ((double)fp[i] - fm[i]) / (2.0 * h);
        err2 += (num - jv[i]) * (num - jv[i]);
        ref2 += num * num;
    }
    ck_assert_msg(sqrt(err2 / ref2) < 2e-3, "shape (%zu,%zu,%zu): relative error %g", d, width,
                  depth, sqrt(err2 / ref2));
    /* out may be NULL. */
    ck_assert_ok(sm_net_jvp(net, x, sig, v, N, d, NULL, ref));
    ck_assert_int_eq(memcmp(ref, jv, N * d * sizeof(float)), 0);
    sm_rng_free(r);
    sm_net_free(net);
}

START_TEST(jvp_matches_finite_differences)
{
    param_under_test = (sm_parametrization)_i;
    jvp_check(1, 8, 1, 0);
    jvp_check(3, 16, 2, 0);
    jvp_check(5, 7, 3, 0);
    jvp_check(2, 32, 3, 1);
}
END_TEST

/* With every parameter 0 the MLP's output F is 0, so an EDM network's
 * denoiser is c_skip·x = σ_d²/(σ² + σ_d²)·x and its score −x/(σ² + σ_d²):
 * exactly the score of p_σ for data N(0, σ_d²I). */
START_TEST(edm_closed_form)
{
    param_under_test = SM_PARAM_EDM;
    sm_net *net = make_net(3, 8, 2, 5);
    memset(sm_net_params(net), 0, sm_net_num_params(net) * sizeof(float));
    const float x[6] = {1.0f, -2.0f, 0.5f, 3.0f, 0.0f, -0.25f}, sig[2] = {0.01f, 40.0f};
    float s[6], d[6];
    ck_assert_ok(sm_net_forward(net, x, sig, 2, 3, s));
    ck_assert_ok(sm_net_denoise(net, x, sig, 2, 3, d));
    for (size_t r = 0; r < 2; r++)
        for (size_t j = 0; j < 3; j++) {
            double v = (double)sig[r] * sig[r] + 0.49, xi = x[r * 3 + j];
            ck_assert_double_eq_tol(s[r * 3 + j], -xi / v, 1e-6 * (1.0 + fabs(xi / v)));
            ck_assert_double_eq_tol(d[r * 3 + j], 0.49 * xi / v, 1e-6);
        }
    sm_net_free(net);
}
END_TEST

/* D(x, σ) = x + σ²·s(x, σ) for both parametrizations, on random weights. */
START_TEST(denoiser_matches_score)
{
    for (int p = SM_PARAM_LAB; p <= SM_PARAM_EDM; p++) {
        param_under_test = (sm_parametrization)p;
        sm_net *net = make_net(4, 16, 2, 11);
        enum { N = 50 };
        float x[N * 4], sig[N], s[N * 4], d[N * 4];
        sm_rng *r;
        ck_assert_ok(sm_rng_new(&r, 3));
        ck_assert_ok(sm_rng_fill_normal(r, x, N * 4, 0, 1));
        for (size_t i = 0; i < N; i++)
            sig[i] = (float)exp(-4.0 + 8.0 * sm_rng_uniform(r));
        ck_assert_ok(sm_net_forward(net, x, sig, N, 4, s));
        ck_assert_ok(sm_net_denoise(net, x, sig, N, 4, d));
        for (size_t i = 0; i < N * 4; i++) {
            double sg = sig[i / 4], want = x[i] + sg * sg * (double)s[i];
            ck_assert_double_eq_tol(d[i], want, 2e-4 * (1.0 + fabs(want) + fabs(x[i])));
        }
        sm_rng_free(r);
        sm_net_free(net);
    }
}
END_TEST

START_TEST(options_and_sigma_data)
{
    sm_net_options o;
    memset(&o, 0xab, sizeof o);
    ck_assert_status(sm_net_options_init(&o, SM_NET_OPTIONS_VERSION), SM_OK);
    ck_assert_uint_eq(o.version, SM_NET_OPTIONS_VERSION);
    ck_assert_uint_eq(o.width, 128);
    ck_assert_int_eq(o.parametrization, SM_PARAM_LAB);
    ck_assert_uint_eq(o.context_dim, 0);
    ck_assert_status(sm_net_options_init(NULL, SM_NET_OPTIONS_VERSION), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_net_options_init(&o, 0), SM_ERR_VERSION);
    ck_assert_status(sm_net_options_init(&o, SM_NET_OPTIONS_VERSION + 1), SM_ERR_VERSION);
    ck_assert_uint_eq(o.version, SM_NET_OPTIONS_VERSION); /* unchanged by the refusals */
    {
        /* Version 1: a caller's struct that ends before context_dim is not
         * written past its end. */
        sm_net_options v1;
        memset(&v1, 0xab, sizeof v1);
        ck_assert_status(sm_net_options_init(&v1, 1), SM_OK);
        ck_assert_uint_eq(v1.version, 1);
        ck_assert_uint_eq(v1.depth, 3);
        const unsigned char *tail = (const unsigned char *)&v1.context_dim;
        for (size_t i = 0; i < sizeof v1.context_dim; i++)
            ck_assert_uint_eq(tail[i], 0xab);
    }
    ck_assert_str_eq(sm_parametrization_name(SM_PARAM_EDM), "edm");
    ck_assert_str_eq(sm_parametrization_name((sm_parametrization)9), "unknown");
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 1));
    sm_net *net = NULL;
    o.dim = 2;
    o.width = 8;
    o.depth = 1;
    o.parametrization = SM_PARAM_EDM;
    ck_assert_ok(sm_net_new_ex(&net, &o, r));
    ck_assert_double_eq(sm_net_sigma_data(net), 0.0);
    /* Unknown σ_data: no evaluation, no sampling. */
    float x[2] = {0.1f, 0.2f}, sg = 1.0f, out[2];
    ck_assert_status(sm_net_forward(net, x, &sg, 1, 2, out), SM_ERR_STATE);
    ck_assert_status(sm_net_set_sigma_data(net, 0.0), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_net_set_sigma_data(net, NAN), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_net_set_sigma_data(net, 1e-60), SM_ERR_INVALID_ARG);
    ck_assert_ok(sm_net_set_sigma_data(net, 0.5));
    ck_assert_ok(sm_net_forward(net, x, &sg, 1, 2, out));
    sm_net_options back;
    ck_assert_ok(sm_net_get_options(net, &back));
    ck_assert_int_eq(back.parametrization, SM_PARAM_EDM);
    ck_assert_double_eq(back.sigma_data, 0.5);
    ck_assert_uint_eq(back.dim, 2);
    /* A clone keeps the parametrization; a lab network is another shape. */
    sm_net *c = NULL, *lab = NULL;
    ck_assert_ok(sm_net_clone(net, &c));
    ck_assert_int_eq(sm_net_parametrization(c), SM_PARAM_EDM);
    ck_assert_double_eq(sm_net_sigma_data(c), 0.5);
    ck_assert_ok(sm_net_new(&lab, 2, 8, 1, r));
    ck_assert_status(sm_net_copy_params(lab, net), SM_ERR_SHAPE);
    ck_assert_status(sm_net_set_sigma_data(lab, 1.0), SM_ERR_STATE);
    /* Bad options. */
    sm_net *bad = (sm_net *)1;
    o.version = 99;
    ck_assert_status(sm_net_new_ex(&bad, &o, r), SM_ERR_VERSION);
    ck_assert_ptr_null(bad);
    o.version = SM_NET_OPTIONS_VERSION;
    o.parametrization = (sm_parametrization)7;
    ck_assert_status(sm_net_new_ex(&bad, &o, r), SM_ERR_INVALID_ARG);
    o.parametrization = SM_PARAM_EDM;
    o.sigma_data = -1.0;
    ck_assert_status(sm_net_new_ex(&bad, &o, r), SM_ERR_INVALID_ARG);
    o.sigma_data = INFINITY;
    ck_assert_status(sm_net_new_ex(&bad, &o, r), SM_ERR_INVALID_ARG);
    o.sigma_data = 1.0;
    o.dim = 0;
    ck_assert_status(sm_net_new_ex(&bad, &o, r), SM_ERR_INVALID_ARG);
    o.dim = SIZE_MAX;
    ck_assert_status(sm_net_new_ex(&bad, &o, r), SM_ERR_OVERFLOW);
    ck_assert_status(sm_net_new_ex(&bad, NULL, r), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_net_new_ex(NULL, &o, r), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_net_get_options(NULL, &back), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_net_get_options(net, NULL), SM_ERR_INVALID_ARG);
    ck_assert_int_eq(sm_net_parametrization(NULL), SM_PARAM_LAB);
    ck_assert_double_eq(sm_net_sigma_data(NULL), 0.0);
    sm_net_free(lab);
    sm_net_free(c);
    sm_net_free(net);
    sm_rng_free(r);
}
END_TEST

/* The sliced score matching loss is σ²(vᵀJv + ½‖s‖²)/(n·d) with J·v and s
 * from sm_net_jvp at the perturbed points; its gradient is checked in
 * gradient_matches_finite_differences. */
START_TEST(ssm_loss_value)
{
    const size_t d = 3;
    sm_net *net = make_net(d, 16, 2, 5);
    loss_inputs in;
    loss_inputs_draw(&in, 1, d, 23);
    const double l0 = loss_of(net, &in, 0);
    float xt[6 * 8], out[6 * 8], jv[6 * 8];
    for (size_t i = 0; i < in.n; i++)
        for (size_t j = 0; j < d; j++)
            xt[i * d + j] = in.x[i * d + j] + in.sig[i] * in.eps[i * d + j];
    ck_assert_ok(sm_net_jvp(net, xt, in.sig, in.v, in.n, d, out, jv));
    double want = 0;
    for (size_t i = 0; i < in.n; i++) {
        double a = 0;
        for (size_t j = 0; j < d; j++)
            a += in.v[i * d + j] * jv[i * d + j] + 0.5 * out[i * d + j] * out[i * d + j];
        want += (double)in.sig[i] * in.sig[i] * a;
    }
    ck_assert_double_eq_tol(l0, want / (double)(in.n * d), 1e-5 * (1 + fabs(want)));
    sm_net_free(net);
}
END_TEST

START_TEST(gradients_accumulate)
{
    sm_net *net = make_net(2, 8, 2, 1);
    float x[4] = {0.1f, 0.2f, -0.3f, 0.4f}, sig[2] = {0.5f, 0.1f}, eps[4] = {1, -1, 0.5f, 0};
    ck_assert_ok(sm_net_reserve(net, 2));
    ck_assert_ok(sm_net_zero_grad(net));
    double l;
    ck_assert_ok(sm_dsm_loss(net, x, sig, eps, 2, 2, 1, &l));
    size_t np = sm_net_num_params(net);
    float *once = malloc(np * sizeof(float));
    memcpy(once, sm_net_grads(net), np * sizeof(float));
    ck_assert_ok(sm_dsm_loss(net, x, sig, eps, 2, 2, 1, &l));
    for (size_t i = 0; i < np; i++)
        ck_assert_float_eq_tol(sm_net_grads(net)[i], 2 * once[i], 1e-6f + 1e-5f * fabsf(once[i]));
    free(once);
    sm_net_free(net);
}
END_TEST

START_TEST(thread_count_does_not_change_results)
{
    sm_net *net = make_net(2, 128, 3, 2);
    enum { N = 700 };
    static float x[N * 2], y1[N * 2], y2[N * 2];
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 3));
    ck_assert_ok(sm_rng_fill_normal(r, x, N * 2, 0, 1));
    ck_assert_ok(sm_net_forward_sigma(net, x, 0.2f, N, 2, y1));
    ck_assert_ok(sm_net_set_threads(net, 2));
    ck_assert_uint_eq(sm_net_threads(net), 2);
    ck_assert_ok(sm_net_forward_sigma(net, x, 0.2f, N, 2, y2));
    ck_assert_int_eq(memcmp(y1, y2, sizeof y1), 0);
    sm_rng_free(r);
    sm_net_free(net);
}
END_TEST

/* Parameters whose gradients differ by more than 1e-5 of the largest. */
static size_t gradient_mismatches(sm_net *a, sm_net *b)
{
    size_t np = sm_net_num_params(a), bad = 0;
    double gmax = 0;
    for (size_t i = 0; i < np; i++)
        gmax = fmax(gmax, fabs(sm_net_grads(a)[i]));
    for (size_t i = 0; i < np; i++)
        bad += fabs(sm_net_grads(a)[i] - sm_net_grads(b)[i]) > 1e-5 * gmax;
    return bad;
}

START_TEST(sharded_gradient_matches_single_thread)
{
    /* Rows split across threads: the summed shard gradients equal the
     * one-thread gradient up to float summation order. */
    enum { N = 200 };
    static float x[N * 3], sig[N], eps[N * 3];
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 21));
    ck_assert_ok(sm_rng_fill_normal(r, x, N * 3, 0, 1));
    ck_assert_ok(sm_rng_fill_normal(r, eps, N * 3, 0, 1));
    ck_assert_ok(sm_rng_fill_uniform(r, sig, N, 0.01f, 1.0f));
    sm_net *one = make_net(3, 48, 2, 8), *many;
    ck_assert_ok(sm_net_clone(one, &many));
    ck_assert_ok(sm_net_set_threads(many, 3));
    ck_assert_ok(sm_net_reserve(one, N));
    ck_assert_ok(sm_net_reserve(many, N));
    double l1, l3;
    ck_assert_ok(sm_net_zero_grad(one));
    ck_assert_ok(sm_net_zero_grad(many));
    ck_assert_ok(sm_dsm_loss(one, x, sig, eps, N, 3, 1, &l1));
    ck_assert_ok(sm_dsm_loss(many, x, sig, eps, N, 3, 1, &l3));
    ck_assert_double_eq_tol(l1, l3, 1e-6 * l1);
    ck_assert_uint_eq(gradient_mismatches(one, many), 0);
    /* Changing the thread count keeps the reserved rows. */
    ck_assert_ok(sm_net_set_threads(many, 2));
    ck_assert_ok(sm_net_forward_train(many, x, sig, N, 3, eps));
    sm_net_free(one);
    sm_net_free(many);
    sm_rng_free(r);
}
END_TEST

START_TEST(sharded_ssm_matches_single_thread)
{
    /* Sliced score matching with its rows split across threads: loss and
     * gradient equal the one-thread ones up to summation order. A trainer
     * keeps its SSM workspaces across steps and remakes them when the
     * network's thread count changes. */
    enum { N = 300 };
    static float x[N * 3], sig[N], eps[N * 3], v[N * 3];
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 22));
    ck_assert_ok(sm_rng_fill_normal(r, x, N * 3, 0, 1));
    ck_assert_ok(sm_rng_fill_normal(r, eps, N * 3, 0, 1));
    ck_assert_ok(sm_rng_fill_normal(r, v, N * 3, 0, 1));
    ck_assert_ok(sm_rng_fill_uniform(r, sig, N, 0.01f, 1.0f));
    sm_net *one = make_net(3, 48, 2, 9), *many;
    ck_assert_ok(sm_net_clone(one, &many));
    ck_assert_ok(sm_net_set_threads(many, 3));
    double l1, l3;
    ck_assert_ok(sm_net_zero_grad(one));
    ck_assert_ok(sm_net_zero_grad(many));
    ck_assert_ok(sm_ssm_loss(one, x, sig, eps, v, N, 3, 1, &l1));
    ck_assert_ok(sm_ssm_loss(many, x, sig, eps, v, N, 3, 1, &l3));
    ck_assert_double_eq_tol(l1, l3, 1e-6 * fabs(l1));
    ck_assert_uint_eq(gradient_mismatches(one, many), 0);

    sm_schedule *sched;
    sm_optim *opt;
    sm_trainer *tr;
    ck_assert_ok(sm_schedule_new_geometric(&sched, 1.0, 0.05, 4));
    ck_assert_ok(sm_optim_new_adam(&opt, sm_net_num_params(many), 1e-3, 0.9, 0.999, 1e-8, 0));
    ck_assert_ok(sm_trainer_new(&tr, many, sched, opt, 128));
    ck_assert_ok(sm_trainer_set_objective(tr, SM_OBJECTIVE_SSM_VR));
    const size_t threads[] = {3, 1, 2, 3, 3};
    for (size_t k = 0; k < 5; k++) {
        ck_assert_ok(sm_net_set_threads(many, threads[k]));
        double loss;
        ck_assert_ok(sm_trainer_step(tr, x, 128, 3, r, &loss));
        ck_assert(isfinite(loss));
    }
    sm_trainer_free(tr);
    sm_optim_free(opt);
    sm_schedule_free(sched);
    sm_net_free(one);
    sm_net_free(many);
    sm_rng_free(r);
}
END_TEST

START_TEST(ema_update)
{
    sm_net *net = make_net(3, 10, 2, 1), *ema = make_net(3, 10, 2, 2);
    size_t np = sm_net_num_params(net);
    float *before = malloc(np * sizeof(float));
    memcpy(before, sm_net_params(ema), np * sizeof(float));
    ck_assert_ok(sm_net_ema_update(ema, net, 0.75));
    for (size_t i = 0; i < np; i++)
        ck_assert_float_eq_tol(sm_net_params(ema)[i],
                               0.75f * before[i] + 0.25f * sm_net_params(net)[i], 1e-6f);
    memcpy(before, sm_net_params(ema), np * sizeof(float));
    ck_assert_ok(sm_net_ema_update(ema, net, 1.0)); /* keeps the average */
    ck_assert_int_eq(memcmp(before, sm_net_params(ema), np * sizeof(float)), 0);
    ck_assert_ok(sm_net_ema_update(ema, net, 0.0)); /* copies the network */
    ck_assert_int_eq(memcmp(sm_net_params(net), sm_net_params(ema), np * sizeof(float)), 0);
    /* Bad input leaves the average as it was. */
    memcpy(before, sm_net_params(ema), np * sizeof(float));
    ck_assert_status(sm_net_ema_update(ema, net, 1.5), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_net_ema_update(ema, net, NAN), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_net_ema_update(NULL, net, 0.5), SM_ERR_INVALID_ARG);
    sm_net *other = make_net(3, 11, 2, 1);
    ck_assert_status(sm_net_ema_update(ema, other, 0.5), SM_ERR_SHAPE);
    sm_net_params(net)[5] = NAN;
    ck_assert_status(sm_net_ema_update(ema, net, 0.5), SM_ERR_NONFINITE);
    ck_assert_int_eq(memcmp(before, sm_net_params(ema), np * sizeof(float)), 0);
    free(before);
    sm_net_free(net);
    sm_net_free(ema);
    sm_net_free(other);
}
END_TEST

START_TEST(clone_and_copy)
{
    sm_net *a = make_net(3, 10, 2, 1), *b, *c = make_net(3, 10, 2, 2);
    ck_assert_ok(sm_net_clone(a, &b));
    size_t np = sm_net_num_params(a);
    ck_assert_int_eq(memcmp(sm_net_params(a), sm_net_params(b), np * sizeof(float)), 0);
    sm_net_params(b)[0] += 1.0f; /* independent buffers */
    ck_assert_float_ne(sm_net_params(a)[0], sm_net_params(b)[0]);
    ck_assert_ok(sm_net_copy_params(c, a));
    ck_assert_int_eq(memcmp(sm_net_params(a), sm_net_params(c), np * sizeof(float)), 0);
    sm_net *d = make_net(3, 11, 2, 1);
    ck_assert_status(sm_net_copy_params(d, a), SM_ERR_SHAPE);
    sm_net_free(a);
    sm_net_free(b);
    sm_net_free(c);
    sm_net_free(d);
}
END_TEST

START_TEST(bad_arguments)
{
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 1));
    sm_net *net = (sm_net *)1;
    ck_assert_status(sm_net_new(&net, 0, 8, 1, r), SM_ERR_INVALID_ARG);
    ck_assert_ptr_null(net);
    ck_assert_status(sm_net_new(&net, 2, 0, 1, r), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_net_new(&net, 2, 8, 0, r), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_net_new(&net, 2, 8, 1, NULL), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_net_new(&net, 2, SIZE_MAX / 4, 3, r), SM_ERR_OVERFLOW);
    ck_assert_status(sm_net_new(&net, 2, (size_t)1 << 29, (size_t)1 << 29, r), SM_ERR_OVERFLOW);
    ck_assert_ok(sm_net_new(&net, 2, 8, 1, r));
    float x[4] = {0, 1, 2, 3}, s[2] = {0.5f, 0.5f}, y[4];
    ck_assert_status(sm_net_forward(net, x, s, 2, 3, y), SM_ERR_SHAPE);
    ck_assert_status(sm_net_forward(net, NULL, s, 2, 2, y), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_net_forward(net, x, NULL, 2, 2, y), SM_ERR_INVALID_ARG);
    s[1] = 0.0f;
    ck_assert_status(sm_net_forward(net, x, s, 2, 2, y), SM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "sigma[1]"));
    s[1] = NAN;
    ck_assert_status(sm_net_forward(net, x, s, 2, 2, y), SM_ERR_INVALID_ARG);
    s[1] = 0.5f;
    x[3] = INFINITY;
    ck_assert_status(sm_net_forward(net, x, s, 2, 2, y), SM_ERR_NONFINITE);
    x[3] = 3;
    ck_assert_status(sm_net_forward_sigma(net, x, -1.0f, 2, 2, y), SM_ERR_INVALID_ARG);
    /* Training passes need a reservation and a matching backward. */
    ck_assert_status(sm_net_backward(net, y, 2, 2), SM_ERR_STATE);
    ck_assert_ok(sm_net_reserve(net, 1));
    ck_assert_status(sm_net_forward_train(net, x, s, 2, 2, y), SM_ERR_STATE);
    ck_assert_ok(sm_net_forward_train(net, x, s, 1, 2, y));
    ck_assert_status(sm_net_backward(net, y, 2, 2), SM_ERR_STATE);
    ck_assert_ok(sm_net_forward_sigma(net, x, 0.5f, 1, 2, y)); /* discards activations */
    ck_assert_status(sm_net_backward(net, y, 1, 2), SM_ERR_STATE);
    ck_assert_status(sm_net_reserve(net, 0), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_net_set_threads(net, 0), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_net_zero_grad(NULL), SM_ERR_INVALID_ARG);
    ck_assert_ok(sm_net_forward(net, x, s, 0, 2, y)); /* n = 0 is a no-op */
    ck_assert_ptr_null(sm_net_params(NULL));
    ck_assert_uint_eq(sm_net_num_params(NULL), 0);
    sm_net_free(net);
    sm_net_free(NULL);
    sm_rng_free(r);
}
END_TEST


/* ---- networks with a context ------------------------------------------ */

static sm_net *make_cond_net(size_t dim, size_t cdim, size_t width, size_t depth, uint64_t seed)
{
    sm_rng *r;
    sm_net *net;
    sm_net_options o = SM_NET_OPTIONS_INIT;
    o.dim = dim;
    o.width = width;
    o.depth = depth;
    o.parametrization = param_under_test;
    o.sigma_data = 0.7;
    o.context_dim = cdim;
    ck_assert_ok(sm_rng_new(&r, seed));
    ck_assert_ok(sm_net_new_ex(&net, &o, r));
    sm_rng_free(r);
    return net;
}

/* The DSM or SSM loss of in with contexts ctx and dropped rows drop. */
static double cond_loss_of(sm_net *net, const loss_inputs *in, const float *ctx,
                           const unsigned char *drop, int with_grad)
{
    const sm__cond cond = {ctx, drop};
    double l;
    float xt[6 * 8], out[6 * 8], dout[6 * 8];
    sm__dsm_scratch s = {xt, out, dout};
    if (in->ssm)
        ck_assert_ok(sm__ssm_core(net, NULL, in->x, in->sig, &cond, in->eps, in->v, in->n, in->d,
                                  with_grad, &l, "test"));
    else
        ck_assert_ok(sm__dsm_core(net, in->x, in->sig, &cond, in->eps, in->n, in->d, with_grad,
                                  &l, &s, "test"));
    return l;
}

/* The gradient check of gradient_check() with a context per row (one row
 * switched to the null context): the context columns of the first layer
 * get their gradient, the flag column only from rows that have a context. */
static void cond_gradient_check(int ssm, size_t d, size_t c, size_t width, size_t depth)
{
    sm_net *net = make_cond_net(d, c, width, depth, 400 + d + c);
    ck_assert_ok(sm__net_use_reference(net, 1));
    loss_inputs in;
    loss_inputs_draw(&in, ssm, d, 23);
    float ctx[6 * 4];
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 5));
    ck_assert_ok(sm_rng_fill_normal(r, ctx, in.n * c, 0, 1));
    sm_rng_free(r);
    const unsigned char drop[6] = {0, 1, 0, 0, 0, 0};
    ck_assert_ok(sm_net_reserve(net, in.n));
    ck_assert_ok(sm_net_zero_grad(net));
    cond_loss_of(net, &in, ctx, drop, 1);
    const double tol = ssm ? 3e-3 : 2e-3;
    const size_t np = sm_net_num_params(net);
    float *p = sm_net_params(net);
    const float *g = sm_net_grads(net);
    double gmax = 0, ctx_grad = 0;
    for (size_t i = 0; i < np; i++)
        gmax = fmax(gmax, fabs(g[i]));
    const float h = 1e-2f;
    for (size_t i = 0; i < np; i++) {
        float keep = p[i];
        p[i] = keep + h;
        double lp = cond_loss_of(net, &in, ctx, drop, 0);
        p[i] = keep - h;
        double lm = cond_loss_of(net, &in, ctx, drop, 0);
        p[i] = keep;
        double num = (lp - lm) / (2.0 * (double)h);
        ck_assert_msg(fabs(num - g[i]) <= tol * gmax + 1e-5,
                      "%s with context, shape (%zu,%zu,%zu,%zu) param %zu: analytic %g numeric %g",
                      ssm ? "SSM" : "DSM", d, c, width, depth, i, (double)g[i], num);
    }
    /* The context columns of W_0 (columns d+1 … d+c) carry gradient. */
    const size_t in_dim = d + c + 2;
    for (size_t o = 0; o < width; o++)
        for (size_t j = d + 1; j <= d + c; j++)
            ctx_grad += fabs(g[o * in_dim + j]);
    ck_assert_double_gt(ctx_grad, 0.0);
    sm_net_free(net);
}

START_TEST(cond_gradient_matches_finite_differences)
{
    param_under_test = (sm_parametrization)_i;
    for (int ssm = 0; ssm < 2; ssm++) {
        cond_gradient_check(ssm, 1, 1, 8, 1);
        cond_gradient_check(ssm, 3, 4, 9, 2);
    }
}
END_TEST

/* J·v with a context against central differences of sm_net_forward_cond. */
START_TEST(cond_jvp_matches_finite_differences)
{
    param_under_test = (sm_parametrization)_i;
    const size_t d = 3, c = 2;
    sm_net *net = make_cond_net(d, c, 16, 2, 77);
    enum { N = 300 };
    static float x[N * 3], v[N * 3], ctx[N * 2], sig[N], out[N * 3], jv[N * 3], ref[N * 3],
        xp[N * 3], xm[N * 3], fp[N * 3], fm[N * 3];
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 19));
    ck_assert_ok(sm_rng_fill_normal(r, x, N * d, 0, 1));
    ck_assert_ok(sm_rng_fill_normal(r, v, N * d, 0, 1));
    ck_assert_ok(sm_rng_fill_normal(r, ctx, N * c, 0, 1));
    for (size_t i = 0; i < N; i++)
        sig[i] = (float)(0.05 + 0.9 * sm_rng_uniform(r));
    ck_assert_ok(sm_net_jvp_cond(net, x, sig, ctx, v, N, d, c, out, jv));
    ck_assert_ok(sm_net_forward_cond(net, x, sig, ctx, N, d, c, ref));
    for (size_t i = 0; i < N * d; i++)
        ck_assert_float_eq_tol(out[i], ref[i], 1e-5f * (1.0f + fabsf(ref[i])));
    const float h = 1e-2f;
    for (size_t i = 0; i < N * d; i++) {
        xp[i] = x[i] + h * v[i];
        xm[i] = x[i] - h * v[i];
    }
    ck_assert_ok(sm_net_forward_cond(net, xp, sig, ctx, N, d, c, fp));
    ck_assert_ok(sm_net_forward_cond(net, xm, sig, ctx, N, d, c, fm));
    double err2 = 0, ref2 = 0;
    for (size_t i = 0; i < N * d; i++) {
        double num = ((double)fp[i] - fm[i]) / (2.0 * h);
        err2 += (num - jv[i]) * (num - jv[i]);
        ref2 += num * num;
    }
    ck_assert_msg(sqrt(err2 / ref2) < 2e-3, "relative error %g", sqrt(err2 / ref2));
    /* The context changes the result (it is not ignored). */
    ck_assert_ok(sm_net_jvp_cond(net, x, sig, NULL, v, N, d, c, NULL, ref));
    ck_assert_int_ne(memcmp(ref, jv, sizeof jv), 0);
    sm_rng_free(r);
    sm_net_free(net);
}
END_TEST

/* The null context is zeros with the flag 0: a network with a context
 * evaluated without one equals the network without a context that has the
 * same weights minus the context columns, and a dropped row equals a row
 * without context. */
START_TEST(null_context_is_zero_context_and_flag)
{
    param_under_test = (sm_parametrization)_i;
    const size_t d = 2, c = 3, w = 16, depth = 2;
    sm_net *cnet = make_cond_net(d, c, w, depth, 5);
    sm_net *unet = make_net(d, w, depth, 6);
    ck_assert_uint_eq(sm_net_context_dim(cnet), c);
    ck_assert_uint_eq(sm_net_context_dim(unet), 0);
    ck_assert_uint_eq(sm_net_num_params(cnet), sm_net_num_params(unet) + w * (c + 1));
    /* Copy: W_0 without its last c + 1 columns, then every other parameter. */
    const float *pc = sm_net_params(cnet);
    float *pu = sm_net_params(unet);
    for (size_t o = 0; o < w; o++)
        memcpy(pu + o * (d + 1), pc + o * (d + c + 2), (d + 1) * sizeof(float));
    memcpy(pu + w * (d + 1), pc + w * (d + c + 2),
           (sm_net_num_params(unet) - w * (d + 1)) * sizeof(float));
    enum { N = 50 };
    float x[N * 2], sig[N], ctx[N * 3], a[N * 2], b[N * 2], e[N * 2];
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 3));
    ck_assert_ok(sm_rng_fill_normal(r, x, N * d, 0, 1));
    ck_assert_ok(sm_rng_fill_normal(r, ctx, N * c, 0, 1));
    ck_assert_ok(sm_rng_fill_uniform(r, sig, N, 0.01f, 2.0f));
    sm_rng_free(r);
    for (int head = 0; head < 2; head++) {
        if (head == 0) {
            ck_assert_ok(sm_net_forward_cond(cnet, x, sig, NULL, N, d, c, a));
            ck_assert_ok(sm_net_forward(unet, x, sig, N, d, b));
            ck_assert_ok(sm_net_forward(cnet, x, sig, N, d, e));
        } else {
            ck_assert_ok(sm_net_denoise_cond(cnet, x, sig, NULL, N, d, c, a));
            ck_assert_ok(sm_net_denoise(unet, x, sig, N, d, b));
            ck_assert_ok(sm_net_denoise(cnet, x, sig, N, d, e));
        }
        for (size_t i = 0; i < N * d; i++)
            ck_assert_float_eq_tol(a[i], b[i], 1e-5f * (1.0f + fabsf(b[i])));
        ck_assert_int_eq(memcmp(a, e, sizeof a), 0); /* the plain passes: null context */
    }
    /* A context changes the result; a dropped row gives the null result. */
    ck_assert_ok(sm_net_forward_cond(cnet, x, sig, ctx, N, d, c, a));
    ck_assert_ok(sm_net_forward(cnet, x, sig, N, d, b));
    ck_assert_int_ne(memcmp(a, b, sizeof a), 0);
    unsigned char drop[N] = {0};
    drop[7] = 1;
    const sm__cond cond = {ctx, drop};
    ck_assert_ok(sm__score_eval(cnet, x, sig, 0.0f, &cond, N, SM__HEAD_SCORE, e, "test"));
    for (size_t i = 0; i < N * d; i++)
        ck_assert(e[i] == (i / d == 7 ? b[i] : a[i]));
    sm_net_free(cnet);
    sm_net_free(unet);
}
END_TEST

START_TEST(cond_options_and_one_hot)
{
    /* A version-1 options struct still builds a network (without a
     * context); clone and get_options keep the context width. */
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, 1));
    sm_net_options o;
    ck_assert_ok(sm_net_options_init(&o, SM_NET_OPTIONS_VERSION));
    ck_assert_uint_eq(o.version, SM_NET_OPTIONS_VERSION);
    ck_assert_uint_eq(o.context_dim, 0);
    o.dim = 2;
    o.width = 8;
    o.depth = 1;
    o.context_dim = 5;
    o.version = 1; /* the field is not read */
    sm_net *n1, *n2, *cl;
    ck_assert_ok(sm_net_new_ex(&n1, &o, r));
    ck_assert_uint_eq(sm_net_context_dim(n1), 0);
    o.version = 2;
    ck_assert_ok(sm_net_new_ex(&n2, &o, r));
    ck_assert_uint_eq(sm_net_context_dim(n2), 5);
    ck_assert_ok(sm_net_clone(n2, &cl));
    ck_assert_uint_eq(sm_net_context_dim(cl), 5);
    ck_assert_status(sm_net_copy_params(n1, n2), SM_ERR_SHAPE);
    sm_net_options back = SM_NET_OPTIONS_INIT;
    ck_assert_ok(sm_net_get_options(cl, &back));
    ck_assert_uint_eq(back.context_dim, 5);
    back.version = 1;
    back.context_dim = 99; /* a version-1 struct: not written */
    ck_assert_ok(sm_net_get_options(cl, &back));
    ck_assert_uint_eq(back.context_dim, 99);
    ck_assert_uint_eq(back.dim, 2);
    sm_net_free(n1);
    o.version = 3;
    ck_assert_status(sm_net_new_ex(&n1, &o, r), SM_ERR_VERSION);
    ck_assert_ptr_null(n1);
    sm_net_free(cl);
    sm_net_free(n2);

    const int32_t labels[4] = {2, 0, 1, 2};
    float oh[12];
    ck_assert_ok(sm_labels_one_hot(labels, 4, 3, oh));
    for (size_t i = 0; i < 4; i++)
        for (size_t k = 0; k < 3; k++)
            ck_assert(oh[i * 3 + k] == ((int32_t)k == labels[i] ? 1.0f : 0.0f));
    memset(oh, 0x55, sizeof oh);
    float keep[12];
    memcpy(keep, oh, sizeof oh);
    ck_assert_status(sm_labels_one_hot(labels, 4, 2, oh), SM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "label 0"));
    ck_assert_int_eq(memcmp(oh, keep, sizeof oh), 0);
    const int32_t neg[1] = {-1};
    ck_assert_status(sm_labels_one_hot(neg, 1, 3, oh), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_labels_one_hot(labels, 4, 0, oh), SM_ERR_INVALID_ARG);
    sm_rng_free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("net");
    TCase *tc = tcase_create("net");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, fast_exp_accuracy);
    tcase_add_test(tc, lab_layout);
    tcase_add_test(tc, init_like_pytorch);
    tcase_add_test(tc, blis_matches_reference);
    tcase_add_test(tc, one_row_products_match_reference);
    tcase_add_test(tc, own_kernels_match_reference);
    tcase_add_test(tc, silu_vectors_match_scalar);
    tcase_add_test(tc, own_kernels_rows_independent);
    tcase_add_test(tc, own_kernels_one_row);
    tcase_add_test(tc, epilogue_matches_passes);
    tcase_add_test(tc, kernel_choice);
    tcase_add_loop_test(tc, gradient_matches_finite_differences, SM_PARAM_LAB, SM_PARAM_EDM + 1);
    tcase_add_test(tc, gradients_accumulate);
    tcase_add_loop_test(tc, jvp_matches_finite_differences, SM_PARAM_LAB, SM_PARAM_EDM + 1);
    tcase_add_test(tc, edm_closed_form);
    tcase_add_test(tc, denoiser_matches_score);
    tcase_add_test(tc, options_and_sigma_data);
    tcase_add_test(tc, ssm_loss_value);
    tcase_add_test(tc, ema_update);
    tcase_add_test(tc, clone_and_copy);
    tcase_add_test(tc, bad_arguments);
    tcase_add_loop_test(tc, cond_gradient_matches_finite_differences, SM_PARAM_LAB,
                        SM_PARAM_EDM + 1);
    tcase_add_loop_test(tc, cond_jvp_matches_finite_differences, SM_PARAM_LAB, SM_PARAM_EDM + 1);
    tcase_add_loop_test(tc, null_context_is_zero_context_and_flag, SM_PARAM_LAB,
                        SM_PARAM_EDM + 1);
    tcase_add_test(tc, cond_options_and_one_hot);
    suite_add_tcase(s, tc);
    /* Multithreaded BLIS (OpenMP) must not run in a forked child after the
     * parent used it: keep the threaded test in its own no-fork case. */
    TCase *tt = tcase_create("threads");
    tcase_set_timeout(tt, 120);
    tcase_add_test(tt, thread_count_does_not_change_results);
    tcase_add_test(tt, pooled_adam_matches_serial);
    tcase_add_test(tt, sharded_gradient_matches_single_thread);
    tcase_add_test(tt, sharded_ssm_matches_single_thread);
    suite_add_tcase(s, tt);
    return sm_test_run(s);
}
