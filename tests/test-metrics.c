/* Metrics: the k-d tree against brute force, the blocked BLIS brute force
 * (knn.c) against the tree, every metric against hand-computed cases and
 * against a direct O(N·M) implementation of its definition, with either
 * search method, limiting cases, non-finite samples, the Fréchet distance
 * against closed forms, and every documented error.
 *
 * This program links the library's objects (scorematch_internal_dep, see
 * tests/meson.build) so the private tree, brute-force and method-selecting
 * functions can be called directly. */
#include <math.h>
#include <string.h>

#include "testutil.h"
#include "kdtree-private.h"
#include "knn-private.h"
#include "metrics-private.h"

static sm_rng *rng_seeded(uint64_t seed)
{
    sm_rng *r;
    ck_assert_ok(sm_rng_new(&r, seed));
    return r;
}

static float *normal_points(sm_rng *r, size_t n, size_t dim, float mean, float sd)
{
    float *x = malloc(n * dim * sizeof(float));
    ck_assert_ok(sm_rng_fill_normal(r, x, n * dim, mean, sd));
    return x;
}

/* ---- k-d tree against brute force ------------------------------------- */

/* Compares every query type of a tree built over pts with the brute-force
 * scans, for queries qs. Equality is exact: both use sm__sqdist. */
static void compare_tree_brute(const float *pts, size_t n, size_t dim, const float *qs,
                               size_t nq, sm_rng *r)
{
    sm_kdtree *t;
    size_t skipped = 99;
    ck_assert_int_eq(sm__kdtree_build(&t, pts, n, dim, &skipped), SM_OK);
    size_t nonfinite = 0;
    for (size_t i = 0; i < n; i++)
        nonfinite += !sm__row_finite(pts + i * dim, dim);
    ck_assert_uint_eq(skipped, nonfinite);
    ck_assert_uint_eq(sm__kdtree_size(t), n - nonfinite);
    /* The tree holds exactly the finite rows, each once. */
    char *seen = calloc(n ? n : 1, 1);
    size_t wrong = 0;
    for (size_t pos = 0; pos < sm__kdtree_size(t); pos++) {
        size_t i = sm__kdtree_index(t, pos);
        if (i >= n || seen[i] ||
            memcmp(sm__kdtree_point(t, pos), pts + i * dim, dim * sizeof(float)) != 0) {
            wrong++;
            continue;
        }
        seen[i] = 1;
    }
    ck_assert_uint_eq(wrong, 0);
    free(seen);

    const size_t ks[] = {1, 2, 3, 6, 17, n + 3};
    double *dt = malloc((n + 3) * sizeof(double)), *db = malloc((n + 3) * sizeof(double));
    size_t *it = malloc((n + 3) * sizeof(size_t));
    double *radii = malloc((n ? n : 1) * sizeof(double));
    double *radii_pos = malloc((n ? n : 1) * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        /* Squared radii, some 0, some exactly a distance to a query. */
        double u = sm_rng_uniform(r);
        radii[i] = u < 0.1 ? 0.0 : u * u * 2.0;
    }
    if (n > 0 && nq > 0)
        radii[0] = sm__sqdist(pts, qs, dim); /* a tie with query 0 */
    for (size_t pos = 0; pos < sm__kdtree_size(t); pos++)
        radii_pos[pos] = radii[sm__kdtree_index(t, pos)];
    sm__kdtree_set_radii(t, radii_pos);

    /* Check writes to its log on every assertion: count mismatches in the
     * loops and assert once, with the first mismatch described. */
    size_t bad = 0;
    char first[256] = "";
#define EXPECT(cond, ...)                                                         \
    do {                                                                          \
        if (!(cond) && bad++ == 0)                                                \
            snprintf(first, sizeof first, __VA_ARGS__);                           \
    } while (0)
    for (size_t q = 0; q < nq; q++) {
        const float *x = qs + q * dim;
        for (size_t a = 0; a < sizeof ks / sizeof ks[0]; a++) {
            size_t k = ks[a];
            size_t ft = sm__kdtree_knn(t, x, k, dt, it);
            size_t fb = sm__brute_knn(pts, n, dim, x, k, db, NULL);
            EXPECT(ft == fb && ft == (k < n - nonfinite ? k : n - nonfinite),
                   "query %zu k %zu: found %zu (tree) %zu (brute)", q, k, ft, fb);
            if (ft != fb)
                continue;
            for (size_t i = 0; i < ft; i++) {
                EXPECT(dt[i] == db[i], "query %zu k %zu: tree d2[%zu] = %.17g, brute %.17g",
                       q, k, i, dt[i], db[i]);
                EXPECT(sm__sqdist(x, pts + it[i] * dim, dim) == dt[i],
                       "query %zu k %zu: index %zu does not match d2[%zu]", q, k, it[i], i);
                EXPECT(i == 0 || dt[i - 1] <= dt[i], "query %zu k %zu: not sorted at %zu", q,
                       k, i);
            }
            if (ft == 0)
                continue;
            /* any_within at radii exactly equal to a neighbour distance
             * (strict: that neighbour does not count), just above, and
             * half of the nearest. */
            double r2s[3] = {dt[ft - 1], nextafter(dt[ft - 1], INFINITY), 0.5 * dt[0]};
            for (int j = 0; j < 3; j++)
                EXPECT(sm__kdtree_any_within(t, x, r2s[j]) ==
                           sm__brute_any_within(pts, n, dim, x, r2s[j]),
                       "query %zu: any_within(%.17g) differs", q, r2s[j]);
        }
        for (int strict = 0; strict < 2; strict++) {
            const size_t limits[] = {1, 2, SIZE_MAX};
            for (int l = 0; l < 3; l++) {
                size_t ct = sm__kdtree_count_in_balls(t, x, strict, limits[l]);
                size_t cb = sm__brute_count_in_balls(pts, n, dim, radii, x, strict, limits[l]);
                EXPECT(ct == cb, "query %zu strict %d limit %zu: %zu in balls (tree), %zu (brute)",
                       q, strict, limits[l], ct, cb);
            }
        }
    }
#undef EXPECT
    ck_assert_msg(bad == 0, "dim %zu, n %zu: %zu mismatches; first: %s", dim, n, bad, first);
    sm__kdtree_free(t);
    free(dt);
    free(db);
    free(it);
    free(radii);
    free(radii_pos);
}

START_TEST(kdtree_matches_brute_force)
{
    sm_rng *r = rng_seeded(100);
    const size_t dims[] = {1, 2, 3, 7};
    for (size_t a = 0; a < 4; a++) {
        size_t dim = dims[a];
        const size_t n = 1500, nq = 150;
        float *pts = normal_points(r, n, dim, 0.0f, 1.0f);
        float *qs = normal_points(r, nq, dim, 0.2f, 1.3f);
        /* Some queries are stored points exactly. */
        for (size_t q = 0; q < 20; q++)
            memcpy(qs + q * dim, pts + (q * 37) * dim, dim * sizeof(float));
        compare_tree_brute(pts, n, dim, qs, nq, r);

        /* Coarse grid: many duplicates and exactly tied distances. */
        for (size_t i = 0; i < n * dim; i++)
            pts[i] = roundf(pts[i] * 2.0f) / 2.0f;
        for (size_t i = 0; i < nq * dim; i++)
            qs[i] = roundf(qs[i] * 2.0f) / 2.0f;
        compare_tree_brute(pts, n, dim, qs, nq, r);

        /* Non-finite rows are left out of the tree and skipped by brute. */
        pts[5 * dim] = NAN;
        pts[77 * dim + dim - 1] = INFINITY;
        pts[78 * dim] = -INFINITY;
        compare_tree_brute(pts, n, dim, qs, nq, r);

        /* All points identical; and tiny sets around the leaf size. */
        for (size_t i = 0; i < 200 * dim; i++)
            pts[i] = 1.5f;
        compare_tree_brute(pts, 200, dim, qs, 30, r);
        for (size_t m = 1; m <= 20; m++) {
            float *p2 = normal_points(r, m, dim, 0.0f, 1.0f);
            compare_tree_brute(p2, m, dim, qs, 10, r);
            free(p2);
        }
        free(pts);
        free(qs);
    }
    sm_rng_free(r);
}
END_TEST

START_TEST(kdtree_empty_and_errors)
{
    sm_kdtree *t = (sm_kdtree *)1;
    float nan_rows[4] = {NAN, 0, 0, INFINITY};
    size_t skipped = 0;
    ck_assert_int_eq(sm__kdtree_build(&t, nan_rows, 2, 2, &skipped), SM_OK);
    ck_assert_uint_eq(skipped, 2);
    ck_assert_uint_eq(sm__kdtree_size(t), 0);
    float q[2] = {0, 0};
    double d2[3];
    ck_assert_int_eq(sm__kdtree_any_within(t, q, 1e30), 0);
    ck_assert_uint_eq(sm__kdtree_knn(t, q, 3, d2, NULL), 0);
    ck_assert_uint_eq(sm__kdtree_count_in_balls(t, q, 0, SIZE_MAX), 0);
    sm__kdtree_free(t);
    ck_assert_int_eq(sm__kdtree_build(&t, NULL, 0, 2, NULL), SM_OK);
    sm__kdtree_free(t);
    ck_assert_int_eq(sm__kdtree_build(&t, nan_rows, 2, 0, NULL), SM_ERR_INVALID_ARG);
    ck_assert_ptr_null(t);
    ck_assert_int_eq(sm__kdtree_build(&t, NULL, 2, 2, NULL), SM_ERR_INVALID_ARG);
    ck_assert_int_eq(sm__kdtree_build(&t, nan_rows, SIZE_MAX / 2, 4, NULL), SM_ERR_OVERFLOW);
    ck_assert_int_eq(sm__kdtree_build(NULL, nan_rows, 2, 2, NULL), SM_ERR_INVALID_ARG);
    sm__kdtree_free(NULL);
}
END_TEST

/* ---- direct implementations of the definitions (the reference) -------- */

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Squared distance from row i of a to its k-th nearest other row (rows in
 * `use` only; use NULL = all), from a full sorted distance row. */
static double ref_kth(const float *a, size_t n, size_t dim, const char *use, size_t i,
                      size_t k)
{
    double *d = malloc(n * sizeof(double));
    size_t c = 0;
    for (size_t j = 0; j < n; j++)
        if (j != i && (!use || use[j]))
            d[c++] = sm__sqdist(a + i * dim, a + j * dim, dim);
    qsort(d, c, sizeof(double), cmp_d);
    double v = d[k - 1];
    free(d);
    return v;
}

typedef struct ref_out {
    double cov_r, prec_r;           /* fixed radius */
    double precision, recall, density, coverage;
    size_t nonfinite;
} ref_out;

