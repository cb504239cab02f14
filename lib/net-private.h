/* The MLP behind a score network: what the score model (scoremodel.c), the
 * Jacobian-vector product (jvp.c), the trainer and the model file reach
 * through sm__net_* functions. struct sm_net itself stays in net.c. */
#ifndef SCOREMATCH_NET_PRIVATE_H
#define SCOREMATCH_NET_PRIVATE_H

#include "scorematch/net.h"
#include "blas-private.h"
#include "pool-private.h"

/* Non-zero if a and b have the same architecture and parametrization (so
 * parameter buffers of one fit the other). */
int sm__net_same_shape(const sm_net *a, const sm_net *b);

/* sm_net_ema_update() without its checks (the caller made them: same shape,
 * decay in [0, 1], finite parameters), split between net's threads by
 * parameter slices (the same bits as one thread). */
void sm__net_ema_step(sm_net *ema, const sm_net *net, double decay);

/* Switches a network between BLIS and the naive reference product. */
sm_status sm__net_use_reference(sm_net *net, int reference);

/* Parameter count of an architecture (context_dim 0: no context) into
 * *count. Returns SM_OK, SM_ERR_INVALID_ARG (a zero size) or
 * SM_ERR_OVERFLOW (a size beyond sm_net_new()'s limits, or the count
 * overflows); sets no message. */
sm_status sm__net_param_count(size_t dim, size_t context_dim, size_t width, size_t depth,
                              size_t *count);

/* A network with the given options and parameters (sm__net_param_count()
 * floats, copied), zero gradients, one thread and no workspace. The options
 * must have passed sm__net_check_options(). Errors name fn. */
sm_status sm__net_new_with_params(sm_net **out, const sm_net_options *opts,
                                  const float *params, const char *fn);

/* SM_ERR_INVALID_ARG with a message naming fn unless opts describe a network
 * that can be made (sizes, parametrization, σ_data); SM_ERR_OVERFLOW for
 * sizes beyond the limits. */
sm_status sm__net_check_options(const sm_net_options *opts, const char *fn);

/* The parametrization and σ_data (0 while unknown) of a network. */
sm_parametrization sm__net_param(const sm_net *net);
float sm__net_sigma_data(const sm_net *net);

/* ---- the MLP on prepared input ---------------------------------------- */

/* Inputs per row of the MLP: dim + 1 (scaled x ‖ σ embedding), and
 * context_dim + 1 more (context ‖ present flag) for a network with a
 * context. */
size_t sm__net_in_dim(const sm_net *net);

/* NULL, or the attached context normalization: c shifts then c scales. */
const float *sm__net_context_norm(const sm_net *net);

/* Makes sure a workspace exists (1024 rows if never reserved). */
sm_status sm__net_ensure_workspace(sm_net *net, const char *fn);

/* Rows one pass can take: the reserved capacity of all threads together. */
size_t sm__net_block_rows(const sm_net *net);

/* The prepared input of the next pass: sm__net_block_rows() × in_dim floats,
 * row-major, written by the caller before sm__net_mlp_forward(). */
float *sm__net_input(sm_net *net);

/* Scratch for the caller: sm__net_block_rows() × dim floats. */
float *sm__net_scratch(sm_net *net);

/* Per-row floats (sm__net_block_rows() of them) that the network keeps for
 * its caller between a training forward pass and its backward pass (the
 * score model keeps the chain-rule factor of each row there). */
float *sm__net_row_aux(sm_net *net);

/* F = MLP(input) for the first n ≤ block rows of sm__net_input(); out is
 * n × dim. With train, the activations are kept for sm__net_mlp_backward();
 * otherwise any kept activations are discarded. Rows are split between the
 * network's threads. Cannot fail (inputs are the caller's to check). */
void sm__net_mlp_forward(sm_net *net, size_t n, float *out, int train);

/* Rows held by the last training forward pass (0 if none). */
size_t sm__net_train_rows(const sm_net *net);

/* Forgets the last training forward pass (after it failed). */
void sm__net_discard_train(sm_net *net);

/* Adds ∂L/∂θ to the gradient buffer for dF = ∂L/∂F of the last training
 * forward pass (n × dim, n = its rows). */
void sm__net_mlp_backward(sm_net *net, const float *dF, size_t n);

/* One forward definition, shared by the passes above and the
 * Jacobian-vector product: rows × in_dim input `in` → rows × dim `out`,
 * keeping the pre-activations z, the SiLU outputs h and sigmoid(z), or
 * silu'(z) when `derivative` is set (what the backward pass needs), of
 * hidden layer l at offset l·ld·width of z, h and acts (ld ≥ rows); acts
 * NULL keeps h only (inference). z is scratch whose contents are
 * unspecified unless acts is given and derivative is not set. blas NULL:
 * the reference loops. */
void sm__net_forward_rows(const sm_net *net, sm__blas *blas, const float *in, size_t rows,
                          float *z, float *h, float *acts, int derivative, size_t ld,
                          float *out);

/* Read-only parameters (sm_net_params() for a const network). */
const float *sm__net_weights(const sm_net *net);

/* The BLIS handle of thread `shard` (< sm_net_threads()); NULL on the
 * reference path. Looked up per call: it changes with sm_net_set_threads(). */
sm__blas *sm__net_blas(const sm_net *net, size_t shard);

/* The network's worker pool (NULL for one thread). */
sm__pool *sm__net_pool(const sm_net *net);

/* SM_ERR_NONFINITE for a non-finite output of point `row`, naming the first
 * non-finite parameter if there is one. */
sm_status sm__net_nonfinite_error(const sm_net *net, size_t row, const char *fn);

#endif
