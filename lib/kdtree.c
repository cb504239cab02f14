/* A k-d tree for exact nearest-neighbour queries (see kdtree-private.h).
 *
 * The tree is built top-down: each node holds a contiguous range of the
 * copied points and their bounding box; a node with more than KD_LEAF points
 * is split at the median of its widest coordinate (quickselect), so the two
 * halves differ by at most one point and the depth is at most
 * ceil(log2 n). Nodes are stored in preorder: the left child of node i is
 * i + 1, the right child's index is stored. Queries walk the tree with an
 * explicit stack, nearer child first, and prune a node when the squared
 * distance from the query to its box already rules it out.
 *
 * This file uses nothing from the rest of the library except inline helpers,
 * so a test program can compile it in to reach the private functions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kdtree-private.h"

#define KD_LEAF 8
/* Pending nodes on a query's stack: at most one per level plus two; the
 * depth is at most 64 because sizes halve at each level. */
#define KD_STACK 160

typedef struct kd_node {
    size_t start, count; /* range of points in internal order */
    size_t right;        /* index of the right child; 0 for a leaf */
} kd_node;

struct sm_kdtree {
    size_t n, dim, n_nodes;
    float *pts;          /* n × dim, internal order */
    size_t *orig;        /* n: row index in the caller's array */
    kd_node *nodes;      /* n_nodes, preorder */
    float *box;          /* n_nodes × 2 × dim: lo[dim] then hi[dim] */
    double *node_r2;     /* n_nodes: largest attached radius² in the subtree */
    const double *r2;    /* n, borrowed; NULL until sm__kdtree_set_radii() */
};

int sm__row_finite(const float *row, size_t dim)
{
    for (size_t j = 0; j < dim; j++)
        if (!isfinite(row[j]))
            return 0;
    return 1;
}

static size_t count_nodes(size_t n)
{
    if (n <= KD_LEAF)
        return 1;
    return 1 + count_nodes(n / 2) + count_nodes(n - n / 2); /* depth <= log2 n */
}

static void swap_rows(float *pts, size_t *orig, size_t dim, size_t i, size_t j)
{
    float *a = pts + i * dim, *b = pts + j * dim;
    for (size_t c = 0; c < dim; c++) {
        float t = a[c];
        a[c] = b[c];
        b[c] = t;
    }
    size_t t = orig[i];
    orig[i] = orig[j];
    orig[j] = t;
}

/* Quickselect on rows lo..hi (inclusive) by coordinate axis: afterwards row
 * k holds the value it would hold in sorted order, rows before it are <= and
 * rows after it are >=. Median-of-three pivot, Hoare partition (equal keys
 * are split evenly, so many duplicates stay O(n log n)). */
static void select_kth(float *pts, size_t *orig, size_t dim, size_t axis, size_t lo,
                       size_t hi, size_t k)
{
#define KEY(i) pts[(i) * dim + axis]
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (KEY(mid) < KEY(lo))
            swap_rows(pts, orig, dim, mid, lo);
        if (KEY(hi) < KEY(lo))
            swap_rows(pts, orig, dim, hi, lo);
        if (KEY(hi) < KEY(mid))
            swap_rows(pts, orig, dim, hi, mid);
        float p = KEY(mid);
        size_t i = lo, j = hi;
        for (;;) {
            while (KEY(i) < p)
                i++;
            while (KEY(j) > p)
                j--;
            if (i >= j)
                break;
            swap_rows(pts, orig, dim, i, j);
            i++;
            j--;
        }
        /* rows lo..j <= p <= rows j+1..hi, and lo <= j < hi */
        if (k <= j)
            hi = j;
        else
            lo = j + 1;
    }
#undef KEY
}

static void compute_box(const sm_kdtree *t, size_t id)
{
    const kd_node *nd = &t->nodes[id];
    size_t dim = t->dim;
    float *lo = t->box + id * 2 * dim, *hi = lo + dim;
    const float *p = t->pts + nd->start * dim;
    memcpy(lo, p, dim * sizeof(float));
    memcpy(hi, p, dim * sizeof(float));
    for (size_t i = 1; i < nd->count; i++) {
        p += dim;
        for (size_t j = 0; j < dim; j++) {
            lo[j] = p[j] < lo[j] ? p[j] : lo[j];
            hi[j] = p[j] > hi[j] ? p[j] : hi[j];
        }
    }
}

void sm__kdtree_free(sm_kdtree *t)
{
    if (!t)
        return;
    free(t->pts);
    free(t->orig);
    free(t->nodes);
    free(t->box);
    free(t->node_r2);
    free(t);
}