static ref_out reference(const float *x, size_t n, const float *y, size_t m, size_t dim,
                         double radius, size_t kpr, size_t kdc)
{
    ref_out o = {0};
    char *fin = malloc(m);
    for (size_t j = 0; j < m; j++) {
        fin[j] = 1;
        for (size_t c = 0; c < dim; c++)
            if (!isfinite(y[j * dim + c]))
                fin[j] = 0;
        o.nonfinite += !fin[j];
    }
    double r2 = radius * radius;
    double *xpr = malloc(n * sizeof(double)), *xdc = malloc(n * sizeof(double));
    double *ypr = malloc(m * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        xpr[i] = ref_kth(x, n, dim, NULL, i, kpr);
        xdc[i] = ref_kth(x, n, dim, NULL, i, kdc);
    }
    for (size_t j = 0; j < m; j++)
        ypr[j] = fin[j] ? ref_kth(y, m, dim, fin, j, kpr) : 0.0;
    size_t cov_r = 0, prec_r = 0, prec = 0, rec = 0, dens = 0, cov = 0;
    for (size_t i = 0; i < n; i++) {
        int hit_r = 0, hit_rec = 0;
        double nn = INFINITY;
        for (size_t j = 0; j < m; j++) {
            if (!fin[j])
                continue;
            double d = sm__sqdist(x + i * dim, y + j * dim, dim);
            hit_r |= d < r2;
            hit_rec |= d <= ypr[j];
            if (d < nn)
                nn = d;
        }
        cov_r += hit_r;
        rec += hit_rec;
        cov += nn < xdc[i];
    }
    for (size_t j = 0; j < m; j++) {
        if (!fin[j])
            continue;
        int hit_r = 0, hit_p = 0;
        for (size_t i = 0; i < n; i++) {
            double d = sm__sqdist(x + i * dim, y + j * dim, dim);
            hit_r |= d < r2;
            hit_p |= d <= xpr[i];
            dens += d < xdc[i];
        }
        prec_r += hit_r;
        prec += hit_p;
    }
    o.cov_r = (double)cov_r / n;
    o.prec_r = (double)prec_r / m;
    o.precision = (double)prec / m;
    o.recall = (double)rec / n;
    o.density = (double)dens / ((double)kdc * m);
    o.coverage = (double)cov / n;
    free(fin);
    free(xpr);
    free(xdc);
    free(ypr);
    return o;
}

START_TEST(metrics_match_reference_on_random_sets)
{
    sm_rng *r = rng_seeded(200);
    const size_t dims[] = {1, 2, 3, 7};
    for (size_t a = 0; a < 4; a++) {
        size_t dim = dims[a];
        const size_t n = 500, m = 400;
        float *x = normal_points(r, n, dim, 0.0f, 1.0f);
        float *y = normal_points(r, m, dim, 0.5f, 1.2f);
        /* Duplicates inside the real set, real points copied into the
         * generated set, and non-finite generated points. */
        for (size_t i = 0; i < 10; i++) {
            memcpy(x + (n - 1 - i) * dim, x + i * dim, dim * sizeof(float));
            memcpy(y + (3 * i) * dim, x + (7 * i) * dim, dim * sizeof(float));
        }
        y[100 * dim] = NAN;
        y[101 * dim + dim - 1] = INFINITY;
        y[399 * dim] = -INFINITY;
        /* A radius that covers part of the real set in each dimension. */
        const double radius = dim == 1 ? 0.004 : dim == 2 ? 0.08 : dim == 3 ? 0.25 : 1.0;
        for (size_t kk = 0; kk < 3; kk++) {
            size_t kpr = kk == 0 ? 3 : kk == 1 ? 1 : 7, kdc = kk == 0 ? 5 : kk == 1 ? 1 : 2;
            ref_out ref = reference(x, n, y, m, dim, radius, kpr, kdc);
            ck_assert_uint_eq(ref.nonfinite, 3);
            double p, rc, d, c, cov_r, prec_r;
            size_t nf = 0;
            ck_assert_ok(sm_metric_prdc(x, n, y, m, dim, kk == 0 ? 0 : kpr, kk == 0 ? 0 : kdc,
                                        &p, &rc, &d, &c, &nf));
            ck_assert_uint_eq(nf, 3);
            ck_assert_msg(p == ref.precision, "dim %zu: precision %g vs %g", dim, p,
                          ref.precision);
            ck_assert_msg(rc == ref.recall, "dim %zu: recall %g vs %g", dim, rc, ref.recall);
            ck_assert_msg(d == ref.density, "dim %zu: density %g vs %g", dim, d, ref.density);
            ck_assert_msg(c == ref.coverage, "dim %zu: coverage %g vs %g", dim, c,
                          ref.coverage);
            /* Each output alone gives the same value. */
            double p1 = -1, rc1 = -1, d1 = -1, c1 = -1;
            ck_assert_ok(sm_metric_prdc(x, n, y, m, dim, kpr, kdc, &p1, NULL, NULL, NULL, NULL));
            ck_assert_ok(sm_metric_prdc(x, n, y, m, dim, kpr, kdc, NULL, &rc1, NULL, NULL, NULL));
            ck_assert_ok(sm_metric_prdc(x, n, y, m, dim, kpr, kdc, NULL, NULL, &d1, NULL, NULL));
            ck_assert_ok(sm_metric_prdc(x, n, y, m, dim, kpr, kdc, NULL, NULL, NULL, &c1, NULL));
            ck_assert(p1 == p && rc1 == rc && d1 == d && c1 == c);

            ck_assert_ok(sm_metric_coverage_precision(x, n, y, m, dim, radius, &cov_r, &prec_r,
                                                      &nf));
            ck_assert_uint_eq(nf, 3);
            ck_assert(cov_r == ref.cov_r);
            ck_assert(prec_r == ref.prec_r);
            double c2, p2;
            ck_assert_ok(sm_metric_coverage(x, n, y, m, dim, radius, &c2, NULL));
            ck_assert_ok(sm_metric_precision(x, n, y, m, dim, radius, &p2, NULL));
            ck_assert(c2 == cov_r && p2 == prec_r);
        }
        /* The values are not degenerate (the comparison means something). */
        ref_out ref = reference(x, n, y, m, dim, radius, 3, 5);
        ck_assert_double_gt(ref.cov_r, 0.05);
        ck_assert_double_lt(ref.cov_r, 0.999);
        ck_assert_double_gt(ref.precision, 0.05);
        ck_assert_double_lt(ref.precision, 0.995);
        ck_assert_double_gt(ref.recall, 0.05);
        ck_assert_double_gt(ref.density, 0.05);
        free(x);
        free(y);
    }
    sm_rng_free(r);
}
END_TEST

/* ---- blocked brute force against the k-d tree ---------------------------- */

/* v[pos] of a set, stored at v_row[row of pos]. */
static void by_row(const sm__knn *s, const double *v, double *v_row)
{
    for (size_t pos = 0; pos < sm__knn_size(s); pos++)
        v_row[sm__knn_index(s, pos)] = v[pos];
}

static void to_pos(const sm__knn *s, const double *v_row, double *v)
{
    for (size_t pos = 0; pos < sm__knn_size(s); pos++)
        v[pos] = v_row[sm__knn_index(s, pos)];
}

/* Every query of knn.c on the pair (x, y), by tree and by brute force: the
 * radii, hits and counts must be equal, value for value. */
static void compare_methods(const float *x, size_t n, const float *y, size_t m, size_t dim,
                            sm__knn_method brute_expected)
{
    sm__knn *rs[2], *gs[2];
    const sm__knn_method methods[2] = {SM__KNN_TREE, SM__KNN_BRUTE};
    for (int a = 0; a < 2; a++) {
        ck_assert_ok(sm__knn_pair_new(&rs[a], &gs[a], x, n, y, m, dim, methods[a], 1, 1, "t"));
        ck_assert_int_eq(sm__knn_method_used(rs[a]), a ? brute_expected : SM__KNN_TREE);
        ck_assert_int_eq(sm__knn_method_used(gs[a]), a ? brute_expected : SM__KNN_TREE);
    }
    size_t mf = sm__knn_size(gs[0]);
    ck_assert_uint_eq(sm__knn_size(gs[1]), mf);
    ck_assert_uint_eq(sm__knn_size(rs[1]), n);
    double *rad[2][3], *row[2][3], *tmp = malloc((n > m ? n : m) * sizeof(double));
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 3; b++) {
            rad[a][b] = calloc(n > m ? n : m, sizeof(double));
            row[a][b] = calloc(n > m ? n : m, sizeof(double));
        }
    size_t bad = 0;
    char first[200] = "";
#define EXPECT(cond, ...)                                                         \
    do {                                                                          \
        if (!(cond) && bad++ == 0)                                                \
            snprintf(first, sizeof first, __VA_ARGS__);                           \
    } while (0)
    const size_t ks[3][2] = {{3, 5}, {1, 1}, {7, 2}};
    for (int kk = 0; kk < 3; kk++) {
        size_t k = ks[kk][0], kb = ks[kk][1];
        for (int a = 0; a < 2; a++) {
            ck_assert_ok(sm__knn_radii(rs[a], k, rad[a][0], kb, rad[a][1]));
            ck_assert_ok(sm__knn_radii(gs[a], k, rad[a][2], 0, NULL));
            by_row(rs[a], rad[a][0], row[a][0]);
            by_row(rs[a], rad[a][1], row[a][1]);
            for (size_t j = 0; j < m; j++)
                row[a][2][j] = -1.0; /* non-finite rows have no radius */
            by_row(gs[a], rad[a][2], row[a][2]);
        }
        for (size_t i = 0; i < n; i++) {
            EXPECT(row[0][0][i] == row[1][0][i], "k %zu: real radius %zu: %.17g (tree) %.17g", k,
                   i, row[0][0][i], row[1][0][i]);
            EXPECT(row[0][1][i] == row[1][1][i], "kb %zu: real radius %zu differs", kb, i);
        }
        for (size_t j = 0; j < m; j++)
            EXPECT(row[0][2][j] == row[1][2][j], "k %zu: gen radius %zu: %.17g (tree) %.17g", k,
                   j, row[0][2][j], row[1][2][j]);
        /* Balls of those radii (exact distances: ties on the boundary):
         * every strictness and limit for the first k, then the two uses of
         * the metrics (precision/recall: <=, limit 1; density: <, all). */
        static const struct { int strict; size_t limit; } cases[6] = {
            {0, 1}, {1, SIZE_MAX}, {0, SIZE_MAX}, {1, 1}, {0, 2}, {1, 2}};
        size_t c[2];
        for (int t = 0; t < (kk == 0 ? 6 : 2); t++) {
            int strict = cases[t].strict;
            size_t limit = cases[t].limit;
            for (int a = 0; a < 2; a++)
                ck_assert_ok(sm__knn_count_in_balls(rs[a], rad[a][0], gs[a], strict, limit,
                                                    &c[a]));
            EXPECT(c[0] == c[1], "gen in real balls (k %zu strict %d limit %zu): %zu %zu", k,
                   strict, limit, c[0], c[1]);
            for (int a = 0; a < 2; a++)
                ck_assert_ok(sm__knn_count_in_balls(gs[a], rad[a][2], rs[a], strict, limit,
                                                    &c[a]));
            EXPECT(c[0] == c[1], "real in gen balls (k %zu strict %d limit %zu): %zu %zu", k,
                   strict, limit, c[0], c[1]);
        }
        /* Strictly within a per-query radius: each real point's own. */
        unsigned char *hit[2];
        for (int a = 0; a < 2; a++) {
            hit[a] = malloc(n);
            ck_assert_ok(sm__knn_count_within(gs[a], rs[a], 0.0, rad[a][1], &c[a], hit[a]));
        }
        EXPECT(c[0] == c[1], "coverage-like count (kb %zu): %zu %zu", kb, c[0], c[1]);
        for (int a = 0; a < 2; a++) {
            for (size_t pos = 0; pos < n; pos++)
                tmp[pos] = hit[a][pos];
            by_row(rs[a], tmp, row[a][0]);
            free(hit[a]);
        }
        for (size_t i = 0; i < n; i++)
            EXPECT(row[0][0][i] == row[1][0][i], "hit of real %zu differs", i);
    }
    /* Fixed radii: one that is exactly a distance (a tie), its neighbours,
     * and others around the typical nearest-neighbour distance. */
    double d0 = 0.0;
    for (size_t j = 0; j < m && d0 == 0.0; j++)
        if (sm__row_finite(y + j * dim, dim))
            d0 = sm__sqdist(x, y + j * dim, dim);
    const double r2s[6] = {d0, nextafter(d0, 0.0), nextafter(d0, INFINITY), 0.25 * row[0][1][0],
                           row[0][1][0], 4.0 * row[0][1][0]};
    for (int t = 0; t < 6; t++) {
        size_t c[2], p[2];
        for (int a = 0; a < 2; a++) {
            ck_assert_ok(sm__knn_count_within(gs[a], rs[a], r2s[t], NULL, &c[a], NULL));
            ck_assert_ok(sm__knn_count_within(rs[a], gs[a], r2s[t], NULL, &p[a], NULL));
        }
        EXPECT(c[0] == c[1] && p[0] == p[1], "radius² %.17g: covered %zu %zu, precise %zu %zu",
               r2s[t], c[0], c[1], p[0], p[1]);
    }
    /* Radii given per original row work in either set's order. */
    for (size_t i = 0; i < n; i++)
        row[0][0][i] = (double)((i * 37) % 11) * 0.2 * row[0][1][0];
    for (int a = 0; a < 2; a++)
        to_pos(rs[a], row[0][0], rad[a][0]);
    size_t cb[2];
    for (int a = 0; a < 2; a++)
        ck_assert_ok(sm__knn_count_in_balls(rs[a], rad[a][0], gs[a], 1, SIZE_MAX, &cb[a]));
    EXPECT(cb[0] == cb[1], "random balls: %zu %zu", cb[0], cb[1]);
