/* LAPACK calls (see lapack-private.h). */
#include <lapacke.h>

#include "internal.h"
#include "lapack-private.h"

sm_status sm__sym_eig(double *a, size_t n, int vectors, double *w, const char *fn)
{
    if (n == 0)
        return SM_OK;
    if (n > SM__SYM_EIG_MAX_N)
        return sm__error(SM_ERR_OVERFLOW,
                         "%s: a %zu x %zu eigenproblem exceeds LAPACK's limit (%d)", fn, n,
                         n, SM__SYM_EIG_MAX_N);
    /* The matrix is symmetric, so its row-major array read as column-major
     * is the same matrix; the eigenvectors come back as columns of the
     * column-major array, i.e. rows of ours. No transposed copy is made. */
    lapack_int nn = (lapack_int)n;
    lapack_int info = LAPACKE_dsyevd(LAPACK_COL_MAJOR, vectors ? 'V' : 'N', 'U', nn, a, nn, w);
    if (info == 0)
        return SM_OK;
    if (info == LAPACK_WORK_MEMORY_ERROR || info == LAPACK_TRANSPOSE_MEMORY_ERROR)
        return sm__error(SM_ERR_NOMEM, "%s: out of memory for LAPACK's workspace (n = %zu)",
                         fn, n);
    if (info > 0)
        return sm__error(SM_ERR_DIVERGED,
                         "%s: the symmetric eigensolver (LAPACK dsyevd) did not converge "
                         "(info %d, n = %zu)",
                         fn, (int)info, n);
    return sm__error(SM_ERR_INVALID_ARG,
                     "%s: LAPACK dsyevd rejected its argument %d (n = %zu)", fn, (int)-info, n);
}
