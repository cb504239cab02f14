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
 * Matrix products run on the library's own kernels where the CPU has
 * AVX-512 or AVX2 (sm_net_set_kernels(); BLIS otherwise). With
 * sm_net_set_threads() (default 1) the rows of every pass are split between
 * that many threads owned by the handle, each with its own workspace and
 * single-threaded products; no global thread setting is touched. Workspaces are sized by
 * sm_net_reserve() and reused: no call allocates memory once the workspace is
 * large enough.
 *
 * **Context.** A network made with ::sm_net_options::context_dim c > 0
 * also takes a context vector per row (a class as a one-hot row,
 * sm_labels_one_hot() in scorematch/dataset.h, or any c features): its MLP input is
 * x ‖ σ embedding ‖ context ‖ present flag, d + c + 2 values. The null
 * context, zeros with the flag 0, stands for "no condition", so the same
 * network gives the conditional score s(x, σ, c) and the unconditional one
 * s(x, σ, ∅), which classifier-free guidance combines
 * (sm_sampler_set_guidance()). The *_cond() passes take the contexts;
 * every other pass on such a network uses the null context.
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
 * @brief How the network's MLP F turns into a score (values are part of the
 *        ABI and of the model file).
 *
 * - ::SM_PARAM_LAB — the lab's network: F takes x ‖ ln σ and its output is
 *   the score itself, s(x, σ) = F(x, ln σ). Works on small, standardized
 *   data with a ladder of a few decades; the raw score spans 1/σ_min … 1/σ_max,
 *   which the network must learn to output.
 * - ::SM_PARAM_EDM — the preconditioning of Karras et al. (2022, "EDM",
 *   Table 1) with σ_data = σ_d: the denoiser is
 *   D(x, σ) = c_skip·x + c_out·F(c_in·x, c_noise) with
 *   c_skip = σ_d²/(σ² + σ_d²), c_out = σ·σ_d/√(σ² + σ_d²),
 *   c_in = 1/√(σ² + σ_d²), c_noise = ¼·ln σ, and the score is
 *   s = (D − x)/σ². Input and training target of F have unit variance at
 *   every σ, which is what makes real data of tens or hundreds of
 *   dimensions trainable.
 */
typedef enum sm_parametrization {
    SM_PARAM_LAB = 0, /**< x ‖ ln σ → score (the lab's network). */
    SM_PARAM_EDM = 1  /**< EDM preconditioning with σ_data. */
} sm_parametrization;

/** @brief Version of ::sm_net_options this header describes (2 added
 *  ::sm_net_options::context_dim; a version-1 struct is still accepted and
 *  means no context). */
#define SM_NET_OPTIONS_VERSION 2

/**
 * @brief What sm_net_new_ex() builds. Initialise with
 *        #SM_NET_OPTIONS_INIT or sm_net_options_init(), then set fields.
 *
 * The struct grows only at its end, with a new #SM_NET_OPTIONS_VERSION; the
 * library reads and writes only the fields of the version the caller's
 * struct says it has.
 */
typedef struct sm_net_options {
    unsigned version;  /**< #SM_NET_OPTIONS_VERSION. */
    size_t dim;        /**< Data dimension d ≥ 1 (no default: 0). */
    size_t width;      /**< Hidden units per layer (default 128). */
    size_t depth;      /**< Hidden layers (default 3). */
    sm_parametrization parametrization; /**< Default ::SM_PARAM_LAB. */
    /** EDM only: the data's standard deviation σ_data > 0, or 0 (default)
     *  to have sm_trainer_fit() estimate it from the training data
     *  (sm_dataset_sigma_data()). Ignored by the lab parametrization. */
    double sigma_data;
    /** Width c of the per-row context vector (version 2 on; default 0: no
     *  context). With c > 0 the MLP's input is
     *  prepared x ‖ σ embedding ‖ context (c values) ‖ present flag, and
     *  the null context (zeros, flag 0) gives the unconditional score, so
     *  one network serves both (see sm_net_forward_cond()). */
    size_t context_dim;
} sm_net_options;

