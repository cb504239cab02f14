/* The smallest program using libscorematch: version, a data set from random
 * points, standardization. Build: cc quickstart.c $(pkg-config --cflags --libs scorematch) */
#include <stdio.h>

#include <scorematch.h>

int main(void)
{
    printf("libscorematch %s (headers %s)\n", sm_version_string(), SM_VERSION_STRING);
    sm_rng *rng = NULL;
    sm_dataset *ds = NULL;
    float pts[200];
    sm_status st = sm_rng_new(&rng, 0);
    if (!st)
        st = sm_rng_fill_normal(rng, pts, 200, 3.0f, 2.0f);
    if (!st)
        st = sm_dataset_new(&ds, pts, 100, 2);
    if (!st)
        st = sm_dataset_standardize(ds);
    if (st) {
        fprintf(stderr, "error: %s: %s\n", sm_strerror(st), sm_last_error());
        return 1;
    }
    float mean[2], sd[2];
    sm_dataset_get_standardization(ds, mean, sd, 2);
    printf("points=%zu dim=%zu mean=(%.3f, %.3f) std=(%.3f, %.3f)\n", sm_dataset_size(ds),
           sm_dataset_dim(ds), (double)mean[0], (double)mean[1], (double)sd[0], (double)sd[1]);
    sm_dataset_free(ds);
    sm_rng_free(rng);
    return 0;
}
