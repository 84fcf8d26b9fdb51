/* engine/store/entity_io.h - loading an entity from the store and saving it back
 * with its change-index entry and its index keys, in one transaction.
 *
 * Invariant E1: every entity has exactly one entry in the change index, at
 * its greatest cell sequence number; so "every entity with an entry in
 * (since, upto]" covers every cell changed in that range.
 * Invariant E2: the index table holds exactly the keys derived from each
 * entity's current cells (engine/store/index.c), updated in the same transaction.
 */
#ifndef CARNET_ENGINE_ENTITY_IO_H
#define CARNET_ENGINE_ENTITY_IO_H

#include "carnet/replica.h"
#include "engine/model/entity.h"
#include "engine/store/store.h"
#include <msgpack.h>
#include <sodium.h>

#define CARNET__INDEX_KEYS_MAX 64

typedef struct carnet__keyset {
  carnet_buf keys[CARNET__INDEX_KEYS_MAX];
  size_t n;
} carnet__keyset;

/* The blind index secret (engine/store/index.c) with the keys derived from it,
 * each derived on first use by the hash that needs it: a SipHash subkey for
 * the index, and a keyed BLAKE2b state that has absorbed the key block for
 * the opposition list. It lives with the loaded entity or on a caller's
 * stack (never in a static: two replicas in one process have two secrets)
 * and is wiped with sodium_memzero when done. */
#define CARNET__INDEX_SECRET_LEN 32
typedef struct carnet__blind_secret {
  uint8_t raw[CARNET__INDEX_SECRET_LEN];
  bool has_sip, has_keyed, has_tri;
  uint8_t sip[crypto_shorthash_siphashx24_KEYBYTES];
  uint8_t tri[crypto_shorthash_siphash24_KEYBYTES]; /* carnet__gram_hash */
  crypto_generichash_state keyed;
  struct carnet__gram_cache *grams; /* carnet__gram_cache_start; NULL: none */
} carnet__blind_secret;

/* An entity as loaded, remembering what saving must undo. */
typedef struct carnet__loaded {
  carnet__arena arena;
  carnet__entity e;
  bool existed;
  uint64_t old_seq;
  carnet__keyset old_keys;
  bool has_secret; /* the replica's index secret, when it has one */
  carnet__blind_secret secret;
  /* carnet__load_lazy: old_keys not derived yet. They are derived from the
   * row as loaded (old_row) only when a save changes a cell that feeds the
   * index (carnet__index_field): most writes (a street, notes) change no
   * index key, and deriving keys means folding names and hashing. */
  bool keys_pending;
  const void *old_row;
  size_t old_row_len;
  /* carnet__load_new: the row was not looked up; the next save writes it
   * only if it is absent (CARNET_EEXIST otherwise). */
  bool unchecked;
} carnet__loaded;

/* Load `id` (absent: an empty entity of `kind` with existed=false; kind 0
 * takes the stored kind). Cells are copied out of the map so the entity
 * survives writes in the same transaction.
 * Errors: CARNET_ECORRUPT (stored row fails validation), CARNET_ENOMEM. */
int carnet__load(carnet__stxn *st, const carnet_id *id, carnet__loaded *l);
/* carnet__load for a write that ends in carnet__save: old_keys is not
 * filled (keys_pending). */
int carnet__load_lazy(carnet__stxn *st, const carnet_id *id, carnet__loaded *l);
/* An empty entity `id` for a create, without reading the store: the
 * existence check is the save's (the row is put only where no row is, in
 * the same B-tree descent: CARNET_EEXIST otherwise), which saves a lookup
 * per customer created (issue 17, point 5). Errors: as carnet__load. */
int carnet__load_new(carnet__stxn *st, const carnet_id *id, carnet__loaded *l);
void carnet__loaded_free(carnet__loaded *l);
/* Every index key the row as stored derives (old_keys, or derived from the
 * row of a lazy load), allocated in the entity's arena: what deleting the
 * entity deletes. Errors: CARNET_ENOMEM, CARNET_ECORRUPT. */
int carnet__loaded_keys(carnet__loaded *l, carnet__keyset *out);

