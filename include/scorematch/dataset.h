/**
 * @file scorematch/dataset.h
 * @brief A set of n points in d dimensions (::sm_dataset).
 *
 * Points are stored row-major as `float`: point i occupies elements
 * `[i*d, (i+1)*d)`. A data set owns its memory; data passed in is copied.
 * Values are always finite: constructors reject NaN and infinities.
 *
 * A data set may carry one integer label per point (which moon, which blob a
 * toy point came from), used by the per-mode metrics.
 *
 * Standardizing subtracts the per-column mean and divides by the per-column
 * population standard deviation (ddof = 0, like NumPy's `std`), and keeps
 * both so that points generated in the standardized space can be mapped back
 * with sm_dataset_unstandardize_points().
 */
#ifndef SCOREMATCH_DATASET_H
#define SCOREMATCH_DATASET_H

#include "scorematch/common.h"
#include "scorematch/error.h"

SM_BEGIN_DECLS

/** @brief Opaque point set. */
typedef struct sm_dataset sm_dataset;

/**
 * @brief Creates a data set by copying @p n points of dimension @p dim.
 * @param[out] out  Receives the data set; set to NULL on failure.
 * @param data      n × dim row-major values, all finite.
 * @param n         Number of points, > 0.
 * @param dim       Dimension, > 0.
 * @return #SM_OK; #SM_ERR_INVALID_ARG (NULL, zero size); #SM_ERR_OVERFLOW
 *         (n·dim too large); #SM_ERR_NONFINITE (names the row and column);
 *         #SM_ERR_NOMEM.
 */
SM_API sm_status sm_dataset_new(sm_dataset **out, const float *data,
                                size_t n, size_t dim);

/**
 * @brief Reads a data set from a CSV file.
 *
 * Fields are separated by commas, spaces or tabs around them are ignored.
 * Lines end with LF, CRLF or a lone CR (classic Mac OS). A UTF-8
 * byte-order mark at the start of the file (Excel's "CSV UTF-8") is
 * skipped. Everything from a `#` to the end of a line is a comment; blank
 * lines are skipped. Numbers may be of any length and are parsed in the "C"
 * locale whatever the program's locale is.
 *
 * The first non-comment line is a header, and skipped, only if none of its
 * fields is a number or starts like one (a digit after an optional sign
 * and decimal point): `x,y` and `,a,b` are headers; `1,,2`, `1,x` and
 * `2.O` are data with an error in them, reported as such rather than
 * dropped. sm_dataset_header_rows() tells whether a header was skipped.
 * Every other line is data; every row must have the same number of fields
 * as the first line, header or not. No data row is ever skipped: any field
 * that is not a finite number fails the whole read. When a line that fails
 * holds a `;` or a tab inside a field, the message says that the fields
 * look separated by it (this reader expects commas). The header's fields
 * are kept as column names (sm_dataset_column_name()).
 *
 * A leading index column as pandas writes it (a header whose first field
 * is empty, `index` or `Unnamed: 0`, over the row numbers 0, 1, 2, … or
 * 1, 2, 3, …) is refused with #SM_ERR_PARSE naming the column:
 * sm_dataset_read_csv_ex() with #SM_CSV_INDEX_SKIP drops it, with
 * #SM_CSV_INDEX_KEEP reads it as data.
 *
 * Only a regular file is read: a directory, a FIFO or pipe, or a device
 * (/dev/zero, a terminal) is refused with #SM_ERR_IO at once, without
 * waiting for input that may never end. To read from a pipe, read its bytes
 * and pass them to sm_dataset_parse_csv().
 *
 * @param[out] out  Receives the data set; set to NULL on failure.
 * @param path      File name.
 * @return #SM_OK; #SM_ERR_IO (cannot open or read, not a regular file;
 *         message has the reason); #SM_ERR_PARSE (ragged row, bad number,
 *         no rows; message names the file, the line and the column, and
 *         shows the field); #SM_ERR_NONFINITE (nan/inf value, with line and
 *         column); #SM_ERR_NOMEM; #SM_ERR_INVALID_ARG.
 */