/** @brief Initialiser of ::sm_net_options with the defaults. */
#define SM_NET_OPTIONS_INIT { SM_NET_OPTIONS_VERSION, 0, 128, 3, SM_PARAM_LAB, 0.0, 0 }

/**
 * @brief Fills @p opts with the defaults of #SM_NET_OPTIONS_INIT for the
 *        layout of options version @p version (for languages that cannot
 *        expand the macro).
 *
 * Only the fields that version has are written, so a program built
 * against an older header passes its own version and nothing past the end
 * of its struct is touched: pass #SM_NET_OPTIONS_VERSION.
 * @param opts     The options to fill.
 * @param version  1 … #SM_NET_OPTIONS_VERSION; written to opts->version.
 * @return #SM_OK, #SM_ERR_INVALID_ARG (@p opts NULL), #SM_ERR_VERSION
 *         (@p version 0 or newer than this library).
 */
SM_API sm_status sm_net_options_init(sm_net_options *opts, unsigned version);

/**
 * @brief A short name for a parametrization: "lab" or "edm".
 * @param param  The parametrization.
 * @return A static string; "unknown" for a value outside the enumeration.
 */
SM_API const char *sm_parametrization_name(sm_parametrization param);

/**
 * @brief Creates a network from options (architecture and
 *        parametrization), initialised as sm_net_new() does.
 * @param[out] out  Receives the network; set to NULL on failure.
 * @param opts      The options (version #SM_NET_OPTIONS_VERSION, or 1:
 *                  a struct without ::sm_net_options::context_dim, read
 *                  as 0).
 * @param rng       Generator for the initial weights.
 * @return #SM_OK, #SM_ERR_INVALID_ARG (NULL, a zero size, an unknown
 *         parametrization, σ_data negative or not finite), #SM_ERR_VERSION
 *         (@p opts from another version of this header),
 *         #SM_ERR_OVERFLOW, #SM_ERR_NOMEM.
 */
SM_API sm_status sm_net_new_ex(sm_net **out, const sm_net_options *opts, sm_rng *rng);

/**
 * @brief The options that would rebuild this network's architecture and
 *        parametrization (σ_data as it is now).
 * @param net        The network.
 * @param[out] opts  Receives the options, as a struct of this header's
 *                   version; a struct whose version field is 1 on entry
 *                   (initialised by a caller built against the version-1
 *                   header) receives only the version-1 fields.
 * @return #SM_OK or #SM_ERR_INVALID_ARG.
 */
SM_API sm_status sm_net_get_options(const sm_net *net, sm_net_options *opts);

/**
 * @brief Width c of the network's context input.
 * @param net  The network.
 * @return c; 0 for a network without a context, or if @p net is NULL.
 */
SM_API size_t sm_net_context_dim(const sm_net *net);

/**
 * @brief The network's parametrization.
 * @param net  The network.
 * @return Its parametrization; ::SM_PARAM_LAB if @p net is NULL.
 */
SM_API sm_parametrization sm_net_parametrization(const sm_net *net);

/**
 * @brief σ_data of an ::SM_PARAM_EDM network.
 * @param net  The network.
 * @return σ_data; 0 while it is not known yet, for the lab parametrization,
 *         or if @p net is NULL.
 */
SM_API double sm_net_sigma_data(const sm_net *net);

/**
 * @brief Sets σ_data of an ::SM_PARAM_EDM network (normally done once, by
 *        sm_trainer_fit(), before training: changing it afterwards changes
 *        what the trained weights mean).
 * @param net         The network.
 * @param sigma_data  > 0 and finite.
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_STATE (not an EDM network).
 */
SM_API sm_status sm_net_set_sigma_data(sm_net *net, double sigma_data);

