/* engine/model/batch.c - change batch codec (see batch.h). */
#include "engine/model/batch.h"
#include "engine/base/alloc.h"

#include <stdlib.h>
#include <string.h>

#include "carnet/error.h"
#include "engine/base/check.h"
#include "engine/base/mp.h"
#include "engine/model/know.h"
#include "engine/model/schema.h"

void carnet__benc_init(carnet__benc *enc) {
  msgpack_sbuffer_init(&enc->body);
  msgpack_packer_init(&enc->pk, &enc->body, msgpack_sbuffer_write);
  enc->norigins = 0;
  enc->prev = 0;
  enc->nents = enc->ncells = 0;
}

void carnet__benc_destroy(carnet__benc *enc) {
  msgpack_sbuffer_destroy(&enc->body);
}

typedef struct bstamp {
  carnet_hlc hlc;
  uint64_t origin;
} bstamp;

static size_t origin_ref(carnet__benc *enc, uint64_t origin, bool *declare) {
  for (size_t i = 0; i < enc->norigins; i++) {
    if (enc->origins[i] == origin) {
      *declare = false;
      return i;
    }
  }
  *declare = true;
  return enc->norigins;
}

carnet__benc_pos carnet__benc_tell(const carnet__benc *enc) {
  return (carnet__benc_pos){enc->body.size, enc->norigins, enc->prev, enc->nents, enc->ncells};
}

void carnet__benc_rewind(carnet__benc *enc, carnet__benc_pos pos) {
  /* Only back to a position told before: rewinding never grows a batch. */
  CARNET_ASSERT(pos.size <= enc->body.size && pos.norigins <= enc->norigins);
  CARNET_ASSERT(pos.nents <= enc->nents && pos.ncells <= enc->ncells);
  enc->body.size = pos.size;
  enc->norigins = pos.norigins;
  enc->prev = pos.prev;
  enc->nents = pos.nents;
  enc->ncells = pos.ncells;
}

/* Whether a cell goes to the peer (carnet__benc_entity). */
static bool sent(const carnet__cell *c, uint64_t base, uint64_t skip_origin,
                 const carnet__know *peer_know) {
  return c->seq > base && !(skip_origin && c->origin == skip_origin) &&
         !carnet__know_has(peer_know, c->origin, c->hlc);
}

int carnet__benc_entity(carnet__benc *enc, const carnet__entity *e, uint64_t base,
                        uint64_t skip_origin, const carnet__know *peer_know) {
  bstamp *st = carnet__malloc((e->n ? e->n : 1) * sizeof *st);
  size_t *idx = carnet__malloc((e->n ? e->n : 1) * sizeof *idx);
  size_t ns = 0, nc = 0;
  int rc = CARNET_ENOMEM;
  if (st == NULL || idx == NULL) goto done;
  for (size_t i = 0; i < e->n; i++) {
    const carnet__cell *c = &e->cells[i];
    if (!sent(c, base, skip_origin, peer_know)) continue;
    size_t j = ns;
    while (j-- > 0)
      if (st[j].hlc == c->hlc && st[j].origin == c->origin) break;
    if (j == (size_t)-1) {
      st[ns] = (bstamp){c->hlc, c->origin};
      j = ns++;
    }
    idx[i] = j;
    nc++;
  }
  CARNET_ASSERT(ns <= nc && nc <= e->n); /* stamps are shared, never more than cells */
  rc = 0;
  if (nc == 0) goto done;
  /* Origins this entity would declare must fit in the table. */
  size_t fresh = 0;
  for (size_t j = 0; j < ns; j++) {
    bool declare;
    origin_ref(enc, st[j].origin, &declare);
    fresh += declare;
  }
  if (enc->norigins + fresh > CARNET__BATCH_ORIGINS_MAX) {
    rc = CARNET_ELIMIT;
    goto done;
  }
  carnet__pack_bin(&enc->pk, e->id.b, 16);
  msgpack_pack_uint8(&enc->pk, e->kind);
  msgpack_pack_uint64(&enc->pk, ns);
  for (size_t j = 0; j < ns; j++) {
    bool declare;
    size_t ref = origin_ref(enc, st[j].origin, &declare);
    msgpack_pack_uint64(&enc->pk, ref);
    if (declare) {
      msgpack_pack_uint64(&enc->pk, st[j].origin);
      enc->origins[enc->norigins++] = st[j].origin;
    }
    /* Two's-complement difference, read back as a signed delta. */
    msgpack_pack_int64(&enc->pk, (int64_t)(st[j].hlc - enc->prev));
    enc->prev = st[j].hlc;
  }
  msgpack_pack_uint64(&enc->pk, nc);
  for (size_t i = 0; i < e->n; i++) {
    const carnet__cell *c = &e->cells[i];
    if (!sent(c, base, skip_origin, peer_know)) continue;
    msgpack_pack_uint16(&enc->pk, c->field);
    if (c->klen) {
      carnet__pack_bin(&enc->pk, c->key, c->klen);
    } else {
      msgpack_pack_nil(&enc->pk);
    }
    msgpack_sbuffer_write(&enc->body, (const char *)c->val, c->vlen);
    msgpack_pack_uint64(&enc->pk, idx[i]);
  }
  CARNET_ASSERT(enc->norigins <= CARNET__BATCH_ORIGINS_MAX); /* checked above */
  enc->nents++;
  enc->ncells += (uint32_t)nc;
  if (enc->body.data == NULL) rc = CARNET_ENOMEM;
done:
  carnet__free(st);
  carnet__free(idx);
  return rc;
}

