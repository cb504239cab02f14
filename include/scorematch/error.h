/**
 * @file scorematch/error.h
 * @brief Status codes and error messages.
 *
 * Every fallible function returns an ::sm_status. #SM_OK is zero; errors are
 * negative and their values are fixed forever (new codes get new numbers,
 * old ones are never renumbered). When a call fails it also leaves a
 * human-readable message, retrievable with sm_last_error() on the same
 * thread until the next failing call on that thread.
 *
 * A failed call leaves its arguments as they were: output handles are set to
 * NULL and no handle passed in is left half-modified unless its documentation
 * says otherwise.
 */
#ifndef SCOREMATCH_ERROR_H
#define SCOREMATCH_ERROR_H

#include "scorematch/common.h"

SM_BEGIN_DECLS

/** @brief Result of a library call. */
typedef enum sm_status {
    SM_OK = 0,                  /**< Success. */
    SM_ERR_INVALID_ARG = -1,    /**< NULL pointer, zero or out-of-range argument. */
    SM_ERR_NOMEM = -2,          /**< Memory allocation failed. */
    SM_ERR_OVERFLOW = -3,       /**< A size computation would overflow. */
    SM_ERR_SHAPE = -4,          /**< Dimensions of two objects do not match. */
    SM_ERR_NONFINITE = -5,      /**< NaN or infinity in input data or parameters. */
    SM_ERR_IO = -6,             /**< A file could not be opened, read or written. */
    SM_ERR_PARSE = -7,          /**< Malformed text input (CSV). */
    SM_ERR_FORMAT = -8,         /**< Malformed, truncated or corrupted binary data. */
    SM_ERR_VERSION = -9,        /**< Unsupported format or options-struct version. */
    SM_ERR_DIVERGED = -10,      /**< Training or sampling produced non-finite values. */
    SM_ERR_CANCELLED = -11,     /**< A user callback asked to stop. */
    SM_ERR_STATE = -12          /**< The object is not in a state that allows the call. */
} sm_status;

/**
 * @brief Short, static description of a status code.
 * @param status Any value; unknown codes give "unknown status".
 * @return A static string; never NULL.
 */
SM_API const char *sm_strerror(sm_status status);

/**
 * @brief Detail message of the last failing call on the calling thread.
 *
 * The message names the function and, where it applies, the argument, line
 * or column at fault. It stays valid until the next failing call on the same
 * thread. Successful calls do not clear it.
 *
 * @return A thread-local string; "" when no call has failed on this thread.
 */
SM_API const char *sm_last_error(void);

/** @brief Clears the calling thread's last-error message. */
SM_API void sm_clear_error(void);

SM_END_DECLS

#endif /* SCOREMATCH_ERROR_H */