#undef EXPECT
    ck_assert_msg(bad == 0, "dim %zu, n %zu, m %zu: %zu mismatches; first: %s", dim, n, m, bad,
                  first);
    for (int a = 0; a < 2; a++) {
        sm__knn_free(rs[a]);
        sm__knn_free(gs[a]);
        for (int b = 0; b < 3; b++) {
            free(rad[a][b]);
            free(row[a][b]);
        }
    }
    free(tmp);
}

START_TEST(brute_force_matches_tree)
{
    sm_rng *r = rng_seeded(150);
    const size_t dims[] = {1, 2, 3, 8, 16, 33, 64};
    for (size_t a = 0; a < sizeof dims / sizeof dims[0]; a++) {
        size_t dim = dims[a];
        /* More rows than one block of products (256 × 1024) in both
         * directions at low dimension, where the tree is quick. */
        const size_t n = dim <= 3 ? 1300 : 400, m = dim <= 3 ? 1100 : 350;
        float *x = normal_points(r, n, dim, 0.0f, 1.0f);
        float *y = normal_points(r, m, dim, 0.3f, 1.2f);
        /* Duplicates, shared points, non-finite generated rows. */
        for (size_t i = 0; i < 10; i++) {
            memcpy(x + (n - 1 - i) * dim, x + i * dim, dim * sizeof(float));
            memcpy(y + (3 * i) * dim, x + (7 * i) * dim, dim * sizeof(float));
        }
        y[100 * dim] = NAN;
        y[101 * dim + dim - 1] = INFINITY;
        compare_methods(x, n, y, m, dim, SM__KNN_BRUTE);
        /* Far from the origin: the shift by the real mean matters. */
        for (size_t i = 0; i < n * dim; i++)
            x[i] += 1000.0f;
        for (size_t i = 0; i < m * dim; i++)
            y[i] += 1000.0f;
        compare_methods(x, n, y, m, dim, SM__KNN_BRUTE);
        /* A coarse grid: many exactly tied distances and radii. */
        for (size_t i = 0; i < n * dim; i++)
            x[i] = roundf((x[i] - 1000.0f) * 2.0f) / 2.0f;
        for (size_t i = 0; i < m * dim; i++)
            y[i] = roundf((y[i] - 1000.0f) * 2.0f) / 2.0f;
        compare_methods(x, n, y, m, dim, SM__KNN_BRUTE);
        if (dim != 3 && dim != 16) {
            free(x);
            free(y);
            continue;
        }
        /* Tiny coordinates (float products underflow): still exact. */
        for (size_t i = 0; i < n * dim; i++)
            x[i] *= 1e-30f;
        for (size_t i = 0; i < m * dim; i++)
            y[i] *= 1e-30f;
        compare_methods(x, n, y, m, dim, SM__KNN_BRUTE);
        /* Coordinates whose float products could overflow: the brute force
         * hands over to the tree. */
        for (size_t i = 0; i < n * dim; i++)
            x[i] = x[i] * 1e30f * 1e17f;
        for (size_t i = 0; i < m * dim; i++)
            y[i] = y[i] * 1e30f * 1e17f;
        compare_methods(x, n, y, m, dim, SM__KNN_TREE);
        free(x);
        free(y);
    }
    /* A k so large that the brute force takes fewer query rows per block. */
    {
        const size_t n = 900, m = 300, dim = 16;
        float *x = normal_points(r, n, dim, 0.0f, 1.0f), *y = normal_points(r, m, dim, 0.0f, 1.5f);
        double v[2][3];
        for (int a = 0; a < 2; a++)
            ck_assert_ok(sm__metric_prdc_with(a ? SM__KNN_BRUTE : SM__KNN_TREE, x, n, y, m, dim,
                                              700, 650, &v[a][0], NULL, &v[a][1], &v[a][2],
                                              NULL));
        for (int j = 0; j < 3; j++)
            ck_assert_msg(v[0][j] == v[1][j], "large k, output %d: tree %.17g, brute %.17g", j,
                          v[0][j], v[1][j]);
        ck_assert(v[0][0] > 0.5 && v[0][1] > 0.1 && v[0][2] > 0.5); /* P, D, C: not degenerate */
        free(x);
        free(y);
    }
    /* Small sets, all generated points non-finite, a single point. */
    float *x = normal_points(r, 12, 20, 0.0f, 1.0f), *y = normal_points(r, 12, 20, 0.0f, 1.0f);
    compare_methods(x, 12, y, 12, 20, SM__KNN_BRUTE);
    for (size_t i = 0; i < 12; i++)
        y[i * 20 + 3] = NAN;
    sm__knn *rs, *gs;
    ck_assert_ok(sm__knn_pair_new(&rs, &gs, x, 12, y, 12, 20, SM__KNN_BRUTE, 1, 1, "t"));
    ck_assert_uint_eq(sm__knn_size(gs), 0);
    size_t c = 99;
    ck_assert_ok(sm__knn_count_within(gs, rs, 1e30, NULL, &c, NULL));
    ck_assert_uint_eq(c, 0);
    ck_assert_ok(sm__knn_count_within(rs, gs, 1e30, NULL, &c, NULL));
    ck_assert_uint_eq(c, 0);
    sm__knn_free(rs);
    sm__knn_free(gs);
    free(x);
    free(y);
    sm_rng_free(r);
}
END_TEST

/* The metrics themselves with each method, against the definitions. */
START_TEST(metrics_tree_and_brute_agree)
{
    sm_rng *r = rng_seeded(250);
    const size_t dims[] = {2, 8, 16, 32, 64};
    for (size_t a = 0; a < sizeof dims / sizeof dims[0]; a++) {
        size_t dim = dims[a], n = 500, m = 400;
        float *x = normal_points(r, n, dim, 0.0f, 1.0f);
        float *y = normal_points(r, m, dim, 0.2f, 1.1f);
        for (size_t i = 0; i < 10; i++)
            memcpy(y + (3 * i) * dim, x + (7 * i) * dim, dim * sizeof(float));
        y[50 * dim + 1] = NAN;
        int32_t *lab = malloc(n * sizeof(int32_t));
        for (size_t i = 0; i < n; i++)
            lab[i] = x[i * dim] > 0.0f;
        /* A radius that covers about half of the real points: the median
         * distance from 21 of them to their nearest generated point. */
        double nn[21];
        for (size_t i = 0; i < 21; i++) {
            nn[i] = INFINITY;
            for (size_t j = 0; j < m; j++)
                if (sm__row_finite(y + j * dim, dim))
                    nn[i] = fmin(nn[i], sm__sqdist(x + (20 * i + 1) * dim, y + j * dim, dim));
        }
        qsort(nn, 21, sizeof(double), cmp_d);
        double radius = sqrt(nn[10]);
        double v[3][8];
        size_t nf[3];
        const sm__knn_method methods[3] = {SM__KNN_TREE, SM__KNN_BRUTE, SM__KNN_AUTO};
        for (int k = 0; k < 3; k++) {
            ck_assert_ok(sm__metric_prdc_with(methods[k], x, n, y, m, dim, 0, 0, &v[k][0],
                                              &v[k][1], &v[k][2], &v[k][3], &nf[k]));
            ck_assert_ok(sm__metric_coverage_precision_with(methods[k], "t", x, n, y, m, dim,
                                                            radius, &v[k][4], &v[k][5], NULL));
            ck_assert_ok(sm__metric_per_mode_coverage_with(methods[k], x, lab, n, y, m, dim,
                                                           radius, &v[k][6], 2, NULL));
        }
        for (int j = 0; j < 8; j++)
            ck_assert_msg(v[0][j] == v[1][j] && v[0][j] == v[2][j],
                          "dim %zu, output %d: tree %.17g, brute %.17g, auto %.17g", dim, j,
                          v[0][j], v[1][j], v[2][j]);
        ck_assert(nf[0] == 1 && nf[1] == 1 && nf[2] == 1);
        ref_out ref = reference(x, n, y, m, dim, radius, 3, 5);
        ck_assert(v[1][0] == ref.precision && v[1][1] == ref.recall &&
                  v[1][2] == ref.density && v[1][3] == ref.coverage);
        ck_assert(v[1][4] == ref.cov_r && v[1][5] == ref.prec_r);
        /* Not degenerate: the comparison means something. */
        ck_assert_double_gt(ref.precision, 0.05);
        ck_assert_double_lt(ref.precision, 0.999);
        ck_assert_double_gt(ref.recall, 0.05);
        ck_assert_double_gt(ref.cov_r, 0.01);
        ck_assert_double_lt(ref.cov_r, 0.999);
        free(x);
        free(y);
        free(lab);
    }
    sm_rng_free(r);
}
END_TEST

