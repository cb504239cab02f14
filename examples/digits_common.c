#include "digits_common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int digits_split_load(digits_split *s, const char *data_csv, const char *labels_csv)
{
    *s = (digits_split){0};
    sm_dataset *all = NULL, *lab = NULL;
    int rc = -1;
    if (sm_dataset_read_csv(&all, data_csv) != SM_OK) {
        fprintf(stderr, "digits: %s: %s\n", data_csv, sm_last_error());
        goto done;
    }
    if (sm_dataset_dim(all) != DIGITS_DIM) {
        fprintf(stderr, "digits: %s has %zu columns, expected 64\n", data_csv,
                sm_dataset_dim(all));
        goto done;
    }
    const size_t n = sm_dataset_size(all);
    if (labels_csv) {
        if (sm_dataset_read_csv(&lab, labels_csv) != SM_OK) {
            fprintf(stderr, "digits: %s: %s\n", labels_csv, sm_last_error());
            goto done;
        }
        if (sm_dataset_dim(lab) != 1 || sm_dataset_size(lab) != n) {
            fprintf(stderr, "digits: %s is not one label per row of %s\n", labels_csv, data_csv);
            goto done;
        }
    }
    s->n_ho = (n + 1) / 3;
    s->n_tr = n - s->n_ho;
    s->xtr = malloc(s->n_tr * DIGITS_DIM * sizeof(float));
    s->xho = malloc(s->n_ho * DIGITS_DIM * sizeof(float));
    if (lab) {
        s->ytr = malloc(s->n_tr * sizeof(int32_t));
        s->yho = malloc(s->n_ho * sizeof(int32_t));
    }
    if (!s->xtr || !s->xho || (lab && (!s->ytr || !s->yho))) {
        fprintf(stderr, "digits: out of memory\n");
        goto done;
    }
    for (size_t i = 0, a = 0, b = 0; i < n; i++) {
        const int held = i % 3 == 2;
        memcpy(held ? s->xho + DIGITS_DIM * b : s->xtr + DIGITS_DIM * a, sm_dataset_row(all, i),
               DIGITS_DIM * sizeof(float));
        if (lab) {
            const float y = sm_dataset_row(lab, i)[0];
            if (!(y >= 0 && y < DIGITS_CLASSES) || y != floorf(y)) {
                fprintf(stderr, "digits: %s row %zu: label %g is not 0 ... 9\n", labels_csv,
                        i + 1, (double)y);
                goto done;
            }
            (held ? s->yho + b : s->ytr + a)[0] = (int32_t)y;
        }
        held ? b++ : a++;
    }
    rc = 0;
done:
    if (rc)
        digits_split_free(s);
    sm_dataset_free(lab);
    sm_dataset_free(all);
    return rc;
}

void digits_split_free(digits_split *s)
{
    free(s->xtr);
    free(s->xho);
    free(s->ytr);
    free(s->yho);
    *s = (digits_split){0};
}

void digits_pixel_affine(const float *xtr, size_t n_tr, float shift[DIGITS_DIM],
                         float scale[DIGITS_DIM], double *sigma_data)
{
    double sum = 0, ss = 0;
    for (size_t i = 0; i < n_tr * DIGITS_DIM; i++)
        sum += xtr[i] / 8.0 - 1.0;
    const double mean = sum / (double)(n_tr * DIGITS_DIM);
    for (size_t i = 0; i < n_tr * DIGITS_DIM; i++)
        ss += (xtr[i] / 8.0 - 1.0 - mean) * (xtr[i] / 8.0 - 1.0 - mean);
    *sigma_data = sqrt(ss / (double)(n_tr * DIGITS_DIM));
    for (size_t j = 0; j < DIGITS_DIM; j++) {
        shift[j] = 8.0f;
        scale[j] = 8.0f;
    }
}

sm_status digits_report(const char *name, const float *held, size_t n_held, const float *gen,
                        size_t n_gen, const char *extra)
{
    double fd = 0, prec = 0, rec = 0, dens = 0, cov = 0;
    size_t bad = 0;
    sm_status st = sm_metric_frechet_distance(held, n_held, gen, n_gen, DIGITS_DIM, &fd, &bad);
    if (!st)
        st = sm_metric_prdc(held, n_held, gen, n_gen, DIGITS_DIM, 3, 5, &prec, &rec, &dens, &cov,
                            NULL);
    if (!st)
        printf("%-14s fd=%.2f precision=%.3f recall=%.3f nonfinite=%zu%s\n", name, fd, prec, rec,
               bad, extra ? extra : "");
    return st;
}
