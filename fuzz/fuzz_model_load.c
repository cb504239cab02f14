/* libFuzzer harness for the model loader (sm_model_load_buffer()).
 *
 * Each input is loaded twice: as it is, and with its last four bytes
 * replaced by the correct CRC-32, so that the fuzzer also reaches the
 * checks behind the checksum. Properties checked beyond "no crash, no
 * leak, no undefined behaviour":
 *   - a failed load sets every output to NULL and leaves a message;
 *   - an accepted input saves back to exactly the same bytes (the format
 *     has one encoding per model; a version-1 input saves as version 2,
 *     which is the same bytes with the version field 2 and 16 bytes of
 *     model fields after the header), and the loaded network runs (or
 *     reports a non-finite output when finite parameters are large enough
 *     to overflow float, or that an EDM network's σ_data is unknown).
 *
 * Run: build-fuzz/fuzz/fuzz_model_load -max_total_time=300 NEW_DIR fuzz/corpus/model
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <scorematch.h>

#include "crc32-private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                    \
    do {                                                                                 \
        if (!(cond))                                                                     \
            __builtin_trap();                                                            \
    } while (0)

static void load_one(const uint8_t *data, size_t size)
{
    sm_net *net = (sm_net *)&net;
    sm_schedule *sched = (sm_schedule *)&sched;
    sm_optim *opt = (sm_optim *)&opt;
    sm_clear_error();
    sm_status st = sm_model_load_buffer(data, size, &net, &sched, &opt);
    if (st != SM_OK) {
        REQUIRE(net == NULL && sched == NULL && opt == NULL);
        REQUIRE(sm_last_error()[0] != '\0');
        return;
    }
    REQUIRE(net != NULL && sched != NULL);

    void *out = NULL;
    size_t len = 0;
    REQUIRE(sm_model_save_buffer(net, sched, opt, &out, &len) == SM_OK);
    if (data[8] == 1) {
        const uint8_t *o = out;
        REQUIRE(len == size + 16 && memcmp(o, data, 8) == 0 && o[8] == 2);
        REQUIRE(memcmp(o + 12, data + 12, 44) == 0);
        REQUIRE(memcmp(o + 72, data + 56, size - 60) == 0);
    } else {
        REQUIRE(len == size && memcmp(out, data, size) == 0);
    }
    sm_free(out);

    /* The optimizer state may be ignored, and the network works. */
    sm_net *net2;
    sm_schedule *sched2;
    REQUIRE(sm_model_load_buffer(data, size, &net2, &sched2, NULL) == SM_OK);
    size_t dim = sm_net_dim(net2);
    if (dim <= 64) {
        float x[64] = {0}, y[64];
        float sigma = sm_schedule_sigma(sched2, sm_schedule_levels(sched2) - 1);
        /* Finite but huge parameters may overflow float: that is reported. */
        sm_status fst = sm_net_forward_sigma(net2, x, sigma, 1, dim, y);
        REQUIRE(fst == SM_OK || fst == SM_ERR_NONFINITE ||
                (fst == SM_ERR_STATE && sm_net_sigma_data(net2) == 0.0));
    }
    sm_net_free(net2);
    sm_schedule_free(sched2);

    sm_net_free(net);
    sm_schedule_free(sched);
    sm_optim_free(opt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    load_one(data, size);
    if (size >= 4) {
        uint8_t *copy = malloc(size);
        if (!copy)
            return 0;
        memcpy(copy, data, size);
        uint32_t crc = sm__crc32(0, copy, size - 4);
        for (int i = 0; i < 4; i++)
            copy[size - 4 + i] = (uint8_t)(crc >> (8 * i));
        load_one(copy, size);
        free(copy);
    }
    return 0;
}
