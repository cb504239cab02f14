/* CSV reading and writing for point sets, independent of the C locale. */
#define _GNU_SOURCE 1 /* newlocale/uselocale (POSIX 2008) */
#include <errno.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "dataset-private.h"

/* Switches the calling thread to the "C" numeric locale for the lifetime of
 * a parse or write, so a host program's LC_NUMERIC (decimal commas) cannot
 * change what a file means. Thread-local: other threads are unaffected. */
typedef struct {
    locale_t c_locale, previous;
} c_numeric_scope;

static void c_numeric_enter(c_numeric_scope *s)
{
    s->c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    s->previous = s->c_locale ? uselocale(s->c_locale) : (locale_t)0;
}

static void c_numeric_leave(c_numeric_scope *s)
{
    if (s->c_locale) {
        uselocale(s->previous);
        freelocale(s->c_locale);
    }
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Parses [b, e) as one number. Returns 0 on success, 1 if not a number,
 * 2 if it parsed to a non-finite float. */
static int parse_field(const char *b, const char *e, float *out)
{
    char buf[128];
    while (b < e && is_blank(*b))
        b++;
    while (e > b && is_blank(e[-1]))
        e--;
    size_t len = (size_t)(e - b);
    if (len == 0 || len >= sizeof buf)
        return 1;
    memcpy(buf, b, len);
    buf[len] = '\0';
    if (memchr(buf, '\0', len))
        return 1; /* embedded NUL byte */
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if (end != buf + len)
        return 1;
    float f = (float)v;
    if (!isfinite(f))
        return 2;
    *out = f;
    return 0;
}

typedef struct {
    float *v;
    size_t len, cap;
} float_vec;

static int vec_push(float_vec *a, float x)
{
    if (a->len == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 256;
        size_t bytes;
        if (cap < a->cap || sm__mul_size(cap, sizeof(float), &bytes))
            return -1;
        float *p = realloc(a->v, bytes);
        if (!p)
            return -1;
        a->v = p;
        a->cap = cap;
    }
    a->v[a->len++] = x;
    return 0;
}

static sm_status parse_csv(sm_dataset **out, const char *text, size_t len, const char *fn)
{
    float_vec vals = {0};
    size_t ncols = 0, nrows = 0, line_no = 0;
    int seen_first = 0;
    sm_status st = SM_OK;
    const char *p = text, *end = text + len;

    while (p < end && st == SM_OK) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *hash = memchr(p, '#', (size_t)(le - p));
        const char *ce = hash ? hash : le;
        line_no++;
        const char *q = p;
        while (q < ce && is_blank(*q))
            q++;
        if (q == ce) { /* blank or comment-only line */
            p = nl ? nl + 1 : end;
            continue;
        }
        /* Split on commas and parse each field. */
        size_t col = 0;
        size_t row_start = vals.len;
        int bad_kind = 0;
        size_t bad_col = 0;
        const char *fb = p;
        for (;;) {
            const char *comma = memchr(fb, ',', (size_t)(ce - fb));
            const char *fe = comma ? comma : ce;
            float v = 0.0f;
            int r = parse_field(fb, fe, &v);
            col++;
            if (r && !bad_kind) {
                bad_kind = r;
                bad_col = col;
            }
            if (!r && vec_push(&vals, v)) {
                st = sm__error(SM_ERR_NOMEM, "%s: out of memory at line %zu", fn, line_no);
                break;
            }
            if (!comma)
                break;
            fb = comma + 1;
        }
        if (st)
            break;
        if (!seen_first) {
            seen_first = 1;
            ncols = col;
            if (bad_kind == 1) { /* a non-numeric first line is a header */
                vals.len = row_start;
                p = nl ? nl + 1 : end;
                continue;
            }
        }
        if (bad_kind == 2) {
            st = sm__error(SM_ERR_NONFINITE,
                           "%s: line %zu, column %zu: value is not finite (nan, inf or out of float range)",
                           fn, line_no, bad_col);
        } else if (bad_kind == 1) {
            st = sm__error(SM_ERR_PARSE, "%s: line %zu, column %zu: not a number", fn,
                           line_no, bad_col);
        } else if (col != ncols) {
            st = sm__error(SM_ERR_PARSE, "%s: line %zu: expected %zu fields, found %zu", fn,
                           line_no, ncols, col);
        } else {
            nrows++;
        }
        p = nl ? nl + 1 : end;
    }
    if (st == SM_OK && nrows == 0)
        st = sm__error(SM_ERR_PARSE, "%s: no data rows", fn);
    if (st == SM_OK) {
        sm_dataset *ds;
        st = sm__dataset_alloc(&ds, nrows, ncols, fn);
        if (st == SM_OK) {
            memcpy(ds->x, vals.v, nrows * ncols * sizeof(float));
            *out = ds;
        }
    }
    free(vals.v);
    return st;
}