/* The change-index entry of an entity (table `changes`, seq -> entry):
 *
 *   id(16) | origin(8) | other(8)      (big-endian; older entries: id only)
 *
 * `origin` is the replica that wrote every cell of the entity's latest
 * change (0 when they came from several), `other` the greatest local
 * sequence number of a cell written by any other replica. A stream to
 * replica `origin` from `base` has nothing of this entity to send when
 * other <= base, and skips it without reading the row: after a first sync,
 * the stream back to the sender is all such entities. */
#define CARNET__CHANGE_ENTRY_LEN 32
void carnet__change_entry(const carnet__entity *e, uint8_t out[CARNET__CHANGE_ENTRY_LEN]);

/* Write the entity's row, move its change-index entry to e.seq and update
 * its index keys, in write transaction `t`, and note the entity for the
 * change feed (engine/store/feed.h F1). `sb` is scratch space. */
struct carnet_txn;
int carnet__save(struct carnet_txn *t, carnet__loaded *l, msgpack_sbuffer *sb);

/* Blind index: keyed hashes of normal forms (engine/store/index.c). */
#define CARNET__INDEX_HASH_LEN 16
/* The length of a blind key: tag + hash + entity id. */
#define CARNET__INDEX_BLIND_KEY_LEN (1 + CARNET__INDEX_HASH_LEN + 16)

/* A blind key's hash of tag || value (n bytes), keyed with the index
 * secret. Two functions, one per table (docs/FORMATS.md):
 * carnet__index_hash, for the index (SipHash-2-4, 128-bit output, keyed
 * with a subkey of the secret: engine/store/index.c), and carnet__oppose_hash,
 * for the opposition list (keyed BLAKE2b, which was also the index's up to
 * schema 2; frozen: the list's entries cannot be computed again). Errors:
 * CARNET_ENOMEM (carnet__index_hash of a value of 256 bytes or more). */
typedef int carnet__blind_hash(carnet__blind_secret *secret, uint8_t tag, const void *v, size_t n,
                               uint8_t out[CARNET__INDEX_HASH_LEN]);
carnet__blind_hash carnet__index_hash;
carnet__blind_hash carnet__oppose_hash;

/* The keyed hash of a gram of a search signature (engine/crm/searchsig.h):
 * `tag` ('t' a trigram, 'd' five digits) and its value `v` (the 3 bytes,
 * or the number), SipHash-2-4 with a 64-bit output keyed with a subkey of
 * the index secret of its own, so a signature says nothing to whoever
 * lacks the secret. */
static inline uint64_t carnet__gram_hash(carnet__blind_secret *secret, uint8_t tag, uint32_t v);

/* The gram cache (carnet__gram_cache_start): direct-mapped, a slot holds
 * one gram (its key, never 0: `tag` is a letter) and its hash, side by
 * side so that a lookup touches one cache line. A hit is read inline (a
 * signature looks up ~100 grams); a miss, or no cache, hashes
 * (carnet__gram_hash_slow, engine/store/index.c). */
#define CARNET__GRAM_CACHE_BITS 14

struct carnet__gram_cache {
  struct {
    uint64_t h;
    uint32_t key;
  } slot[1u << CARNET__GRAM_CACHE_BITS];
};

uint64_t carnet__gram_hash_slow(carnet__blind_secret *secret, uint8_t tag, uint32_t v);

static inline uint64_t carnet__gram_hash(carnet__blind_secret *secret, uint8_t tag, uint32_t v) {
  struct carnet__gram_cache *c = secret->grams;
  if (c != NULL && v < (1u << 24)) {
    uint32_t key = v | (uint32_t)tag << 24;
    uint32_t at = (key * 2654435761u) >> (32 - CARNET__GRAM_CACHE_BITS);
    if (c->slot[at].key == key) return c->slot[at].h;
  }
  return carnet__gram_hash_slow(secret, tag, v);
}

/* Brief: a cache of gram hashes on `secret`, for a pass over many
 * customers (a catch-up, a rebuild): a book's grams are mostly the same
 * few thousand, and SipHash per gram was ~40 % of a signature. End it
 * (wiped: it holds keyed hashes) before the secret is wiped. Errors:
 * CARNET_ENOMEM. */
