/* carnet/version.h - the version of the library, as numbers.
 *
 * CARNET_VERSION_* are the version of the headers an app was compiled
 * with; carnet_version() is the version of the library it runs with. The
 * shared library's SONAME carries the ABI major (libcarnet.so.0): within
 * one major, a newer library runs an app built against an older one.
 * The build reads these three lines (CMakeLists.txt): they are the one
 * place the version is written.
 */
#ifndef CARNET_VERSION_H
#define CARNET_VERSION_H

#include "carnet/api.h"

CARNET_BEGIN_DECLS

#define CARNET_VERSION_MAJOR 0
#define CARNET_VERSION_MINOR 2
#define CARNET_VERSION_PATCH 0

#define CARNET__STR2(x) #x
#define CARNET__STR(x) CARNET__STR2(x)
/* "0.2.0" */
#define CARNET_VERSION_STRING                                                                      \
  CARNET__STR(CARNET_VERSION_MAJOR)                                                                \
  "." CARNET__STR(CARNET_VERSION_MINOR) "." CARNET__STR(CARNET_VERSION_PATCH)
/* One integer that orders versions: 0x000200 for 0.2.0. */
#define CARNET_VERSION_NUMBER                                                                      \
  ((CARNET_VERSION_MAJOR << 16) | (CARNET_VERSION_MINOR << 8) | CARNET_VERSION_PATCH)

/* Brief: the version of the running library, as "MAJOR.MINOR.PATCH"
 * (static); each of `major`, `minor`, `patch` may be NULL, else receives
 * its number. Cannot fail; may be called before anything else, from any
 * thread. */
CARNET_API const char *carnet_version(int *major, int *minor, int *patch);

CARNET_END_DECLS

#endif