/**
 * @brief Attaches the data normalization a network was trained under, so
 *        that it travels with the model (model files from format version 2
 *        on) and samples can be put back in the data's units.
 * The network works in normalized units u; data units are
 * x = u·scale + shift, column by column (for a data set standardized with
 * sm_dataset_standardize(), shift and scale are its mean and std:
 * sm_dataset_get_standardization()). Nothing else in the library applies
 * it: call sm_net_to_data_units() on samples, sm_net_from_data_units() on
 * data before sm_log_likelihood() and the like.
 * @param net    The network.
 * @param shift  dim values, finite; NULL together with @p scale removes the
 *               normalization.
 * @param scale  dim values, finite and > 0.
 * @param dim    Must equal sm_net_dim().
 * @return #SM_OK, #SM_ERR_INVALID_ARG (NULL @p net, only one of the arrays,
 *         a scale ≤ 0 or not finite), #SM_ERR_NONFINITE (a shift),
 *         #SM_ERR_SHAPE, #SM_ERR_NOMEM. On failure the previous
 *         normalization stays.
 */
SM_API sm_status sm_net_set_normalization(sm_net *net, const float *shift, const float *scale,
                                          size_t dim);

/**
 * @brief Whether a normalization is attached.
 * @param net  The network.
 * @return 1 if sm_net_set_normalization() (or a loaded model file) gave
 *         one, else 0 (also for NULL).
 */
SM_API int sm_net_has_normalization(const sm_net *net);

/**
 * @brief Copies the attached normalization (shift 0 and scale 1 in every
 *        column when there is none).
 * @param net         The network.
 * @param[out] shift  dim values, or NULL.
 * @param[out] scale  dim values, or NULL.
 * @param dim         Must equal sm_net_dim().
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_SHAPE.
 */
SM_API sm_status sm_net_get_normalization(const sm_net *net, float *shift, float *scale,
                                          size_t dim);

/**
 * @brief Attaches a context normalization to a network with a context
 *        (sm_net_context_dim() c ≥ 1), so that it takes contexts in their
 *        own units and the normalization travels with the model (model
 *        files of format version 3).
 * Every context that enters the network (the *_cond() passes, training
 * with contexts, conditional sampling, guidance, likelihood, imputation)
 * is mapped column by column to (context − shift)/scale before it meets
 * the weights; the null context (no context, dropped contexts, the
 * unconditional half of guidance) stays the null context. Set it before
 * training and keep it: changing it afterwards changes what the trained
 * weights mean. Without one, contexts enter as given.
 * @param net          The network.
 * @param shift        context_dim values, finite; NULL together with
 *                     @p scale removes the context normalization.
 * @param scale        context_dim values, finite and > 0.
 * @param context_dim  Must equal sm_net_context_dim() (≥ 1).
 * @return #SM_OK, #SM_ERR_INVALID_ARG (NULL @p net, only one of the arrays,
 *         a scale ≤ 0 or not finite), #SM_ERR_NONFINITE (a shift),
 *         #SM_ERR_SHAPE (@p context_dim differs, or the network has no
 *         context), #SM_ERR_NOMEM. On failure the previous context
 *         normalization stays.
 */
SM_API sm_status sm_net_set_context_normalization(sm_net *net, const float *shift,
                                                  const float *scale, size_t context_dim);

/**
 * @brief Whether a context normalization is attached.
 * @param net  The network.
 * @return 1 if sm_net_set_context_normalization() (or a loaded model file)
 *         gave one, else 0 (also for NULL).
 */
SM_API int sm_net_has_context_normalization(const sm_net *net);

/**
 * @brief Copies the attached context normalization (shift 0 and scale 1 in
 *        every column when there is none).
 * @param net          The network.
 * @param[out] shift   context_dim values, or NULL.
 * @param[out] scale   context_dim values, or NULL.
 * @param context_dim  Must equal sm_net_context_dim().
 * @return #SM_OK, #SM_ERR_INVALID_ARG (NULL @p net), #SM_ERR_SHAPE.
 */
