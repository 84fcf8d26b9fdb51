/* engine/top/backup.h - the backup file's header codec, and the rule that
 * holds back what a restored replica sends (engine/top/backup.c).
 *
 * The header (docs/FORMATS.md, "Backup file"), 194 bytes, big-endian:
 *
 *   0 magic "CARNETBK"   8 version(4)=1   12 schema(4)   16 replica id(8)
 *  24 made ms(8)        32 team(16)      48 key record(106)
 * 154 data bytes(8)    162 mac(32)                               194
 *
 * then `data bytes` bytes of LMDB data file, to the end of the file. The
 * mac is BLAKE2b-256 keyed with a key derived from the replica's data key
 * (crypto_kdf, context "CARNETBK", subkey 1) over bytes 0..161 of the
 * header then the data.
 *
 * Invariant B1: a decoded header has the magic, version 1, a non-zero
 * replica id and time, a schema from 2, a key record of version 1 and a
 * known kind, and at least two LMDB pages of data (decode refuses anything
 * else with the line of the check that fired).
 * Invariant B2: a restored replica sends no batch to any peer until it has
 * received the REQ of a peer its team trusted at the restore, which that
 * peer sends only after every one of its erasure certificates (session
 * invariant S5): carnet__restore_gate. Certificates themselves still go
 * out (they only ever remove data).
 */
#ifndef CARNET_ENGINE_BACKUP_H
#define CARNET_ENGINE_BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "carnet/backup.h"
#include "engine/store/keys.h"
#include "engine/top/restore.h"

#define CARNET__BACKUP_MAGIC "CARNETBK"
#define CARNET__BACKUP_VERSION 1u
#define CARNET__BACKUP_HEADER_BYTES 194u
#define CARNET__BACKUP_MAC_OFFSET 162u
/* The least an LMDB data file holds: its two meta pages (4 KiB each). */
#define CARNET__BACKUP_DATA_MIN 8192u

/* Meta keys of a restored replica (table CARNET__T_META). Frozen. */
#define CARNET__META_RESTORED "restored"         /* from id(8) backup ms(8) restored ms(8) */
#define CARNET__META_RESTORE_WAIT "restore_wait" /* n x peer key(32): B2, deleted once met */
/* At most this many peers are remembered as able to end the wait (more
 * only makes the wait longer, never shorter). */
#define CARNET__RESTORE_PEERS_MAX 1024u

typedef struct carnet__backup_header {
  uint32_t version;
  uint32_t schema;
  uint64_t replica_id;
  uint64_t made_ms;
  uint8_t team[16];
  uint8_t key_record[CARNET__KEY_RECORD_BYTES];
  uint64_t data_bytes;
  uint8_t mac[32];
} carnet__backup_header;

/* Brief: the 194 header bytes of `h`. */
void carnet__backup_header_encode(const carnet__backup_header *h,
                                  uint8_t out[CARNET__BACKUP_HEADER_BYTES]);

/* Brief: decode the header at the start of `buf` (len bytes; what follows
 * the header is not read) and check B1. `bad_line` (may be NULL) receives
 * the line of the check that refused it. Errors: CARNET_EPROTO. */
int carnet__backup_header_decode(const void *buf, size_t len, carnet__backup_header *out,
                                 int *bad_line);

#endif