sm_status sm__kdtree_build(sm_kdtree **out, const float *pts, size_t n, size_t dim,
                           size_t *n_skipped)
{
    if (!out)
        return SM_ERR_INVALID_ARG;
    *out = NULL;
    if ((!pts && n) || dim == 0)
        return SM_ERR_INVALID_ARG;
    size_t total;
    if (sm__mul_size(n, dim, &total) || sm__mul_size(total, sizeof(float), &total))
        return SM_ERR_OVERFLOW;

    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        m += (size_t)sm__row_finite(pts + i * dim, dim);
    if (n_skipped)
        *n_skipped = n - m;

    sm_kdtree *t = calloc(1, sizeof *t);
    if (!t)
        return SM_ERR_NOMEM;
    t->n = m;
    t->dim = dim;
    if (m == 0) {
        *out = t;
        return SM_OK;
    }
    t->n_nodes = count_nodes(m);
    size_t boxes;
    if (sm__mul_size(t->n_nodes, 2 * dim, &boxes)) {
        sm__kdtree_free(t);
        return SM_ERR_OVERFLOW;
    }
    t->pts = malloc(m * dim * sizeof(float));
    t->orig = malloc(m * sizeof(size_t));
    t->nodes = malloc(t->n_nodes * sizeof(kd_node));
    t->box = boxes <= SIZE_MAX / sizeof(float) ? malloc(boxes * sizeof(float)) : NULL;
    t->node_r2 = malloc(t->n_nodes * sizeof(double));
    if (!t->pts || !t->orig || !t->nodes || !t->box || !t->node_r2) {
        sm__kdtree_free(t);
        return SM_ERR_NOMEM;
    }
    for (size_t i = 0, k = 0; i < n; i++) {
        const float *row = pts + i * dim;
        if (sm__row_finite(row, dim)) {
            memcpy(t->pts + k * dim, row, dim * sizeof(float));
            t->orig[k++] = i;
        }
    }

    /* Preorder build with an explicit stack of pending ranges; a pending
     * right child records its parent so the parent can point to it. */
    struct task { size_t start, count, parent; int is_right; } stack[KD_STACK];
    int sp = 0;
    size_t next = 0;
    stack[sp++] = (struct task){0, m, 0, 0};
    while (sp > 0) {
        struct task tk = stack[--sp];
        size_t id = next++;
        t->nodes[id] = (kd_node){tk.start, tk.count, 0};
        if (tk.is_right)
            t->nodes[tk.parent].right = id;
        compute_box(t, id);
        if (tk.count <= KD_LEAF)
            continue;
        const float *lo = t->box + id * 2 * dim, *hi = lo + dim;
        size_t axis = 0;
        double widest = -1.0;
        for (size_t j = 0; j < dim; j++) {
            double w = (double)hi[j] - (double)lo[j];
            if (w > widest) {
                widest = w;
                axis = j;
            }
        }
        size_t half = tk.count / 2;
        select_kth(t->pts, t->orig, dim, axis, tk.start, tk.start + tk.count - 1,
                   tk.start + half);
        stack[sp++] = (struct task){tk.start + half, tk.count - half, id, 1};
        stack[sp++] = (struct task){tk.start, half, 0, 0}; /* becomes id + 1 */
    }
    *out = t;
    return SM_OK;
}

size_t sm__kdtree_size(const sm_kdtree *t)
{
    return t ? t->n : 0;
}

const float *sm__kdtree_point(const sm_kdtree *t, size_t pos)
{
    return t->pts + pos * t->dim;
}

size_t sm__kdtree_index(const sm_kdtree *t, size_t pos)
{
    return t->orig[pos];
}

/* Squared distance from q to the box of node id; never larger than
 * sm__sqdist(q, p) for a point p in the box, rounding included (each term
 * and each partial sum is rounded monotonically, in the same order). */
static inline double box_mind2(const sm_kdtree *t, size_t id, const float *q)
{
    size_t dim = t->dim;
    const float *lo = t->box + id * 2 * dim, *hi = lo + dim;
    double s = 0.0;
    for (size_t j = 0; j < dim; j++) {
        double d = 0.0;
        if (q[j] < lo[j])
            d = (double)lo[j] - (double)q[j];
        else if (q[j] > hi[j])
            d = (double)q[j] - (double)hi[j];
        s += d * d;
    }
    return s;
}

int sm__kdtree_any_within(const sm_kdtree *t, const float *q, double r2)
{
    if (!t || t->n == 0)
        return 0;
    size_t stack[KD_STACK];
    int sp = 0;
    if (!(box_mind2(t, 0, q) < r2))
        return 0;
    stack[sp++] = 0;
    const size_t dim = t->dim;
    while (sp > 0) {
        size_t id = stack[--sp];
        const kd_node *nd = &t->nodes[id];
        if (nd->right == 0) {
            const float *p = t->pts + nd->start * dim;
            for (size_t i = 0; i < nd->count; i++, p += dim)
                if (sm__sqdist(q, p, dim) < r2)
                    return 1;
            continue;
        }
        size_t l = id + 1, r = nd->right;
        double dl = box_mind2(t, l, q), dr = box_mind2(t, r, q);
        if (dl <= dr) {
            if (dr < r2)
                stack[sp++] = r;
            if (dl < r2)
                stack[sp++] = l;
        } else {
            if (dl < r2)
                stack[sp++] = l;
            if (dr < r2)
                stack[sp++] = r;
        }
    }
    return 0;
}

