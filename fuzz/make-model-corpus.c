/* Writes the seed corpus of fuzz_model_load: a few small valid model files
 * covering each section (no optimizer, SGD, Adam, normalization, context
 * normalization) and odd architectures.
 * Usage: make-model-corpus DIR   (the committed corpus is fuzz/corpus/model) */
#include <stdio.h>
#include <stdlib.h>

#include <scorematch.h>

#define TRY(call)                                                                        \
    do {                                                                                 \
        sm_status st_ = (call);                                                          \
        if (st_) {                                                                       \
            fprintf(stderr, "%s: %s\n", #call, sm_last_error());                         \
            exit(1);                                                                     \
        }                                                                                \
    } while (0)

static void write_model(const char *dir, const char *name, size_t dim, size_t width,
                        size_t depth, size_t levels, int kind, uint64_t seed, int edm,
                        size_t context_dim, int ctx_norm)
{
    sm_rng *rng;
    sm_net *net;
    sm_schedule *sched;
    sm_optim *opt = NULL;
    TRY(sm_rng_new(&rng, seed));
    sm_net_options o = SM_NET_OPTIONS_INIT;
    o.dim = dim;
    o.width = width;
    o.depth = depth;
    o.parametrization = edm ? SM_PARAM_EDM : SM_PARAM_LAB;
    o.sigma_data = edm ? 0.75 : 0.0;
    o.context_dim = context_dim;
    TRY(sm_net_new_ex(&net, &o, rng));
    if (edm) { /* with a normalization */
        float shift[8], scale[8];
        for (size_t j = 0; j < dim && j < 8; j++) {
            shift[j] = (float)j - 1.5f;
            scale[j] = 0.5f + (float)j;
        }
        TRY(sm_net_set_normalization(net, shift, scale, dim));
    }
    if (ctx_norm) { /* context_dim ≤ 8 */
        float shift[8], scale[8];
        for (size_t j = 0; j < context_dim && j < 8; j++) {
            shift[j] = 8.0f - (float)j;
            scale[j] = 4.0f + 0.25f * (float)j;
        }
        TRY(sm_net_set_context_normalization(net, shift, scale, context_dim));
    }
    TRY(sm_schedule_new_geometric(&sched, 1.0, 0.01, levels));
    size_t np = sm_net_num_params(net);
    if (kind == 1)
        TRY(sm_optim_new_adam(&opt, np, 1e-3, 0.9, 0.999, 1e-8, 0.0));
    else if (kind == 2)
        TRY(sm_optim_new_sgd(&opt, np, 1e-2, 0.9, 1e-4));
    if (opt) {
        TRY(sm_optim_set_clip_norm(opt, 1.0));
        for (int s = 0; s < 3; s++) {
            TRY(sm_rng_fill_normal(rng, sm_net_grads(net), np, 0.0, 1.0));
            TRY(sm_optim_step_net(opt, net));
        }
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    TRY(sm_model_save(path, net, sched, opt));
    sm_optim_free(opt);
    sm_schedule_free(sched);
    sm_net_free(net);
    sm_rng_free(rng);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    /* Format version 2 (the committed corpus also keeps version-1 files:
     * tiny-plain.smm … wide-plain.smm, written before version 2). */
    write_model(argv[1], "v2-tiny-plain.smm", 1, 1, 1, 2, 0, 1, 0, 0, 0);
    write_model(argv[1], "v2-tiny-edm-sgd.smm", 1, 1, 1, 2, 2, 2, 1, 0, 0);
    write_model(argv[1], "v2-small-edm-adam.smm", 2, 8, 2, 10, 1, 4, 1, 0, 0);
    write_model(argv[1], "v2-deep-edm.smm", 3, 4, 4, 5, 0, 5, 1, 0, 0);
    /* Format version 3: networks with a context. */
    write_model(argv[1], "v3-tiny-cond.smm", 1, 1, 1, 2, 0, 6, 0, 1, 0);
    write_model(argv[1], "v3-small-edm-cond-adam.smm", 2, 8, 2, 10, 1, 7, 1, 3, 0);
    /* Version 3 with a context normalization. */
    write_model(argv[1], "v3-edm-cond-ctxnorm.smm", 2, 4, 2, 5, 0, 8, 1, 3, 1);
    write_model(argv[1], "v3-cond-ctxnorm-sgd.smm", 1, 2, 1, 3, 2, 9, 0, 2, 1);
    return 0;
}