SM_API sm_status sm_net_get_context_normalization(const sm_net *net, float *shift,
                                                  float *scale, size_t context_dim);

/**
 * @brief Puts points from the network's units into the data's, in place:
 *        x ← x·scale + shift (nothing changes without a normalization).
 * @param net     The network.
 * @param points  n × dim values.
 * @param n       Rows.
 * @param dim     Must equal sm_net_dim().
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_SHAPE, #SM_ERR_OVERFLOW.
 */
SM_API sm_status sm_net_to_data_units(const sm_net *net, float *points, size_t n, size_t dim);

/**
 * @brief Puts points from the data's units into the network's, in place:
 *        x ← (x − shift)/scale.
 * @param net     The network.
 * @param points  n × dim values.
 * @param n       Rows.
 * @param dim     Must equal sm_net_dim().
 * @return #SM_OK, #SM_ERR_INVALID_ARG, #SM_ERR_SHAPE, #SM_ERR_OVERFLOW.
 */
SM_API sm_status sm_net_from_data_units(const sm_net *net, float *points, size_t n,
                                        size_t dim);

/**
 * @brief Creates a network with the lab parametrization (::SM_PARAM_LAB)
 *        and PyTorch's default nn.Linear initialisation:
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
 * @brief Creates an independent copy (architecture, parametrization,
 *        σ_data, normalization, context normalization, parameters,
 *        gradients, thread count; the copy's workspace is allocated on
 *        first use).
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

/** Which kernels run a network's matrix products (sm_net_set_kernels()). */
typedef enum {
    /** The library's own kernels where the CPU has AVX-512 or AVX2 with FMA
     *  (chosen at run time, whatever BLIS knows of the CPU); BLIS
     *  otherwise. The default. */
    SM_KERNELS_AUTO = 0,
    /** Always BLIS, with the kernel set BLIS picks (sm_blas_config()): the
     *  bits of library versions before 0.9 where BLIS picks the same set. */
    SM_KERNELS_BLIS = 1
} sm_kernels;

/**
 * @brief Chooses the kernels of this network's matrix products.
 *
 * The choice changes speed and float rounding, not what is computed: the
 * two agree to float rounding. It applies to every pass of the network
 * (forward, training, Jacobian-vector products, likelihood) on every
 * thread, is kept by sm_net_clone(), and is not stored in model files.
 *
 * @param net      The network.
 * @param kernels  #SM_KERNELS_AUTO or #SM_KERNELS_BLIS.
 * @return #SM_OK, or #SM_ERR_INVALID_ARG (NULL @p net, unknown value;
 *         nothing changes).
 */
SM_API sm_status sm_net_set_kernels(sm_net *net, sm_kernels kernels);

/**
 * @brief What runs this network's matrix products.
 * @param net  The network.
 * @return "avx512", "avx2" (the library's kernels) or "blis"; NULL if
 *         @p net is NULL. A static string.
 */
SM_API const char *sm_net_kernels(const sm_net *net);

/**
 * @brief Thread count set by sm_net_set_threads().
 * @param net  The network.
 * @return The count; 0 if @p net is NULL.
 */
SM_API size_t sm_net_threads(const sm_net *net);

/**
 * @brief A thread count for sm_net_set_threads() that suits this process.
 *
 * The number of CPUs this process may run on: the online CPUs, fewer if
 * the calling thread's CPU affinity mask (sched_getaffinity(), e.g. set by
 * `taskset`) allows fewer, fewer still if a cgroup v2 CPU quota
 * (`/sys/fs/cgroup/cpu.max`, e.g. a container's CPU limit) allows fewer
 * (rounded up); at most 256. Networks still start with one thread: this
 * is what a program passes when it wants them all.
 *
 * Using this many threads costs little when other processes keep some of
 * the CPUs busy: each network measures its own passes and, while waking
 * its threads makes them slower than running them on the calling thread
 * alone, runs them there and lets its threads sleep (checked again now and
 * then). The results are the same bits either way.
 *
 * @return The count, 1 … 256. It is computed at each call (no state).
 */
