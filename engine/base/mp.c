/* engine/base/mp.c - msgpack stream reader (see mp.h). */
#include "engine/base/mp.h"

#include "carnet/error.h"
#include "engine/base/check.h"

int carnet__mp_init(carnet__mp *m, const void *buf, size_t len) {
  m->buf = buf;
  m->len = len;
  m->off = 0;
  m->bad_line = 0;
  m->zone_live = false;
  return 0;
}

void carnet__mp_destroy(carnet__mp *m) {
  if (m->zone_live) msgpack_zone_destroy(&m->zone);
  m->zone_live = false;
}

static uint64_t be(const uint8_t *p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; i++)
    v = (v << 8) | p[i];
  return v;
}

int carnet__mp_scan(const void *buf, size_t len, size_t *used) {
  const uint8_t *p = buf;
  /* Elements still owed by each open array or map, innermost last. */
  uint64_t open[CARNET__MP_DEPTH_MAX];
  int depth = 0;
  size_t off = 0;
  uint64_t owed = 0; /* elements owed by all open containers together */
  do {
    if (off >= len) return CARNET_ECORRUPT;
    uint8_t c = p[off++];
    uint64_t skip = 0, items = 0;
    size_t hdr = 0;
    if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
      /* fixint, nil, bool: nothing follows */
    } else if (c >= 0x80 && c <= 0x8f) {
      items = 2u * (c & 0x0f);
    } else if (c >= 0x90 && c <= 0x9f) {
      items = c & 0x0f;
    } else if (c >= 0xa0 && c <= 0xbf) {
      skip = c & 0x1f;
    } else {
      switch (c) {
      case 0xc4:
      case 0xd9:
        hdr = 1;
        break; /* bin8, str8 */
      case 0xc5:
      case 0xda:
        hdr = 2;
        break; /* bin16, str16 */
      case 0xc6:
      case 0xdb:
        hdr = 4;
        break; /* bin32, str32 */
      case 0xc7:
        hdr = 1;
        skip = 1;
        break; /* ext8 (+type) */
      case 0xc8:
        hdr = 2;
        skip = 1;
        break;
      case 0xc9:
        hdr = 4;
        skip = 1;
        break;
      case 0xca:
        skip = 4;
        break;
      case 0xcb:
        skip = 8;
        break;
      case 0xcc:
      case 0xd0:
        skip = 1;
        break;
      case 0xcd:
      case 0xd1:
        skip = 2;
        break;
      case 0xce:
      case 0xd2:
        skip = 4;
        break;
      case 0xcf:
      case 0xd3:
        skip = 8;
        break;
      case 0xd4:
        skip = 2;
        break;
      case 0xd5:
        skip = 3;
        break;
      case 0xd6:
        skip = 5;
        break;
      case 0xd7:
        skip = 9;
        break;
      case 0xd8:
        skip = 17;
        break;
      case 0xdc:
      case 0xde:
        hdr = 2;
        break;
      case 0xdd:
      case 0xdf:
        hdr = 4;
        break;
      default:
        return CARNET_ECORRUPT; /* 0xc1: never used */
      }
      if (hdr) {
        if (len - off < hdr) return CARNET_ECORRUPT;
        uint64_t n = be(p + off, hdr);
        off += hdr;
        if (c == 0xdc || c == 0xdd) {
          items = n;
        } else if (c == 0xde || c == 0xdf) {
          items = 2 * n;
        } else {
          skip += n;
        }
      }
    }
    if (skip > len - off) return CARNET_ECORRUPT;
    off += (size_t)skip;
    /* This object is one element of the container it is in. */
    if (depth > 0) {
      open[depth - 1]--;
      owed--;
    }
    if (items > 0) {
      /* Every announced element needs at least one byte: counts larger
       * than what is left are a lie, refused before msgpack-c allocates for
       * them; and nesting is bounded (msgpack-c reports depth as ENOMEM). */
      if (items > len - off || owed + items > len - off || depth == CARNET__MP_DEPTH_MAX)
        return CARNET_ECORRUPT;
      open[depth++] = items;
      owed += items;
    }
    while (depth > 0 && open[depth - 1] == 0)
      depth--;
  } while (depth > 0);
  *used = off;
  return 0;
}

