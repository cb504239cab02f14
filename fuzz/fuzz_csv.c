/* libFuzzer harness for the CSV parser (sm_dataset_parse_csv()).
 *
 * Properties checked beyond "no crash, no leak, no undefined behaviour": a
 * failed parse sets the output to NULL and leaves a message; a successful
 * one gives at least one row and column, and only finite values.
 *
 * Run: build-fuzz/fuzz/fuzz_csv -max_total_time=300 NEW_DIR fuzz/corpus/csv
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include <scorematch.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                    \
    do {                                                                                 \
        if (!(cond))                                                                     \
            __builtin_trap();                                                            \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sm_dataset *ds = (sm_dataset *)&ds;
    sm_clear_error();
    sm_status st = sm_dataset_parse_csv(&ds, (const char *)data, size);
    if (st != SM_OK) {
        REQUIRE(ds == NULL);
        REQUIRE(sm_last_error()[0] != '\0');
        return 0;
    }
    size_t n = sm_dataset_size(ds), d = sm_dataset_dim(ds);
    REQUIRE(n >= 1 && d >= 1);
    const float *x = sm_dataset_data(ds);
    for (size_t i = 0; i < n * d; i++)
        REQUIRE(isfinite(x[i]));
    sm_dataset_free(ds);
    return 0;
}
