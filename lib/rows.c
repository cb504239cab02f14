/* Splitting rows between threads and adding their results in order. */
#include "rows-private.h"

static size_t div_up(size_t a, size_t b)
{
    return a / b + (a % b != 0);
}

size_t sm__rows_split(size_t n, size_t threads, size_t cap, sm__share *share)
{
    size_t used = div_up(n, SM__MIN_SHARE_ROWS);
    if (used > threads)
        used = threads;
    if (used < div_up(n, cap))
        used = div_up(n, cap);
    const size_t chunk = div_up(n, used);
    for (size_t s = 0; s < threads; s++) {
        size_t first = s * chunk;
        share[s].first = s < used && first < n ? first : 0;
        share[s].count = s < used && first < n ? (n - first < chunk ? n - first : chunk) : 0;
    }
    return used;
}

void sm__rows_run(sm__pool *pool, sm__pool_fn fn, void *ctx, size_t used)
{
    if (used <= 1 || !pool)
        for (size_t s = 0; s < used; s++)
            fn(ctx, s);
    else
        sm__pool_run(pool, fn, ctx, used);
}

size_t sm__slice(size_t n, size_t parts, size_t s, size_t *first)
{
    const size_t per = (n / parts + 15) & ~(size_t)15;
    *first = s * per;
    if (*first >= n)
        return 0;
    return n - *first < per ? n - *first : per;
}

void sm__rows_reduce(float *dst, float *const *src, size_t count, size_t n)
{
    for (size_t s = 0; s < count; s++) {
        const float *g = src[s];
        for (size_t i = 0; i < n; i++)
            dst[i] += g[i];
    }
}
