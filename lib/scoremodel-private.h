/* The score model: the only door to the MLP. It owns the parametrization —
 * how x, σ and the context become the MLP's input, how the MLP's output F becomes the
 * score or the denoiser, and the chain rule back through both — so that
 * losses, samplers and the likelihood never see F.
 *
 * At one σ the parametrization is a set of scalars:
 *   u = c_in·x ‖ c_noise                    (the MLP's input)
 *   s(x, σ) = a·x + b·F(u)                  (the score)
 *   D(x, σ) = x + σ²·s = c_skip·x + c_out·F (the denoiser)
 * lab:  c_in = 1, c_noise = ln σ, a = 0, b = 1 (F is the score itself);
 * EDM (Karras et al. 2022, σ_d = σ_data): c_in = 1/√(σ² + σ_d²),
 *   c_noise = ¼ ln σ, c_skip = σ_d²/(σ² + σ_d²), c_out = σ·σ_d/√(σ² + σ_d²),
 *   so a = (c_skip − 1)/σ² = −1/(σ² + σ_d²) and b = c_out/σ². */
#ifndef SCOREMATCH_SCOREMODEL_PRIVATE_H
#define SCOREMATCH_SCOREMODEL_PRIVATE_H

#include "jvp-private.h"
#include "net-private.h"

typedef struct {
    float c_in, c_noise; /* input */
    float a, b;          /* score head */
    float c_skip, c_out; /* denoiser head */
} sm__scalings;

/* The contexts of a pass on a network with a context (context_dim c):
 * ctx holds rows × c values, or is NULL for the null context (zeros,
 * present flag 0) on every row; a row whose drop[r] is non-zero takes the
 * null context too (condition dropout in training; drop may be NULL). A
 * NULL sm__cond pointer means the null context everywhere, which is also
 * all a network without a context ever gets. */
typedef struct {
    const float *ctx;
    const unsigned char *drop;
} sm__cond;

/* What a pass returns. */
typedef enum { SM__HEAD_SCORE, SM__HEAD_DENOISER } sm__head;

/* The parametrization's scalars at σ > 0. */
void sm__score_scalings(const sm_net *net, float sigma, sm__scalings *k);

/* Weight w(σ) of the σ²-weighted DSM residual (σ·s + ε)² in the loss: 1 for
 * the lab; (σ² + σ_d²)/σ_d² for EDM, which is EDM's λ(σ)·‖D − y‖² written
 * with the same residual (‖D − y‖ = σ‖σ·s + ε‖). */
float sm__score_loss_weight(const sm_net *net, float sigma);

/* Checks contexts given to a public pass: SM_ERR_SHAPE unless
 * context_dim is the network's (a network without a context takes none),
 * SM_ERR_NONFINITE for a NaN or infinity (row named). ctx NULL passes. */
sm_status sm__score_check_context(const sm_net *net, const float *ctx, size_t n,
                                  size_t context_dim, const char *fn);

/* Checks a pass's arguments (NULL, dim, overflow, non-finite x, σ > 0
 * finite per row or the scalar sigma1 when sigma is NULL) and that the
 * network can be evaluated (EDM: σ_data known). Errors name fn. */
sm_status sm__score_check(const sm_net *net, const float *x, const float *sigma, float sigma1,
                          size_t n, size_t dim, const float *out, const char *fn);

/* The chosen head for n checked rows, in blocks of the network's block rows
 * (sigma per row, or NULL for sigma1 on every row). SM_ERR_NONFINITE for a
 * non-finite result; SM_ERR_NOMEM on first use. */
sm_status sm__score_eval(sm_net *net, const float *x, const float *sigma, float sigma1,
                         const sm__cond *cond, size_t n, sm__head head, float *out,
                         const char *fn);

/* A training pass of the score for n checked rows (1 … block rows), keeping
 * what sm__score_backward() needs. A non-finite output keeps nothing. */
sm_status sm__score_forward_train(sm_net *net, const float *x, const float *sigma,
                                  const sm__cond *cond, size_t n, float *out, const char *fn);

/* Adds ∂L/∂θ for dout = ∂L/∂s of the last training pass (n rows; ∂L/∂F
 * goes through the network's scratch when it differs from dout). */
void sm__score_backward(sm_net *net, const float *dout, size_t n);

/* Score and Jacobian-vector product for rows ≤ SM__JVP_BLOCK checked rows:
 * out = s(x, σ, c), jv = ∂s/∂x · v (σ and the context per row, held
 * fixed). */
void sm__score_jvp_forward(const sm_net *net, sm__jvp_ws *w, const float *x, const float *sigma,
                           const sm__cond *cond, const float *v, size_t rows, float *out,
                           float *jv);

/* A further direction for the rows of the last sm__score_jvp_forward() on w
 * (same x, sigma and contexts): jv = ∂s/∂x · v. */
void sm__score_jvp_tangent(const sm_net *net, sm__jvp_ws *w, const float *sigma,
                           const float *v, size_t rows, float *jv);

/* Reverse pass through the last forward on w: adds to grads the gradient of
 * Σ g_out·s + g_jv·jv. g_out and g_jv are overwritten. */
void sm__score_jvp_backward(const sm_net *net, sm__jvp_ws *w, const float *sigma, float *g_out,
                            float *g_jv, size_t rows, float *grads);

/* The contexts of rows r0 … of cond (NULL stays NULL). */
sm__cond sm__cond_rows(const sm_net *net, const sm__cond *cond, size_t r0);

#endif