int carnet__benc_finish(carnet__benc *enc, const carnet_batch_info *info, carnet_buf *out) {
  msgpack_sbuffer head;
  msgpack_packer pk;
  msgpack_sbuffer_init(&head);
  msgpack_packer_init(&pk, &head, msgpack_sbuffer_write);
  msgpack_pack_uint8(&pk, CARNET__BATCH_VERSION);
  msgpack_pack_uint64(&pk, info->sender);
  msgpack_pack_uint64(&pk, info->base);
  msgpack_pack_uint64(&pk, info->after);
  msgpack_pack_uint64(&pk, info->upto);
  if (info->more) {
    msgpack_pack_true(&pk);
  } else {
    msgpack_pack_false(&pk);
  }
  CARNET_ASSERT(info->base <= info->after && info->after <= info->upto); /* what decode checks */
  size_t n = head.size + enc->body.size;
  char *buf = head.data ? carnet__malloc(n) : NULL;
  if (buf == NULL) {
    msgpack_sbuffer_destroy(&head);
    return CARNET_ENOMEM;
  }
  memcpy(buf, head.data, head.size);
  if (enc->body.size) memcpy(buf + head.size, enc->body.data, enc->body.size);
  msgpack_sbuffer_destroy(&head);
  out->base = buf;
  out->len = n;
  return 0;
}

/* --- decoding ------------------------------------------------------------- */

static int read_entity(carnet__mp *m, carnet__batch *b, uint64_t *origins, size_t *norigins,
                       carnet_hlc *prev, carnet__bentity *be) {
  carnet_buf id;
  uint64_t kind, ns, nc;
  carnet__stamp *st = NULL;
  int rc;
  if ((rc = carnet__mp_bin(m, &id, false)) || (rc = carnet__mp_uint(m, &kind)) ||
      (rc = carnet__mp_uint(m, &ns)))
    goto done;
  if (id.len != 16 || !carnet__kind_valid((unsigned)kind) || kind > 255 ||
      ns > CARNET__ENTITY_CELLS_MAX || ns == 0) {
    rc = CARNET__REFUSE(&b->bad_line, CARNET_EPROTO);
    goto done;
  }
  memcpy(be->id.b, id.base, 16);
  be->kind = (uint8_t)kind;
  if ((st = carnet__malloc(ns * sizeof *st)) == NULL) {
    rc = CARNET_ENOMEM;
    goto done;
  }
  for (uint64_t i = 0; i < ns; i++) {
    uint64_t ref;
    int64_t delta;
    if ((rc = carnet__mp_uint(m, &ref))) goto done;
    if (ref > *norigins || ref >= CARNET__BATCH_ORIGINS_MAX) {
      rc = CARNET__REFUSE(&b->bad_line, CARNET_EPROTO);
      goto done;
    }
    if (ref == *norigins) {
      if ((rc = carnet__mp_uint(m, &origins[ref]))) goto done;
      (*norigins)++;
    }
    if ((rc = carnet__mp_int(m, &delta))) goto done;
    st[i].origin = origins[ref];
    st[i].hlc = *prev + (uint64_t)delta;
    st[i].seq = 0;
    /* A stamp that wrapped around is not a stamp. */
    if ((delta < 0 && st[i].hlc > *prev) || (delta > 0 && st[i].hlc < *prev)) {
      rc = CARNET__REFUSE(&b->bad_line, CARNET_EPROTO);
      goto done;
    }
    *prev = st[i].hlc;
    if (st[i].hlc > b->max_hlc) b->max_hlc = st[i].hlc;
  }
  if ((rc = carnet__mp_uint(m, &nc))) goto done;
  if (nc == 0 || nc > CARNET__ENTITY_CELLS_MAX) {
    rc = CARNET__REFUSE(&b->bad_line, CARNET_EPROTO);
    goto done;
  }
  be->cells = carnet__arena_alloc(&b->arena, nc * sizeof *be->cells);
  if (be->cells == NULL) {
    rc = CARNET_ENOMEM;
    goto done;
  }
  if ((rc = carnet__cells_read(m, be->kind, st, ns, nc, be->cells))) goto done;
  be->n = nc;
done:
  carnet__free(st);
  return rc == CARNET_ECORRUPT ? CARNET_EPROTO : rc;
}