/* ---- hand-computed cases ------------------------------------------------ */

START_TEST(coverage_precision_by_hand)
{
    /* real (0,0), (1,0), (5,5); generated (0.1,0), (1,0.05). */
    const float x[6] = {0, 0, 1, 0, 5, 5}, y[4] = {0.1f, 0, 1, 0.05f};
    double c, p;
    size_t nf = 99;
    /* r = 0.2: the first two real points are covered, both samples precise. */
    ck_assert_ok(sm_metric_coverage_precision(x, 3, y, 2, 2, 0.2, &c, &p, &nf));
    ck_assert_double_eq_tol(c, 2.0 / 3.0, 1e-15);
    ck_assert_double_eq(p, 1.0);
    ck_assert_uint_eq(nf, 0);
    /* r = 0.07: only (1,0) <-> (1,0.05) at 0.05. */
    ck_assert_ok(sm_metric_coverage_precision(x, 3, y, 2, 2, 0.07, &c, &p, NULL));
    ck_assert_double_eq_tol(c, 1.0 / 3.0, 1e-15);
    ck_assert_double_eq(p, 0.5);
    /* r = 10: everything. */
    ck_assert_ok(sm_metric_coverage(x, 3, y, 2, 2, 10.0, &c, NULL));
    ck_assert_double_eq(c, 1.0);
    /* Strict inequality, like the lab's dist < r: a distance of exactly
     * 0.5 is not within r = 0.5. */
    const float a[2] = {0, 0}, b[2] = {0.5f, 0};
    ck_assert_ok(sm_metric_coverage_precision(a, 1, b, 1, 2, 0.5, &c, &p, NULL));
    ck_assert_double_eq(c, 0.0);
    ck_assert_double_eq(p, 0.0);
    ck_assert_ok(sm_metric_coverage_precision(a, 1, b, 1, 2, 0.5000001, &c, &p, NULL));
    ck_assert_double_eq(c, 1.0);
    ck_assert_double_eq(p, 1.0);
}
END_TEST

START_TEST(prdc_by_hand)
{
    /* 1-D real {0, 1, 2, 3}, generated {0.5, 10}. */
    const float x[4] = {0, 1, 2, 3}, y[2] = {0.5f, 10};
    double p, rc, d, c;
    /* k = 1: NND_1(real) = 1 for all; NND_1(gen) = 9.5 for both.
     * precision: 0.5 is within 1 of 0 -> 1/2. recall: the balls of radius
     * 9.5 around 0.5 and 10 hold all real points -> 1. density: 0.5 lies in
     * the balls of 0 and 1 (0.5 < 1), 10 in none -> 2 / (1 * 2) = 1.
     * coverage: nearest sample of 0 and 1 is at 0.5 < 1, of 2 and 3 at 1.5
     * and 2.5 -> 1/2. */
    ck_assert_ok(sm_metric_prdc(x, 4, y, 2, 1, 1, 1, &p, &rc, &d, &c, NULL));
    ck_assert_double_eq(p, 0.5);
    ck_assert_double_eq(rc, 1.0);
    ck_assert_double_eq(d, 1.0);
    ck_assert_double_eq(c, 0.5);
    /* k_dc = 2: NND_2 = 2, 1, 1, 2. density: 0.5 is in the balls of 0
     * (0.5 < 2) and 1 (0.5 < 1), not of 2 (1.5 < 1 no) or 3 (2.5 < 2 no)
     * -> 2 / (2 * 2) = 0.5. coverage: 0 (0.5 < 2) and 1 (0.5 < 1) -> 0.5. */
    ck_assert_ok(sm_metric_prdc(x, 4, y, 2, 1, 1, 2, NULL, NULL, &d, &c, NULL));
    ck_assert_double_eq(d, 0.5);
    ck_assert_double_eq(c, 0.5);

    /* Ties: real {0, 1}, k = 1, NND = 1. A sample at 2 is at distance
     * exactly 1 from real 1: precise under Kynkäänniemi's <=, not dense
     * under Naeem's <. */
    const float x2[2] = {0, 1}, y2[1] = {2};
    ck_assert_ok(sm_metric_prdc(x2, 2, y2, 1, 1, 1, 1, &p, NULL, &d, &c, NULL));
    ck_assert_double_eq(p, 1.0);
    ck_assert_double_eq(d, 0.0);
    ck_assert_double_eq(c, 0.0);

    /* 2-D: real square corners, k = 1 -> NND = 1 each. Samples at the
     * centre (distance sqrt(0.5) ~ 0.707 from all four) and far away. */
    const float sq[8] = {0, 0, 1, 0, 0, 1, 1, 1}, ys[4] = {0.5f, 0.5f, 9, 9};
    ck_assert_ok(sm_metric_prdc(sq, 4, ys, 2, 2, 1, 1, &p, &rc, &d, &c, NULL));
    ck_assert_double_eq(p, 0.5);
    ck_assert_double_eq(d, 4.0 / 2.0); /* the centre is in all 4 balls */
    ck_assert_double_eq(c, 1.0);
    /* gen NND_1 = |(9,9) - (0.5,0.5)| = 12.02 > distance of any corner to
     * the centre: recall 1. */
    ck_assert_double_eq(rc, 1.0);
}
END_TEST

START_TEST(energy_and_mmd_by_hand)
{
    const float x1[1] = {0}, y1[1] = {1}, x2[2] = {0, 2};
    double e, m, h;
    /* X = {0}, Y = {1}: 2·1 − 0 − 0 = 2. */
    ck_assert_ok(sm_metric_energy_distance(x1, 1, y1, 1, 1, 0, NULL, &e, NULL));
    ck_assert_double_eq_tol(e, 2.0, 1e-15);
    /* X = {0, 2}, Y = {1}: E|X−Y| = 1, E|X−X'| = (0+2+2+0)/4 = 1 -> 1. */
    ck_assert_ok(sm_metric_energy_distance(x2, 2, y1, 1, 1, 0, NULL, &e, NULL));
    ck_assert_double_eq_tol(e, 1.0, 1e-15);
    /* Identical sets give 0. */
    ck_assert_ok(sm_metric_energy_distance(x2, 2, x2, 2, 1, 0, NULL, &e, NULL));
    ck_assert_double_eq(e, 0.0);
    /* 2-D: X = {(0,0)}, Y = {(3,4)}: 2·5 = 10. */
    const float a[2] = {0, 0}, b[2] = {3, 4};
    ck_assert_ok(sm_metric_energy_distance(a, 1, b, 1, 2, 0, NULL, &e, NULL));
    ck_assert_double_eq_tol(e, 10.0, 1e-14);

    /* MMD², h = 1: X = {0}, Y = {1}: 1 + 1 − 2 e^{−1/2}. */
    ck_assert_ok(sm_metric_mmd_rbf(x1, 1, y1, 1, 1, 1.0, 0, NULL, &m, &h, NULL));
    ck_assert_double_eq_tol(m, 2.0 - 2.0 * exp(-0.5), 1e-15);
    ck_assert_double_eq(h, 1.0);
    /* h = 2: k = exp(−d²/8). */
    ck_assert_ok(sm_metric_mmd_rbf(x1, 1, y1, 1, 1, 2.0, 0, NULL, &m, NULL, NULL));
    ck_assert_double_eq_tol(m, 2.0 - 2.0 * exp(-1.0 / 8.0), 1e-15);
    /* Median heuristic: X = {0, 2}, Y = {1}: pooled pair distances 2, 1, 1,
     * median 1. Kxx = (2 + 2e^{−2})/4, Kyy = 1, Kxy = e^{−1/2}. */
    ck_assert_ok(sm_metric_mmd_rbf(x2, 2, y1, 1, 1, 0.0, 0, NULL, &m, &h, NULL));
    ck_assert_double_eq(h, 1.0);
    ck_assert_double_eq_tol(m, (2.0 + 2.0 * exp(-2.0)) / 4.0 + 1.0 - 2.0 * exp(-0.5), 1e-15);
    /* Median of an even number of distances: X = {0}, Y = {1, 3, 7}:
     * pairs 1, 3, 7, 2, 6, 4 -> sorted 1 2 3 4 6 7 -> (3 + 4)/2. */
    const float y3[3] = {1, 3, 7};
    ck_assert_ok(sm_metric_mmd_rbf(x1, 1, y3, 3, 1, -1.0, 0, NULL, &m, &h, NULL));
    ck_assert_double_eq(h, 3.5);
    ck_assert_ok(sm_metric_mmd_rbf(x2, 2, x2, 2, 1, 0.0, 0, NULL, &m, NULL, NULL));
    ck_assert_double_eq(m, 0.0);
}
END_TEST

/* Direct double loops for energy distance and MMD on random sets. */
START_TEST(energy_and_mmd_match_reference)
{
    sm_rng *r = rng_seeded(300);
    const size_t dims[] = {1, 2, 3, 7};
    for (size_t a = 0; a < 4; a++) {
        size_t dim = dims[a], n = 150, m = 120;
        float *x = normal_points(r, n, dim, 0.0f, 1.0f);
        float *y = normal_points(r, m, dim, 0.3f, 1.5f);
        double sxy = 0, sxx = 0, syy = 0, kxy = 0, kxx = 0, kyy = 0, h = 0.7;
        double g = 1.0 / (2 * h * h);
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < m; j++) {
                double d2 = sm__sqdist(x + i * dim, y + j * dim, dim);
                sxy += sqrt(d2);
                kxy += exp(-g * d2);
            }
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                double d2 = sm__sqdist(x + i * dim, x + j * dim, dim);
                sxx += sqrt(d2);
                kxx += exp(-g * d2);
            }
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < m; j++) {
                double d2 = sm__sqdist(y + i * dim, y + j * dim, dim);
                syy += sqrt(d2);
                kyy += exp(-g * d2);
            }
        double e_ref = 2 * sxy / (n * m) - sxx / (n * n) - syy / (m * m);
        double m_ref = kxx / (n * n) + kyy / (m * m) - 2 * kxy / (n * m);
        double e, mm;
        ck_assert_ok(sm_metric_energy_distance(x, n, y, m, dim, 0, NULL, &e, NULL));
        ck_assert_double_eq_tol(e, e_ref, 1e-12 * (1 + e_ref));
        ck_assert_double_gt(e, 0.01);
        ck_assert_ok(sm_metric_mmd_rbf(x, n, y, m, dim, h, 0, NULL, &mm, NULL, NULL));
        ck_assert_double_eq_tol(mm, m_ref, 1e-12);
        ck_assert_double_gt(mm, 1e-4);
        /* max_points >= both sizes: exact, no rng needed. */
        double e2;
        ck_assert_ok(sm_metric_energy_distance(x, n, y, m, dim, 150, NULL, &e2, NULL));
        ck_assert(e2 == e);
        free(x);
        free(y);
    }
    sm_rng_free(r);
}
END_TEST