SM_API sm_status sm_dataset_read_csv(sm_dataset **out, const char *path);

/**
 * @brief Parses a data set from CSV text in memory (same rules as
 *        sm_dataset_read_csv()).
 * @param[out] out  Receives the data set; set to NULL on failure.
 * @param text      The CSV bytes; need not be NUL-terminated.
 * @param len       Number of bytes in @p text.
 * @return As sm_dataset_read_csv(), except that there is no #SM_ERR_IO.
 */
SM_API sm_status sm_dataset_parse_csv(sm_dataset **out, const char *text,
                                      size_t len);

/**
 * @brief Reads a CSV file with missing values (for sm_sampler_impute()).
 *
 * The rules of sm_dataset_read_csv(), except that an empty field and a
 * field that reads as NaN ("nan", "NaN") are missing values rather than
 * errors; infinite values are still refused. The data set holds 0 at the
 * missing entries (so that it stays finite); @p mask tells them apart. A
 * first line without any number is a header, as for the strict reader.
 *
 * @param[out] out   Receives the data set; set to NULL on failure.
 * @param[out] mask  Receives rows × columns bytes, row-major, 1 where the
 *                   value is observed and 0 where it is missing; release it
 *                   with sm_free(). Set to NULL on failure.
 * @param path       File name.
 * @return As sm_dataset_read_csv(); #SM_ERR_INVALID_ARG for a NULL
 *         argument.
 */
SM_API sm_status sm_dataset_read_csv_missing(sm_dataset **out, unsigned char **mask,
                                             const char *path);

/**
 * @brief Parses CSV text in memory with missing values (the rules of
 *        sm_dataset_read_csv_missing()).
 * @param[out] out   Receives the data set; set to NULL on failure.
 * @param[out] mask  Receives the mask (1 = observed), to be released with
 *                   sm_free(); set to NULL on failure.
 * @param text       The CSV bytes; need not be NUL-terminated.
 * @param len        Number of bytes in @p text.
 * @return As sm_dataset_read_csv_missing(), except that there is no
 *         #SM_ERR_IO.
 */
SM_API sm_status sm_dataset_parse_csv_missing(sm_dataset **out, unsigned char **mask,
                                              const char *text, size_t len);

/**
 * @brief Number of lines the CSV reader skipped as a header.
 *
 * Comment and blank lines are not counted: they hold no data.
 *
 * @param ds  The data set.
 * @return 1 if sm_dataset_read_csv() or sm_dataset_parse_csv() took the
 *         first line as a header, else 0 (also for data sets made in
 *         memory, and if @p ds is NULL). sm_dataset_clone() keeps it.
 */
SM_API size_t sm_dataset_header_rows(const sm_dataset *ds);

/**
 * @brief The name of a column, from the header line of the CSV file the
 *        data set was read from.
 *
 * Names are the header's fields with the blanks around them and one pair
 * of enclosing double quotes removed; a NUL byte in a name reads as `?`.
 * A leading index column skipped with #SM_CSV_INDEX_SKIP takes its name
 * with it, so name j is always that of column j of the data.
 *
 * @param ds  The data set.
 * @param j   Column, < sm_dataset_dim().
 * @return The name (possibly empty), valid until the data set is freed;
 *         NULL if the data set has no header (sm_dataset_header_rows() is
 *         0, or it was made in memory), if @p j is out of range or if
 *         @p ds is NULL. sm_dataset_clone() keeps the names.
 */
SM_API const char *sm_dataset_column_name(const sm_dataset *ds, size_t j);

/**
 * @brief Flag of sm_dataset_read_csv_ex(): drop a leading index column.
 *
 * A leading index column is what pandas' `to_csv` writes without
 * `index=False`: the file has a header whose first field is empty, `index`
 * or `Unnamed: N` (any case), at least two columns, and its first column
 * holds the row numbers 0, 1, 2, … or 1, 2, 3, … with nothing missing. By
 * default such a file is refused (#SM_ERR_PARSE, naming the column), since
 * the row number would be learned as data.
 */
