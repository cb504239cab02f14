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
    return c == ' ' || c == '\t' || c == '\v' || c == '\f';
}

/* A growing NUL-terminated copy of one field for strtod, which needs the
 * terminator the input text does not have; a number may be of any length. */
typedef struct {
    char *p;
    size_t cap;
} scratch;

enum { FIELD_NUMBER, FIELD_TEXT, FIELD_NONFINITE, FIELD_NOMEM, FIELD_NAN };

/* Parses [b, e) (blanks already trimmed) as one number into *out. */
static int parse_field(const char *b, const char *e, scratch *s, float *out)
{
    size_t len = (size_t)(e - b);
    if (len == 0 || memchr(b, '\0', len))
        return FIELD_TEXT; /* empty, or an embedded NUL byte */
    if (len >= s->cap) {
        size_t cap = len < 64 ? 128 : len + len / 2 + 1;
        if (cap <= len)
            return FIELD_NOMEM;
        char *p = realloc(s->p, cap);
        if (!p)
            return FIELD_NOMEM;
        s->p = p;
        s->cap = cap;
    }
    memcpy(s->p, b, len);
    s->p[len] = '\0';
    char *end;
    double v = strtod(s->p, &end);
    if (end != s->p + len)
        return FIELD_TEXT;
    float f = (float)v;
    if (isnan(f))
        return FIELD_NAN;
    if (!isfinite(f))
        return FIELD_NONFINITE;
    *out = f;
    return FIELD_NUMBER;
}

/* Whether [b, e) starts like a number (a digit after an optional sign and
 * point): such a field that does not parse is a mistyped number ("2.O"),
 * never a column name, so a first line holding one is not a header. */
static int starts_like_number(const char *b, const char *e)
{
    if (b < e && (*b == '+' || *b == '-'))
        b++;
    if (b < e && *b == '.')
        b++;
    return b < e && *b >= '0' && *b <= '9';
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

/* The end of the line starting at p: the first LF or CR (or end). */
static const char *line_end(const char *p, const char *end)
{
    while (p < end && *p != '\n' && *p != '\r')
        p++;
    return p;
}

/* Where the next line starts, after the terminator at le: LF, CRLF or a CR
 * alone (classic Mac OS) each end one line. */
static const char *next_line(const char *le, const char *end)
{
    if (le == end)
        return end;
    return (*le == '\r' && le + 1 < end && le[1] == '\n') ? le + 2 : le + 1;
}

/* One field of a line, blanks trimmed, for messages. */
typedef struct {
    const char *b, *e;
} span;

/* The header field [b, e) (blanks trimmed) without one pair of enclosing
 * double quotes. */
static span unquote(const char *b, const char *e)
{
    if (e - b >= 2 && *b == '"' && e[-1] == '"')
        b++, e--;
    return (span){b, e};
}

/* Whether [b, b + n) is `lower` (n bytes, lowercase ASCII) in any case,
 * whatever the locale. */
static int ascii_ieq(const char *b, const char *lower, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lower[i])
            return 0;
    }
    return 1;
}

/* Whether a header field names a row index as pandas writes it: empty,
 * "index" or "Unnamed: N", in any case. */
static int index_name(span f)
{
    static const char unnamed[] = "unnamed:";
    const size_t len = (size_t)(f.e - f.b), ul = sizeof unnamed - 1;
    if (len == 0)
        return 1;
    if (len == 5 && ascii_ieq(f.b, "index", 5))
        return 1;
    return len >= ul && ascii_ieq(f.b, unnamed, ul);
}

/* For the message about a line [b, e) that failed: the separator that a
 * field of it holds (';' or a tab), which says the file is not
 * comma-separated; "" if none. */
