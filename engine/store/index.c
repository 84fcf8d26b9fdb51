/* engine/store/index.c - which index keys an entity has (invariant E2).
 *
 * A key is tag byte + value + entity id, with an empty value: several
 * entities may share a value (two customers with one phone), and a lookup is
 * a cursor seek on tag + value.
 *
 *   'r'  reference code or document number, in clear (carnet_record_resolve);
 *   'p'  a phone, E.164                        } customers only, live ones
 *   'e'  an e-mail's matching key              } only; the value is a keyed
 *   'h'  an e-mail's hint key, when it differs } hash (blind index, below)
 *   's'  SIRET (or SIREN when only that is known)
 *   'S'  SIREN (first 9 digits of a SIRET)
 *   'n'  name blocking key: postcode (or folded city) + the first three
 *        characters of the folded name, and of its word-sorted form
 *
 * Blind index: the value of a 'p' 'e' 'h' 's' 'S' 'n' key is a 16-byte
 * keyed hash of tag || normal form with a 32-byte secret of this replica
 * (meta "index_key"), so the index table holds no address, number or name
 * in clear. Equal normal forms give equal keys, which is all duplicate
 * detection needs (runs of equal keys). Since schema 3 the hash is
 * SipHash-2-4 with a 128-bit output (carnet__index_hash), keyed with a
 * subkey of the secret; schema 2 used keyed BLAKE2b (a compression per
 * key), and a schema 2 replica has its blind keys derived again when
 * opened (carnet__index_rehash, one transaction). The opposition list of
 * erasures (engine/erase/erase.c) keeps keyed BLAKE2b (carnet__oppose_hash) for
 * good: its entries are hashes of persons whose data is gone, which
 * nothing can compute again. The secret never leaves the replica; index
 * keys are not synced, each replica derives its own from the cells (E2).
 * The secret is made by the first write transaction that finds it
 * missing, which indexes every stored entity in the same transaction
 * (carnet__index_secret_ensure), so a replica created before blind indexes
 * existed is indexed completely once.
 */
#include <ctype.h>
#include <msgpack.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "carnet/normalize.h"
#include "engine/base/alloc.h"
#include "engine/base/fold.h"
#include "engine/base/mp.h"
#include "engine/store/entity_io.h"
#include "engine/store/feed.h"
#include "engine/store/group.h"
#include "engine/store/replica_int.h"

static int add_key(carnet__keyset *ks, carnet__arena *a, uint8_t tag, const void *v, size_t n,
                   const carnet_id *id) {
  if (ks->n >= CARNET__INDEX_KEYS_MAX) return 0; /* bounded; extra values go unindexed */
  uint8_t *k = carnet__arena_alloc(a, 1 + n + 16);
  if (k == NULL) return CARNET_ENOMEM;
  k[0] = tag;
  memcpy(k + 1, v, n);
  memcpy(k + 1 + n, id->b, 16);
  /* Two values with one key (a phone in two slots): keep one. */
  for (size_t i = 0; i < ks->n; i++)
    if (ks->keys[i].len == 1 + n + 16 && memcmp(ks->keys[i].base, k, 1 + n + 16) == 0) return 0;
  ks->keys[ks->n++] = (carnet_buf){k, 1 + n + 16};
  return 0;
}

/* The SipHash key of the index: keyed BLAKE2b of a fixed label with the
 * secret, so the 32-byte secret stays the one stored (and the one the
 * opposition list is keyed with) and the two hashes never share a key. */
static const char sip_label[] = "carnet blind index siphashx24 v1";

_Static_assert(crypto_shorthash_siphashx24_BYTES == CARNET__INDEX_HASH_LEN,
               "a blind key's hash is 16 bytes");