START_TEST(per_mode_coverage_by_hand)
{
    /* Two modes of two points each; samples only near mode 0. */
    const float x[8] = {0, 0, 1, 0, 10, 0, 11, 0};
    const int32_t lab[4] = {0, 0, 1, 1};
    const float y[4] = {0, 0.01f, 1, 0.01f};
    double pm[3];
    size_t nf;
    ck_assert_ok(sm_metric_per_mode_coverage(x, lab, 4, y, 2, 2, 0.1, pm, 2, &nf));
    ck_assert_double_eq(pm[0], 1.0);
    ck_assert_double_eq(pm[1], 0.0);
    ck_assert_uint_eq(nf, 0);
    /* A label value without real points gives NaN. */
    ck_assert_ok(sm_metric_per_mode_coverage(x, lab, 4, y, 2, 2, 0.1, pm, 3, NULL));
    ck_assert(isnan(pm[2]));
    /* Half of mode 1 covered. */
    const float y2[4] = {0, 0.01f, 10.05f, 0};
    ck_assert_ok(sm_metric_per_mode_coverage(x, lab, 4, y2, 2, 2, 0.1, pm, 2, NULL));
    ck_assert_double_eq(pm[0], 0.5);
    ck_assert_double_eq(pm[1], 0.5);
}
END_TEST

/* ---- limiting cases ------------------------------------------------------ */

START_TEST(limits_identical_far_and_dropped_moon)
{
    sm_rng *r = rng_seeded(400);
    sm_dataset *real, *gen;
    ck_assert_ok(sm_toy_moons(&real, 4000, 0.05, 1, r));
    ck_assert_ok(sm_dataset_standardize(real));
    const float *x = sm_dataset_data(real);
    const size_t n = 4000;
    double c, p, rc, d, cv, e;

    /* Y = X: everything covered and precise. */
    ck_assert_ok(sm_metric_coverage_precision(x, n, x, n, 2, 0.15, &c, &p, NULL));
    ck_assert_double_eq(c, 1.0);
    ck_assert_double_eq(p, 1.0);
    ck_assert_ok(sm_metric_prdc(x, n, x, n, 2, 0, 0, &p, &rc, &d, &cv, NULL));
    ck_assert_double_eq(p, 1.0);
    ck_assert_double_eq(rc, 1.0);
    ck_assert_double_eq(cv, 1.0);
    ck_assert_double_gt(d, 0.9);
    ck_assert_double_lt(d, 1.1);
    ck_assert_ok(sm_metric_energy_distance(x, n, x, n, 2, 0, NULL, &e, NULL));
    ck_assert_double_lt(e, 1e-12);

    /* Y far away: nothing. */
    float *far = malloc(n * 2 * sizeof(float));
    for (size_t i = 0; i < 2 * n; i++)
        far[i] = x[i] + 100.0f;
    ck_assert_ok(sm_metric_coverage_precision(x, n, far, n, 2, 0.15, &c, &p, NULL));
    ck_assert_double_eq(c, 0.0);
    ck_assert_double_eq(p, 0.0);
    ck_assert_ok(sm_metric_prdc(x, n, far, n, 2, 0, 0, &p, &rc, &d, &cv, NULL));
    ck_assert_double_eq(p, 0.0);
    ck_assert_double_eq(rc, 0.0);
    ck_assert_double_eq(d, 0.0);
    ck_assert_double_eq(cv, 0.0);
    ck_assert_ok(sm_metric_energy_distance(x, n, far, n, 2, 0, NULL, &e, NULL));
    ck_assert_double_gt(e, 2 * 100 * sqrt(2.0) - 10);

    /* An independent sample of the same distribution: high on all counts. */
    ck_assert_ok(sm_toy_moons(&gen, 2000, 0.05, 1, r));
    float *y = malloc(2000 * 2 * sizeof(float));
    memcpy(y, sm_dataset_data(gen), sizeof(float) * 4000);
    ck_assert_ok(sm_dataset_standardize_points(real, y, 2000, 2));
    ck_assert_ok(sm_metric_coverage_precision(x, n, y, 2000, 2, 0.15, &c, &p, NULL));
    ck_assert_double_gt(c, 0.95);
    ck_assert_double_gt(p, 0.95);

    /* One moon dropped: keep only generated points of moon 0. */
    float *half = malloc(2000 * 2 * sizeof(float));
    size_t m = 0;
    for (size_t j = 0; j < 2000; j++)
        if (sm_dataset_labels(gen)[j] == 0) {
            memcpy(half + 2 * m, y + 2 * j, 2 * sizeof(float));
            m++;
        }
    ck_assert_uint_eq(m, 1000);
    double pm[2];
    ck_assert_ok(sm_metric_per_mode_coverage(x, sm_dataset_labels(real), n, half, m, 2, 0.15,
                                             pm, sm_dataset_num_labels(real), NULL));
    ck_assert_double_gt(pm[0], 0.95);
    ck_assert_double_lt(pm[1], 0.05);
    /* Overall coverage falls to about a half, the lab's one-moon baseline;
     * precision stays high. */
    ck_assert_ok(sm_metric_coverage_precision(x, n, half, m, 2, 0.15, &c, &p, NULL));
    ck_assert_double_gt(c, 0.45);
    ck_assert_double_lt(c, 0.55);
    ck_assert_double_gt(p, 0.95);
    ck_assert_ok(sm_metric_prdc(x, n, half, m, 2, 0, 0, &p, &rc, NULL, &cv, NULL));
    ck_assert_double_lt(rc, 0.6);
    ck_assert_double_lt(cv, 0.6);
    ck_assert_double_gt(p, 0.9);

    free(far);
    free(y);
    free(half);
    sm_dataset_free(real);
    sm_dataset_free(gen);
    sm_rng_free(r);
}
END_TEST

/* ---- non-finite samples -------------------------------------------------- */

START_TEST(nonfinite_samples_are_counted)
{
    const float x[6] = {0, 0, 1, 0, 2, 0};
    /* 4 samples: two on real points, one NaN, one infinite. */
    const float y[8] = {0, 0, NAN, 0, 2, 0, 1, INFINITY};
    double c, p, e, m;
    size_t nf = 0;
    ck_assert_ok(sm_metric_coverage_precision(x, 3, y, 4, 2, 0.1, &c, &p, &nf));
    ck_assert_uint_eq(nf, 2);
    ck_assert_double_eq_tol(c, 2.0 / 3.0, 1e-15); /* NaN covers nothing */
    ck_assert_double_eq(p, 0.5);                  /* NaN counts as not precise */
    nf = 0;
    ck_assert_ok(sm_metric_energy_distance(x, 3, y, 4, 2, 0, NULL, &e, &nf));
    ck_assert_uint_eq(nf, 2);
    ck_assert(isfinite(e));
    /* Equal to the statistic over the finite samples only. */
    const float yf[4] = {0, 0, 2, 0};
    double ef;
    ck_assert_ok(sm_metric_energy_distance(x, 3, yf, 2, 2, 0, NULL, &ef, NULL));
    ck_assert_double_eq(e, ef);
    ck_assert_ok(sm_metric_mmd_rbf(x, 3, y, 4, 2, 0.0, 0, NULL, &m, NULL, &nf));
    ck_assert(isfinite(m));
    ck_assert_uint_eq(nf, 2);
    double pr, d, cv;
    nf = 0;
    ck_assert_ok(sm_metric_prdc(x, 3, y, 4, 2, 1, 1, &pr, NULL, &d, &cv, &nf));
    ck_assert_uint_eq(nf, 2);
    ck_assert_double_eq(pr, 0.5);

    /* All samples non-finite: zero coverage and precision, never a crash;
     * the distances and recall cannot be computed and say so. */
    const float bad[4] = {NAN, NAN, INFINITY, 0};
    ck_assert_ok(sm_metric_coverage_precision(x, 3, bad, 2, 2, 0.1, &c, &p, &nf));
    ck_assert_double_eq(c, 0.0);
    ck_assert_double_eq(p, 0.0);
    ck_assert_uint_eq(nf, 2);
    double pm[1];
    const int32_t zeros[3] = {0, 0, 0};
    ck_assert_ok(sm_metric_per_mode_coverage(x, zeros, 3, bad, 2, 2, 0.1, pm, 1, &nf));
    ck_assert_double_eq(pm[0], 0.0);
    ck_assert_uint_eq(nf, 2);
    ck_assert_ok(sm_metric_prdc(x, 3, bad, 2, 2, 1, 1, &pr, NULL, &d, &cv, NULL));
    ck_assert_double_eq(pr, 0.0);
    ck_assert_double_eq(d, 0.0);
    ck_assert_double_eq(cv, 0.0);
    e = 123;
    ck_assert_status(sm_metric_energy_distance(x, 3, bad, 2, 2, 0, NULL, &e, NULL),
                     SM_ERR_NONFINITE);
    ck_assert_double_eq(e, 123); /* outputs unchanged on failure */
    ck_assert_status(sm_metric_mmd_rbf(x, 3, bad, 2, 2, 1.0, 0, NULL, &m, NULL, NULL),
                     SM_ERR_NONFINITE);
    ck_assert_status(sm_metric_prdc(x, 3, y, 4, 2, 2, 1, NULL, &pr, NULL, NULL, NULL),
                     SM_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "only 2 of 4"));
}
END_TEST

/* ---- subsampling --------------------------------------------------------- */

START_TEST(subsampled_distances)
{
    sm_rng *r = rng_seeded(500);
    const size_t n = 3000, dim = 2;
    float *x = normal_points(r, n, dim, 0.0f, 1.0f);
    float *y = normal_points(r, n, dim, 1.0f, 1.0f);
    double exact, s1, s2, s3;
    ck_assert_ok(sm_metric_energy_distance(x, n, y, n, dim, 0, NULL, &exact, NULL));
    sm_rng *a = rng_seeded(1), *b = rng_seeded(1), *c = rng_seeded(2);
    ck_assert_ok(sm_metric_energy_distance(x, n, y, n, dim, 1000, a, &s1, NULL));
    ck_assert_ok(sm_metric_energy_distance(x, n, y, n, dim, 1000, b, &s2, NULL));
    ck_assert_ok(sm_metric_energy_distance(x, n, y, n, dim, 1000, c, &s3, NULL));
    ck_assert(s1 == s2); /* reproducible for a seed */
    ck_assert(s1 != s3);
    /* 2-D standard normals against the same shifted by (1, 1): a
     * 1000-point subsample estimates the exact value within 20 %. */
    ck_assert_double_gt(exact, 0.3);
    ck_assert_double_eq_tol(s1, exact, 0.2 * exact);
    ck_assert_double_eq_tol(s3, exact, 0.2 * exact);
    double m_exact, m_sub, h_exact, h_sub;
    ck_assert_ok(sm_metric_mmd_rbf(x, n, y, n, dim, 0.0, 0, NULL, &m_exact, &h_exact, NULL));
    ck_assert_ok(sm_metric_mmd_rbf(x, n, y, n, dim, 0.0, 600, a, &m_sub, &h_sub, NULL));
    ck_assert_double_eq_tol(h_sub, h_exact, 0.2 * h_exact);
    ck_assert_double_eq_tol(m_sub, m_exact, 0.3 * m_exact);
    ck_assert_double_gt(m_exact, 0.01);
    /* A subsample is needed but there is no generator. */
    ck_assert_status(sm_metric_energy_distance(x, n, y, n, dim, 500, NULL, &s1, NULL),
                     SM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "rng"));
    free(x);
    free(y);
    sm_rng_free(a);
    sm_rng_free(b);
    sm_rng_free(c);
    sm_rng_free(r);
}
END_TEST