static const char *separator_hint(const char *b, const char *e)
{
    int semi = 0, tab = 0;
    while (b < e) {
        const char *comma = memchr(b, ',', (size_t)(e - b));
        const char *fe = comma ? comma : e, *te = fe;
        while (b < te && is_blank(*b))
            b++;
        while (te > b && is_blank(te[-1]))
            te--;
        for (const char *q = b; q < te; q++) {
            semi |= *q == ';';
            tab |= *q == '\t';
        }
        b = comma ? comma + 1 : e;
    }
    if (semi)
        return "; fields look separated by ';': this reader expects commas";
    if (tab)
        return "; fields look separated by tabs: this reader expects commas";
    return "";
}

/* Copies the header's fields [b, e) as dim NUL-terminated names, without
 * the first `skip` of them, into *names (*names_len bytes). */
static int header_names(const char *b, const char *e, size_t skip, char **names,
                        size_t *names_len)
{
    char *buf = malloc((size_t)(e - b) + 1);
    if (!buf)
        return -1;
    size_t used = 0, col = 0;
    for (;;) {
        const char *comma = memchr(b, ',', (size_t)(e - b));
        const char *fe = comma ? comma : e, *tb = b, *te = fe;
        while (tb < te && is_blank(*tb))
            tb++;
        while (te > tb && is_blank(te[-1]))
            te--;
        if (col++ >= skip) {
            span f = unquote(tb, te);
            for (const char *q = f.b; q < f.e; q++)
                buf[used++] = *q ? *q : '?';
            buf[used++] = '\0';
        }
        if (!comma)
            break;
        b = comma + 1;
    }
    *names = buf;
    *names_len = used;
    return 0;
}

/* who is the message prefix: the function, and the file when there is one.
 * mask: NULL for the strict reader; else empty and NaN fields are missing
 * values, and *mask receives the mask of the observed ones. */