int carnet__index_hash(carnet__blind_secret *secret, uint8_t tag, const void *v, size_t n,
                       uint8_t out[CARNET__INDEX_HASH_LEN]) {
  /* SipHash-2-4 with a 128-bit output instead of a BLAKE2b compression
   * per key (a customer has ~7; keyed BLAKE2b was ~14 % of a receiving
   * sync). The keys need only be equal for equal inputs and unpredictable
   * without the secret: SipHash is a PRF under its key. The subkey is
   * derived once per loaded secret (a keyed BLAKE2b, dearer than the hashes
   * it serves) and kept beside it. */
  /* SipHash has no incremental API in libsodium: tag || value in one
   * buffer, on the stack for every normal form the index makes. */
  uint8_t stack[256], *in = stack;
  if (!secret->has_sip) {
    crypto_generichash(secret->sip, sizeof secret->sip, (const unsigned char *)sip_label,
                       sizeof sip_label - 1, secret->raw, CARNET__INDEX_SECRET_LEN);
    secret->has_sip = true;
  }
  if (n >= sizeof stack && (in = carnet__malloc(n + 1)) == NULL) return CARNET_ENOMEM;
  in[0] = tag;
  memcpy(in + 1, v, n);
  crypto_shorthash_siphashx24(out, in, n + 1, secret->sip);
  if (in != stack) carnet__free(in);
  return 0;
}

static const char tri_label[] = "carnet search grams siphash24 v1";

int carnet__gram_cache_start(carnet__blind_secret *secret) {
  secret->grams = carnet__calloc(1, sizeof *secret->grams);
  return secret->grams ? 0 : CARNET_ENOMEM;
}

void carnet__gram_cache_end(carnet__blind_secret *secret) {
  if (secret->grams == NULL) return;
  sodium_memzero(secret->grams, sizeof *secret->grams);
  carnet__free(secret->grams);
  secret->grams = NULL;
}

