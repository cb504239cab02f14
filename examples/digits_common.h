/* What the digits examples share (digits.c, digits_cond.c,
 * digits_inpaint.c): the vendored data and its fixed split, the pixel
 * normalization of the anchor configuration, and the comparison with the
 * held-out rows. */
#ifndef DIGITS_COMMON_H
#define DIGITS_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <scorematch.h>

enum { DIGITS_DIM = 64, DIGITS_CLASSES = 10 };

/* The rows in pixel units (0 … 16), row i held out if i % 3 == 2; the
 * labels only when a labels file was read. */
typedef struct {
    float *xtr, *xho;
    int32_t *ytr, *yho;
    size_t n_tr, n_ho;
} digits_split;

/* Reads the digits CSV (64 columns) and, when labels_csv is not NULL, its
 * labels (one column, 0 … 9, one row per digit), then splits them. Prints
 * the reason to stderr and returns -1 on failure (s then holds nothing to
 * free beyond what digits_split_free releases). */
int digits_split_load(digits_split *s, const char *data_csv, const char *labels_csv);
void digits_split_free(digits_split *s);

/* The anchor normalization, as bench/torch/digits_edm.py has it: x/8 − 1
 * on every pixel, i.e. shift 8 and scale 8, and σ_data the standard
 * deviation of all normalized training values. */
void digits_pixel_affine(const float *xtr, size_t n_tr, float shift[DIGITS_DIM],
                         float scale[DIGITS_DIM], double *sigma_data);

/* Fréchet distance and improved precision/recall (k = 3) of gen against
 * the held-out rows, printed on one line after name, with extra appended. */
sm_status digits_report(const char *name, const float *held, size_t n_held, const float *gen,
                        size_t n_gen, const char *extra);

#endif
