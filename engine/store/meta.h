/* engine/store/meta.h - the meta table's keys, and its 8-byte values (not API). */
#ifndef CARNET_ENGINE_META_H
#define CARNET_ENGINE_META_H

#include <stdint.h>

#include "engine/store/store.h"

/* Meta keys (table CARNET__T_META). Frozen. */
#define CARNET__META_REPLICA_ID "replica_id" /* 8 bytes big-endian */
#define CARNET__META_SCHEMA "schema"         /* 4 bytes big-endian */
#define CARNET__META_HLC "hlc"               /* 8 bytes big-endian */
#define CARNET__META_SEQ "seq"               /* 8 bytes big-endian */
#define CARNET__META_REFSEQ "refseq:"        /* + period: 8 bytes big-endian */
#define CARNET__META_SIGN_PK "sign_pk"       /* 32 bytes */
#define CARNET__META_SIGN_SK "sign_sk"       /* 64 bytes */
#define CARNET__META_TEAM "team"             /* 16 bytes */
#define CARNET__META_INDEX_KEY "index_key"   /* 32 bytes: blind index secret (engine/store/index.c) */
#define CARNET__META_INDEXED                                                                       \
  "indexed_upto"                   /* 8 bytes big-endian: the blind index's mark (engine/store/index.c) */
#define CARNET__META_ROLE "role"   /* 1 byte: carnet_role; absent = admin */
#define CARNET__META_CRYPT "crypt" /* 106 bytes: the wrapped data key (engine/store/keys.c) */
#define CARNET__META_REGION "region" /* 2 bytes: default phone region, "FR" when absent */
#define CARNET__META_KNOW "know"     /* the knowledge vector (engine/know.h), its encoding */
/* Sealed meta values (encryption at rest): sign_sk and index_key, listed in
 * engine/store/store.c sealed(). */

/* Meta values of 8 bytes, big-endian. get returns CARNET_ENOTFOUND when
 * absent, CARNET_ECORRUPT when the value is not 8 bytes long. */
int carnet__meta_get_u64(carnet__stxn *st, const char *key, uint64_t *out);
int carnet__meta_put_u64(carnet__stxn *st, const char *key, uint64_t v);

#endif
