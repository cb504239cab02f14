/**
 * @file scorematch/common.h
 * @brief Export macro and basic types shared by every libscorematch header.
 *
 * Every public function is declared with #SM_API. All sizes are `size_t`
 * counts of elements (never bytes unless the name says so); all point data is
 * row-major `float` (IEEE-754 binary32), one point per row.
 */
#ifndef SCOREMATCH_COMMON_H
#define SCOREMATCH_COMMON_H

#include <stddef.h>
#include <stdint.h>

/**
 * @def SM_API
 * @brief Marks a function as part of the public, exported interface.
 *
 * The library is built with hidden symbol visibility; only declarations
 * carrying this macro are exported. Define `SM_STATIC` before including the
 * headers when linking a static build on Windows.
 */
#if defined(_WIN32) && !defined(SM_STATIC)
#  if defined(SM_BUILDING_LIBRARY)
#    define SM_API __declspec(dllexport)
#  else
#    define SM_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define SM_API __attribute__((visibility("default")))
#else
#  define SM_API
#endif

#ifdef __cplusplus
#  define SM_BEGIN_DECLS extern "C" {
#  define SM_END_DECLS }
#else
/** @brief Opens an `extern "C"` block when compiled as C++. */
#  define SM_BEGIN_DECLS
/** @brief Closes the block opened by #SM_BEGIN_DECLS. */
#  define SM_END_DECLS
#endif

#endif /* SCOREMATCH_COMMON_H */