static sm_status parse_csv(sm_dataset **out, unsigned char **mask, const char *text, size_t len,
                           const char *who, unsigned flags)
{
    static const char bom[3] = {'\xEF', '\xBB', '\xBF'};
    float_vec vals = {0};
    scratch sc = {0};
    size_t ncols = 0, nrows = 0, line_no = 0, header_rows = 0;
    int seen_first = 0;
    span header = {NULL, NULL}; /* the header line, before any comment */
    sm_status st = SM_OK;
    const char *p = text, *end = text + len;
    /* Excel's "CSV UTF-8" starts with a byte-order mark; it is not part of
     * the first field. */
    if (len >= sizeof bom && memcmp(text, bom, sizeof bom) == 0)
        p += sizeof bom;

    while (p < end && st == SM_OK) {
        const char *le = line_end(p, end);
        const char *next = next_line(le, end);
        const char *hash = memchr(p, '#', (size_t)(le - p));
        const char *ce = hash ? hash : le;
        line_no++;
        const char *q = p;
        while (q < ce && is_blank(*q))
            q++;
        if (q == ce) { /* blank or comment-only line */
            p = next;
            continue;
        }
        /* Split on commas and parse each field, keeping the first field
         * that is not a number and, on the first line, whether any field
         * is one or starts like one. */
        size_t col = 0, row_start = vals.len, bad_col = 0, numeric = 0, numberish_col = 0;
        int bad_kind = FIELD_NUMBER;
        span bad = {p, p}, numberish = {p, p};
        const char *fb = p;
        for (;;) {
            const char *comma = memchr(fb, ',', (size_t)(ce - fb));
            const char *fe = comma ? comma : ce;
            const char *tb = fb, *te = fe;
            while (tb < te && is_blank(*tb))
                tb++;
            while (te > tb && is_blank(te[-1]))
                te--;
            float v = 0.0f;
            int r = parse_field(tb, te, &sc, &v);
            col++;
            /* Missing values travel as NaN until the mask is made; an empty
             * one is no number when telling a header from data. */
            const int empty_missing = mask && r == FIELD_TEXT && tb == te;
            if (empty_missing || (mask && r == FIELD_NAN)) {
                v = NAN;
                r = FIELD_NUMBER;
            } else if (r == FIELD_NAN) {
                r = FIELD_NONFINITE;
            }
            if (r == FIELD_NOMEM || (r == FIELD_NUMBER && vec_push(&vals, v))) {
                st = sm__error(SM_ERR_NOMEM, "%s: out of memory at line %zu", who, line_no);
                break;
            }
            if ((r == FIELD_NUMBER && !empty_missing) || r == FIELD_NONFINITE)
                numeric++;
            else if (!numberish_col && starts_like_number(tb, te)) {
                numberish_col = col;
                numberish = (span){tb, te};
            }
            if (r != FIELD_NUMBER && bad_kind == FIELD_NUMBER) {
                bad_kind = r;
                bad_col = col;
                bad = (span){tb, te};
            }
            if (!comma)
                break;
            fb = comma + 1;
        }
        if (st)
            break;
        const char *hint = "";
        if (!seen_first) {
            seen_first = 1;
            ncols = col;
            /* A header names the columns: no field of it is a number or
             * starts like one. Anything else on the first line is data, and
             * a field of it that is not a number is an error, not a reason
             * to drop the line. */
            if (numeric == 0 && numberish_col == 0) {
                header_rows++;
                header = (span){p, ce};
                vals.len = row_start;
                p = next;
                continue;
            }
            if (numeric == 0) {
                bad_col = numberish_col;
                bad = numberish;
                hint = " (the first line is not a header: this field starts like a number)";
            } else {
                hint = " (the first line is not a header: it holds numbers)";
            }
        }
        if (bad_kind == FIELD_NONFINITE) {
            st = sm__error(SM_ERR_NONFINITE,
                           "%s: line %zu, column %zu: value is not finite (nan, inf or out of float range)",
                           who, line_no, bad_col);
        } else if (bad_kind == FIELD_TEXT) {
            size_t blen = (size_t)(bad.e - bad.b);
            int shown = blen > 40 ? 40 : (int)blen;
            if (blen == 0)
                st = sm__error(SM_ERR_PARSE, "%s: line %zu, column %zu: empty field%s%s", who,
                               line_no, bad_col, hint, separator_hint(p, ce));
            else
                st = sm__error(SM_ERR_PARSE,
                               "%s: line %zu, column %zu: not a number: '%.*s%s'%s%s", who,
                               line_no, bad_col, shown, bad.b, blen > 40 ? "..." : "", hint,
                               separator_hint(p, ce));
        } else if (col != ncols) {
            st = sm__error(SM_ERR_PARSE, "%s: line %zu: expected %zu fields, found %zu%s", who,
                           line_no, ncols, col, separator_hint(p, ce));
        } else {
            nrows++;
        }
        p = next;
    }
    if (st == SM_OK && nrows == 0)
        st = sm__error(SM_ERR_PARSE, "%s: no data rows", who);
    /* A leading index column: a header naming it as pandas does, over the
     * row numbers from 0 or 1. */
    size_t skip = 0;
    if (st == SM_OK && header.b && ncols >= 2 && !(flags & SM_CSV_INDEX_KEEP)) {
        const char *fe = memchr(header.b, ',', (size_t)(header.e - header.b));
        const char *tb = header.b, *te = fe;
        while (tb < te && is_blank(*tb))
            tb++;
        while (te > tb && is_blank(te[-1]))
            te--;
        span name = unquote(tb, te);
        /* The other columns have names (a header of empty fields names no
         * index). */
        int named = 0;
        for (const char *q = fe + 1; q < header.e && !named; q++)
            named = *q != ',' && *q != '"' && !is_blank(*q);
        const float first = vals.v[0];
        int rows_numbered = named && index_name(name) && (first == 0.0f || first == 1.0f);
        for (size_t i = 0; rows_numbered && i < nrows; i++)
            rows_numbered = vals.v[i * ncols] == first + (float)i;
        if (rows_numbered && (flags & SM_CSV_INDEX_SKIP)) {
            skip = 1;
        } else if (rows_numbered) {
            size_t nlen = (size_t)(name.e - name.b);
            st = sm__error(SM_ERR_PARSE,
                           "%s: column 1 (header '%.*s%s') holds the row numbers %d, %d, %d, ...: "
                           "it looks like a leading index column (as pandas writes without "
                           "index=False), not data; skip it (SM_CSV_INDEX_SKIP) or read it as "
                           "data (SM_CSV_INDEX_KEEP)",
                           who, nlen > 40 ? 40 : (int)nlen, name.b, nlen > 40 ? "..." : "",
                           (int)first, (int)first + 1, (int)first + 2);
        }
    }
    if (st == SM_OK) {
        sm_dataset *ds;
        const size_t dim = ncols - skip;
        st = sm__dataset_alloc(&ds, nrows, dim, who);
        unsigned char *m = NULL;
        if (st == SM_OK && ((mask && !(m = malloc(nrows * dim))) ||
                            (header.b && header_names(header.b, header.e, skip, &ds->names,
                                                      &ds->names_len)))) {
            free(m);
            sm_dataset_free(ds);
            st = sm__error(SM_ERR_NOMEM, "%s: out of memory for the mask or the column names",
                           who);
        }
        if (st == SM_OK) {
            for (size_t i = 0; i < nrows; i++)
                for (size_t j = 0; j < dim; j++) {
                    float v = vals.v[i * ncols + skip + j];
                    if (m) {
                        m[i * dim + j] = !isnan(v);
                        v = isnan(v) ? 0.0f : v;
                    }
                    ds->x[i * dim + j] = v;
                }
            ds->header_rows = header_rows;
            *out = ds;
            if (mask)
                *mask = m;
        }
    }
    free(sc.p);
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
    sm_status st = parse_csv(out, NULL, text ? text : "", len, "sm_dataset_parse_csv", 0);
    c_numeric_leave(&scope);
    return st;
}

