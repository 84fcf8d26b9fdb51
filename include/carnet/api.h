/* carnet/api.h - the macros every public header of Carnet uses.
 *
 * CARNET_API marks a declaration as part of the library's ABI. libcarnet is
 * compiled with -fvisibility=hidden (and linked with a version script that
 * exports carnet_* and nothing else), so only what a public header declares
 * with CARNET_API is visible from the shared library: internal functions
 * (carnet__*) stay internal however they are declared.
 *
 * CARNET_BEGIN_DECLS / CARNET_END_DECLS give C linkage to C++ callers.
 */
#ifndef CARNET_API_H
#define CARNET_API_H

#if defined(__GNUC__) || defined(__clang__)
#define CARNET_API __attribute__((visibility("default")))
#else
#define CARNET_API
#endif

#ifdef __cplusplus
#define CARNET_BEGIN_DECLS extern "C" {
#define CARNET_END_DECLS }
#else
#define CARNET_BEGIN_DECLS
#define CARNET_END_DECLS
#endif

#endif
