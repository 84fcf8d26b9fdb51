/* engine/store/meta.h - the meta table's keys, and its 8-byte values (not API). */
#ifndef CARNET_ENGINE_META_H
#define CARNET_ENGINE_META_H

#include <stdint.h>

#include "engine/store/store.h"

/* Meta keys (table CARNET__T_META), frozen, and what their values hold:
 *
 *   replica_id    8 bytes big-endian
 *   schema        4 bytes big-endian
 *   hlc, seq      8 bytes big-endian
 *   refseq:PERIOD 8 bytes big-endian
 *   sign_pk       32 bytes;  sign_sk 64 bytes
 *   team          16 bytes
 *   index_key     32 bytes: the blind index's secret (engine/store/index.c)
 *   indexed_upto  8 bytes big-endian: the blind index's mark (index.c)
 *   role          1 byte: carnet_role; absent = admin
 *   crypt         106 bytes: the wrapped data key (engine/store/keys.c)
 *   region        2 bytes: the default phone region, "FR" when absent
 *   know          the knowledge vector (engine/model/know.h), its encoding
 */
#define CARNET__META_REPLICA_ID "replica_id"
#define CARNET__META_SCHEMA "schema"
#define CARNET__META_HLC "hlc"
#define CARNET__META_SEQ "seq"
#define CARNET__META_REFSEQ "refseq:"
#define CARNET__META_SIGN_PK "sign_pk"
#define CARNET__META_SIGN_SK "sign_sk"
#define CARNET__META_TEAM "team"
#define CARNET__META_INDEX_KEY "index_key"
#define CARNET__META_INDEXED "indexed_upto"
#define CARNET__META_SIGNED "signed_upto"
#define CARNET__META_ROLE "role"
#define CARNET__META_CRYPT "crypt"
#define CARNET__META_REGION "region"
#define CARNET__META_KNOW "know"
/* Sealed meta values (encryption at rest): sign_sk and index_key, listed in
 * engine/store/store.c sealed(). */

/* Meta values of 8 bytes, big-endian. get returns CARNET_ENOTFOUND when
 * absent, CARNET_ECORRUPT when the value is not 8 bytes long. */
int carnet__meta_get_u64(carnet__stxn *st, const char *key, uint64_t *out);
int carnet__meta_put_u64(carnet__stxn *st, const char *key, uint64_t v);

#endif
