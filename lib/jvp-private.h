/* Forward-mode derivative of the MLP in its input (Jacobian-vector
 * products) and its reverse pass, on an input prepared by the score model
 * (scoremodel.c), which turns them into products with the score's Jacobian
 * for sliced score matching, sm_net_jvp() and the likelihood. */
#ifndef SCOREMATCH_JVP_PRIVATE_H
#define SCOREMATCH_JVP_PRIVATE_H

#include "net-private.h"

/* Rows per block of a JVP pass: bounds the workspace. */
#define SM__JVP_BLOCK 256

/* Workspace for one block of up to SM__JVP_BLOCK rows. */
typedef struct {
    float *mem;
    float *in, *in_dot;         /* rows × in_dim: the input u and its tangent u̇ */
    float *z, *z_dot, *h, *h_dot, *sg; /* depth × rows × width each */
    float *g[4];                /* rows × max(width, in_dim): backward scratch */
    size_t shard;               /* whose BLIS handle (sm__net_blas()) to use */
} sm__jvp_ws;

/* Allocates a workspace for `net` that multiplies with the BLIS handle of
 * the network's thread `shard` (< its thread count); SM_OK, SM_ERR_OVERFLOW
 * or SM_ERR_NOMEM (messages name fn). */
sm_status sm__jvp_ws_init(sm__jvp_ws *w, const sm_net *net, size_t shard, const char *fn);
void sm__jvp_ws_free(sm__jvp_ws *w);

/* F = MLP(u) and JF = ∂F/∂u · u̇ for `rows` ≤ SM__JVP_BLOCK rows of w->in
 * and w->in_dot (filled by the caller), keeping what the reverse pass
 * needs. out and jv: rows × dim. */
void sm__jvp_forward(const sm_net *net, sm__jvp_ws *w, size_t rows, float *out, float *jv);

/* The tangent stream alone for a new w->in_dot, reusing the activations of
 * the last sm__jvp_forward() on this workspace: a further direction at the
 * cost of the tangent pass only. The reverse pass then goes through it. */
void sm__jvp_tangent(const sm_net *net, sm__jvp_ws *w, size_t rows, float *jv);

/* Reverse pass through the last forward: adds to grads the gradient of
 * Σ g_out·F + g_jv·JF with respect to the parameters. */
void sm__jvp_backward(const sm_net *net, sm__jvp_ws *w, const float *g_out, const float *g_jv,
                      size_t rows, float *grads);

#endif