size_t sm__kdtree_knn(const sm_kdtree *t, const float *q, size_t k, double *d2, size_t *idx)
{
    if (!t || t->n == 0 || k == 0)
        return 0;
    if (k > t->n)
        k = t->n;
    sm__heap h = {d2, idx, 0, k};
    size_t stack[KD_STACK];
    double sd[KD_STACK];
    int sp = 0;
    const size_t dim = t->dim;
    stack[sp] = 0;
    sd[sp++] = box_mind2(t, 0, q);
    while (sp > 0) {
        --sp;
        size_t id = stack[sp];
        /* A point must be strictly nearer than the current k-th to enter. */
        if (h.size == k && sd[sp] >= h.d2[0])
            continue;
        const kd_node *nd = &t->nodes[id];
        if (nd->right == 0) {
            const float *p = t->pts + nd->start * dim;
            for (size_t i = 0; i < nd->count; i++, p += dim)
                sm__heap_offer(&h, sm__sqdist(q, p, dim), t->orig[nd->start + i]);
            continue;
        }
        size_t l = id + 1, r = nd->right;
        double dl = box_mind2(t, l, q), dr = box_mind2(t, r, q);
        if (dl <= dr) {
            stack[sp] = r;
            sd[sp++] = dr;
            stack[sp] = l;
            sd[sp++] = dl;
        } else {
            stack[sp] = l;
            sd[sp++] = dl;
            stack[sp] = r;
            sd[sp++] = dr;
        }
    }
    sm__heap_sort(&h);
    return h.size;
}

void sm__kdtree_set_radii(sm_kdtree *t, const double *r2)
{
    if (!t)
        return;
    t->r2 = r2;
    if (!r2 || t->n == 0)
        return;
    /* Children follow their parent in preorder: fill bottom-up. */
    for (size_t id = t->n_nodes; id-- > 0;) {
        const kd_node *nd = &t->nodes[id];
        double m;
        if (nd->right == 0) {
            m = -INFINITY;
            for (size_t i = 0; i < nd->count; i++)
                if (r2[nd->start + i] > m)
                    m = r2[nd->start + i];
        } else {
            m = t->node_r2[id + 1];
            if (t->node_r2[nd->right] > m)
                m = t->node_r2[nd->right];
        }
        t->node_r2[id] = m;
    }
}

static inline int in_ball(double d2, double r2, int strict)
{
    return strict ? d2 < r2 : d2 <= r2;
}

size_t sm__kdtree_count_in_balls(const sm_kdtree *t, const float *q, int strict, size_t limit)
{
    if (!t || t->n == 0 || !t->r2 || limit == 0)
        return 0;
    size_t stack[KD_STACK];
    int sp = 0;
    size_t found = 0;
    const size_t dim = t->dim;
    /* A node can hold a hit only if its box is within its largest radius. */
    if (!in_ball(box_mind2(t, 0, q), t->node_r2[0], strict))
        return 0;
    stack[sp++] = 0;
    while (sp > 0) {
        size_t id = stack[--sp];
        const kd_node *nd = &t->nodes[id];
        if (nd->right == 0) {
            const float *p = t->pts + nd->start * dim;
            for (size_t i = 0; i < nd->count; i++, p += dim)
                if (in_ball(sm__sqdist(q, p, dim), t->r2[nd->start + i], strict) &&
                    ++found >= limit)
                    return found;
            continue;
        }
        size_t l = id + 1, r = nd->right;
        double dl = box_mind2(t, l, q), dr = box_mind2(t, r, q);
        int hl = in_ball(dl, t->node_r2[l], strict), hr = in_ball(dr, t->node_r2[r], strict);
        if (dl <= dr) {
            if (hr)
                stack[sp++] = r;
            if (hl)
                stack[sp++] = l;
        } else {
            if (hl)
                stack[sp++] = l;
            if (hr)
                stack[sp++] = r;
        }
    }
    return found;
}

int sm__brute_any_within(const float *pts, size_t n, size_t dim, const float *q, double r2)
{
    for (size_t i = 0; i < n; i++) {
        const float *p = pts + i * dim;
        if (sm__row_finite(p, dim) && sm__sqdist(q, p, dim) < r2)
            return 1;
    }
    return 0;
}

size_t sm__brute_knn(const float *pts, size_t n, size_t dim, const float *q, size_t k,
                     double *d2, size_t *idx)
{
    if (k == 0)
        return 0;
    sm__heap h = {d2, idx, 0, k};
    for (size_t i = 0; i < n; i++) {
        const float *p = pts + i * dim;
        if (sm__row_finite(p, dim))
            sm__heap_offer(&h, sm__sqdist(q, p, dim), i);
    }
    sm__heap_sort(&h);
    return h.size;
}

size_t sm__brute_count_in_balls(const float *pts, size_t n, size_t dim, const double *r2,
                                const float *q, int strict, size_t limit)
{
    size_t found = 0;
    if (limit == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const float *p = pts + i * dim;
        if (sm__row_finite(p, dim) && in_ball(sm__sqdist(q, p, dim), r2[i], strict) &&
            ++found >= limit)
            break;
    }
    return found;
}
