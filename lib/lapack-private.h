/* The only door to LAPACK (LAPACKE, Debian's liblapacke-dev). Every LAPACK
 * call and type stays in lapack.c. Not installed. */
#ifndef SCOREMATCH_LAPACK_PRIVATE_H
#define SCOREMATCH_LAPACK_PRIVATE_H

#include <stddef.h>

#include "scorematch/error.h"

/* Largest order n that sm__sym_eig() accepts: LAPACK's workspace of the
 * eigenvector job, 1 + 6n + 2n² doubles, must have a size that fits its
 * 32-bit integer. */
#define SM__SYM_EIG_MAX_N 32766

/* Eigenvalues (ascending, into w[n]) and, if vectors is nonzero, the
 * orthonormal eigenvectors of the symmetric n × n matrix a (row-major, both
 * triangles filled; only one is read). With vectors, a is overwritten so
 * that row i holds the eigenvector of w[i]; without, a is destroyed.
 * Divide and conquer (dsyevd). Returns SM_OK, or an error with a message
 * that starts with fn: SM_ERR_OVERFLOW (n too large), SM_ERR_NOMEM,
 * SM_ERR_DIVERGED (the algorithm did not converge) or SM_ERR_INVALID_ARG
 * (LAPACK rejected an argument). */
sm_status sm__sym_eig(double *a, size_t n, int vectors, double *w, const char *fn);

#endif