#define SM_CSV_INDEX_SKIP 0x1u

/** @brief Flag of sm_dataset_read_csv_ex(): read a leading index column
 *  (see #SM_CSV_INDEX_SKIP) as data, like any other column. */
#define SM_CSV_INDEX_KEEP 0x2u

/**
 * @brief Reads a CSV file, strict or with missing values, with flags.
 *
 * The rules of sm_dataset_read_csv() (with @p mask NULL) or of
 * sm_dataset_read_csv_missing() (with @p mask not NULL), and, as they do,
 * a leading index column (see #SM_CSV_INDEX_SKIP) is refused unless
 * @p flags says otherwise. With flags 0 the calls are the same.
 *
 * @param[out] out   Receives the data set; set to NULL on failure.
 * @param[out] mask  NULL for the strict reader; else receives the mask of
 *                   the observed values (1 = observed), to be released
 *                   with sm_free(), and set to NULL on failure.
 * @param path       File name.
 * @param flags      0, #SM_CSV_INDEX_SKIP or #SM_CSV_INDEX_KEEP.
 * @return As sm_dataset_read_csv(); #SM_ERR_INVALID_ARG also for unknown
 *         flag bits or both index flags together.
 */
SM_API sm_status sm_dataset_read_csv_ex(sm_dataset **out, unsigned char **mask,
                                        const char *path, unsigned flags);

/**
 * @brief Parses CSV text in memory, strict or with missing values, with
 *        flags (the rules of sm_dataset_read_csv_ex()).
 * @param[out] out   Receives the data set; set to NULL on failure.
 * @param[out] mask  NULL for the strict reader; else receives the mask, as
 *                   for sm_dataset_read_csv_ex().
 * @param text       The CSV bytes; need not be NUL-terminated.
 * @param len        Number of bytes in @p text.
 * @param flags      0, #SM_CSV_INDEX_SKIP or #SM_CSV_INDEX_KEEP.
 * @return As sm_dataset_read_csv_ex(), except that there is no #SM_ERR_IO.
 */
SM_API sm_status sm_dataset_parse_csv_ex(sm_dataset **out, unsigned char **mask,
                                         const char *text, size_t len, unsigned flags);

/**
 * @brief Writes the points as CSV, one point per line, no header, with
 *        enough digits (`%.9g`) to read back the same floats.
 *
 * The file is written like a model file (see sm_model_save()): to a
 * temporary file `path.tmp-XXXXXX` beside @p path that replaces it only
 * once complete, so a failed write (disk full, an I/O error) leaves any
 * existing file as it was and removes the temporary. Only a crash or kill
 * of the process during the write can leave the temporary behind. An
 * existing special file at @p path (a terminal, /dev/null, a pipe) and
 * /dev/stdout (also when redirected to a file) are written in place
 * instead, as sm_model_save() describes; a FIFO that no process reads is
 * refused with #SM_ERR_IO rather than waited on.
 *
 * @param ds    The data set.
 * @param path  File to create or replace.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_IO.
 */
SM_API sm_status sm_dataset_write_csv(const sm_dataset *ds, const char *path);

/**
 * @brief Writes an n × dim array as CSV (same format and file handling as
 *        sm_dataset_write_csv()), e.g. generated samples.
 *
 * Values must be finite, as the reader requires: a NaN or infinity is
 * refused before anything is created, with a message naming its row and
 * column (counted from 0).
 *
 * @param path    File to create or replace.
 * @param points  n × dim row-major values.
 * @param n       Number of points.
 * @param dim     Dimension, > 0.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_OVERFLOW (n·dim floats
 *         cannot exist), #SM_ERR_NONFINITE (nothing written), #SM_ERR_IO.
 */
SM_API sm_status sm_points_write_csv(const char *path, const float *points,
                                     size_t n, size_t dim);

/**
 * @brief Creates an independent copy of a data set (points, labels,
 *        contexts, standardization).
 * @param ds        The data set to copy.
 * @param[out] out  Receives the copy; set to NULL on failure.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_NOMEM.
 */