int carnet__mp_next(carnet__mp *m, msgpack_object *o, carnet_buf *raw) {
  size_t used;
  if (m->off >= m->len) return CARNET__REFUSE(&m->bad_line, CARNET_ECORRUPT);
  if (carnet__mp_scan(m->buf + m->off, m->len - m->off, &used) != 0)
    return CARNET__REFUSE(&m->bad_line, CARNET_ECORRUPT);
  size_t start = m->off;
  if (!m->zone_live) {
    if (!msgpack_zone_init(&m->zone, 2048)) return CARNET_ENOMEM;
    m->zone_live = true;
  }
  msgpack_zone_clear(&m->zone);
  msgpack_unpack_return ret = msgpack_unpack(m->buf, m->len, &m->off, &m->zone, o);
  if (ret == MSGPACK_UNPACK_NOMEM_ERROR) return CARNET_ENOMEM;
  if (ret != MSGPACK_UNPACK_SUCCESS && ret != MSGPACK_UNPACK_EXTRA_BYTES)
    return CARNET__REFUSE(&m->bad_line, CARNET_ECORRUPT);
  if (raw) {
    raw->base = m->buf + start;
    raw->len = m->off - start;
  }
  return 0;
}

int carnet__mp_skip(carnet__mp *m, carnet_buf *raw) {
  size_t used;
  if (m->off >= m->len) return CARNET__REFUSE(&m->bad_line, CARNET_ECORRUPT);
  if (carnet__mp_scan(m->buf + m->off, m->len - m->off, &used) != 0)
    return CARNET__REFUSE(&m->bad_line, CARNET_ECORRUPT);
  raw->base = m->buf + m->off;
  raw->len = used;
  m->off += used;
  return 0;
}

/* One scalar at p (n bytes left): its object and size; false when it is not
 * a scalar this reader knows or its bytes run past n. */
static bool scalar1(const uint8_t *p, size_t n, msgpack_object *o, size_t *used) {
  uint8_t c;
  size_t hdr = 0, body = 0;
  if (n == 0) return false;
  c = p[0];
  if (c <= 0x7f) {
    o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    o->via.u64 = c;
    *used = 1;
    return true;
  }
  if (c >= 0xe0) {
    o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
    o->via.i64 = (int8_t)c;
    *used = 1;
    return true;
  }
  switch (c) {
  case 0xc0:
    o->type = MSGPACK_OBJECT_NIL;
    *used = 1;
    return true;
  case 0xc2:
  case 0xc3:
    o->type = MSGPACK_OBJECT_BOOLEAN;
    o->via.boolean = c == 0xc3;
    *used = 1;
    return true;
  case 0xcc:
  case 0xcd:
  case 0xce:
  case 0xcf: {
    size_t w = (size_t)1 << (c - 0xcc);
    if (n < 1 + w) return false;
    o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
    o->via.u64 = be(p + 1, w);
    *used = 1 + w;
    return true;
  }
  case 0xd0:
  case 0xd1:
  case 0xd2:
  case 0xd3: {
    size_t w = (size_t)1 << (c - 0xd0);
    if (n < 1 + w) return false;
    uint64_t u = be(p + 1, w);
    int64_t v;
    /* Sign-extend the w-byte two's-complement value. */
    if (w < 8 && (u >> (8 * w - 1)) & 1) u |= ~(uint64_t)0 << (8 * w);
    v = (int64_t)u;
    if (v < 0) {
      o->type = MSGPACK_OBJECT_NEGATIVE_INTEGER;
      o->via.i64 = v;
    } else {
      o->type = MSGPACK_OBJECT_POSITIVE_INTEGER;
      o->via.u64 = (uint64_t)v;
    }
    *used = 1 + w;
    return true;
  }
  case 0xd9:
  case 0xc4:
    hdr = 1;
    break;
  case 0xda:
  case 0xc5:
    hdr = 2;
    break;
  case 0xdb:
  case 0xc6:
    hdr = 4;
    break;
  default:
    if (c >= 0xa0 && c <= 0xbf) {
      body = c & 0x1f;
      break;
    }
    return false;
  }
  if (n < 1 + hdr) return false;
  if (hdr) body = be(p + 1, hdr);
  if (body > n - 1 - hdr) return false;
  bool bin = c == 0xc4 || c == 0xc5 || c == 0xc6;
  o->type = bin ? MSGPACK_OBJECT_BIN : MSGPACK_OBJECT_STR;
  if (bin) {
    o->via.bin.ptr = (const char *)p + 1 + hdr;
    o->via.bin.size = (uint32_t)body;
  } else {
    o->via.str.ptr = (const char *)p + 1 + hdr;
    o->via.str.size = (uint32_t)body;
  }
  *used = 1 + hdr + body;
  return true;
}

