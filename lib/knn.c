/* Exact nearest-neighbour queries for the metrics, by k-d tree or by blocked
 * brute force (see knn-private.h).
 *
 * The brute-force error bound. Let a, b be two rows, c the common shift and
 * a' = fl(a − c), b' = fl(b − c) their shifted float copies, n_a = ‖a'‖²,
 * n_b = ‖b'‖² (summed in double, error negligible) and g = fl(a'·b') the
 * sgemm product over k = dim terms. The estimate e = n_a + n_b − 2g differs
 * from sm__sqdist(a, b) by at most
 *   - γ_k·(n_a + n_b) for the float dot product (|fl(a'·b') − a'·b'| <=
 *     γ_k‖a'‖‖b'‖ in any summation order, with or without FMA;
 *     γ_k = k·u/(1 − k·u), u = 2⁻²⁴),
 *   - about 4u·(n_a + n_b) for the rounding of the shift (a' − b' is
 *     a − b up to u·(‖a − c‖ + ‖b − c‖) in norm),
 *   - a few 2⁻⁵³·(n_a + n_b) for sm__sqdist's own rounding and the double
 *     arithmetic of the bounds below, and
 *   - k·2⁻¹⁴⁹ absolute for float products that underflow.
 * KNN_C1 below is about twice the relative total (k <= 2¹⁶; measured errors
 * stay under a tenth of the bound), KNN_C2 hundreds of times the absolute
 * one. Overflow is excluded by requiring |a'_j|²·k <= 2¹⁰⁰ for every
 * coordinate. So
 *   lo = (1 − C1)·n_a + (1 − C1)·n_b − C2 − 2g <= sm__sqdist(a, b),
 *   hi = (1 + C1)·n_a + (1 + C1)·n_b + C2 − 2g >= sm__sqdist(a, b),
 * and a comparison with a threshold r is settled by lo and hi unless r lies
 * between them; then sm__sqdist() decides. The rows' (1 ∓ C1)·n are
 * precomputed, so a block's lower bounds are one vectorized pass. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blas-private.h"
#include "internal.h"
#include "kdtree-private.h"
#include "knn-private.h"

/* Query rows and point columns per block of products: 256 × 1024 floats. */
enum { KNN_QB = 256, KNN_PB = 1024 };

#define KNN_C1(dim) (((double)(dim) + 8.0) * 0x1p-23)
#define KNN_C2(dim) (((double)(dim) + 8.0) * 0x1p-140)
#define KNN_MAX_SQ 0x1p100

struct sm__knn {
    sm__knn_method method; /* SM__KNN_TREE or SM__KNN_BRUTE */
    size_t n, dim;
    const char *fn;
    const float *base;     /* the caller's rows */
    size_t *orig;          /* n: row of point pos in base; NULL when tree is set */
    sm_kdtree *tree;       /* an indexed set of the tree method */
    float *shifted;        /* brute force: n × dim, fl(row − centre) */
    double *nlo, *nhi;     /* brute force: n, (1 ∓ C1)·‖shifted row‖² */
    sm__blas *blas;        /* brute force, one thread */
};

sm__knn_method sm__knn_method_used(const sm__knn *s)
{
    return s->method;
}

size_t sm__knn_size(const sm__knn *s)
{
    return s->n;
}

size_t sm__knn_index(const sm__knn *s, size_t pos)
{
    return s->tree ? sm__kdtree_index(s->tree, pos) : s->orig[pos];
}

/* The caller's coordinates of point pos: what sm__sqdist() is taken on. */
static inline const float *point(const sm__knn *s, size_t pos)
{
    return s->tree ? sm__kdtree_point(s->tree, pos) : s->base + s->orig[pos] * s->dim;
}

void sm__knn_free(sm__knn *s)
{
    if (!s)
        return;
    sm__kdtree_free(s->tree);
    free(s->orig);
    free(s->shifted);
    free(s->nlo);
    free(s->nhi);
    sm__blas_free(s->blas);
    free(s);
}

static sm_status nomem(const char *fn, const char *what)
{
    return sm__error(SM_ERR_NOMEM, "%s: out of memory for %s", fn, what);
}

/* One set: a tree over the finite rows (tree method, indexed), or the list
 * of finite rows (tree method, not indexed), or the finite rows shifted by
 * centre with their squared norms (brute force). */