int carnet__batch_decode(const void *buf, size_t len, carnet__batch *b) {
  carnet__mp m;
  uint64_t version, *origins = NULL;
  size_t norigins = 0, cap = 0;
  carnet_hlc prev = 0;
  int rc;
  memset(b, 0, sizeof *b);
  carnet__arena_init(&b->arena, 16384);
  if (buf == NULL || len == 0 || len > CARNET_BATCH_BYTES_MAX)
    return CARNET__REFUSE(&b->bad_line, CARNET_EPROTO);
  if ((rc = carnet__mp_init(&m, buf, len))) return rc;
  if ((rc = carnet__mp_uint(&m, &version)) || (rc = carnet__mp_uint(&m, &b->info.sender)) ||
      (rc = carnet__mp_uint(&m, &b->info.base)) || (rc = carnet__mp_uint(&m, &b->info.after)) ||
      (rc = carnet__mp_uint(&m, &b->info.upto)) || (rc = carnet__mp_bool(&m, &b->info.more)))
    goto done;
  if (version != CARNET__BATCH_VERSION || b->info.after < b->info.base ||
      b->info.upto < b->info.after) {
    rc = CARNET__REFUSE(&b->bad_line, CARNET_EPROTO);
    goto done;
  }
  origins = carnet__malloc(CARNET__BATCH_ORIGINS_MAX * sizeof *origins);
  if (origins == NULL) {
    rc = CARNET_ENOMEM;
    goto done;
  }
  while (!carnet__mp_done(&m)) {
    if (b->info.entities >= CARNET_BATCH_ENTITIES_MAX) {
      rc = CARNET__REFUSE(&b->bad_line, CARNET_EPROTO);
      goto done;
    }
    if (b->info.entities == cap) {
      cap = cap ? cap * 2 : 64;
      carnet__bentity *ents = carnet__realloc(b->ents, cap * sizeof *ents);
      if (ents == NULL) {
        rc = CARNET_ENOMEM;
        goto done;
      }
      b->ents = ents;
    }
    carnet__bentity *be = &b->ents[b->info.entities];
    if ((rc = read_entity(&m, b, origins, &norigins, &prev, be))) goto done;
    CARNET_ASSERT(be->n > 0 && norigins <= CARNET__BATCH_ORIGINS_MAX);
    b->info.entities++;
    b->info.cells += (uint32_t)be->n;
  }
done:
  if (rc == CARNET_ECORRUPT) rc = CARNET_EPROTO;
  if (rc == CARNET_EPROTO && b->bad_line == 0) b->bad_line = m.bad_line;
  carnet__free(origins);
  carnet__mp_destroy(&m);
  return rc;
}

void carnet__batch_free(carnet__batch *b) {
  carnet__free(b->ents);
  b->ents = NULL;
  carnet__arena_free(&b->arena);
}