SM_API sm_status sm_dataset_clone(const sm_dataset *ds, sm_dataset **out);

/**
 * @brief Frees a data set.
 * @param ds  The data set, or NULL (ignored).
 */
SM_API void sm_dataset_free(sm_dataset *ds);

/**
 * @brief Number of points.
 * @param ds  The data set.
 * @return n; 0 if @p ds is NULL.
 */
SM_API size_t sm_dataset_size(const sm_dataset *ds);

/**
 * @brief Dimension of each point.
 * @param ds  The data set.
 * @return dim; 0 if @p ds is NULL.
 */
SM_API size_t sm_dataset_dim(const sm_dataset *ds);

/**
 * @brief The points.
 * @param ds  The data set.
 * @return n × dim row-major values, valid until the data set is freed or
 *         standardized; NULL if @p ds is NULL.
 */
SM_API const float *sm_dataset_data(const sm_dataset *ds);

/**
 * @brief One point.
 * @param ds  The data set.
 * @param i   Index of the point, < n.
 * @return dim values; NULL if @p ds is NULL or @p i is out of range.
 */
SM_API const float *sm_dataset_row(const sm_dataset *ds, size_t i);

/**
 * @brief Attaches one label per point (copied), replacing any previous ones.
 * @param ds      The data set.
 * @param labels  n non-negative labels, or NULL to remove the labels.
 * @param n       Must equal sm_dataset_size() when @p labels is not NULL.
 * @return #SM_OK, #SM_ERR_INVALID_ARG (negative label), #SM_ERR_SHAPE
 *         (wrong @p n), #SM_ERR_NOMEM.
 */
SM_API sm_status sm_dataset_set_labels(sm_dataset *ds, const int32_t *labels,
                                       size_t n);

/**
 * @brief The labels.
 * @param ds  The data set.
 * @return n labels, or NULL if the data set has none.
 */
SM_API const int32_t *sm_dataset_labels(const sm_dataset *ds);

/**
 * @brief Number of label values.
 * @param ds  The data set.
 * @return Largest label + 1; 0 without labels.
 */
SM_API size_t sm_dataset_num_labels(const sm_dataset *ds);

/**
 * @brief Attaches one context row per point (copied), replacing any
 *        previous ones: what sm_trainer_fit() conditions a network with a
 *        context on (row i of the contexts belongs to point i; copies keep
 *        them together). Standardizing the points leaves the contexts
 *        alone.
 * @param ds           The data set.
 * @param ctx          n × @p context_dim finite values, or NULL to remove
 *                     the contexts.
 * @param n            Must equal sm_dataset_size() when @p ctx is not NULL.
 * @param context_dim  c ≥ 1 when @p ctx is not NULL.
 * @return #SM_OK, #SM_ERR_INVALID_ARG (@p context_dim 0), #SM_ERR_SHAPE
 *         (wrong @p n), #SM_ERR_NONFINITE (row and column named),
 *         #SM_ERR_OVERFLOW, #SM_ERR_NOMEM; on failure the previous
 *         contexts stay.
 */
SM_API sm_status sm_dataset_set_context(sm_dataset *ds, const float *ctx, size_t n,
                                        size_t context_dim);

/**
 * @brief The contexts.
 * @param ds  The data set.
 * @return n × sm_dataset_context_dim() values, valid until the data set is
 *         freed or its contexts change; NULL if it has none.
 */
SM_API const float *sm_dataset_context(const sm_dataset *ds);

/**
 * @brief Width of the contexts.
 * @param ds  The data set.
 * @return c; 0 without contexts (or if @p ds is NULL).
 */
SM_API size_t sm_dataset_context_dim(const sm_dataset *ds);

/**
 * @brief Turns class labels into one-hot context rows: row i is all zeros
 *        but a 1 in column labels[i].
 * @param labels       n labels, each in [0, @p num_classes).
 * @param n            Rows.
 * @param num_classes  K ≥ 1, the context width (the context width of a
 *                     class-conditional network).
 * @param[out] ctx     n × K floats.
 * @return #SM_OK, #SM_ERR_INVALID_ARG (NULL, K = 0, a label outside
 *         [0, K), named in the message; @p ctx is then unchanged),
 *         #SM_ERR_OVERFLOW.
 */