/* ---- Fréchet distance ------------------------------------------------------ */

/* Eigenvalues (into w) and eigenvectors (columns of v) of the symmetric
 * n × n matrix a (destroyed) by cyclic Jacobi rotations: an independent
 * reference for the LAPACK path. */
static void jacobi_eig(double *a, size_t n, double *w, double *v)
{
    for (size_t i = 0; i < n * n; i++)
        v[i] = 0.0;
    for (size_t i = 0; i < n; i++)
        v[i * n + i] = 1.0;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0.0, tot = 0.0;
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++) {
                tot += a[i * n + j] * a[i * n + j];
                if (i != j)
                    off += a[i * n + j] * a[i * n + j];
            }
        if (off <= 1e-30 * tot)
            break;
        for (size_t p = 0; p + 1 < n; p++)
            for (size_t q = p + 1; q < n; q++) {
                double apq = a[p * n + q];
                if (apq == 0.0)
                    continue;
                double theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                double c = 1.0 / sqrt(t * t + 1.0), sn = t * c;
                for (size_t k = 0; k < n; k++) { /* columns p, q */
                    double akp = a[k * n + p], akq = a[k * n + q];
                    a[k * n + p] = c * akp - sn * akq;
                    a[k * n + q] = sn * akp + c * akq;
                }
                for (size_t k = 0; k < n; k++) { /* rows p, q */
                    double apk = a[p * n + k], aqk = a[q * n + k];
                    a[p * n + k] = c * apk - sn * aqk;
                    a[q * n + k] = sn * apk + c * aqk;
                }
                for (size_t k = 0; k < n; k++) {
                    double vkp = v[k * n + p], vkq = v[k * n + q];
                    v[k * n + p] = c * vkp - sn * vkq;
                    v[k * n + q] = sn * vkp + c * vkq;
                }
            }
    }
    for (size_t i = 0; i < n; i++)
        w[i] = a[i * n + i];
}

/* sqrt of a symmetric PSD matrix (into r), negative eigenvalues as 0. */
static void ref_sqrtm(const double *a, size_t n, double *r)
{
    double *b = malloc(n * n * sizeof(double)), *v = malloc(n * n * sizeof(double));
    double *w = malloc(n * sizeof(double));
    memcpy(b, a, n * n * sizeof(double));
    jacobi_eig(b, n, w, v);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            double s = 0.0;
            for (size_t k = 0; k < n; k++)
                s += v[i * n + k] * (w[k] > 0 ? sqrt(w[k]) : 0.0) * v[j * n + k];
            r[i * n + j] = s;
        }
    free(b);
    free(v);
    free(w);
}

/* Mean and 1/(n-1) covariance of the finite rows, by the definition. */
static size_t ref_fit(const float *x, size_t n, size_t dim, double *mu, double *cov)
{
    size_t m = 0;
    memset(mu, 0, dim * sizeof(double));
    memset(cov, 0, dim * dim * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        if (!sm__row_finite(x + i * dim, dim))
            continue;
        m++;
        for (size_t j = 0; j < dim; j++)
            mu[j] += x[i * dim + j];
    }
    for (size_t j = 0; j < dim; j++)
        mu[j] /= (double)m;
    for (size_t i = 0; i < n; i++) {
        if (!sm__row_finite(x + i * dim, dim))
            continue;
        for (size_t a = 0; a < dim; a++)
            for (size_t b = 0; b < dim; b++)
                cov[a * dim + b] += (x[i * dim + a] - mu[a]) * (x[i * dim + b] - mu[b]);
    }
    for (size_t j = 0; j < dim * dim; j++)
        cov[j] /= (double)(m - 1);
    return m;
}

/* The formula as written: ‖μ₁ − μ₂‖² + tr(C₁ + C₂ − 2 (C₁^½ C₂ C₁^½)^½),
 * square roots by Jacobi. Also returns tr C₁ + tr C₂ in *trace. */
static double ref_frechet(const float *x, size_t n, const float *y, size_t m, size_t dim,
                          double *trace)
{
    size_t dd = dim * dim;
    double *mu1 = malloc(dim * sizeof(double)), *mu2 = malloc(dim * sizeof(double));
    double *c1 = malloc(dd * sizeof(double)), *c2 = malloc(dd * sizeof(double));
    double *s1 = malloc(dd * sizeof(double)), *t = malloc(dd * sizeof(double));
    double *p = malloc(dd * sizeof(double)), *r = malloc(dd * sizeof(double));
    ref_fit(x, n, dim, mu1, c1);
    ref_fit(y, m, dim, mu2, c2);
    ref_sqrtm(c1, dim, s1);
    for (size_t i = 0; i < dim; i++) /* t = s1 c2 */
        for (size_t j = 0; j < dim; j++) {
            double acc = 0;
            for (size_t k = 0; k < dim; k++)
                acc += s1[i * dim + k] * c2[k * dim + j];
            t[i * dim + j] = acc;
        }
    for (size_t i = 0; i < dim; i++) /* p = t s1, symmetrized */
        for (size_t j = 0; j < dim; j++) {
            double acc = 0;
            for (size_t k = 0; k < dim; k++)
                acc += t[i * dim + k] * s1[k * dim + j];
            p[i * dim + j] = acc;
        }
    for (size_t i = 0; i < dim; i++)
        for (size_t j = 0; j < i; j++)
            p[i * dim + j] = p[j * dim + i] = 0.5 * (p[i * dim + j] + p[j * dim + i]);
    ref_sqrtm(p, dim, r);
    double fd = 0, tr = 0;
    for (size_t j = 0; j < dim; j++) {
        fd += (mu1[j] - mu2[j]) * (mu1[j] - mu2[j]);
        tr += c1[j * dim + j] + c2[j * dim + j];
        fd += c1[j * dim + j] + c2[j * dim + j] - 2.0 * r[j * dim + j];
    }
    *trace = tr;
    free(mu1);
    free(mu2);
    free(c1);
    free(c2);
    free(s1);
    free(t);
    free(p);
    free(r);
    return fd;
}

/* Points μ + L·s for every sign vector s ∈ {−1, +1}^dim, each repeated
 * `reps` times: the mean is exactly μ and, because Σ_s s sᵀ = 2^dim·I, the
 * covariance is exactly c·L Lᵀ with c = 2^dim·reps / (2^dim·reps − 1). With
 * dyadic μ and L every coordinate is exact in float. */
static float *sign_cube(size_t dim, const double *mu, const double *l, size_t reps,
                        size_t *n_out)
{
    size_t corners = (size_t)1 << dim, n = corners * reps;
    float *x = malloc(n * dim * sizeof(float));
    for (size_t r = 0; r < reps; r++)
        for (size_t c = 0; c < corners; c++) {
            float *row = x + (r * corners + c) * dim;
            for (size_t i = 0; i < dim; i++) {
                double v = mu[i];
                for (size_t j = 0; j < dim; j++)
                    v += l[i * dim + j] * ((c >> j) & 1 ? 1.0 : -1.0);
                row[i] = (float)v;
                ck_assert(row[i] == v);
            }
        }
    *n_out = n;
    return x;
}

START_TEST(frechet_closed_form_diagonal)
{
    /* Diagonal covariances commute: FD = ‖μ₁ − μ₂‖² + Σ (s₁ᵢ − s₂ᵢ)² with
     * sᵢ the standard deviations. Sets of 3 and 5 copies of the 32 corners
     * have exact means μ and covariances c·diag(σ²). */
    const size_t dim = 5;
    const double mu1[5] = {0.5, -1.25, 2, 0, 3.75}, mu2[5] = {-0.5, 0.25, 2, 1, -1};
    const double sd1[5] = {0.5, 1, 2, 0.25, 1.5}, sd2[5] = {1, 1, 0.5, 0.75, 0.125};
    double l1[25] = {0}, l2[25] = {0};
    for (size_t i = 0; i < dim; i++) {
        l1[i * dim + i] = sd1[i];
        l2[i * dim + i] = sd2[i];
    }
    size_t n, m;
    float *x = sign_cube(dim, mu1, l1, 3, &n), *y = sign_cube(dim, mu2, l2, 5, &m);
    double c1 = (double)n / (double)(n - 1), c2 = (double)m / (double)(m - 1);
    double expect = 0.0;
    for (size_t i = 0; i < dim; i++) {
        double dm = mu1[i] - mu2[i], ds = sqrt(c1) * sd1[i] - sqrt(c2) * sd2[i];
        expect += dm * dm + ds * ds;
    }
    double fd = -1;
    size_t nf = 99;
    ck_assert_ok(sm_metric_frechet_distance(x, n, y, m, dim, &fd, &nf));
    ck_assert_uint_eq(nf, 0);
    /* Only double rounding separates the two: 1e-12 relative is far above
     * it and far below any error of the method. */
    ck_assert_msg(fabs(fd - expect) <= 1e-12 * expect, "FD %.17g, closed form %.17g", fd,
                  expect);
    free(x);
    free(y);
}
END_TEST

START_TEST(frechet_closed_form_full_2d)
{
    /* Non-commuting 2 × 2 covariances: for 2 × 2 PSD A, tr √A =
     * √(tr A + 2√det A), and C₁^½ C₂ C₁^½ has the eigenvalues of C₁C₂, so
     * tr (C₁^½ C₂ C₁^½)^½ = √(tr(C₁C₂) + 2√(det C₁ det C₂)). */
    const double mu1[2] = {1, -2}, mu2[2] = {0.5, 0.25};
    const double l1[4] = {2, 0.5, -0.75, 1}, l2[4] = {0.25, -1.5, 1, 0.5};
    size_t n, m;
    float *x = sign_cube(2, mu1, l1, 4, &n), *y = sign_cube(2, mu2, l2, 7, &m);
    double c1 = (double)n / (double)(n - 1), c2 = (double)m / (double)(m - 1);
    double a[4], b[4]; /* c·L Lᵀ */
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) {
            a[i * 2 + j] = c1 * (l1[i * 2] * l1[j * 2] + l1[i * 2 + 1] * l1[j * 2 + 1]);
            b[i * 2 + j] = c2 * (l2[i * 2] * l2[j * 2] + l2[i * 2 + 1] * l2[j * 2 + 1]);
        }
    ck_assert(a[1] * b[0] != a[0] * b[1]); /* the products AB and BA differ */
    double tr_ab = a[0] * b[0] + a[1] * b[2] + a[2] * b[1] + a[3] * b[3];
    double det = (a[0] * a[3] - a[1] * a[2]) * (b[0] * b[3] - b[1] * b[2]);
    double expect = (mu1[0] - mu2[0]) * (mu1[0] - mu2[0]) +
                    (mu1[1] - mu2[1]) * (mu1[1] - mu2[1]) + a[0] + a[3] + b[0] + b[3] -
                    2.0 * sqrt(tr_ab + 2.0 * sqrt(det));
    double fd, fd_rev;
    ck_assert_ok(sm_metric_frechet_distance(x, n, y, m, 2, &fd, NULL));
    ck_assert_msg(fabs(fd - expect) <= 1e-12 * expect, "FD %.17g, closed form %.17g", fd,
                  expect);
    ck_assert_ok(sm_metric_frechet_distance(y, m, x, n, 2, &fd_rev, NULL));
    ck_assert_msg(fabs(fd_rev - expect) <= 1e-12 * expect, "FD(Y,X) %.17g, closed form %.17g",
                  fd_rev, expect);
    free(x);
    free(y);
}
END_TEST

