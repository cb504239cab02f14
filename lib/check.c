/* Argument checks shared by the functions that take points and noise levels. */
#include <math.h>

#include "internal.h"

sm_status sm__check_points(const float *x, size_t n, size_t dim, const char *name,
                           const char *fn)
{
    const size_t total = n * dim, bad = sm__first_nonfinite(x, total);
    if (bad < total)
        return sm__error(SM_ERR_NONFINITE, "%s: %s[%zu][%zu] is not finite", fn, name, bad / dim,
                         bad % dim);
    return SM_OK;
}

sm_status sm__check_sigmas(const float *sigma, size_t n, const char *fn)
{
    for (size_t r = 0; r < n; r++)
        if (!(sigma[r] > 0.0f) || !isfinite(sigma[r]))
            return sm__error(SM_ERR_INVALID_ARG, "%s: sigma[%zu] = %g must be finite and > 0", fn,
                             r, (double)sigma[r]);
    return SM_OK;
}
