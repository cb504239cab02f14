/**
 * @file scorematch/model.h
 * @brief Model files: a trained network, its noise ladder and optionally the
 *        optimizer's state, saved to and loaded from a file or a memory
 *        buffer.
 *
 * A model file holds an ::sm_net (architecture, parametrization, σ_data,
 * the data normalization and the context normalization if attached, and
 * every parameter), the ::sm_schedule it was trained with and, optionally,
 * an ::sm_optim's full state (kind, hyperparameters, step count, moment
 * buffers), so that training can resume exactly where it stopped: a network
 * and optimizer loaded from a file continue bit for bit like the originals
 * would have.
 * Values round-trip bit-exactly.
 *
 * The format is defined byte by byte, independently of the host: every
 * integer is little-endian fixed width, every float IEEE-754 little-endian.
 * Format version 2 (offsets in bytes; P parameters, L levels, d = dim,
 * N = 8d bytes of normalization if flag bit 1 is set, else 0; n = P):
 *
 * | offset       | size | type   | field                                          |
 * |--------------|------|--------|------------------------------------------------|
 * | 0            | 8    | bytes  | magic `89 53 4D 4D 0D 0A 1A 0A`: 0x89, "SMM", CR LF, 0x1A, LF |
 * | 8            | 4    | u32    | format version, 2                              |
 * | 12           | 4    | u32    | flags: bit 0 = optimizer section, bit 1 = normalization; other bits 0 |
 * | 16           | 8    | u64    | dim d                                          |
 * | 24           | 8    | u64    | width                                          |
 * | 32           | 8    | u64    | depth                                          |
 * | 40           | 8    | u64    | P, parameter count (must match the architecture) |
 * | 48           | 8    | u64    | L, noise levels                                |
 * | 56           | 4    | u32    | parametrization: 0 = lab, 1 = EDM (::sm_parametrization) |
 * | 60           | 4    | u32    | reserved, 0                                    |
 * | 64           | 8    | f64    | σ_data: 0 for lab; EDM: > 0, or 0 (not known yet) |
 * | 72           | 4P   | f32[P] | parameters, in sm_net_params() order           |
 * | 72 + 4P      | 4L   | f32[L] | σ₁ > … > σ_L                                   |
 * | 72 + 4P + 4L | N    | f32[2d]| normalization: d shifts, then d scales > 0 (if flag bit 1) |
 * | o = 72+4P+4L+N | 4  | u32    | optimizer kind: 1 = Adam, 2 = SGD (if flag bit 0) |
 * | o + 4        | 4    | u32    | reserved, 0                                    |
 * | o + 8        | 8    | u64    | n, optimizer size (must equal P)               |
 * | o + 16       | 8    | u64    | steps taken (sm_optim_steps())                 |
 * | o + 24       | 56   | f64[7] | lr, β₁, β₂, ε, weight decay, momentum, clip norm (unused by the kind: 0) |
 * | o + 80       | 4n   | f32[n] | Adam's first moment, or SGD's velocity         |
 * | o + 80 + 4n  | 4n   | f32[n] | Adam's second moment (Adam only)               |
 * | end − 4      | 4    | u32    | CRC-32 (IEEE, as zlib's crc32()) of every byte before it |
 *
 * Format version 1, written by earlier releases, is the same without the
 * 16 bytes at offsets 56–71 and without flag bit 1: every network in it is
 * a lab network without normalization. It still loads.
 *
 * Format version 3 is version 2 with 8 more bytes after the σ_data field:
 * a `u64` context_dim c ≥ 1 at offset 72 (sm_net_context_dim()), so the
 * parameters start at offset 80 and P counts the first layer's
 * (d + c + 2)·width inputs. Saving writes version 3 for a network with a
 * context and version 2 for any other, so every model has one encoding
 * and files of networks without a context stay readable by earlier
 * releases. A version-3 file may set flag bit 2: a context normalization
 * section (sm_net_set_context_normalization()) of 2c `f32` values, c
 * shifts then c scales > 0, right after the data normalization (if any)
 * and before the optimizer section; a file without it loads as a network
 * without one.
 *
 * Loading checks every field and rejects a file that is not exactly this
 * layout: wrong magic, truncated or with trailing bytes, a size field that
 * disagrees with the architecture or with the length of the data
 * (#SM_ERR_FORMAT); an unknown version (#SM_ERR_VERSION); a checksum
 * mismatch (#SM_ERR_FORMAT); a NaN or infinity in a parameter, σ, moment or
 * hyperparameter (#SM_ERR_NONFINITE); σ not positive and strictly
 * decreasing, a hyperparameter out of its range or an unknown optimizer kind
 * (#SM_ERR_FORMAT). The message names the field. Sizes are checked against
 * the length of the input before anything is allocated, so a small corrupt
 * file can never make the loader allocate a lot of memory. The guide page
 * @ref model_format has the details and an example.
 */
#ifndef SCOREMATCH_MODEL_H
#define SCOREMATCH_MODEL_H

