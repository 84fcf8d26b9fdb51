/* engine/mp.c - msgpack stream reader (see mp.h). */
#include "engine/mp.h"

#include "carnet/error.h"

int carnet__mp_init(carnet__mp *m, const void *buf, size_t len) {
  m->buf = buf;
  m->len = len;
  m->off = 0;
  m->bad_line = 0;
  return msgpack_zone_init(&m->zone, 2048) ? 0 : CARNET_ENOMEM;
}

void carnet__mp_destroy(carnet__mp *m) {
  msgpack_zone_destroy(&m->zone);
}

int carnet__mp_next(carnet__mp *m, msgpack_object *o, carnet_buf *raw) {
  if (m->off >= m->len) return CARNET__BAD(m);
  size_t start = m->off;
  msgpack_zone_clear(&m->zone);
  msgpack_unpack_return ret = msgpack_unpack(m->buf, m->len, &m->off, &m->zone, o);
  if (ret == MSGPACK_UNPACK_NOMEM_ERROR) return CARNET_ENOMEM;
  if (ret != MSGPACK_UNPACK_SUCCESS && ret != MSGPACK_UNPACK_EXTRA_BYTES) return CARNET__BAD(m);
  if (raw) {
    raw->base = m->buf + start;
    raw->len = m->off - start;
  }
  return 0;
}

int carnet__mp_uint(carnet__mp *m, uint64_t *v) {
  msgpack_object o;
  int rc = carnet__mp_next(m, &o, NULL);
  if (rc) return rc;
  if (o.type != MSGPACK_OBJECT_POSITIVE_INTEGER) return CARNET__BAD(m);
  *v = o.via.u64;
  return 0;
}

int carnet__mp_int(carnet__mp *m, int64_t *v) {
  msgpack_object o;
  int rc = carnet__mp_next(m, &o, NULL);
  if (rc) return rc;
  if (o.type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
    *v = o.via.i64;
  } else if (o.type == MSGPACK_OBJECT_POSITIVE_INTEGER && o.via.u64 <= INT64_MAX) {
    *v = (int64_t)o.via.u64;
  } else {
    return CARNET__BAD(m);
  }
  return 0;
}

int carnet__mp_bool(carnet__mp *m, bool *v) {
  msgpack_object o;
  int rc = carnet__mp_next(m, &o, NULL);
  if (rc) return rc;
  if (o.type != MSGPACK_OBJECT_BOOLEAN) return CARNET__BAD(m);
  *v = o.via.boolean;
  return 0;
}

int carnet__mp_bin(carnet__mp *m, carnet_buf *v, bool nil_ok) {
  msgpack_object o;
  int rc = carnet__mp_next(m, &o, NULL);
  if (rc) return rc;
  if (o.type == MSGPACK_OBJECT_NIL && nil_ok) {
    v->base = NULL;
    v->len = 0;
    return 0;
  }
  if (o.type != MSGPACK_OBJECT_BIN) return CARNET__BAD(m);
  v->base = o.via.bin.ptr;
  v->len = o.via.bin.size;
  return 0;
}

bool carnet__mp_nil(carnet__mp *m) {
  if (m->off < m->len && (unsigned char)m->buf[m->off] == 0xc0) {
    m->off++;
    return true;
  }
  return false;
}

bool carnet__mp_done(const carnet__mp *m) {
  return m->off == m->len;
}

void carnet__pack_bin(msgpack_packer *pk, const void *p, size_t n) {
  msgpack_pack_bin(pk, n);
  msgpack_pack_bin_body(pk, p, n);
}

void carnet__pack_str(msgpack_packer *pk, const char *p, size_t n) {
  msgpack_pack_str(pk, n);
  msgpack_pack_str_body(pk, p, n);
}
