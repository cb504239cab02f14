/**
 * @file scorematch/net.h
 * @brief Noise-conditioned MLP score network s_θ(x, σ) (::sm_net).
 *
 * The network maps a point x ∈ ℝ^d and a noise level σ > 0 to an estimate of
 * the score ∇ₓ log p_σ(x). Its input is the concatenation x ‖ log σ
 * (d + 1 values); it has `depth` hidden layers of `width` units with the SiLU
 * activation (z·sigmoid(z)) and a linear output layer of d units. The lab's
 * network is d = 2, width = 128, depth = 3: 3 → 128 → 128 → 128 → 2.
 *
 * Parameters live in one contiguous float buffer; layer l (0 = input layer)
 * stores its weight matrix W_l, fan_out × fan_in row-major (PyTorch's
 * nn.Linear layout), followed by its bias b_l (fan_out values). A gradient
 * buffer of the same length and layout sits beside it. Both are readable and
 * writable through sm_net_params() and sm_net_grads(), for example to
 * average gradients across processes; sm_net_layer() gives each layer's
 * offsets.
 *
 * Matrix products go through BLIS. With sm_net_set_threads() (default 1)
 * the rows of every pass are split between that many threads owned by the
 * handle, each with its own workspace and single-threaded BLIS calls; no
 * global thread setting is touched. Workspaces are sized by
 * sm_net_reserve() and reused: no call allocates memory once the workspace is
 * large enough.
 *
 * A handle is not thread-safe: use one per thread, or lock.
 */
#ifndef SCOREMATCH_NET_H
#define SCOREMATCH_NET_H

#include "scorematch/common.h"
#include "scorematch/error.h"
#include "scorematch/rng.h"

SM_BEGIN_DECLS

/** @brief Opaque score network. */
typedef struct sm_net sm_net;

/**
 * @brief Creates a network with PyTorch's default nn.Linear initialisation:
 *        every weight and bias uniform in ±1/√fan_in, drawn from @p rng in
 *        layer order (weights row by row, then biases).
 * @param[out] out  Receives the network; set to NULL on failure.
 * @param dim       Data dimension d ≥ 1 (input d + 1, output d).
 * @param width     Hidden units per layer, ≥ 1.
 * @param depth     Number of hidden layers, ≥ 1.
 * @param rng       Generator for the initial weights.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_OVERFLOW, #SM_ERR_NOMEM.
 */
SM_API sm_status sm_net_new(sm_net **out, size_t dim, size_t width, size_t depth,
                            sm_rng *rng);

/**
 * @brief Creates an independent copy (architecture, parameters, gradients,
 *        thread count; the copy's workspace is allocated on first use).
 * @param net       The network to copy.
 * @param[out] out  Receives the copy; set to NULL on failure.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_NOMEM.
 */
SM_API sm_status sm_net_clone(const sm_net *net, sm_net **out);

/**
 * @brief Frees a network.
 * @param net  The network, or NULL (ignored).
 */
SM_API void sm_net_free(sm_net *net);

/**
 * @brief Data dimension d.
 * @param net  The network.
 * @return d; 0 if @p net is NULL.
 */
SM_API size_t sm_net_dim(const sm_net *net);

/**
 * @brief Hidden width.
 * @param net  The network.
 * @return Units per hidden layer; 0 if @p net is NULL.
 */
SM_API size_t sm_net_width(const sm_net *net);

/**
 * @brief Number of hidden layers.
 * @param net  The network.
 * @return depth; 0 if @p net is NULL.
 */
SM_API size_t sm_net_depth(const sm_net *net);

/**
 * @brief Number of float parameters (length of the parameter and gradient
 *        buffers).
 * @param net  The network.
 * @return The count; 0 if @p net is NULL.
 */
SM_API size_t sm_net_num_params(const sm_net *net);

/**
 * @brief The flat parameter buffer (read/write).
 * @param net  The network.
 * @return sm_net_num_params() floats; NULL if @p net is NULL.
 */
SM_API float *sm_net_params(sm_net *net);

/**
 * @brief The flat gradient buffer (read/write), same layout as the
 *        parameters.
 * @param net  The network.
 * @return sm_net_num_params() floats; NULL if @p net is NULL.
 */