int carnet__gram_cache_start(carnet__blind_secret *secret);
void carnet__gram_cache_end(carnet__blind_secret *secret);

/* The index keys of an entity (engine/store/index.c), allocated in `a`. With
 * `secret` NULL (a replica without an index secret yet) only the keys in
 * clear ('r'). */
int carnet__index_keys(const carnet__entity *e, carnet__blind_secret *secret, carnet__arena *a,
                       carnet__keyset *out);

/* Index keys come in parts, each derived from its own fields only: a save
 * recomputes only the parts whose fields changed (engine/store/index.c; keep
 * carnet__index_parts and carnet__index_keys_parts together). */
#define CARNET__IDX_PART_REF 1u   /* 'r': reference code, document numbers */
#define CARNET__IDX_PART_SIRET 2u /* 's' 'S' */
#define CARNET__IDX_PART_PHONE 4u /* 'p' */
#define CARNET__IDX_PART_EMAIL 8u /* 'e' 'h' */
#define CARNET__IDX_PART_NAME 16u /* 'n' */
#define CARNET__IDX_PART_MERGE                                                                     \
  32u /* 'm' 'x' 'v': merge edges and decisions (engine/store/group.h) */
#define CARNET__IDX_PART_ATTACH 64u /* 'a': an attachment under its owner */
#define CARNET__IDX_PART_ALL 127u
/* The parts a field's cells feed (0: none). */
unsigned carnet__index_parts(uint16_t field);
/* The part of a key's tag byte. */
unsigned carnet__index_tag_part(uint8_t tag);
/* The keys of the parts in `parts` only. */
int carnet__index_keys_parts(const carnet__entity *e, carnet__blind_secret *secret,
                             carnet__arena *a, unsigned parts, carnet__keyset *out);
/* The blind keys of `parts` of a customer (deleted or not with
 * `even_deleted`) hashed with `hash`, which carnet__index_keys_parts does
 * with carnet__index_hash. With carnet__oppose_hash and the phone and
 * e-mail parts ('p' 'e' 'h'): what the opposition list of an erasure holds
 * and is looked up with (engine/erase/erase.c). */
int carnet__index_blind_keys(const carnet__entity *e, carnet__blind_secret *secret,
                             carnet__blind_hash *hash, unsigned parts, bool even_deleted,
                             carnet__arena *a, carnet__keyset *out);
/* The blind parts: keys derived in bulk, behind the "indexed up to" mark. */
#define CARNET__IDX_PART_BLIND                                                                     \
  (CARNET__IDX_PART_SIRET | CARNET__IDX_PART_PHONE | CARNET__IDX_PART_EMAIL | CARNET__IDX_PART_NAME)

/* The blind index's mark (meta "indexed_upto", engine/store/index.c, invariant
 * E3): every entity whose change-index entry is at or below it has all its
 * blind keys in the index; one above it has a subset of its current blind
 * keys (none of the parts changed since it was indexed). A replica without
 * the meta value reads 0. Errors: CARNET_ECORRUPT, CARNET_EIO. */
int carnet__index_mark(carnet__stxn *st, uint64_t *mark);
int carnet__index_mark_put(carnet__stxn *st, uint64_t mark);

/* The search signatures' mark (meta "signed_upto", engine/crm/searchsig.h
 * G1), never above the blind index's: every customer whose change-index
 * entry is at or below it has the signature of its current cells. A
 * large backlog's signatures are left to the first text search
 * (CARNET__DERIVE_ALL), so that the first duplicate check after a bulk
 * load or a first sync derives the blind keys only. Reads 0 when absent
 * (a new replica; the upgrade to schema 9 sets it at the index's mark), and
 * the index's mark when above it. Errors: CARNET_ECORRUPT, CARNET_EIO. */
int carnet__sig_mark(carnet__stxn *st, uint64_t *mark);
int carnet__sig_mark_put(carnet__stxn *st, uint64_t mark);

