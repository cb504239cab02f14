/* Forward-mode derivative of the score network in x (Jacobian-vector
 * products) and its reverse pass, for sliced score matching and the
 * likelihood. Shared by jvp.c, ssm.c and likelihood.c. */
#ifndef SCOREMATCH_JVP_PRIVATE_H
#define SCOREMATCH_JVP_PRIVATE_H

#include "net-private.h"

/* Rows per block of a JVP pass: bounds the workspace. */
#define SM__JVP_BLOCK 256

/* Workspace for one block of up to SM__JVP_BLOCK rows. */
typedef struct {
    float *mem;
    float *in, *in_dot;         /* rows × (d+1): x ‖ log σ and v ‖ 0 */
    float *z, *z_dot, *h, *h_dot, *sg; /* depth × rows × width each */
    float *g[4];                /* rows × max(width, d+1): backward scratch */
    size_t shard;               /* whose BLIS handle (net->shards[shard]) to use */
} sm__jvp_ws;

/* Allocates a workspace for `net` that multiplies with the BLIS handle of
 * the network's shard `shard` (< its thread count); SM_OK, SM_ERR_OVERFLOW
 * or SM_ERR_NOMEM (messages name fn). */
sm_status sm__jvp_ws_init(sm__jvp_ws *w, const sm_net *net, size_t shard, const char *fn);
void sm__jvp_ws_free(sm__jvp_ws *w);

/* Forward pass of rows ≤ SM__JVP_BLOCK rows (inputs already checked):
 * out = s(x, σ), jv = ∂s/∂x · v (both rows × d), keeping what the reverse
 * pass needs. sigma: per row. */
void sm__jvp_forward(const sm_net *net, sm__jvp_ws *w, const float *x, const float *sigma,
                     const float *v, size_t rows, float *out, float *jv);

/* The tangent stream alone, jv = ∂s/∂x · v, for the rows and inputs of the
 * last sm__jvp_forward() on this workspace (its activations are reused):
 * a further direction at the cost of the tangent pass only. The reverse
 * pass then goes through this tangent. */
void sm__jvp_tangent(const sm_net *net, sm__jvp_ws *w, const float *v, size_t rows, float *jv);

/* Reverse pass through the last sm__jvp_forward(): adds to grads the
 * gradient of Σ g_out·out + g_jv·jv with respect to the parameters. */
void sm__jvp_backward(const sm_net *net, sm__jvp_ws *w, const float *g_out, const float *g_jv,
                      size_t rows, float *grads);

#endif
