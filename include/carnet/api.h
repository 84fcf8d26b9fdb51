/* carnet/api.h - the macros every public header of Carnet uses.
 *
 * CARNET_API marks a declaration as part of the library's ABI. libcarnet is
 * compiled with -fvisibility=hidden (and linked with a version script that
 * exports carnet_* and nothing else), so only what a public header declares
 * with CARNET_API is visible from the shared library: internal functions
 * (carnet__*) stay internal however they are declared.
 *
 * CARNET_BEGIN_DECLS / CARNET_END_DECLS give C linkage to C++ callers.
 *
 * CARNET__SIZED(type) initialises a struct that starts with its size (the
 * structs that grow: carnet/import.h, carnet/verify.h).
 */
#ifndef CARNET_API_H
#define CARNET_API_H

#if defined(__GNUC__) || defined(__clang__)
#define CARNET_API __attribute__((visibility("default")))
#else
#define CARNET_API
#endif

/* The initialiser of a struct that starts with its size, every other field
 * zero, without a -Wextra warning about the fields left out: designated in
 * C; in C++ (where g++ warns even about designated ones) a lambda returns
 * the struct value-initialised with its size set. */
#ifdef __cplusplus
#define CARNET__SIZED(type)                                                                        \
  ([] {                                                                                            \
    type s_{};                                                                                     \
    s_.size = sizeof s_;                                                                           \
    return s_;                                                                                     \
  }())
#else
#define CARNET__SIZED(type)                                                                        \
  { .size = sizeof(type) }
#endif

#ifdef __cplusplus
#define CARNET_BEGIN_DECLS extern "C" {
#define CARNET_END_DECLS }
#else
#define CARNET_BEGIN_DECLS
#define CARNET_END_DECLS
#endif

#endif