SM_API size_t sm_net_default_threads(void);

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
 * @brief Evaluates the denoiser D(x, σ) = x + σ²·s(x, σ), the network's
 *        estimate of the clean point E[x₀ | x] (Tweedie), for @p n points,
 *        each with its own σ. For ::SM_PARAM_EDM it is computed directly as
 *        c_skip·x + c_out·F, without the round trip through the score.
 * @param net       The network.
 * @param x         n × dim row-major points.
 * @param sigma     n noise levels, each finite and > 0.
 * @param n         Number of points (0 does nothing).
 * @param dim       Must equal sm_net_dim().
 * @param[out] out  n × dim denoised points; may not overlap @p x.
 * @return As sm_net_forward().
 */
SM_API sm_status sm_net_denoise(sm_net *net, const float *x, const float *sigma,
                                size_t n, size_t dim, float *out);

/**
 * @brief sm_net_forward() with a context per row.
 * @param net          The network.
 * @param x            n × dim row-major points.
 * @param sigma        n noise levels, each finite and > 0.
 * @param ctx          n × @p context_dim contexts (finite), or NULL for the
 *                     null context on every row (the unconditional score,
 *                     the same bits as sm_net_forward()).
 * @param n            Number of points (0 does nothing).
 * @param dim          Must equal sm_net_dim().
 * @param context_dim  Must equal sm_net_context_dim() when @p ctx is given.
 * @param[out] out     n × dim scores; may not overlap @p x.
 * @return As sm_net_forward(); also #SM_ERR_SHAPE (@p context_dim differs
 *         from the network's, or a context for a network without one) and
 *         #SM_ERR_NONFINITE (NaN or infinity in @p ctx, row named).
 */
SM_API sm_status sm_net_forward_cond(sm_net *net, const float *x, const float *sigma,
                                     const float *ctx, size_t n, size_t dim,
                                     size_t context_dim, float *out);

/**
 * @brief sm_net_denoise() with a context per row.
 * @param net          The network.
 * @param x            n × dim row-major points.
 * @param sigma        n noise levels, each finite and > 0.
 * @param ctx          n × @p context_dim contexts (finite), or NULL for the
 *                     null context.
 * @param n            Number of points (0 does nothing).
 * @param dim          Must equal sm_net_dim().
 * @param context_dim  Must equal sm_net_context_dim() when @p ctx is given.
 * @param[out] out     n × dim denoised points; may not overlap @p x.
 * @return As sm_net_forward_cond().
 */
SM_API sm_status sm_net_denoise_cond(sm_net *net, const float *x, const float *sigma,
                                     const float *ctx, size_t n, size_t dim,
                                     size_t context_dim, float *out);

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
 * @brief sm_net_jvp() with a context per row (held fixed, like σ).
 * @param net          The network.
 * @param x            n × dim points (finite).
 * @param sigma        n noise levels, finite and > 0.
 * @param ctx          n × @p context_dim contexts (finite), or NULL for the
 *                     null context.
 * @param v            n × dim tangent vectors (finite).
 * @param n            Rows, ≥ 1.
 * @param dim          Must equal sm_net_dim().
 * @param context_dim  Must equal sm_net_context_dim() when @p ctx is given.
 * @param[out] out     n × dim scores, or NULL if not wanted.
 * @param[out] jv      n × dim products J·v.
 * @return As sm_net_jvp(); also #SM_ERR_SHAPE and #SM_ERR_NONFINITE for
 *         the contexts as sm_net_forward_cond().
 */
SM_API sm_status sm_net_jvp_cond(sm_net *net, const float *x, const float *sigma,
                                 const float *ctx, const float *v, size_t n, size_t dim,
                                 size_t context_dim, float *out, float *jv);

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
