/* libFuzzer harness for the CSV parsers (sm_dataset_parse_csv() and
 * sm_dataset_parse_csv_missing()).
 *
 * Properties checked beyond "no crash, no leak, no undefined behaviour": a
 * failed parse sets the output to NULL and leaves a message; a successful
 * one gives at least one row and column, only finite values, and no line
 * lost: every line that is not blank or a comment is a data row or the
 * one header, counted here independently of the parser. The reader with
 * missing values accepts whatever the strict one accepts, with the same
 * values and nothing missing; when it succeeds, its values are finite and
 * 0 where its mask (0 or 1) says missing. A header names every column;
 * reading with SM_CSV_INDEX_KEEP gives the same points, with
 * SM_CSV_INDEX_SKIP the same rows without at most their first column.
 *
 * Run: build-fuzz/fuzz/fuzz_csv -max_total_time=300 NEW_DIR fuzz/corpus/csv
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include <scorematch.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Lines with something before any '#' other than blanks; LF, CRLF and a
 * lone CR end a line, and a leading UTF-8 byte-order mark is no content. */
static size_t content_lines(const uint8_t *p, size_t size)
{
    size_t i = 0, lines = 0;
    int content = 0, comment = 0;
    if (size >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
        i = 3;
    for (; i <= size; i++) {
        if (i == size || p[i] == '\n' || p[i] == '\r') {
            lines += (size_t)content;
            content = comment = 0;
        } else if (p[i] == '#') {
            comment = 1;
        } else if (!comment && p[i] != ' ' && p[i] != '\t' && p[i] != '\v' && p[i] != '\f') {
            content = 1;
        }
    }
    return lines;
}

#define REQUIRE(cond)                                                                    \
    do {                                                                                 \
        if (!(cond))                                                                     \
            __builtin_trap();                                                            \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sm_dataset *ds = (sm_dataset *)&ds, *dm = (sm_dataset *)&dm;
    unsigned char *mask = (unsigned char *)&mask;
    sm_clear_error();
    sm_status sm = sm_dataset_parse_csv_missing(&dm, &mask, (const char *)data, size);
    if (sm != SM_OK) {
        REQUIRE(dm == NULL && mask == NULL);
        REQUIRE(sm_last_error()[0] != '\0');
    } else {
        const size_t n = sm_dataset_size(dm), d = sm_dataset_dim(dm);
        const float *x = sm_dataset_data(dm);
        for (size_t i = 0; i < n * d; i++)
            REQUIRE(isfinite(x[i]) && mask[i] <= 1 && (mask[i] || x[i] == 0.0f));
    }
    sm_clear_error();
    sm_status st = sm_dataset_parse_csv(&ds, (const char *)data, size);
    if (st != SM_OK) {
        REQUIRE(ds == NULL);
        REQUIRE(sm_last_error()[0] != '\0');
        sm_free(mask);
        sm_dataset_free(dm);
        return 0;
    }
    REQUIRE(sm == SM_OK && sm_dataset_size(dm) == sm_dataset_size(ds) &&
            sm_dataset_dim(dm) == sm_dataset_dim(ds));
    for (size_t i = 0; i < sm_dataset_size(ds) * sm_dataset_dim(ds); i++)
        REQUIRE(mask[i] == 1 && sm_dataset_data(dm)[i] == sm_dataset_data(ds)[i]);
    sm_free(mask);
    sm_dataset_free(dm);
    size_t n = sm_dataset_size(ds), d = sm_dataset_dim(ds);
    REQUIRE(n >= 1 && d >= 1);
    REQUIRE(sm_dataset_header_rows(ds) <= 1);
    REQUIRE(n + sm_dataset_header_rows(ds) == content_lines(data, size));
    const float *x = sm_dataset_data(ds);
    for (size_t i = 0; i < n * d; i++)
        REQUIRE(isfinite(x[i]));
    /* A header names every column; the index flags keep every row, and
     * skipping drops at most the first column, whose names go with it. */
    for (size_t j = 0; j < d; j++)
        REQUIRE((sm_dataset_column_name(ds, j) != NULL) == (sm_dataset_header_rows(ds) == 1));
    REQUIRE(sm_dataset_column_name(ds, d) == NULL);
    sm_dataset *dk, *dsk;
    REQUIRE(sm_dataset_parse_csv_ex(&dk, NULL, (const char *)data, size, SM_CSV_INDEX_KEEP) ==
            SM_OK);
    REQUIRE(sm_dataset_size(dk) == n && sm_dataset_dim(dk) == d);
    REQUIRE(sm_dataset_parse_csv_ex(&dsk, NULL, (const char *)data, size, SM_CSV_INDEX_SKIP) ==
            SM_OK);
    const size_t skipped = d - sm_dataset_dim(dsk);
    REQUIRE(sm_dataset_size(dsk) == n && skipped <= 1);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j + skipped < d; j++)
            REQUIRE(sm_dataset_row(dsk, i)[j] == sm_dataset_row(dk, i)[j + skipped]);
    sm_dataset_free(dsk);
    sm_dataset_free(dk);
    sm_dataset_free(ds);
    return 0;
}