SM_API sm_status sm_labels_one_hot(const int32_t *labels, size_t n, size_t num_classes,
                                   float *ctx);

/**
 * @brief Standardizes the points in place, column by column, and keeps the
 *        mean and standard deviation.
 *
 * Each column is centred and divided by its standard deviation s_j
 * (population, divided by n), floored at #SM_STANDARDIZE_FLOOR times the
 * data's overall spread S = √(mean over columns of s_j²): the divisor is
 * max(s_j, 0.1·S). A constant column is then only centred (all zeros, not
 * NaN), and a nearly constant one (an image's border pixel that is lit in
 * one row out of thousands) cannot become an outlier hundreds of units
 * large; columns whose spread is comparable to the others' are
 * standardized exactly. If every column is constant the divisor is 1.
 * Standardizing an already standardized data set is allowed: the stored
 * mean/std are composed so that unstandardizing still maps to the original
 * units.
 *
 * @param ds  The data set.
 * @return #SM_OK, #SM_ERR_INVALID_ARG or #SM_ERR_NOMEM.
 */
SM_API sm_status sm_dataset_standardize(sm_dataset *ds);

/** @brief Floor of sm_dataset_standardize()'s divisor, relative to the
 *  data's overall spread. */
#define SM_STANDARDIZE_FLOOR 0.1

/**
 * @brief Whether the data set has been standardized.
 * @param ds  The data set.
 * @return 1 if standardized, else 0.
 */
SM_API int sm_dataset_is_standardized(const sm_dataset *ds);

/**
 * @brief The data's spread as one number, σ_data of the EDM
 *        parametrization: the root mean square deviation of every value
 *        from its column's mean, √(mean over columns of the column
 *        variances), population variances (divided by n), in double.
 * For standardized data it is 1 (less with constant columns). It is
 * computed on the values as they are stored (after standardization, if
 * any).
 * @param ds               The data set.
 * @param[out] sigma_data  Receives σ_data.
 * @return #SM_OK, #SM_ERR_INVALID_ARG (NULL, or every column constant: the
 *         data has no spread).
 */
SM_API sm_status sm_dataset_sigma_data(const sm_dataset *ds, double *sigma_data);

/**
 * @brief Copies the stored per-column mean and standard deviation.
 *
 * A data set that was never standardized reports mean 0 and std 1.
 *
 * @param ds     The data set.
 * @param mean   Receives dim values (may be NULL).
 * @param std    Receives dim values (may be NULL).
 * @param dim    Length of the output arrays; must equal sm_dataset_dim().
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_SHAPE.
 */
SM_API sm_status sm_dataset_get_standardization(const sm_dataset *ds,
                                                float *mean, float *std,
                                                size_t dim);

/**
 * @brief Maps points from the standardized space back to the original units
 *        (x·std + mean), in place.
 * @param ds      The data set whose statistics to use.
 * @param points  n × dim row-major values.
 * @param n       Number of points (0 is allowed and does nothing).
 * @param dim     Must equal sm_dataset_dim().
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_SHAPE, #SM_ERR_OVERFLOW (n·dim
 *         floats cannot exist).
 */
SM_API sm_status sm_dataset_unstandardize_points(const sm_dataset *ds,
                                                 float *points, size_t n,
                                                 size_t dim);

/**
 * @brief Maps points from original units into the data set's standardized
 *        space ((x − mean)/std), in place.
 * @param ds      The data set whose statistics to use.
 * @param points  n × dim row-major values.
 * @param n       Number of points (0 is allowed and does nothing).
 * @param dim     Must equal sm_dataset_dim().
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_SHAPE, #SM_ERR_OVERFLOW (n·dim
 *         floats cannot exist).
 */
SM_API sm_status sm_dataset_standardize_points(const sm_dataset *ds,
                                               float *points, size_t n,
                                               size_t dim);

SM_END_DECLS

#endif /* SCOREMATCH_DATASET_H */