sm_status sm_dataset_read_csv(sm_dataset **out, const char *path)
{
    const char *fn = "sm_dataset_read_csv";
    if (!out)
        return sm__error(SM_ERR_INVALID_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (!path)
        return sm__error(SM_ERR_INVALID_ARG, "%s: path is NULL", fn);
    unsigned char *bytes;
    size_t len;
    sm_status st = sm__read_file(path, fn, &bytes, &len);
    if (st == SM_OK) {
        char who[320]; /* messages name the file */
        snprintf(who, sizeof who, "%s: %s", fn, path);
        c_numeric_scope scope;
        c_numeric_enter(&scope);
        st = parse_csv(out, NULL, bytes ? (const char *)bytes : "", len, who, 0);
        c_numeric_leave(&scope);
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
    /* The reader refuses nan and inf, so writing them would make a file
     * that cannot be read back: refuse before anything is created. */
    const size_t total = n * dim, bad = sm__first_nonfinite(points, total);
    if (bad < total)
        return sm__error(SM_ERR_NONFINITE,
                         "%s: the value at row %zu, column %zu (counted from 0) is %s; nothing "
                         "was written to '%s'",
                         fn, bad / dim, bad % dim, isnan(points[bad]) ? "NaN" : "infinite", path);
    sm__outfile f;
    sm_status st = sm__outfile_open(&f, path, fn);
    if (st)
        return st;
    /* Rows are formatted into a buffer flushed when nearly full; a %.9g
     * float takes at most 15 characters and a separator. */
    char buf[16384];
    size_t used = 0;
    c_numeric_scope scope;
    c_numeric_enter(&scope);
    for (size_t i = 0; i < total && !f.err; i++) {
        if (sizeof buf - used < 32) {
            sm__outfile_write(&f, buf, used);
            used = 0;
        }
        int k = snprintf(buf + used, sizeof buf - used, "%.9g%c", (double)points[i],
                         (i + 1) % dim ? ',' : '\n');
        if (k < 0 || (size_t)k >= sizeof buf - used)
            f.err = EOVERFLOW;
        else
            used += (size_t)k;
    }
    c_numeric_leave(&scope);
    sm__outfile_write(&f, buf, used);
    return sm__outfile_commit(&f, fn);
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

sm_status sm_dataset_parse_csv_missing(sm_dataset **out, unsigned char **mask, const char *text,
                                       size_t len)
{
    const char *fn = "sm_dataset_parse_csv_missing";
    if (!out || !mask)
        return sm__error(SM_ERR_INVALID_ARG, "%s: out and mask are required", fn);
    *out = NULL;
    *mask = NULL;
    if (!text && len)
        return sm__error(SM_ERR_INVALID_ARG, "%s: text is NULL", fn);
    c_numeric_scope scope;
    c_numeric_enter(&scope);
    sm_status st = parse_csv(out, mask, text ? text : "", len, fn, 0);
    c_numeric_leave(&scope);
    return st;
}

sm_status sm_dataset_read_csv_missing(sm_dataset **out, unsigned char **mask, const char *path)
{
    const char *fn = "sm_dataset_read_csv_missing";
    if (!out || !mask)
        return sm__error(SM_ERR_INVALID_ARG, "%s: out and mask are required", fn);
    *out = NULL;
    *mask = NULL;
    if (!path)
        return sm__error(SM_ERR_INVALID_ARG, "%s: path is NULL", fn);
    unsigned char *bytes;
    size_t len;
    sm_status st = sm__read_file(path, fn, &bytes, &len);
    if (st == SM_OK) {
        char who[320];
        snprintf(who, sizeof who, "%s: %s", fn, path);
        c_numeric_scope scope;
        c_numeric_enter(&scope);
        st = parse_csv(out, mask, bytes ? (const char *)bytes : "", len, who, 0);
        c_numeric_leave(&scope);
    }
    free(bytes);
    return st;
}

/* Flags a reader takes; 0 and a message otherwise. */
static sm_status check_flags(unsigned flags, const char *fn)
{
    if (flags & ~(SM_CSV_INDEX_SKIP | SM_CSV_INDEX_KEEP))
        return sm__error(SM_ERR_INVALID_ARG, "%s: unknown flags 0x%x", fn,
                         flags & ~(SM_CSV_INDEX_SKIP | SM_CSV_INDEX_KEEP));
    if ((flags & SM_CSV_INDEX_SKIP) && (flags & SM_CSV_INDEX_KEEP))
        return sm__error(SM_ERR_INVALID_ARG,
                         "%s: SM_CSV_INDEX_SKIP and SM_CSV_INDEX_KEEP exclude each other", fn);
    return SM_OK;
}

sm_status sm_dataset_parse_csv_ex(sm_dataset **out, unsigned char **mask, const char *text,
                                  size_t len, unsigned flags)
{
    const char *fn = "sm_dataset_parse_csv_ex";
    if (!out)
        return sm__error(SM_ERR_INVALID_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (mask)
        *mask = NULL;
    if (!text && len)
        return sm__error(SM_ERR_INVALID_ARG, "%s: text is NULL", fn);
    sm_status st = check_flags(flags, fn);
    if (st)
        return st;
    c_numeric_scope scope;
    c_numeric_enter(&scope);
    st = parse_csv(out, mask, text ? text : "", len, fn, flags);
    c_numeric_leave(&scope);
    return st;
}

sm_status sm_dataset_read_csv_ex(sm_dataset **out, unsigned char **mask, const char *path,
                                 unsigned flags)
{
    const char *fn = "sm_dataset_read_csv_ex";
    if (!out)
        return sm__error(SM_ERR_INVALID_ARG, "%s: out is NULL", fn);
    *out = NULL;
    if (mask)
        *mask = NULL;
    if (!path)
        return sm__error(SM_ERR_INVALID_ARG, "%s: path is NULL", fn);
    sm_status st = check_flags(flags, fn);
    if (st)
        return st;
    unsigned char *bytes;
    size_t len;
    st = sm__read_file(path, fn, &bytes, &len);
    if (st == SM_OK) {
        char who[320];
        snprintf(who, sizeof who, "%s: %s", fn, path);
        c_numeric_scope scope;
        c_numeric_enter(&scope);
        st = parse_csv(out, mask, bytes ? (const char *)bytes : "", len, who, flags);
        c_numeric_leave(&scope);
    }
    free(bytes);
    return st;
}