START_TEST(frechet_gaussian_samples)
{
    /* Two Gaussian samples, N(μ₁, diag σ₁²) and N(μ₂, diag σ₂²), n = 2·10⁵
     * each: the closed form is ‖μ₁ − μ₂‖² + Σ (σ₁ᵢ − σ₂ᵢ)² = 2.5625.
     *
     * Tolerance: to first order the estimate moves with the sample means
     * (variance Σ 4Δμᵢ²(σ₁ᵢ² + σ₂ᵢ²)/n) and the sample standard deviations
     * (variance Σ 4(σ₁ᵢ − σ₂ᵢ)²(σ₁ᵢ² + σ₂ᵢ²)/(2n)); its standard deviation
     * `sd` is computed below (≈ 0.012). The bias is second order, below
     * (Σ(σ₁ᵢ² + σ₂ᵢ²) + d²·max σ²)/n ≈ 2.2·10⁻⁴. The check allows 5 sd plus
     * that bias: a correct implementation fails it with probability < 10⁻⁶
     * for a random seed (and the seed is fixed). A wrong normalisation or
     * square root is off by far more: e.g. using the variances instead of
     * the standard deviations gives 4.3125. */
    const size_t n = 200000, dim = 3;
    const double mu1[3] = {0, 0, 0}, mu2[3] = {1, -0.5, 0.25};
    const double s1[3] = {1, 2, 0.5}, s2[3] = {1.5, 1, 0.5};
    sm_rng *r = rng_seeded(600);
    float *x = normal_points(r, n, dim, 0.0f, 1.0f), *y = normal_points(r, n, dim, 0.0f, 1.0f);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < dim; j++) {
            x[i * dim + j] = (float)(mu1[j] + s1[j] * x[i * dim + j]);
            y[i * dim + j] = (float)(mu2[j] + s2[j] * y[i * dim + j]);
        }
    double expect = 0, var = 0, bias = 0, smax = 0;
    for (size_t j = 0; j < dim; j++) {
        double dm = mu1[j] - mu2[j], ds = s1[j] - s2[j], v = s1[j] * s1[j] + s2[j] * s2[j];
        expect += dm * dm + ds * ds;
        var += 4 * dm * dm * v / n + 4 * ds * ds * v / (2.0 * n);
        bias += v / n;
        smax = fmax(smax, fmax(s1[j], s2[j]));
    }
    bias += (double)(dim * dim) * smax * smax / n;
    double tol = 5 * sqrt(var) + bias;
    ck_assert_double_eq(expect, 2.5625);
    ck_assert_double_lt(tol, 0.07);
    double fd;
    ck_assert_ok(sm_metric_frechet_distance(x, n, y, n, dim, &fd, NULL));
    ck_assert_msg(fabs(fd - expect) <= tol, "FD %.6f, closed form %.6f, tolerance %.4f", fd,
                  expect, tol);
    free(x);
    free(y);
    sm_rng_free(r);
}
END_TEST

START_TEST(frechet_matches_reference)
{
    /* Random sets with correlated coordinates (x = A z) in several
     * dimensions against the formula computed literally (explicit matrix
     * square roots by Jacobi rotations). */
    sm_rng *r = rng_seeded(700);
    const size_t dims[] = {1, 2, 3, 8, 17};
    for (size_t a = 0; a < 5; a++) {
        size_t dim = dims[a], n = 300 + 50 * a, m = 250;
        float *x = normal_points(r, n, dim, 0.0f, 1.0f), *y = normal_points(r, m, dim, 0.0f, 1.0f);
        float *mix = normal_points(r, dim, dim, 0.0f, 0.7f);
        float *tmp = malloc(dim * sizeof(float));
        for (size_t i = 0; i < m; i++) {
            for (size_t j = 0; j < dim; j++) {
                double acc = 0.3;
                for (size_t k = 0; k < dim; k++)
                    acc += mix[j * dim + k] * y[i * dim + k];
                tmp[j] = (float)acc;
            }
            memcpy(y + i * dim, tmp, dim * sizeof(float));
        }
        double trace, expect = ref_frechet(x, n, y, m, dim, &trace), fd;
        ck_assert_ok(sm_metric_frechet_distance(x, n, y, m, dim, &fd, NULL));
        ck_assert_msg(fabs(fd - expect) <= 1e-9 * trace, "dim %zu: FD %.17g, reference %.17g",
                      dim, fd, expect);
        ck_assert_double_gt(fd, 0.01 * trace); /* the sets differ: not a trivial 0 */
        free(x);
        free(y);
        free(mix);
        free(tmp);
    }
    sm_rng_free(r);
}
END_TEST

START_TEST(frechet_self_symmetry_translation)
{
    sm_rng *r = rng_seeded(800);
    const size_t dims[] = {1, 2, 5, 16, 40};
    for (size_t a = 0; a < 5; a++) {
        size_t dim = dims[a], n = 400, m = 300;
        /* Coordinates on the grid 2⁻¹⁰ in [-8, 8] and a dyadic v, so that
         * x + v is exact in float. */
        float *x = normal_points(r, n, dim, 0.0f, 1.5f), *y = normal_points(r, m, dim, 0.5f, 1.0f);
        for (size_t i = 0; i < n * dim; i++)
            x[i] = fminf(fmaxf(roundf(x[i] * 1024.0f) / 1024.0f, -8.0f), 8.0f);
        for (size_t i = 0; i < m * dim; i++)
            y[i] = fminf(fmaxf(roundf(y[i] * 1024.0f) / 1024.0f, -8.0f), 8.0f);
        double v[64], v2 = 0.0, vdm = 0.0;
        for (size_t j = 0; j < dim; j++) {
            v[j] = (double)((int)(j % 7) - 3) * 0.75 + 0.5;
            v2 += v[j] * v[j];
        }
        float *xv = malloc(n * dim * sizeof(float)), *yv = malloc(m * dim * sizeof(float));
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < dim; j++)
                xv[i * dim + j] = (float)(x[i * dim + j] + v[j]);
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < dim; j++)
                yv[i * dim + j] = (float)(y[i * dim + j] + v[j]);
        double trace, ref = ref_frechet(x, n, y, m, dim, &trace);
        /* v·(μ_Y − μ_X), for FD(X, Y + v) = FD(X, Y) + ‖v‖² + 2 v·(μ_Y − μ_X). */
        for (size_t j = 0; j < dim; j++) {
            double mx = 0, my = 0;
            for (size_t i = 0; i < n; i++)
                mx += x[i * dim + j];
            for (size_t i = 0; i < m; i++)
                my += y[i * dim + j];
            vdm += v[j] * (my / m - mx / n);
        }
        /* Rounding bound: a few 1e-16 relative of the traces, amplified
         * by the square roots of small eigenvalues; 1e-10 of the trace is
         * far above it and far below any modelling error. */
        double tol = 1e-10 * trace;
        double self, xy, yx, shift, both, xyv;
        ck_assert_ok(sm_metric_frechet_distance(x, n, x, n, dim, &self, NULL));
        ck_assert_msg(self <= tol, "dim %zu: FD(X, X) = %g", dim, self);
        ck_assert_ok(sm_metric_frechet_distance(x, n, y, m, dim, &xy, NULL));
        ck_assert_ok(sm_metric_frechet_distance(y, m, x, n, dim, &yx, NULL));
        ck_assert_msg(fabs(xy - yx) <= tol, "dim %zu: FD(X,Y) %.17g FD(Y,X) %.17g", dim, xy, yx);
        ck_assert_msg(fabs(xy - ref) <= tol, "dim %zu: FD %.17g reference %.17g", dim, xy, ref);
        ck_assert_ok(sm_metric_frechet_distance(x, n, xv, n, dim, &shift, NULL));
        ck_assert_msg(fabs(shift - v2) <= tol + 1e-14 * v2,
                      "dim %zu: FD(X, X+v) %.17g, |v|² %.17g", dim, shift, v2);
        ck_assert_ok(sm_metric_frechet_distance(xv, n, yv, m, dim, &both, NULL));
        ck_assert_msg(fabs(both - xy) <= tol, "dim %zu: FD(X+v, Y+v) %.17g, FD(X,Y) %.17g", dim,
                      both, xy);
        ck_assert_ok(sm_metric_frechet_distance(x, n, yv, m, dim, &xyv, NULL));
        double expect = xy + v2 + 2.0 * vdm;
        ck_assert_msg(fabs(xyv - expect) <= tol + 1e-12 * (v2 + fabs(vdm)),
                      "dim %zu: FD(X, Y+v) %.17g, expected %.17g", dim, xyv, expect);
        free(x);
        free(y);
        free(xv);
        free(yv);
    }
    sm_rng_free(r);
}
END_TEST