static uint64_t gram_hash(carnet__blind_secret *secret, uint8_t tag, uint32_t v) {
  uint8_t in[5] = {tag, (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
  uint8_t out[crypto_shorthash_siphash24_BYTES];
  if (!secret->has_tri) {
    crypto_generichash(secret->tri, sizeof secret->tri, (const unsigned char *)tri_label,
                       sizeof tri_label - 1, secret->raw, CARNET__INDEX_SECRET_LEN);
    secret->has_tri = true;
  }
  crypto_shorthash_siphash24(out, in, sizeof in, secret->tri);
  uint64_t h = 0;
  for (int i = 0; i < 8; i++)
    h = h << 8 | out[i];
  return h;
}

uint64_t carnet__gram_hash_slow(carnet__blind_secret *secret, uint8_t tag, uint32_t v) {
  struct carnet__gram_cache *c = secret->grams;
  if (c == NULL || v >= (1u << 24)) return gram_hash(secret, tag, v);
  uint32_t key = v | (uint32_t)tag << 24;
  uint32_t at = (key * 2654435761u) >> (32 - CARNET__GRAM_CACHE_BITS);
  c->slot[at].h = gram_hash(secret, tag, v);
  c->slot[at].key = key;
  return c->slot[at].h;
}

int carnet__oppose_hash(carnet__blind_secret *secret, uint8_t tag, const void *v, size_t n,
                        uint8_t out[CARNET__INDEX_HASH_LEN]) {
  /* Frozen: the opposition list holds these hashes of persons whose data
   * is gone, so they can never be computed again with another function.
   * Keyed BLAKE2b hashes its key as a first block of its own: the state
   * after it is kept beside the secret and copied for each hash (same
   * output; an import checks every row's e-mails and phones). */
  crypto_generichash_state s;
  if (!secret->has_keyed) {
    crypto_generichash_init(&secret->keyed, secret->raw, CARNET__INDEX_SECRET_LEN,
                            CARNET__INDEX_HASH_LEN);
    secret->has_keyed = true;
  }
  s = secret->keyed;
  crypto_generichash_update(&s, &tag, 1);
  crypto_generichash_update(&s, v, n);
  crypto_generichash_final(&s, out, CARNET__INDEX_HASH_LEN);
  sodium_memzero(&s, sizeof s);
  return 0;
}

/* A blind key: the hash (the index's or the opposition list's) of a normal
 * form. */
static int add_blind(carnet__keyset *ks, carnet__arena *a, carnet__blind_secret *secret,
                     carnet__blind_hash *hash, uint8_t tag, const char *v, const carnet_id *id) {
  uint8_t h[CARNET__INDEX_HASH_LEN];
  int rc = hash(secret, tag, v, strlen(v), h);
  return rc ? rc : add_key(ks, a, tag, h, sizeof h, id);
}

/* A cell's value as a string, when it is one. */
static bool cell_str(const carnet__cell *c, const char **s, size_t *n) {
  msgpack_zone z;
  msgpack_object o, elems[4];
  size_t off = 0;
  bool ok = false;
  if (carnet__mp_obj1(c->val, c->vlen, &o, elems)) {
    if (o.type != MSGPACK_OBJECT_STR) return false;
    *s = o.via.str.ptr;
    *n = o.via.str.size;
    return true;
  }
  if (!msgpack_zone_init(&z, 64)) return false;
  if (msgpack_unpack((const char *)c->val, c->vlen, &off, &z, &o) == MSGPACK_UNPACK_SUCCESS &&
      o.type == MSGPACK_OBJECT_STR) {
    /* str bodies point into c->val, which outlives the zone. */
    *s = o.via.str.ptr;
    *n = o.via.str.size;
    ok = true;
  }
  msgpack_zone_destroy(&z);
  return ok;
}

/* A cell's value as a bool (false when it is not one). */
static bool cell_true(const carnet__cell *c) {
  return c->vlen == 1 && ((const uint8_t *)c->val)[0] == 0xc3;
}

/* A scalar string field, copied NUL-terminated into `out`; "" when unset. */
static void field_str(const carnet__entity *e, carnet_field f, char *out, size_t out_len) {
  const carnet__cell *c = carnet__entity_find(e, f, NULL, 0);
  const char *s;
  size_t n;
  out[0] = '\0';
  if (c && cell_str(c, &s, &n)) {
    if (n >= out_len) n = out_len - 1;
    memcpy(out, s, n);
    out[n] = '\0';
  }
}

/* A phone slot's number, NUL-terminated; false when the slot is cleared. */
/* The E.164 part of a stored phone: "+" and 1-15 digits, then nothing or
 * ";ext=" and digits. False for anything else. */
static bool stored_e164(const char *num, char *out, size_t len) {
  size_t n = 1;
  if (num[0] != '+') return false;
  while (num[n] >= '0' && num[n] <= '9')
    n++;
  if (n < 2 || n > 16 || n >= len) return false;
  if (num[n] != '\0') {
    if (strncmp(num + n, ";ext=", 5) != 0 || num[n + 5] == '\0') return false;
    for (const char *x = num + n + 5; *x; x++)
      if (*x < '0' || *x > '9') return false;
  }
  memcpy(out, num, n);
  out[n] = '\0';
  return true;
}

static bool phone_number(const carnet__cell *c, char out[33]) {
  msgpack_zone z;
  msgpack_object o, elems[4];
  size_t off = 0;
  bool ok = false;
  if (carnet__mp_obj1(c->val, c->vlen, &o, elems)) {
    if (o.type != MSGPACK_OBJECT_ARRAY || o.via.array.size != 2 ||
        elems[1].type != MSGPACK_OBJECT_STR || elems[1].via.str.size >= 33)
      return false;
    memcpy(out, elems[1].via.str.ptr, elems[1].via.str.size);
    out[elems[1].via.str.size] = '\0';
    return true;
  }
  if (!msgpack_zone_init(&z, 128)) return false;
  if (msgpack_unpack((const char *)c->val, c->vlen, &off, &z, &o) == MSGPACK_UNPACK_SUCCESS &&
      o.type == MSGPACK_OBJECT_ARRAY && o.via.array.size == 2 &&
      o.via.array.ptr[1].type == MSGPACK_OBJECT_STR && o.via.array.ptr[1].via.str.size < 33) {
    snprintf(out, 33, "%.*s", (int)o.via.array.ptr[1].via.str.size, o.via.array.ptr[1].via.str.ptr);
    ok = true;
  }
  msgpack_zone_destroy(&z);
  return ok;
}

/* The blocking keys of one name: place + first three characters of the
 * folded form and of the word-sorted form (a swapped first and last name
 * still meets its twin). */
static int name_keys(carnet__keyset *ks, carnet__arena *a, carnet__blind_secret *secret,
                     carnet__blind_hash *hash, const char *place, const char *name,
                     const carnet_id *id) {
  char f[2][CARNET_NAME_FOLD_MAX], k[64 + 16];
  int rc;
  if (name[0] == '\0') return 0;
  rc = carnet__name_fold_both(name, f[0], f[1], sizeof f[0]);
  if (rc == CARNET_ENOMEM) return rc;
  if (rc) return 0; /* not UTF-8: stored bytes are validated elsewhere */
  for (int sorted = 0; sorted < 2; sorted++) {
    if (f[sorted][0] == '\0') return 0;
    if ((rc = carnet__index_name_block(place, f[sorted], k, sizeof k)) ||
        (rc = add_blind(ks, a, secret, hash, CARNET__IDX_NAME, k, id)))
      return rc;
  }
  return 0;
}

int carnet__index_name_block(const char *place, const char *folded, char *out, size_t out_len) {
  /* Three characters, not bytes: a folded name may hold non-Latin letters. */
  size_t n = 0, chars = 0;
  while (folded[n] && chars < 3) {
    if (folded[n] == ' ') break;
    n++;
    while ((folded[n] & 0xc0) == 0x80)
      n++;
    chars++;
  }
  /* place "|" and the n bytes (what snprintf "%s|%.*s" wrote, without its
   * formatting: twice per customer in a catch-up). */
  size_t pn = strlen(place);
  if (pn + 1 + n >= out_len) {
    if (out_len) out[0] = '\0';
    return CARNET_ELIMIT;
  }
  memcpy(out, place, pn);
  out[pn] = '|';
  memcpy(out + pn + 1, folded, n);
  out[pn + 1 + n] = '\0';
  return 0;
}

void carnet__index_place(const char *postcode, const char *city, char *out, size_t out_len) {
  size_t n = 0;
  out[0] = '\0';
  for (const char *p = postcode; *p && n + 1 < out_len; p++)
    if (isalnum((unsigned char)*p)) out[n++] = (char)toupper((unsigned char)*p);
  out[n] = '\0';
  if (n > 0) return;
  char f[CARNET_NAME_FOLD_MAX];
  if (city[0] && carnet_name_fold(city, f, sizeof f) == 0 && f[0]) snprintf(out, out_len, "@%s", f);
}

/* The duplicate-detection keys of a live customer, of the parts asked,
 * hashed with `hash`. */
static int dup_keys(const carnet__entity *e, carnet__blind_secret *secret, carnet__blind_hash *hash,
                    carnet__arena *a, unsigned parts, bool even_deleted, carnet__keyset *out) {
  char buf[CARNET_NAME_FOLD_MAX], norm[255];
  int rc;
  const carnet__cell *c = carnet__entity_find(e, CARNET_F_DELETED, NULL, 0);
  if (c && cell_true(c) && !even_deleted) return 0;
  if (parts & CARNET__IDX_PART_SIRET) field_str(e, CARNET_F_SIRET, buf, sizeof buf);
  if ((parts & CARNET__IDX_PART_SIRET) && buf[0] && carnet_siret_normalize(buf, norm) == 0) {
    if ((rc = add_blind(out, a, secret, hash, CARNET__IDX_SIRET, norm, &e->id))) return rc;
    norm[9] = '\0';
    if ((rc = add_blind(out, a, secret, hash, CARNET__IDX_SIREN, norm, &e->id))) return rc;
  }
  for (size_t i = 0; i < e->n && (parts & (CARNET__IDX_PART_PHONE | CARNET__IDX_PART_EMAIL)); i++) {
    c = &e->cells[i];
    if (c->field == CARNET_F_PHONES && (parts & CARNET__IDX_PART_PHONE)) {
      char num[33], e164[CARNET_PHONE_E164_MAX];
      if (!phone_number(c, num)) continue;
      /* Stored numbers are E.164 already ("+E164" or "+E164;ext=N", as
       * carnet_phone_stored wrote them): the key is the number without its
       * extension, taken as it is, with no parse (a libphonenumber parse
       * per phone was most of an import's time). Anything else received
       * is indexed as it is. */
      const char *v = stored_e164(num, e164, sizeof e164) ? e164 : num;
      if ((rc = add_blind(out, a, secret, hash, CARNET__IDX_PHONE, v, &e->id))) return rc;
    } else if (c->field == CARNET_F_EMAILS && (parts & CARNET__IDX_PART_EMAIL) && cell_true(c) &&
               c->klen < sizeof buf) {
      char hint[255];
      memcpy(buf, c->key, c->klen);
      buf[c->klen] = '\0';
      if (carnet_email_key(buf, norm, sizeof norm) != 0) continue;
      if ((rc = add_blind(out, a, secret, hash, CARNET__IDX_EMAIL, norm, &e->id))) return rc;
      if (carnet_email_hint_key(buf, hint, sizeof hint) == 0 && strcmp(hint, norm) != 0 &&
          (rc = add_blind(out, a, secret, hash, CARNET__IDX_EMAIL_HINT, hint, &e->id)))
        return rc;
    }
  }
  if (!(parts & CARNET__IDX_PART_NAME)) return 0;
  char postcode[32], city[128], place[CARNET_NAME_FOLD_MAX + 1];
  field_str(e, CARNET_F_POSTCODE, postcode, sizeof postcode);
  field_str(e, CARNET_F_CITY, city, sizeof city);
  carnet__index_place(postcode, city, place, sizeof place);
  field_str(e, CARNET_F_NAME, buf, sizeof buf);
  if ((rc = name_keys(out, a, secret, hash, place, buf, &e->id))) return rc;
  field_str(e, CARNET_F_COMPANY, buf, sizeof buf);
  return name_keys(out, a, secret, hash, place, buf, &e->id);
}

unsigned carnet__index_parts(uint16_t field) {
  switch (field) {
  case CARNET_F_REFCODE: /* 'r' */
  case CARNET_F_NUMBER:  /* 'r' of documents */
    return CARNET__IDX_PART_REF;
  case CARNET_F_DELETED: /* a deleted customer has no blind keys */
    return CARNET__IDX_PART_ALL;
  case CARNET_F_SIRET: /* 's' 'S' */
    return CARNET__IDX_PART_SIRET;
  case CARNET_F_PHONES: /* 'p' */
    return CARNET__IDX_PART_PHONE;
  case CARNET_F_EMAILS: /* 'e' 'h' */
    return CARNET__IDX_PART_EMAIL;
  case CARNET_F_POSTCODE: /* 'n': the place */
  case CARNET_F_CITY:
  case CARNET_F_NAME: /* 'n' */
  case CARNET_F_COMPANY:
    return CARNET__IDX_PART_NAME;
  case CARNET_F_SAME_AS: /* 'm' 'x' 'v' */
  case CARNET_F_NOT_SAME:
  case CARNET_F_REVIEW:
    return CARNET__IDX_PART_MERGE;
  case CARNET_F_OWNER: /* 'a' */
    return CARNET__IDX_PART_ATTACH;
  default:
    return 0;
  }
}

unsigned carnet__index_tag_part(uint8_t tag) {
  switch (tag) {
  case CARNET__IDX_REFCODE:
    return CARNET__IDX_PART_REF;
  case CARNET__IDX_SIRET:
  case CARNET__IDX_SIREN:
    return CARNET__IDX_PART_SIRET;
  case CARNET__IDX_PHONE:
    return CARNET__IDX_PART_PHONE;
  case CARNET__IDX_EMAIL:
  case CARNET__IDX_EMAIL_HINT:
    return CARNET__IDX_PART_EMAIL;
  case CARNET__IDX_NAME:
    return CARNET__IDX_PART_NAME;
  case CARNET__IDX_SAME_AS:
  case CARNET__IDX_NOT_SAME:
  case CARNET__IDX_REVIEW:
    return CARNET__IDX_PART_MERGE;
  case CARNET__IDX_ATTACH:
    return CARNET__IDX_PART_ATTACH;
  default:
    return CARNET__IDX_PART_ALL;
  }
}

bool carnet__index_parts_exact(const carnet__entity *e) {
  /* The keyset is capped (CARNET__INDEX_KEYS_MAX, extra values unindexed);
   * under the cap every part's keys are the same computed alone or with the
   * others: at most 7 keys besides phones (1 each) and e-mails (2). */
  size_t k = 7;
  for (size_t i = 0; i < e->n; i++)
    if (e->cells[i].field == CARNET_F_PHONES || e->cells[i].field == CARNET_F_SAME_AS ||
        e->cells[i].field == CARNET_F_NOT_SAME || e->cells[i].field == CARNET_F_REVIEW)
      k += 1;
    else if (e->cells[i].field == CARNET_F_EMAILS)
      k += 2;
  return k <= CARNET__INDEX_KEYS_MAX;
}

int carnet__index_keys(const carnet__entity *e, carnet__blind_secret *secret, carnet__arena *a,
                       carnet__keyset *out) {
  return carnet__index_keys_parts(e, secret, a, CARNET__IDX_PART_ALL, out);
}

/* Every field read here must be mapped by carnet__index_parts. */
int carnet__index_keys_parts(const carnet__entity *e, carnet__blind_secret *secret,
                             carnet__arena *a, unsigned parts, carnet__keyset *out) {
  out->n = 0;
  const carnet__cell *c = carnet__entity_find(e, CARNET_F_REFCODE, NULL, 0);
  const char *s;
  size_t n;
  int rc;
  /* An attachment under its owner (ids only), deleted or not: listing an
   * owner's files and erasing them find it there. */
  if (e->kind == CARNET_KIND_ATTACHMENT) {
    const carnet__cell *o = carnet__entity_find(e, CARNET_F_OWNER, NULL, 0);
    /* The value is a bin8 of 16 bytes (schema: CARNET_V_ID). */
    if ((parts & CARNET__IDX_PART_ATTACH) && o && o->vlen == 18)
      return add_key(out, a, CARNET__IDX_ATTACH, o->val + 2, 16, &e->id);
    return 0;
  }
  /* Merge edges and decisions (engine/store/group.h), in clear: ids only. */
  if ((parts & CARNET__IDX_PART_MERGE) && e->kind == CARNET_KIND_CUSTOMER &&
      (rc = carnet__index_merge_keys(e, a, out)))
    return rc;
  if (c && cell_str(c, &s, &n) && n > 0) {
    if ((parts & CARNET__IDX_PART_REF) && (rc = add_key(out, a, CARNET__IDX_REFCODE, s, n, &e->id)))
      return rc;
    if (secret && e->kind == CARNET_KIND_CUSTOMER)
      return dup_keys(e, secret, carnet__index_hash, a, parts, false, out);
    return 0;
  }
  if (secret && e->kind == CARNET_KIND_CUSTOMER)
    return dup_keys(e, secret, carnet__index_hash, a, parts, false, out);
  if (!(parts & CARNET__IDX_PART_REF)) return 0;
  /* Document numbers resolve like reference codes ("F2611-5T31-0042"), in
   * upper case since carnet_record_resolve looks up what was typed in upper case. */
  for (size_t i = 0; i < e->n; i++) {
    c = &e->cells[i];
    if (c->field != CARNET_F_NUMBER || !cell_str(c, &s, &n) || n == 0 || n > 64) continue;
    char up[64];
    for (size_t k = 0; k < n; k++)
      up[k] = (char)toupper((unsigned char)s[k]);
    if ((rc = add_key(out, a, CARNET__IDX_REFCODE, up, n, &e->id))) return rc;
  }
  return 0;
}

int carnet__index_blind_keys(const carnet__entity *e, carnet__blind_secret *secret,
                             carnet__blind_hash *hash, unsigned parts, bool even_deleted,
                             carnet__arena *a, carnet__keyset *out) {
  out->n = 0;
  if (e->kind != CARNET_KIND_CUSTOMER) return 0;
  return dup_keys(e, secret, hash, a, parts, even_deleted, out);
}

int carnet__index_secret(carnet__stxn *st, carnet__blind_secret *out) {
  carnet_buf v;
  int rc = carnet__store_get(st, CARNET__T_META, CARNET__META_INDEX_KEY,
                             strlen(CARNET__META_INDEX_KEY), &v);
  if (rc) return rc;
  if (v.len != CARNET__INDEX_SECRET_LEN) return CARNET_ECORRUPT;
  memcpy(out->raw, v.base, CARNET__INDEX_SECRET_LEN);
  out->has_sip = out->has_keyed = out->has_tri = false;
  out->grams = NULL;
  return 0;
}
