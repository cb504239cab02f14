/* The worker pool (lib/pool.c) and sm_net_default_threads().
 *
 * The pool chooses by itself, from its own pass times, whether a pass runs
 * on the workers or on the calling thread alone, and probes the other way
 * now and then (after a few epochs of at least 100 ms). The first test
 * runs passes for longer than that, so that both ways are taken, and checks
 * that every shard of every pass runs exactly once and sees its own
 * context: what a pass computes must not depend on the way it ran. */
#define _GNU_SOURCE 1 /* sched_getaffinity, CPU_SET */
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "testutil.h"

#include "pool-private.h"

enum { MAX_SHARDS = 9 };

typedef struct {
    unsigned pass;
    atomic_uint runs[MAX_SHARDS];
    unsigned seen_pass[MAX_SHARDS];
    double out[MAX_SHARDS];
} job;

static void shard_fn(void *ctx, size_t s)
{
    job *j = ctx;
    atomic_fetch_add(&j->runs[s], 1);
    j->seen_pass[s] = j->pass;
    double acc = 0;
    for (unsigned i = 0; i < 2000; i++) /* a little work, so passes overlap */
        acc += (double)((i * (s + 1) + j->pass) % 7);
    j->out[s] = acc;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void run_passes(size_t workers)
{
    sm__pool *p = sm__pool_new(workers);
    ck_assert_ptr_nonnull(p);
    job j;
    memset(&j, 0, sizeof j);
    const double t0 = now();
    /* 1.5 s of passes: the first probe comes after about 0.4 s. */
    for (j.pass = 1; now() - t0 < 1.5; j.pass++) {
        const size_t shards = 2 + j.pass % (MAX_SHARDS - 1);
        for (size_t s = 0; s < MAX_SHARDS; s++)
            atomic_store(&j.runs[s], 0);
        sm__pool_run(p, shard_fn, &j, shards);
        for (size_t s = 0; s < MAX_SHARDS; s++) {
            ck_assert_uint_eq(atomic_load(&j.runs[s]), s < shards ? 1u : 0u);
            if (s < shards) {
                ck_assert_uint_eq(j.seen_pass[s], j.pass);
                double want = 0;
                for (unsigned i = 0; i < 2000; i++)
                    want += (double)((i * (s + 1) + j.pass) % 7);
                ck_assert(j.out[s] == want);
            }
        }
    }
    ck_assert_uint_gt(j.pass, 100);
    sm__pool_free(p);
}

START_TEST(every_shard_once_whichever_way)
{
    run_passes(1);
    run_passes(3);
}
END_TEST

START_TEST(default_threads_follow_the_affinity_mask)
{
    const size_t n = sm_net_default_threads();
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    ck_assert_uint_ge(n, 1);
    ck_assert_uint_le(n, 256);
    if (online > 0)
        ck_assert_uint_le(n, (size_t)online);
    cpu_set_t all, one;
    ck_assert_int_eq(sched_getaffinity(0, sizeof all, &all), 0);
    ck_assert_uint_le(n, (size_t)CPU_COUNT(&all));
    int first = -1;
    for (int c = 0; c < CPU_SETSIZE && first < 0; c++)
        if (CPU_ISSET(c, &all))
            first = c;
    ck_assert_int_ge(first, 0);
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    ck_assert_int_eq(sched_setaffinity(0, sizeof one, &one), 0);
    const size_t pinned = sm_net_default_threads();
    ck_assert_int_eq(sched_setaffinity(0, sizeof all, &all), 0);
    ck_assert_uint_eq(pinned, 1);
    ck_assert_uint_eq(sm_net_default_threads(), n);
    /* The count is one a network accepts. */
    sm_rng *r;
    sm_net *net;
    ck_assert_ok(sm_rng_new(&r, 1));
    ck_assert_ok(sm_net_new(&net, 2, 8, 1, r));
    ck_assert_ok(sm_net_set_threads(net, n));
    ck_assert_uint_eq(sm_net_threads(net), n);
    sm_net_free(net);
    sm_rng_free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("pool");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, default_threads_follow_the_affinity_mask);
    suite_add_tcase(s, tc);
    /* Seconds of passes whose workers spin while they wait: under
     * valgrind, which runs one thread at a time, far too few passes would
     * run. Tagged "slow" so the valgrind run skips it (see test-threads.c);
     * the plain and sanitizer runs execute it. */
    TCase *modes = tcase_create("modes");
    tcase_set_tags(modes, "slow");
    tcase_set_timeout(modes, 300);
    tcase_add_test(modes, every_shard_once_whichever_way);
    suite_add_tcase(s, modes);
    return sm_test_run(s);
}