bool carnet__mp_obj1(const void *buf, size_t len, msgpack_object *o, msgpack_object elems[4]) {
  const uint8_t *p = buf;
  size_t used;
  if (len == 0) return false;
  if (p[0] >= 0x90 && p[0] <= 0x94) {
    uint32_t k = p[0] & 0x0f;
    size_t off = 1;
    for (uint32_t i = 0; i < k; i++) {
      if (!scalar1(p + off, len - off, &elems[i], &used)) return false;
      off += used;
    }
    if (off != len) return false;
    o->type = MSGPACK_OBJECT_ARRAY;
    o->via.array.size = k;
    o->via.array.ptr = k ? elems : NULL;
    return true;
  }
  return scalar1(p, len, o, &used) && used == len;
}

/* The next object when it is a scalar, without msgpack-c; else (a
 * container, or bytes that do not decode) through carnet__mp_next, which
 * gives the reference answer and error. */
static int next_scalar(carnet__mp *m, msgpack_object *o) {
  size_t used;
  if (m->off < m->len && scalar1((const uint8_t *)m->buf + m->off, m->len - m->off, o, &used)) {
    m->off += used;
    return 0;
  }
  return carnet__mp_next(m, o, NULL);
}

int carnet__mp_uint(carnet__mp *m, uint64_t *v) {
  msgpack_object o;
  int rc = next_scalar(m, &o);
  if (rc) return rc;
  if (o.type != MSGPACK_OBJECT_POSITIVE_INTEGER)
    return CARNET__REFUSE(&m->bad_line, CARNET_ECORRUPT);
  *v = o.via.u64;
  return 0;
}

int carnet__mp_int(carnet__mp *m, int64_t *v) {
  msgpack_object o;
  int rc = next_scalar(m, &o);
  if (rc) return rc;
  if (o.type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
    *v = o.via.i64;
  } else if (o.type == MSGPACK_OBJECT_POSITIVE_INTEGER && o.via.u64 <= INT64_MAX) {
    *v = (int64_t)o.via.u64;
  } else {
    return CARNET__REFUSE(&m->bad_line, CARNET_ECORRUPT);
  }
  return 0;
}

int carnet__mp_bool(carnet__mp *m, bool *v) {
  msgpack_object o;
  int rc = next_scalar(m, &o);
  if (rc) return rc;
  if (o.type != MSGPACK_OBJECT_BOOLEAN) return CARNET__REFUSE(&m->bad_line, CARNET_ECORRUPT);
  *v = o.via.boolean;
  return 0;
}

int carnet__mp_bin(carnet__mp *m, carnet_buf *v, bool nil_ok) {
  msgpack_object o;
  int rc = next_scalar(m, &o);
  if (rc) return rc;
  if (o.type == MSGPACK_OBJECT_NIL && nil_ok) {
    v->base = NULL;
    v->len = 0;
    return 0;
  }
  if (o.type != MSGPACK_OBJECT_BIN) return CARNET__REFUSE(&m->bad_line, CARNET_ECORRUPT);
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
