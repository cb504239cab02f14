/* Private helpers shared by the library's translation units. Not installed. */
#ifndef SCOREMATCH_INTERNAL_H
#define SCOREMATCH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <math.h>

#include "scorematch/error.h"

#if defined(__GNUC__)
#  define SM_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#  define SM_PRINTF(f, a)
#endif

/* For the library's own elementwise loops (activations, the optimizer's
 * update, finiteness checks): with GCC on x86-64 Linux the function is also
 * built for AVX2 and AVX-512 and the variant is picked at load time (the
 * baseline x86-64 target has only SSE2). Without FP contraction (ISO C
 * mode) and with IEEE-exact operations only, every variant gives the same
 * bits. Not under AddressSanitizer, whose instrumentation does not mix with
 * the ifunc resolvers. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(__SANITIZE_ADDRESS__)
#  define SM_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#  define SM_MULTIVERSION
#endif

/* Records a message for sm_last_error() on this thread and returns status,
 * so a failure reads: return sm__error(SM_ERR_X, "fn: what went wrong"). */
sm_status sm__error(sm_status status, const char *fmt, ...) SM_PRINTF(2, 3);

/* Prefixes this thread's last message with "fn: " and returns status: for a
 * failure passed on from a public function called internally, so that the
 * message still starts with the name of the function the user called. */
sm_status sm__error_wrap(sm_status status, const char *fn);

/* a*b into *out; returns 0 on success, nonzero if it would overflow. */
static inline int sm__mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return 1;
    *out = a * b;
    return 0;
}

/* Nonzero if an array of a·b elements of `size` bytes cannot exist: the
 * count or the byte count overflows, or exceeds PTRDIFF_MAX (the largest
 * object C allows). Checked before a caller's buffer is read or written, so
 * an impossible size is an error instead of an out-of-bounds access. */
static inline int sm__array_too_big(size_t a, size_t b, size_t size)
{
    size_t n;
    return sm__mul_size(a, b, &n) || (size != 0 && n > (size_t)PTRDIFF_MAX / size);
}

/* Reads a whole regular file into a malloc'd buffer (*out, *len; *out may
 * be NULL for an empty file). Anything else (a directory, a FIFO, a device
 * such as /dev/zero) is refused with SM_ERR_IO, without blocking: such
 * input may never end. Failures set the last error, prefixed by fn. */
sm_status sm__read_file(const char *path, const char *fn, unsigned char **out, size_t *len);

/* A file being written whole. Bytes go to a new temporary file beside the
 * target ("path.tmp-XXXXXX"), which sm__outfile_commit() flushes and renames
 * over the target, or removes on any failure. An existing special file (a
 * terminal, /dev/null, a pipe) or a link to an open descriptor (/dev/stdout)
 * is written in place instead, since a rename would replace it. Only a
 * crash or kill between open and commit can leave the temporary behind. */
typedef struct {
    const char *path;
    char *tmp; /* the temporary's name; NULL when writing in place */
    int fd;
    int err;   /* errno of the first failed write, 0 if none */
} sm__outfile;

/* Opens f for writing path. Failures set the last error, prefixed by fn;
 * nothing is left to clean up then. */
sm_status sm__outfile_open(sm__outfile *f, const char *path, const char *fn);

/* Appends bytes; a failure is kept in f->err and reported by the commit
 * (later writes are skipped), so callers need not check each one. */
void sm__outfile_write(sm__outfile *f, const void *data, size_t len);

/* Finishes the file: flushes, closes and renames the temporary over the
 * target; on any failure (including an earlier write's) removes the
 * temporary and returns SM_ERR_IO naming the step that failed. Always
 * closes f. */
sm_status sm__outfile_commit(sm__outfile *f, const char *fn);

/* Allocates n*size zeroed bytes, or NULL on overflow or exhaustion. */
void *sm__calloc(size_t n, size_t size);

/* Index of the first non-finite value in x[0..n), or n if all are finite. */
size_t sm__first_nonfinite(const float *x, size_t n);

/* SM_ERR_NONFINITE naming "name[row][col]" for the first non-finite value
 * of the n × dim array x (n·dim must not overflow), else SM_OK. */
sm_status sm__check_points(const float *x, size_t n, size_t dim, const char *name,
                           const char *fn);

/* SM_ERR_INVALID_ARG naming the first of n noise levels that is not finite
 * and > 0, else SM_OK. */
sm_status sm__check_sigmas(const float *sigma, size_t n, const char *fn);

#endif /* SCOREMATCH_INTERNAL_H */