static sm_status set_new(sm__knn **out, const float *x, size_t n, size_t dim,
                         sm__knn_method method, int indexed, const float *centre,
                         const char *fn, const char *which)
{
    *out = NULL;
    sm__knn *s = calloc(1, sizeof *s);
    if (!s)
        return nomem(fn, "a point set");
    s->method = method;
    s->dim = dim;
    s->fn = fn;
    s->base = x;
    if (method == SM__KNN_TREE && indexed) {
        sm_status st = sm__kdtree_build(&s->tree, x, n, dim, NULL);
        if (st) {
            sm__knn_free(s);
            if (st == SM_ERR_NOMEM)
                return sm__error(st, "%s: out of memory for the k-d tree of the %s points", fn,
                                 which);
            return sm__error(st, "%s: cannot build the k-d tree of the %s points (%s)", fn,
                             which, sm_strerror(st));
        }
        s->n = sm__kdtree_size(s->tree);
        *out = s;
        return SM_OK;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        m += (size_t)sm__row_finite(x + i * dim, dim);
    s->n = m;
    if (m == 0) {
        *out = s;
        return SM_OK;
    }
    s->orig = sm__calloc(m, sizeof(size_t));
    if (!s->orig) {
        sm__knn_free(s);
        return nomem(fn, "a point set");
    }
    for (size_t i = 0, k = 0; i < n; i++)
        if (sm__row_finite(x + i * dim, dim))
            s->orig[k++] = i;
    if (method == SM__KNN_BRUTE) {
        s->shifted = sm__calloc(m, dim * sizeof(float)); /* m·dim <= n·dim: checked */
        s->nlo = sm__calloc(m, sizeof(double));
        s->nhi = sm__calloc(m, sizeof(double));
        s->blas = sm__blas_new(1);
        if (!s->shifted || !s->nlo || !s->nhi || !s->blas) {
            sm__knn_free(s);
            return nomem(fn, "a shifted copy of the points");
        }
        const double c1 = KNN_C1(dim);
        for (size_t pos = 0; pos < m; pos++) {
            const float *row = x + s->orig[pos] * dim;
            float *sh = s->shifted + pos * dim;
            double nn = 0.0;
            for (size_t j = 0; j < dim; j++) {
                sh[j] = row[j] - centre[j];
                nn += (double)sh[j] * (double)sh[j];
            }
            s->nlo[pos] = nn * (1.0 - c1);
            s->nhi[pos] = nn * (1.0 + c1);
        }
    }
    *out = s;
    return SM_OK;
}

/* The real points' mean in float, and whether every shifted coordinate of
 * both sets keeps the products clear of overflow (see the bound above). */
static int brute_centre(float *centre, const float *real, size_t n_real, const float *gen,
                        size_t n_gen, size_t dim, double *acc)
{
    memset(acc, 0, dim * sizeof(double));
    for (size_t i = 0; i < n_real; i++)
        for (size_t j = 0; j < dim; j++)
            acc[j] += (double)real[i * dim + j];
    for (size_t j = 0; j < dim; j++)
        centre[j] = (float)(acc[j] / (double)n_real);
    double biggest = 0.0;
    for (int set = 0; set < 2; set++) {
        const float *x = set ? gen : real;
        size_t n = set ? n_gen : n_real;
        for (size_t i = 0; i < n; i++) {
            const float *row = x + i * dim;
            if (set && !sm__row_finite(row, dim))
                continue;
            for (size_t j = 0; j < dim; j++) {
                double v = fabs((double)(float)(row[j] - centre[j]));
                biggest = v > biggest ? v : biggest;
            }
        }
    }
    return biggest * biggest * (double)dim <= KNN_MAX_SQ;
}

sm_status sm__knn_pair_new(sm__knn **real_out, sm__knn **gen_out, const float *real,
                           size_t n_real, const float *gen, size_t n_gen, size_t dim,
                           sm__knn_method method, int index_real, int index_gen,
                           const char *fn)
{
    *real_out = *gen_out = NULL;
    if (method == SM__KNN_AUTO)
        method = dim >= SM__KNN_BRUTE_MIN_DIM ? SM__KNN_BRUTE : SM__KNN_TREE;
    if (dim > SM__KNN_BRUTE_MAX_DIM)
        method = SM__KNN_TREE;
    float *centre = NULL;
    if (method == SM__KNN_BRUTE) {
        centre = sm__calloc(dim, sizeof(float));
        double *acc = sm__calloc(dim, sizeof(double));
        if (!centre || !acc) {
            free(centre);
            free(acc);
            return nomem(fn, "the centre of the points");
        }
        if (!brute_centre(centre, real, n_real, gen, n_gen, dim, acc))
            method = SM__KNN_TREE;
        free(acc);
    }
    sm_status st = set_new(real_out, real, n_real, dim, method, index_real, centre, fn, "real");
    if (!st && (st = set_new(gen_out, gen, n_gen, dim, method, index_gen, centre, fn,
                             "generated"))) {
        sm__knn_free(*real_out);
        *real_out = NULL;
    }
    free(centre);
    return st;
}

/* ---- brute force ----------------------------------------------------------- */

/* The workspace of one query: a block of products and one row of lower
 * bounds. */
typedef struct brute_ws {
    float *g;   /* KNN_QB × KNN_PB */
    double *lo; /* KNN_PB */
} brute_ws;

static sm_status ws_new(brute_ws *w, const char *fn)
{
    w->g = sm__calloc((size_t)KNN_QB * KNN_PB, sizeof(float));
    w->lo = sm__calloc(KNN_PB, sizeof(double));
    if (w->g && w->lo)
        return SM_OK;
    free(w->g);
    free(w->lo);
    return nomem(fn, "a block of distances");
}

static void ws_free(brute_ws *w)
{
    free(w->g);
    free(w->lo);
}

/* g[i·np + j] = shifted q row (q0 + i) · shifted p row (p0 + j). */
static void products(const sm__knn *p, const sm__knn *q, size_t q0, size_t nq, size_t p0,
                     size_t np, float *g)
{
    size_t d = q->dim;
    sm__sgemm(q->blas, nq, np, d, 1.0f, q->shifted + q0 * d, (ptrdiff_t)d, 1,
              p->shifted + p0 * d, 1, (ptrdiff_t)d, 0.0f, g, (ptrdiff_t)np, 1);
}

/* lo[j] = lower bound of sm__sqdist(q row qi, p row p0 + j) for one row of
 * a block of products gi (a loop the compiler vectorizes). */
static void row_lower(const sm__knn *p, const sm__knn *q, size_t qi, size_t p0, size_t np,
                      const float *restrict gi, double *restrict lo)
{
    const double a = q->nlo[qi] - KNN_C2(q->dim);
    const double *restrict b = p->nlo + p0;
    for (size_t j = 0; j < np; j++)
        lo[j] = a + b[j] - 2.0 * (double)gi[j];
}

/* Chunks of lower bounds scanned at once: most hold no candidate. */
enum { KNN_CHUNK = 16 };

static inline size_t chunk_end(size_t j0, size_t np)
{
    return np - j0 < KNN_CHUNK ? np : j0 + KNN_CHUNK;
}

/* 1 if some lo[j], j in [j0, chunk_end), is below top (vectorizes: no
 * early exit). */
static inline int chunk_any(const double *lo, size_t j0, size_t np, double top)
{
    int any = 0;
    for (size_t j = j0, je = chunk_end(j0, np); j < je; j++)
        any |= lo[j] < top;
    return any;
}

/* 1 if some lo[j] in the chunk is below r[j] (strict) or not above it. */
static inline int chunk_any_each(const double *lo, size_t j0, size_t np, const double *r,
                                 int strict)
{
    int any = 0;
    size_t je = chunk_end(j0, np);
    if (strict)
        for (size_t j = j0; j < je; j++)
            any |= lo[j] < r[j];
    else
        for (size_t j = j0; j < je; j++)
            any |= lo[j] <= r[j];
    return any;
}

/* The matching upper bound, for one pair. */
static inline double pair_upper(const sm__knn *p, const sm__knn *q, size_t qi, size_t pj,
                                float g)
{
    return q->nhi[qi] + KNN_C2(q->dim) + p->nhi[pj] - 2.0 * (double)g;
}

static inline double exact(const sm__knn *p, const sm__knn *q, size_t qi, size_t pj)
{
    return sm__sqdist(point(q, qi), point(p, pj), q->dim);
}

static sm_status brute_radii(const sm__knn *s, size_t kk, size_t k, double *r2, size_t kb,
                             double *r2b)
{
    /* Fewer query rows per block when k is large: at most 2¹⁶ heap
     * entries (512 KB). */
    size_t qb = kk <= 256 ? KNN_QB : (size_t)KNN_QB * 256 / kk;
    qb = qb ? qb : 1;
    brute_ws w;
    sm_status st = ws_new(&w, s->fn);
    double *heaps = sm__calloc(qb, kk * sizeof(double));
    size_t *sizes = sm__calloc(qb, sizeof(size_t));
    if (st || !heaps || !sizes) {
        if (!st)
            ws_free(&w);
        free(heaps);
        free(sizes);
        return nomem(s->fn, "the neighbour lists");
    }
    for (size_t q0 = 0; q0 < s->n; q0 += qb) {
        size_t nq = s->n - q0 < qb ? s->n - q0 : qb;
        memset(sizes, 0, nq * sizeof(size_t));
        for (size_t p0 = 0; p0 < s->n; p0 += KNN_PB) {
            size_t np = s->n - p0 < KNN_PB ? s->n - p0 : KNN_PB;
            products(s, s, q0, nq, p0, np, w.g);
            for (size_t i = 0; i < nq; i++) {
                sm__heap h = {heaps + i * kk, NULL, sizes[i], kk};
                row_lower(s, s, q0 + i, p0, np, w.g + i * np, w.lo);
                /* A point enters only if it may be strictly nearer than
                 * the current (k+1)-th: lo < that distance. */
                double top = h.size < kk ? INFINITY : h.d2[0];
                for (size_t j0 = 0; j0 < np; j0 += KNN_CHUNK) {
                    if (!chunk_any(w.lo, j0, np, top))
                        continue;
                    for (size_t j = j0, je = chunk_end(j0, np); j < je; j++)
                        if (w.lo[j] < top) {
                            sm__heap_offer(&h, exact(s, s, q0 + i, p0 + j), 0);
                            top = h.size < kk ? INFINITY : h.d2[0];
                        }
                }
                sizes[i] = h.size;
            }
        }
        for (size_t i = 0; i < nq; i++) {
            sm__heap h = {heaps + i * kk, NULL, sizes[i], kk};
            sm__heap_sort(&h);
            r2[q0 + i] = h.d2[k];
            if (r2b)
                r2b[q0 + i] = h.d2[kb];
        }
    }
    ws_free(&w);
    free(heaps);
    free(sizes);
    return SM_OK;
}

static sm_status brute_count_within(const sm__knn *p, const sm__knn *q, double r2,
                                    const double *r2_each, size_t *count, unsigned char *hit)
{
    brute_ws w;
    sm_status st = ws_new(&w, q->fn);
    unsigned char *done = sm__calloc(KNN_QB, 1);
    if (st || !done) {
        if (!st)
            ws_free(&w);
        free(done);
        return nomem(q->fn, "a block of distances");
    }
    size_t c = 0;
    for (size_t q0 = 0; q0 < q->n; q0 += KNN_QB) {
        size_t nq = q->n - q0 < KNN_QB ? q->n - q0 : KNN_QB, open = nq;
        memset(done, 0, nq);
        for (size_t p0 = 0; p0 < p->n && open > 0; p0 += KNN_PB) {
            size_t np = p->n - p0 < KNN_PB ? p->n - p0 : KNN_PB;
            products(p, q, q0, nq, p0, np, w.g);
            for (size_t i = 0; i < nq; i++) {
                if (done[i])
                    continue;
                const float *gi = w.g + i * np;
                double r = r2_each ? r2_each[q0 + i] : r2;
                row_lower(p, q, q0 + i, p0, np, gi, w.lo);
                for (size_t j0 = 0; j0 < np && !done[i]; j0 += KNN_CHUNK) {
                    if (!chunk_any(w.lo, j0, np, r))
                        continue;
                    for (size_t j = j0, je = chunk_end(j0, np); j < je; j++) {
                        if (!(w.lo[j] < r))
                            continue; /* certainly not strictly within */
                        if (pair_upper(p, q, q0 + i, p0 + j, gi[j]) < r ||
                            exact(p, q, q0 + i, p0 + j) < r) {
                            done[i] = 1;
                            open--;
                            break;
                        }
                    }
                }
            }
        }
        for (size_t i = 0; i < nq; i++) {
            c += done[i];
            if (hit)
                hit[q0 + i] = done[i];
        }
    }
    *count = c;
    ws_free(&w);
    free(done);
    return SM_OK;
}

static sm_status brute_count_in_balls(const sm__knn *p, const double *r2p, const sm__knn *q,
                                      int strict, size_t limit, size_t *count)
{
    brute_ws w;
    sm_status st = ws_new(&w, q->fn);
    size_t *cnt = sm__calloc(KNN_QB, sizeof(size_t));
    if (st || !cnt) {
        if (!st)
            ws_free(&w);
        free(cnt);
        return nomem(q->fn, "a block of distances");
    }
    size_t total = 0;
    for (size_t q0 = 0; q0 < q->n; q0 += KNN_QB) {
        size_t nq = q->n - q0 < KNN_QB ? q->n - q0 : KNN_QB, open = nq;
        memset(cnt, 0, nq * sizeof(size_t));
        for (size_t p0 = 0; p0 < p->n && open > 0; p0 += KNN_PB) {
            size_t np = p->n - p0 < KNN_PB ? p->n - p0 : KNN_PB;
            const double *r = r2p + p0;
            products(p, q, q0, nq, p0, np, w.g);
            for (size_t i = 0; i < nq; i++) {
                if (cnt[i] >= limit)
                    continue;
                const float *gi = w.g + i * np;
                size_t ci = cnt[i];
                row_lower(p, q, q0 + i, p0, np, gi, w.lo);
                for (size_t j0 = 0; j0 < np && ci < limit; j0 += KNN_CHUNK) {
                    if (!chunk_any_each(w.lo, j0, np, r, strict))
                        continue;
                    for (size_t j = j0, je = chunk_end(j0, np); j < je && ci < limit; j++) {
                        if (strict ? !(w.lo[j] < r[j]) : !(w.lo[j] <= r[j]))
                            continue; /* certainly outside */
                        double hi = pair_upper(p, q, q0 + i, p0 + j, gi[j]);
                        if (strict ? hi < r[j] : hi <= r[j]) {
                            ci++;
                        } else {
                            double d = exact(p, q, q0 + i, p0 + j);
                            ci += (size_t)(strict ? d < r[j] : d <= r[j]);
                        }
                    }
                }
                cnt[i] = ci;
                open -= (size_t)(ci >= limit);
            }
        }
        for (size_t i = 0; i < nq; i++)
            total += cnt[i];
    }
    *count = total;
    ws_free(&w);
    free(cnt);
    return SM_OK;
}

/* ---- the queries --------------------------------------------------------- */

sm_status sm__knn_radii(const sm__knn *s, size_t k, double *r2, size_t kb, double *r2b)
{
    size_t kk = (r2b && kb > k ? kb : k) + 1;
    if (s->method == SM__KNN_BRUTE)
        return brute_radii(s, kk, k, r2, kb, r2b);
    double *buf = sm__calloc(kk, sizeof(double));
    if (!buf)
        return nomem(s->fn, "the neighbour lists");
    for (size_t pos = 0; pos < s->n; pos++) {
        sm__kdtree_knn(s->tree, point(s, pos), kk, buf, NULL);
        r2[pos] = buf[k];
        if (r2b)
            r2b[pos] = buf[kb];
    }
    free(buf);
    return SM_OK;
}

sm_status sm__knn_count_within(const sm__knn *p, const sm__knn *q, double r2,
                               const double *r2_each, size_t *count, unsigned char *hit)
{
    if (p->method == SM__KNN_BRUTE)
        return brute_count_within(p, q, r2, r2_each, count, hit);
    size_t c = 0;
    for (size_t pos = 0; pos < q->n; pos++) {
        int h = sm__kdtree_any_within(p->tree, point(q, pos), r2_each ? r2_each[pos] : r2);
        c += (size_t)h;
        if (hit)
            hit[pos] = (unsigned char)h;
    }
    *count = c;
    return SM_OK;
}

sm_status sm__knn_count_in_balls(sm__knn *p, const double *r2p, const sm__knn *q, int strict,
                                 size_t limit, size_t *count)
{
    *count = 0;
    if (limit == 0)
        return SM_OK;
    if (p->method == SM__KNN_BRUTE)
        return brute_count_in_balls(p, r2p, q, strict, limit, count);
    sm__kdtree_set_radii(p->tree, r2p);
    size_t c = 0;
    for (size_t pos = 0; pos < q->n; pos++)
        c += sm__kdtree_count_in_balls(p->tree, point(q, pos), strict, limit);
    sm__kdtree_set_radii(p->tree, NULL);
    *count = c;
    return SM_OK;
}