#include "scorematch/common.h"
#include "scorematch/error.h"
#include "scorematch/net.h"
#include "scorematch/optim.h"
#include "scorematch/schedule.h"

SM_BEGIN_DECLS

/** @brief Newest model file format version: written by the save functions
 *  for a network with a context; a network without one is written as
 *  version 2 (versions 1 and 2 still load). */
#define SM_MODEL_FORMAT_VERSION 3

/**
 * @brief Saves a model to a file, atomically.
 *
 * The bytes go to a new temporary file in the same directory
 * (`path` + ".tmp-XXXXXX", created with mode 0666 minus the umask), which is
 * flushed to disk with fsync() and then renamed over @p path. Readers see
 * either the old file or the complete new one; if anything fails (a write
 * error, a full disk, fsync, close or the rename), the temporary file is
 * removed and an existing file at @p path is left as it was. Only a crash
 * or kill of the process (or a power loss) between the creation of the
 * temporary file and the rename can leave it behind; it never replaces
 * @p path and may be deleted. A symbolic link at @p path is replaced, not
 * followed. An existing special file at @p path (a terminal, /dev/null, a
 * pipe) and a link to one of the process's open descriptors (/dev/stdout,
 * /dev/fd/N, also when it leads to a regular file through a shell
 * redirection, which is then truncated) are written in place instead,
 * since a rename would replace them with a plain file; a FIFO that no
 * process reads is refused with #SM_ERR_IO rather than waited on.
 *
 * @param path   File to create or replace.
 * @param net    The network.
 * @param sched  The noise ladder it was (or will be) trained with.
 * @param opt    Optimizer whose state to save for resuming training (its size
 *               must equal sm_net_num_params()), or NULL for none.
 * @return #SM_OK; #SM_ERR_INVALID_ARG (NULL @p path, @p net or @p sched);
 *         #SM_ERR_SHAPE (optimizer size); #SM_ERR_NONFINITE (a parameter or
 *         moment is NaN or infinite: nothing is written); #SM_ERR_IO (the
 *         message gives the reason); #SM_ERR_NOMEM.
 */
SM_API sm_status sm_model_save(const char *path, const sm_net *net, const sm_schedule *sched,
                               const sm_optim *opt);

/**
 * @brief Saves a model into a new memory buffer (same bytes as a file).
 * @param net           The network.
 * @param sched         The noise ladder.
 * @param opt           Optimizer state to include, or NULL.
 * @param[out] out      Receives the buffer, to be released with sm_free();
 *                      set to NULL on failure.
 * @param[out] out_len  Receives its length in bytes; set to 0 on failure.
 * @return As sm_model_save(), without #SM_ERR_IO.
 */
SM_API sm_status sm_model_save_buffer(const sm_net *net, const sm_schedule *sched,
                                      const sm_optim *opt, void **out, size_t *out_len);

/**
 * @brief Loads a model file.
 *
 * The network has one thread and no workspace, like a new one; its
 * gradients are zero. A loaded optimizer has the saved kind,
 * hyperparameters (including the clip norm), step count and moments.
 * On failure every output is set to NULL and nothing is kept allocated.
 *
 * Only a regular file is read: a directory, a FIFO or pipe, or a device is
 * refused with #SM_ERR_IO at once (read the bytes yourself and use
 * sm_model_load_buffer() for those).
 *
 * @param path        File to read.
 * @param[out] net    Receives the network.
 * @param[out] sched  Receives the noise ladder.
 * @param[out] opt    Receives the optimizer, or NULL if the file holds no
 *                    optimizer state; pass NULL to ignore the state (it is
 *                    still checked).
 * @return #SM_OK; #SM_ERR_INVALID_ARG; #SM_ERR_IO (cannot open or read,
 *         not a regular file); #SM_ERR_FORMAT, #SM_ERR_VERSION,
 *         #SM_ERR_NONFINITE (see the file description; the message names
 *         the file and the field); #SM_ERR_NOMEM.
 */
SM_API sm_status sm_model_load(const char *path, sm_net **net, sm_schedule **sched,
                               sm_optim **opt);

/**
 * @brief Loads a model from memory (same rules as sm_model_load()).
 * @param buf         The bytes of a model file (may be NULL if @p len is 0).
 * @param len         Their number; the model must fill them exactly.
 * @param[out] net    Receives the network.
 * @param[out] sched  Receives the noise ladder.
 * @param[out] opt    Receives the optimizer or NULL; may itself be NULL.
 * @return As sm_model_load(), without #SM_ERR_IO.
 */
SM_API sm_status sm_model_load_buffer(const void *buf, size_t len, sm_net **net,
                                      sm_schedule **sched, sm_optim **opt);

/**
 * @brief Frees memory the library allocated for the caller (the buffer of
 *        sm_model_save_buffer()). Needed where the caller's free() is not
 *        the library's, e.g. from another language.
 * @param p  The memory, or NULL (ignored).
 */
SM_API void sm_free(void *p);

SM_END_DECLS

#endif /* SCOREMATCH_MODEL_H */
