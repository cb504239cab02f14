/* The data set's layout, for modules that build data sets (toydata, CSV). */
#ifndef SCOREMATCH_DATASET_PRIVATE_H
#define SCOREMATCH_DATASET_PRIVATE_H

#include "scorematch/dataset.h"

struct sm_dataset {
    size_t n, dim;
    float *x;          /* n*dim, row-major */
    int32_t *labels;   /* n, or NULL */
    float *ctx;        /* n × cdim contexts, or NULL */
    size_t cdim;       /* 0 without contexts */
    float *mean, *std; /* dim each; identity (0, 1) until standardized */
    int standardized;
    size_t header_rows; /* lines the CSV reader skipped as a header */
    char *names;        /* with a header: dim NUL-terminated column names, one
                         * after the other (names_len bytes); else NULL */
    size_t names_len;
};

/* A data set of n×dim zeros with identity standardization. On failure sets
 * the last error (prefixed by fn) and returns the status. */
sm_status sm__dataset_alloc(sm_dataset **out, size_t n, size_t dim,
                            const char *fn);

/* Maps n × dim points column by column between normalized units u and
 * data units x = u·scale + shift: to data units if to_data, else back,
 * u = (x − shift)/scale. Shared by data sets and networks. */
void sm__map_columns(float *p, size_t n, size_t dim, const float *shift, const float *scale,
                     int to_data);

#endif