/* What a catch-up derives: the blind keys, and the search signatures of
 * the entries above their mark when these are few (AUTO: a reader of the
 * blind index: a duplicate check, a lookup); both, whatever the backlog
 * (ALL: a text search). */
typedef enum carnet__derive { CARNET__DERIVE_AUTO, CARNET__DERIVE_ALL } carnet__derive;

/* Brief: bring the blind index up to the change index in write
 * transaction `st`: the blind keys of every entity with an entry above the
 * mark, sorted (they reach LMDB at commit or at the next read of the
 * table), then the mark at the last entry; and, as `derive` says, the
 * search signature (r->search_sig, engine/crm/searchsig.h; sorted by id,
 * appended when they all come after the table's last) of every customer
 * with an entry above the signatures' mark, then that mark at the last
 * entry. A large backlog is read in id order
 * (a cursor over the entities, skipping those indexed already) and its
 * signatures written as they come. The rows' keys and signatures are
 * derived on the calling thread and one worker thread it starts and joins
 * per batch of rows (engine/store/reindex.c); LMDB is called from the
 * calling thread only. At most `max` entities (0: no
 * limit); *more says whether some are left. *n (may be NULL) receives how
 * many entities it read. Errors: CARNET_ENOMEM, CARNET_ECORRUPT,
 * CARNET_EIO. */
int carnet__index_catchup(carnet_replica *r, carnet__stxn *st, size_t max, bool *more, uint64_t *n,
                          carnet__derive derive);

/* How a catch-up reads its backlog: chosen by its size (AUTO), or, for the
 * tests that compare the two, in the change index's order (ENTRIES) or in
 * id order whenever the backlog fits in `max` (IDS; engine/store/reindex.c). */
typedef enum carnet__walk {
  CARNET__WALK_AUTO,
  CARNET__WALK_ENTRIES,
  CARNET__WALK_IDS
} carnet__walk;
int carnet__index_catchup_walk(carnet_replica *r, carnet__stxn *st, size_t max, bool *more,
                               uint64_t *n, carnet__walk walk, carnet__derive derive);

/* Whether the parts computed alone give the same keys as all together
 * (the keyset's cap is out of reach for this entity). */
bool carnet__index_parts_exact(const carnet__entity *e);

/* Index key tags (engine/store/index.c). Stored in the file: frozen. */
#define CARNET__IDX_REFCODE 'r'
#define CARNET__IDX_PHONE 'p'
#define CARNET__IDX_EMAIL 'e'
#define CARNET__IDX_EMAIL_HINT 'h'
#define CARNET__IDX_SIRET 's'
#define CARNET__IDX_SIREN 'S'
#define CARNET__IDX_NAME 'n'
/* 'a' owner(16) attachment(16): every attachment (deleted ones too) under
 * its owner, in clear (ids only; carnet/attach.h). */
#define CARNET__IDX_ATTACH 'a'

/* The replica's index secret. Errors: CARNET_ENOTFOUND (none yet),
 * CARNET_ECORRUPT. */
int carnet__index_secret(carnet__stxn *st, carnet__blind_secret *out);

/* Make the index secret when it is missing and index every stored entity
 * with it, inside write transaction `t` (called by carnet_txn_begin;
 * engine/store/reindex.c). */
struct carnet_txn;
int carnet__index_secret_ensure(struct carnet_txn *t);

/* Schema 2 -> 3 (engine/top/open.c; engine/store/reindex.c): delete every blind key ('p' 'e' 'h'
 * 's' 'S' 'n', hashed with keyed BLAKE2b up to schema 2) and derive them
 * again from the stored entities with carnet__index_hash, inside write
 * transaction `st`. The opposition list is not touched. */
int carnet__index_rehash(carnet__stxn *st);

/* The place of a name blocking key: the postcode (letters and digits, upper
 * case) or, without one, "@" + the folded city; "" when neither. */
void carnet__index_place(const char *postcode, const char *city, char *out, size_t out_len);

/* The text of a name blocking key: place + "|" + the first three characters
 * of the folded name. Errors: CARNET_ELIMIT. */
int carnet__index_name_block(const char *place, const char *folded, char *out, size_t out_len);

#endif