sm_status sm_dataset_parse_csv(sm_dataset **out, const char *text, size_t len)
{
    if (!out)
        return sm__error(SM_ERR_INVALID_ARG, "sm_dataset_parse_csv: out is NULL");
    *out = NULL;
    if (!text && len)
        return sm__error(SM_ERR_INVALID_ARG, "sm_dataset_parse_csv: text is NULL");
    c_numeric_scope scope;
    c_numeric_enter(&scope);
    sm_status st = parse_csv(out, text ? text : "", len, "sm_dataset_parse_csv");
    c_numeric_leave(&scope);
    return st;
}

sm_status sm_dataset_read_csv(sm_dataset **out, const char *path)
{
    if (!out)
        return sm__error(SM_ERR_INVALID_ARG, "sm_dataset_read_csv: out is NULL");
    *out = NULL;
    if (!path)
        return sm__error(SM_ERR_INVALID_ARG, "sm_dataset_read_csv: path is NULL");
    unsigned char *bytes;
    size_t len;
    sm_status st = sm__read_file(path, "sm_dataset_read_csv", &bytes, &len);
    const char *buf = (const char *)bytes;
    if (st == SM_OK) {
        c_numeric_scope scope;
        c_numeric_enter(&scope);
        st = parse_csv(out, buf ? buf : "", len, "sm_dataset_read_csv");
        c_numeric_leave(&scope);
        if (st && strncmp(sm_last_error(), "sm_dataset_read_csv: line", 25) == 0) {
            /* Name the file in the message, keeping the line/column detail. */
            char detail[400];
            snprintf(detail, sizeof detail, "%s", sm_last_error() + 21);
            sm__error(st, "sm_dataset_read_csv: %s: %s", path, detail);
        }
    }
    free(bytes);
    return st;
}

static sm_status write_points(const char *path, const float *points, size_t n, size_t dim,
                              const char *fn)
{
    if (!path || (!points && n) || dim == 0)
        return sm__error(SM_ERR_INVALID_ARG, "%s: NULL argument or dim = 0", fn);
    if (sm__array_too_big(n, dim, sizeof(float)))
        return sm__error(SM_ERR_OVERFLOW, "%s: n*dim overflows", fn);
    FILE *f = fopen(path, "w");
    if (!f)
        return sm__error(SM_ERR_IO, "%s: cannot create '%s': %s", fn, path, strerror(errno));
    c_numeric_scope scope;
    c_numeric_enter(&scope);
    int bad = 0;
    for (size_t i = 0; i < n && !bad; i++)
        for (size_t j = 0; j < dim && !bad; j++)
            bad = fprintf(f, j + 1 < dim ? "%.9g," : "%.9g\n", (double)points[i * dim + j]) < 0;
    c_numeric_leave(&scope);
    if (fclose(f) != 0)
        bad = 1;
    if (bad)
        return sm__error(SM_ERR_IO, "%s: error writing '%s'", fn, path);
    return SM_OK;
}

sm_status sm_points_write_csv(const char *path, const float *points, size_t n, size_t dim)
{
    return write_points(path, points, n, dim, "sm_points_write_csv");
}

sm_status sm_dataset_write_csv(const sm_dataset *ds, const char *path)
{
    if (!ds)
        return sm__error(SM_ERR_INVALID_ARG, "sm_dataset_write_csv: ds is NULL");
    return write_points(path, ds->x, ds->n, ds->dim, "sm_dataset_write_csv");
}
