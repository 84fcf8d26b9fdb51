/* carnet/error.h - the one error space of Carnet.
 *
 * Every function that can fail returns 0 on success or a negative CARNET_E*
 * code. LMDB, libuv and errno codes are translated at the boundary, so a
 * caller only ever sees these. The handle that failed keeps a detail string
 * (carnet_replica_errmsg) saying what went wrong and what to do about it.
 */
#ifndef CARNET_ERROR_H
#define CARNET_ERROR_H

#include "carnet/api.h"

CARNET_BEGIN_DECLS

/* X(name, value, message). Values are frozen: they appear in logs and JSON. */
#define CARNET_ERRNO_MAP(X)                                                                        \
  X(EINVAL, -1, "invalid input")                                                                   \
  X(EMISUSE, -2, "API misuse (a bug in the caller)")                                               \
  X(ENOMEM, -3, "out of memory")                                                                   \
  X(ENOTFOUND, -4, "not found")                                                                    \
  X(EEXIST, -5, "already exists")                                                                  \
  X(ECORRUPT, -6, "corrupted data")                                                                \
  X(EPROTO, -7, "protocol violation")                                                              \
  X(EIO, -8, "input/output error")                                                                 \
  X(ENOSPC, -9, "no space left (disk or map full)")                                                \
  X(EVERSION, -10, "written by a newer version of Carnet")                                         \
  X(ENOREPLICA, -11, "no replica in this directory")                                               \
  X(EBUSY, -12, "resource busy")                                                                   \
  X(ELIMIT, -13, "a limit was exceeded")                                                           \
  X(EAMBIGUOUS, -14, "ambiguous reference")                                                        \
  X(EPERM, -15, "permission denied")                                                               \
  X(EKEY, -16, "wrong or missing passphrase or key file")

enum {
#define CARNET__ERR_ENUM(name, value, msg) CARNET_##name = (value),
  CARNET_ERRNO_MAP(CARNET__ERR_ENUM)
#undef CARNET__ERR_ENUM
};

/* Brief: the fixed English message of an error code ("unknown error" for a
 * code outside the table). The string is static. */
CARNET_API const char *carnet_error_message(int err);

/* Brief: the symbolic name of an error code ("CARNET_ENOTFOUND"), static. */
CARNET_API const char *carnet_error_name(int err);

CARNET_END_DECLS

#endif