SM_API float *sm_net_grads(sm_net *net);

/**
 * @brief Where one linear layer lives in the flat buffers.
 * @param net             The network.
 * @param layer           0 … depth (depth is the output layer).
 * @param[out] w_offset   Offset of W (fan_out × fan_in, row-major); may be NULL.
 * @param[out] b_offset   Offset of b (fan_out values); may be NULL.
 * @param[out] fan_in     Inputs of the layer; may be NULL.
 * @param[out] fan_out    Outputs of the layer; may be NULL.
 * @return #SM_OK, #SM_ERR_INVALID_ARG (NULL net or layer out of range).
 */
SM_API sm_status sm_net_layer(const sm_net *net, size_t layer, size_t *w_offset,
                              size_t *b_offset, size_t *fan_in, size_t *fan_out);

/**
 * @brief Copies all parameters from @p src into @p dst (same architecture).
 * @param dst  Destination network.
 * @param src  Source network.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_SHAPE.
 */
SM_API sm_status sm_net_copy_params(sm_net *dst, const sm_net *src);

/**
 * @brief Updates an exponential moving average (EMA) of a network's weights:
 *        θ_ema ← decay·θ_ema + (1 − decay)·θ, element by element.
 *
 * Make @p ema with sm_net_clone(), update it after every optimizer step
 * (or let the trainer do it: sm_trainer_set_ema()), and sample from it; the
 * averaged weights are usually smoother than the last iterate.
 *
 * @param ema    The averaged network; same architecture as @p net.
 * @param net    The network being trained.
 * @param decay  In [0, 1]; 0 copies @p net, 1 leaves @p ema unchanged.
 * @return #SM_OK, #SM_ERR_INVALID_ARG (NULL, decay outside [0, 1] or NaN),
 *         #SM_ERR_SHAPE (architectures differ), #SM_ERR_NONFINITE (a
 *         parameter of @p net is not finite; @p ema is left unchanged).
 */
SM_API sm_status sm_net_ema_update(sm_net *ema, const sm_net *net, double decay);

/**
 * @brief Sets the number of threads this network's passes use.
 *
 * The rows of a pass are split into contiguous shards, one per thread (fewer
 * for small passes); a backward pass sums the shards' gradients in a fixed
 * order. The same thread count always gives the same bits; different counts
 * agree to float rounding (forward results are usually bit-identical,
 * gradients differ in summation order). The threads are created here and
 * live until the network is freed or the count changes; the reserved row
 * capacity (sm_net_reserve()) is kept.
 *
 * @param net      The network.
 * @param threads  1 … 256.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_NOMEM (threads could not be
 *         started; the previous setting stays).
 */
SM_API sm_status sm_net_set_threads(sm_net *net, size_t threads);

/**
 * @brief Thread count set by sm_net_set_threads().
 * @param net  The network.
 * @return The count; 0 if @p net is NULL.
 */
SM_API size_t sm_net_threads(const sm_net *net);

/**
 * @brief Sizes the workspace for batches of up to @p batch rows.
 *
 * Forward passes for inference run in blocks of this many rows (1024 if
 * never reserved); training passes (sm_net_forward_train()) accept at most
 * this many rows.
 *
 * @param net    The network.
 * @param batch  Rows, ≥ 1.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_OVERFLOW, #SM_ERR_NOMEM (the
 *         network keeps its previous workspace).
 */
SM_API sm_status sm_net_reserve(sm_net *net, size_t batch);

/**
 * @brief Evaluates the score for @p n points, each with its own σ.
 * @param net       The network (its workspace is used).
 * @param x         n × dim row-major points.
 * @param sigma     n noise levels, each finite and > 0.
 * @param n         Number of points (0 does nothing).
 * @param dim       Must equal sm_net_dim().
 * @param[out] out  n × dim scores; may not overlap @p x.
 * @return #SM_OK, #SM_ERR_INVALID_ARG (NULL, σ ≤ 0 or non-finite),
 *         #SM_ERR_SHAPE, #SM_ERR_OVERFLOW (n·dim floats cannot exist),
 *         #SM_ERR_NONFINITE (NaN or infinity in @p x, or in the output: the
 *         parameters hold NaN or infinity, named in the message, or the
 *         values overflow float; @p out is then unspecified),
 *         #SM_ERR_NOMEM (first use only).
 */
