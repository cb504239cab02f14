/* Persistent worker threads for data-parallel passes.
 *
 * A training step dispatches work twice (forward, backward) and each part
 * takes about a millisecond, so waking sleeping threads through a condition
 * variable every time would cost a noticeable share. Workers therefore spin
 * briefly on an atomic generation counter before they block, and the caller
 * spins briefly on the count of finished shards before it blocks. (Calling
 * sched_yield() between spinning and blocking was measured slower: on a
 * loaded machine a yielding thread waits behind every other runnable one.)
 *
 * Shards are claimed, not assigned: the caller and the workers take the
 * next unclaimed shard until none is left. When another process holds a
 * core and a worker is not running, the caller does that worker's shards
 * itself instead of waiting a scheduler time slice for it, so more threads
 * than free cores cost little. Which thread runs a shard never changes
 * what the shard computes: results are the same bits.
 *
 * Threads that never make a pass slower: when other processes keep the
 * cores busy, waking the workers can cost more than they save (a worker
 * that claimed a shard and then lost its core holds the pass up for a
 * scheduler time slice). Each pool therefore measures its own passes and
 * chooses between two modes: parallel (workers woken) and serial (the
 * caller runs every shard, the workers sleep). It times the passes of an
 * epoch (EPOCH_PASSES passes and EPOCH_NS nanoseconds, whichever ends
 * later) in the current mode, now and then one epoch in the other mode
 * (a probe) followed by one more in the current mode. A probe wins when
 * its time per pass is lower than the mean of the epochs just before and
 * just after it by more than SWITCH_MARGIN (the mean of the two cancels a
 * load that rises or falls steadily). The pool goes parallel after one
 * winning probe, serial only after two in a row: on a machine crowded
 * with other processes, epoch times scatter widely, and there the threads
 * usually win (each thread gets its share of the CPUs). Probes come after
 * PROBE_MIN epochs, the interval doubling while the current mode stays the
 * better one, up to PROBE_MAX epochs in parallel mode and PROBE_MAX_SERIAL
 * in serial mode. Only timing is kept, in the pool; the shards and what
 * they compute are the same in both modes. */
#define _GNU_SOURCE 1 /* sched_getaffinity, CPU_COUNT */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "scorematch/net.h"
#include "pool-private.h"

#define SPIN_ITERS 2000 /* pause instructions before blocking */

#define EPOCH_PASSES 16
#define EPOCH_NS 20000000LL /* 20 ms */
#define PROBE_MIN 2          /* epochs before the first probe after a switch */
#define PROBE_MAX 32
#define PROBE_MAX_SERIAL 8
#define SWITCH_MARGIN 0.10

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
    /* Mode choice, touched by the caller only (see the top). */
    int serial;             /* current mode: 1 serial, 0 parallel */
    int probing;            /* this epoch runs the other mode */
    int after_probe;        /* this epoch follows a probe */
    double probe_per_pass;  /* the probe's time per pass, ns */
    unsigned serial_wins;   /* winning serial probes in a row */
    unsigned epochs_left;   /* epochs in the current mode before a probe */
    unsigned probe_every;   /* PROBE_MIN … PROBE_MAX */
    unsigned passes;        /* passes of this epoch so far */
    long long epoch_ns;     /* their time */
    double last_per_pass;   /* time per pass of the last current-mode epoch, ns (0: none) */
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

static long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
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
    p->probe_every = PROBE_MIN;
    p->epochs_left = PROBE_MIN;
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

/* One pass on the workers and the caller. */
static void run_parallel(sm__pool *p, sm__pool_fn fn, void *ctx, size_t shards)
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

/* Ends an epoch: keeps or switches the mode (see the top). */
static void end_epoch(sm__pool *p)
{
    const double per_pass = (double)p->epoch_ns / (double)p->passes;
    p->passes = 0;
    p->epoch_ns = 0;
    if (p->probing) { /* one more epoch in the current mode, then decide */
        p->probing = 0;
        p->after_probe = 1;
        p->probe_per_pass = per_pass;
        return;
    }
    if (p->after_probe) {
        p->after_probe = 0;
        const double around = 0.5 * (p->last_per_pass + per_pass);
        const int won = p->probe_per_pass < (1.0 - SWITCH_MARGIN) * around;
        p->serial_wins = won && !p->serial ? p->serial_wins + 1 : 0;
        if (won && (p->serial || p->serial_wins >= 2)) {
            p->serial = !p->serial; /* the probe's mode is better */
            p->serial_wins = 0;
            p->probe_every = PROBE_MIN;
        } else if (!won && p->probe_every < (p->serial ? PROBE_MAX_SERIAL : PROBE_MAX)) {
            p->probe_every *= 2;
        }
        p->epochs_left = p->probe_every;
    }
    p->last_per_pass = per_pass;
    if (p->epochs_left > 0)
        p->epochs_left--;
    if (p->epochs_left == 0)
        p->probing = 1;
}

void sm__pool_run(sm__pool *p, sm__pool_fn fn, void *ctx, size_t shards)
{
    const long long t0 = now_ns();
    if (p->serial != p->probing) /* serial, or probing serial */
        for (size_t s = 0; s < shards; s++)
            fn(ctx, s);
    else
        run_parallel(p, fn, ctx, shards);
    p->epoch_ns += now_ns() - t0;
    if (++p->passes >= EPOCH_PASSES && p->epoch_ns >= EPOCH_NS)
        end_epoch(p);
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

/* CPUs a cgroup v2 quota ("cpu.max": "QUOTA PERIOD" or "max PERIOD") allows,
 * rounded up; 0 when there is no quota or it cannot be read. */
static size_t cgroup_cpus(void)
{
    FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");
    if (!f)
        return 0;
    long long quota = 0, period = 0;
    const int got = fscanf(f, "%lld %lld", &quota, &period);
    fclose(f);
    if (got != 2 || quota <= 0 || period <= 0)
        return 0; /* "max": no quota */
    return (size_t)((quota + period - 1) / period);
}

size_t sm_net_default_threads(void)
{
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    size_t n = online > 0 ? (size_t)online : 1;
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        const int allowed = CPU_COUNT(&set);
        if (allowed > 0 && (size_t)allowed < n)
            n = (size_t)allowed;
    }
#endif
    const size_t quota = cgroup_cpus();
    if (quota > 0 && quota < n)
        n = quota;
    return n < 1 ? 1 : n > 256 ? 256 : n;
}
