/* Choosing BLIS kernels for an example program's process.
 *
 * BLIS picks its kernel set from the CPU at first use; BLIS 0.9 (Debian 12)
 * does not know CPUs newer than itself (AMD Zen 5, for one) and then runs
 * its slow generic kernels. BLIS reads the environment variable
 * BLIS_ARCH_TYPE before that first use, so a program may choose for its own
 * process. This helper does, when the user has not: BLIS's AVX-512 kernels
 * ("skx") on CPUs with AVX-512, its AVX2/FMA kernels ("haswell") on CPUs
 * with AVX2 and FMA. Call it first thing in main(), before any sm_ call.
 * The library itself never does this: it is a process-wide decision. */
#ifndef SM_EXAMPLES_BLIS_KERNELS_H
#define SM_EXAMPLES_BLIS_KERNELS_H

#include <stdio.h>
#include <stdlib.h>

#include <blis.h>

static inline void choose_blis_kernels(void)
{
    if (getenv("BLIS_ARCH_TYPE"))
        return; /* the user's choice wins */
#if defined(__x86_64__) && defined(__GNUC__)
    int arch = -1;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        arch = BLIS_ARCH_SKX;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        arch = BLIS_ARCH_HASWELL;
    if (arch >= 0) {
        char id[16];
        snprintf(id, sizeof id, "%d", arch);
        setenv("BLIS_ARCH_TYPE", id, 0);
    }
#endif
}

#endif