SM_API sm_status sm_net_forward(sm_net *net, const float *x, const float *sigma,
                                size_t n, size_t dim, float *out);

/**
 * @brief Evaluates the score for @p n points sharing one σ (the sampler's
 *        case). Arguments as sm_net_forward() with a scalar @p sigma.
 * @param net       The network.
 * @param x         n × dim row-major points.
 * @param sigma     Noise level, finite and > 0.
 * @param n         Number of points.
 * @param dim       Must equal sm_net_dim().
 * @param[out] out  n × dim scores.
 * @return As sm_net_forward().
 */
SM_API sm_status sm_net_forward_sigma(sm_net *net, const float *x, float sigma,
                                      size_t n, size_t dim, float *out);

/**
 * @brief Score and Jacobian-vector product in x: out = s(x, σ) and
 *        jv = (∂s/∂x)·v for every row, by forward-mode differentiation
 *        written for this network (σ is held fixed).
 *
 * For instance the trace of the Jacobian (the divergence of the score) is
 * the sum over the basis vectors e_j of e_jᵀ·J·e_j (dim calls), or
 * estimated as vᵀ·J·v with random v (Hutchinson). Runs on one thread, in
 * blocks of 256 rows, and allocates its workspace on each call.
 * @param net       The network.
 * @param x         n × dim points (finite).
 * @param sigma     n noise levels, finite and > 0.
 * @param v         n × dim tangent vectors (finite).
 * @param n         Rows, ≥ 1.
 * @param dim       Must equal sm_net_dim().
 * @param[out] out  n × dim scores, or NULL if not wanted.
 * @param[out] jv   n × dim products J·v.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_SHAPE, #SM_ERR_OVERFLOW,
 *         #SM_ERR_NOMEM, #SM_ERR_NONFINITE (non-finite input, or a
 *         non-finite result from NaN or infinite parameters).
 */
SM_API sm_status sm_net_jvp(sm_net *net, const float *x, const float *sigma, const float *v,
                            size_t n, size_t dim, float *out, float *jv);

/**
 * @brief Forward pass that keeps the activations for sm_net_backward().
 * @param net       The network; n ≤ the reserved batch (sm_net_reserve()).
 * @param x         n × dim row-major points.
 * @param sigma     n noise levels, finite and > 0.
 * @param n         Rows, 1 … reserved batch.
 * @param dim       Must equal sm_net_dim().
 * @param[out] out  n × dim scores.
 * @return #SM_OK, #SM_ERR_INVALID_ARG (also n = 0), #SM_ERR_SHAPE,
 *         #SM_ERR_OVERFLOW, #SM_ERR_NONFINITE (as sm_net_forward(); nothing
 *         is kept for sm_net_backward()), #SM_ERR_STATE (n larger than the
 *         reserved batch).
 */
SM_API sm_status sm_net_forward_train(sm_net *net, const float *x, const float *sigma,
                                      size_t n, size_t dim, float *out);

/**
 * @brief Back-propagates ∂L/∂out through the last sm_net_forward_train() and
 *        adds ∂L/∂θ to the gradient buffer.
 * @param net   The network.
 * @param dout  n × dim gradient of the loss with respect to the output.
 * @param n     Must equal the rows of the last training forward pass.
 * @param dim   Must equal sm_net_dim().
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_SHAPE, #SM_ERR_STATE (no
 *         training forward pass to back-propagate; an inference forward pass
 *         in between discards the saved activations).
 */
SM_API sm_status sm_net_backward(sm_net *net, const float *dout, size_t n, size_t dim);

/**
 * @brief Sets every gradient to zero.
 * @param net  The network.
 * @return #SM_OK or #SM_ERR_INVALID_ARG.
 */
SM_API sm_status sm_net_zero_grad(sm_net *net);

SM_END_DECLS

#endif /* SCOREMATCH_NET_H */
