/* Persistent worker threads for data-parallel passes.
 *
 * A training step dispatches work twice (forward, backward) and each part
 * takes about a millisecond, so waking sleeping threads through a condition
 * variable every time would cost a noticeable share. Workers therefore spin
 * briefly on an atomic generation counter before they block, and the caller
 * spins briefly on the count of finished shards before it blocks.
 *
 * Shards are claimed, not assigned: the caller and the workers take the
 * next unclaimed shard until none is left. When another process holds a
 * core and a worker is not running, the caller does that worker's shards
 * itself instead of waiting a scheduler time slice for it, so more threads
 * than free cores cost little. Which thread runs a shard never changes
 * what the shard computes: results are the same bits. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "pool-private.h"

#define SPIN_ITERS 2000

/* `claim` packs, in one atomic word, the generation (bits 32–63), the
 * number of shards (bits 16–31) and the next unclaimed shard (bits 0–15):
 * a thread decides from this word alone whether a shard is left to claim,
 * so one that wakes late for an old generation neither takes a shard of
 * the new one nor reads the caller's fields while they are rewritten. */
#define CLAIM_WORD(gen, shards) (((uint64_t)(uint32_t)(gen) << 32) | ((uint64_t)(shards) << 16))

struct sm__pool {
    size_t workers;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    atomic_ulong generation;
    _Atomic uint64_t claim;  /* see CLAIM_WORD */
    atomic_size_t finished;  /* shards of this generation done */
    atomic_int stop;
    sm__pool_fn fn;
    void *ctx;
};

typedef struct {
    sm__pool *pool;
} worker_arg;

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Claims and runs shards of generation g until none is left. fn and ctx
 * are read only after a claim succeeds: the caller does not start the next
 * generation (and rewrite them) before every claimed shard has finished. */
static void run_shards(sm__pool *p, unsigned long g)
{
    uint64_t cur = atomic_load_explicit(&p->claim, memory_order_acquire);
    for (;;) {
        if ((uint32_t)(cur >> 32) != (uint32_t)g)
            return; /* another generation */
        const size_t n = (size_t)((cur >> 16) & 0xffff), s = (size_t)(cur & 0xffff);
        if (s >= n)
            return; /* every shard is taken */
        if (!atomic_compare_exchange_weak_explicit(&p->claim, &cur, cur + 1,
                                                   memory_order_acq_rel, memory_order_acquire))
            continue; /* cur was reloaded */
        p->fn(p->ctx, s);
        if (atomic_fetch_add_explicit(&p->finished, 1, memory_order_acq_rel) + 1 == n) {
            /* The last shard: wake the caller if it sleeps. Signalling
             * under the mutex pairs with its check-then-wait there. */
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
        cur = atomic_load_explicit(&p->claim, memory_order_acquire);
    }
}

static void *worker_main(void *arg)
{
    worker_arg *wa = arg;
    sm__pool *p = wa->pool;
    free(wa);
    unsigned long seen = 0;
    for (;;) {
        unsigned long g;
        int spins = 0;
        while ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen &&
               spins < SPIN_ITERS) {
            cpu_relax();
            spins++;
        }
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            while ((g = atomic_load_explicit(&p->generation, memory_order_acquire)) == seen &&
                   !atomic_load(&p->stop))
                pthread_cond_wait(&p->wake, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->stop))
            return NULL;
        seen = g;
        run_shards(p, g);
    }
}

sm__pool *sm__pool_new(size_t workers)
{
    sm__pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->threads = calloc(workers, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->generation, 0);
    atomic_init(&p->claim, 0);
    atomic_init(&p->finished, 0);
    atomic_init(&p->stop, 0);
    for (size_t i = 0; i < workers; i++) {
        worker_arg *wa = malloc(sizeof *wa);
        if (wa)
            wa->pool = p;
        if (!wa || pthread_create(&p->threads[i], NULL, worker_main, wa) != 0) {
            free(wa);
            p->workers = i;
            sm__pool_free(p);
            return NULL;
        }
        p->workers = i + 1;
    }
    return p;
}

void sm__pool_run(sm__pool *p, sm__pool_fn fn, void *ctx, size_t shards)
{
    /* Every shard of the previous generation has finished, so no thread
     * reads fn or ctx now; the claim word's release store publishes them
     * with the new generation and its number of shards. */
    p->fn = fn;
    p->ctx = ctx;
    atomic_store_explicit(&p->finished, 0, memory_order_relaxed);
    const unsigned long g =
        atomic_load_explicit(&p->generation, memory_order_relaxed) + 1;
    atomic_store_explicit(&p->claim, CLAIM_WORD(g, shards), memory_order_release);
    pthread_mutex_lock(&p->mu);
    atomic_store_explicit(&p->generation, g, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    run_shards(p, g);
    int spins = 0;
    while (atomic_load_explicit(&p->finished, memory_order_acquire) != shards &&
           spins < SPIN_ITERS) {
        cpu_relax();
        spins++;
    }
    if (atomic_load_explicit(&p->finished, memory_order_acquire) != shards) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load_explicit(&p->finished, memory_order_acquire) != shards)
            pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}

void sm__pool_free(sm__pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->stop, 1);
    atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < p->workers; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p);
}