START_TEST(frechet_singular_and_nonfinite)
{
    sm_rng *r = rng_seeded(900);
    /* Fewer points than dimensions, and a constant coordinate (as the
     * blank border pixels of digit images): singular covariances, whose
     * rounding-negative eigenvalues are taken as 0. */
    const size_t dim = 30, n = 12, m = 20;
    float *x = normal_points(r, n, dim, 0.0f, 1.0f), *y = normal_points(r, m, dim, 0.0f, 2.0f);
    for (size_t i = 0; i < n; i++)
        x[i * dim + 4] = 0.0f;
    for (size_t i = 0; i < m; i++)
        y[i * dim + 4] = 0.0f;
    double trace, ref = ref_frechet(x, n, y, m, dim, &trace), fd, self;
    ck_assert_ok(sm_metric_frechet_distance(x, n, y, m, dim, &fd, NULL));
    /* Square roots of eigenvalues that are 0 in exact arithmetic carry
     * errors of about √(ε·‖C‖²) = 1e-8·‖C‖ each. */
    ck_assert_msg(fabs(fd - ref) <= 1e-6 * trace, "FD %.17g reference %.17g", fd, ref);
    ck_assert_ok(sm_metric_frechet_distance(x, n, x, n, dim, &self, NULL));
    ck_assert_msg(self <= 1e-6 * trace, "FD(X, X) = %g, trace %g", self, trace);

    /* Non-finite generated rows are counted and left out: the result is
     * the one of the finite rows, bit for bit. */
    float *yb = malloc((m + 3) * dim * sizeof(float));
    memcpy(yb, y, 5 * dim * sizeof(float));
    for (size_t j = 0; j < dim; j++)
        yb[5 * dim + j] = 1.0f;
    yb[5 * dim + 7] = NAN;
    for (size_t j = 0; j < dim; j++)
        yb[6 * dim + j] = INFINITY;
    memcpy(yb + 7 * dim, y + 5 * dim, (m - 5) * dim * sizeof(float));
    for (size_t j = 0; j < dim; j++)
        yb[(m + 2) * dim + j] = j == 0 ? -INFINITY : 0.0f;
    double fdb;
    size_t nf = 0;
    ck_assert_ok(sm_metric_frechet_distance(x, n, yb, m + 3, dim, &fdb, &nf));
    ck_assert_uint_eq(nf, 3);
    ck_assert(fdb == fd);

    /* Two points in each set: the smallest allowed. */
    const float a[4] = {0, 0, 2, 0}, b[4] = {1, 1, 1, 3};
    /* μ₁ = (1, 0), C₁ = diag(2, 0); μ₂ = (1, 2), C₂ = diag(0, 2): the
     * product is 0, so FD = 4 + 2 + 2. */
    ck_assert_ok(sm_metric_frechet_distance(a, 2, b, 2, 2, &fd, NULL));
    ck_assert_double_eq_tol(fd, 8.0, 1e-12);
    free(x);
    free(y);
    free(yb);
    sm_rng_free(r);
}
END_TEST

START_TEST(frechet_errors)
{
    const float x[6] = {0, 0, 1, 0, 2, 1}, y[6] = {0, 1, 1, 1, 3, 3};
    const float y1nan[6] = {0, 1, NAN, 1, 3, INFINITY}, xnan[6] = {0, 0, 1, NAN, 2, 1};
    double fd = 7;
    size_t nf = 7;
    ck_assert_status(sm_metric_frechet_distance(x, 3, y, 3, 2, NULL, &nf), SM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "sm_metric_frechet_distance: out_fd"));
    ck_assert_status(sm_metric_frechet_distance(NULL, 3, y, 3, 2, &fd, &nf), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_metric_frechet_distance(x, 3, NULL, 3, 2, &fd, &nf), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_metric_frechet_distance(x, 1, y, 3, 2, &fd, &nf), SM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), ">= 2"));
    ck_assert_status(sm_metric_frechet_distance(x, 3, y, 1, 2, &fd, &nf), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_metric_frechet_distance(x, 3, y, 3, 0, &fd, &nf), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_metric_frechet_distance(xnan, 3, y, 3, 2, &fd, &nf), SM_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "real point 1"));
    ck_assert_status(sm_metric_frechet_distance(x, 3, y1nan, 3, 2, &fd, &nf), SM_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "only 1 of 3"));
    ck_assert_status(sm_metric_frechet_distance(x, 3, y, SIZE_MAX / 4, 2, &fd, &nf),
                     SM_ERR_OVERFLOW);
    ck_assert(fd == 7 && nf == 7); /* unchanged */
    /* The eigensolver's size limit. */
    const size_t big = 32767;
    float *bx = calloc(2 * big, sizeof(float));
    ck_assert_status(sm_metric_frechet_distance(bx, 2, bx, 2, big, &fd, &nf), SM_ERR_OVERFLOW);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "32766"));
    free(bx);
    ck_assert_ok(sm_metric_frechet_distance(x, 3, y, 3, 2, &fd, &nf));
    ck_assert(isfinite(fd) && fd > 0 && nf == 0);
}
END_TEST

/* ---- errors --------------------------------------------------------------- */

START_TEST(bad_arguments)
{
    const float x[6] = {0, 0, 1, 0, 2, 0}, y[4] = {0, 0, 1, 1};
    double v = 7;
    size_t nf = 7;
    ck_assert_status(sm_metric_coverage(NULL, 3, y, 2, 2, 0.1, &v, &nf), SM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "sm_metric_coverage: real is NULL"));
    ck_assert_status(sm_metric_coverage(x, 3, NULL, 2, 2, 0.1, &v, &nf), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_metric_coverage(x, 3, y, 2, 2, 0.1, NULL, &nf), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_metric_coverage(x, 0, y, 2, 2, 0.1, &v, &nf), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_metric_coverage(x, 3, y, 0, 2, 0.1, &v, &nf), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_metric_coverage(x, 3, y, 2, 0, 0.1, &v, &nf), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_metric_coverage(x, 3, y, 2, 2, 0.0, &v, &nf), SM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "radius"));
    ck_assert_status(sm_metric_coverage(x, 3, y, 2, 2, -1.0, &v, &nf), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_metric_coverage(x, 3, y, 2, 2, NAN, &v, &nf), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_metric_coverage(x, 3, y, 2, 2, INFINITY, &v, &nf), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_metric_coverage(x, SIZE_MAX / 4, y, 2, 2, 0.1, &v, &nf),
                     SM_ERR_OVERFLOW);
    ck_assert_status(sm_metric_precision(x, 3, y, 2, 2, 0.1, NULL, NULL), SM_ERR_INVALID_ARG);
    ck_assert_status(sm_metric_coverage_precision(x, 3, y, 2, 2, 0.1, NULL, NULL, NULL),
                     SM_ERR_INVALID_ARG);
    const float xbad[6] = {0, 0, 1, NAN, 2, 0};
    ck_assert_status(sm_metric_precision(xbad, 3, y, 2, 2, 0.1, &v, NULL), SM_ERR_NONFINITE);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "real point 1"));
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "column 1"));
    ck_assert_double_eq(v, 7); /* unchanged */
    ck_assert_uint_eq(nf, 7);

    const int32_t lab[3] = {0, 1, 2}, labneg[3] = {0, -1, 0};
    double pm[2];
    ck_assert_status(sm_metric_per_mode_coverage(x, lab, 3, y, 2, 2, 0.1, pm, 2, NULL),
                     SM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "label 2"));
    ck_assert_status(sm_metric_per_mode_coverage(x, labneg, 3, y, 2, 2, 0.1, pm, 2, NULL),
                     SM_ERR_INVALID_ARG);
    ck_assert_status(sm_metric_per_mode_coverage(x, NULL, 3, y, 2, 2, 0.1, pm, 2, NULL),
                     SM_ERR_INVALID_ARG);
    ck_assert_status(sm_metric_per_mode_coverage(x, lab, 3, y, 2, 2, 0.1, NULL, 2, NULL),
                     SM_ERR_INVALID_ARG);
    ck_assert_status(sm_metric_per_mode_coverage(x, lab, 3, y, 2, 2, 0.1, pm, 0, NULL),
                     SM_ERR_INVALID_ARG);

    double p;
    /* k must be below the number of real points (and of finite samples for
     * recall); the default k_dc = 5 needs 6 real points. */
    ck_assert_status(sm_metric_prdc(x, 3, y, 2, 2, 3, 1, &p, NULL, NULL, NULL, NULL),
                     SM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "k_pr"));
    ck_assert_status(sm_metric_prdc(x, 3, y, 2, 2, 1, 0, NULL, NULL, &p, NULL, NULL),
                     SM_ERR_INVALID_ARG);
    ck_assert_status(sm_metric_prdc(x, 3, y, 2, 2, 2, 1, NULL, &p, NULL, NULL, NULL),
                     SM_ERR_INVALID_ARG);
    ck_assert_ptr_nonnull(strstr(sm_last_error(), "n_gen"));
    ck_assert_ok(sm_metric_prdc(x, 3, y, 2, 2, 1, 1, NULL, &p, NULL, NULL, NULL));
    ck_assert_status(sm_metric_prdc(NULL, 3, y, 2, 2, 1, 1, &p, NULL, NULL, NULL, NULL),
                     SM_ERR_INVALID_ARG);

    ck_assert_status(sm_metric_energy_distance(x, 3, y, 2, 2, 0, NULL, NULL, NULL),
                     SM_ERR_INVALID_ARG);
    ck_assert_status(sm_metric_mmd_rbf(x, 3, y, 2, 2, 1.0, 0, NULL, NULL, NULL, NULL),
                     SM_ERR_INVALID_ARG);
    ck_assert_status(sm_metric_mmd_rbf(x, 3, y, 2, 2, NAN, 0, NULL, &v, NULL, NULL),
                     SM_ERR_INVALID_ARG);
    ck_assert_status(sm_metric_mmd_rbf(x, 3, y, 2, 2, INFINITY, 0, NULL, &v, NULL, NULL),
                     SM_ERR_INVALID_ARG);
    ck_assert_status(sm_metric_mmd_rbf(x, 3, y, 2, 2, 1e-300, 0, NULL, &v, NULL, NULL),
                     SM_ERR_INVALID_ARG);
    ck_assert_status(sm_metric_mmd_rbf(xbad, 3, y, 2, 2, 1.0, 0, NULL, &v, NULL, NULL),
                     SM_ERR_NONFINITE);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, kdtree_matches_brute_force);
    tcase_add_test(tc, kdtree_empty_and_errors);
    tcase_add_test(tc, metrics_match_reference_on_random_sets);
    tcase_add_test(tc, coverage_precision_by_hand);
    tcase_add_test(tc, prdc_by_hand);
    tcase_add_test(tc, energy_and_mmd_by_hand);
    tcase_add_test(tc, energy_and_mmd_match_reference);
    tcase_add_test(tc, per_mode_coverage_by_hand);
    tcase_add_test(tc, limits_identical_far_and_dropped_moon);
    tcase_add_test(tc, nonfinite_samples_are_counted);
    tcase_add_test(tc, subsampled_distances);
    tcase_add_test(tc, bad_arguments);
    suite_add_tcase(s, tc);
    /* The k-d tree against the blocked brute force: the metrics (quick),
     * then every query on many data sets, which takes seconds because the
     * tree is slow in high dimension: tagged "slow", so the valgrind run
     * skips it (it runs natively and under the sanitizers). */
    TCase *methods = tcase_create("methods");
    tcase_set_timeout(methods, 120);
    tcase_add_test(methods, metrics_tree_and_brute_agree);
    suite_add_tcase(s, methods);
    TCase *exhaustive = tcase_create("methods-exhaustive");
    tcase_set_tags(exhaustive, "slow");
    tcase_set_timeout(exhaustive, 300);
    tcase_add_test(exhaustive, brute_force_matches_tree);
    suite_add_tcase(s, exhaustive);
    TCase *fd = tcase_create("frechet");
    tcase_set_timeout(fd, 120);
    tcase_add_test(fd, frechet_closed_form_diagonal);
    tcase_add_test(fd, frechet_closed_form_full_2d);
    tcase_add_test(fd, frechet_gaussian_samples);
    tcase_add_test(fd, frechet_matches_reference);
    tcase_add_test(fd, frechet_self_symmetry_translation);
    tcase_add_test(fd, frechet_singular_and_nonfinite);
    tcase_add_test(fd, frechet_errors);
    suite_add_tcase(s, fd);
    return sm_test_run(s);
}
