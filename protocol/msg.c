/* protocol/msg.c - session message codec (see msg.h).
 *
 * The decoder accepts only the canonical encoding of each message: every
 * integer, bin and str in its shortest msgpack form, which is what msgpack-c
 * writes. So decoding then encoding gives back the very same bytes (the fuzz
 * target checks it), and one message has one byte form.
 */
#include "protocol/msg.h"

#include <stdbool.h>
#include <string.h>

#include "carnet/error.h"
#include "engine/base/check.h"
#include "engine/base/mp.h"
#include "engine/base/text.h"
#include "protocol/canon.h"

/* The smallest ERROR code accepted: a CARNET_E* code this build does not know
 * is fine (the peer may be newer), a huge one is garbage. */
#define CODE_MIN (-32768)

const char *carnet__msg_name(int type) {
  switch (type) {
  case CARNET_MSG_REQ:
    return "REQ";
  case CARNET_MSG_BATCH:
    return "BATCH";
  case CARNET_MSG_ACK:
    return "ACK";
  case CARNET_MSG_CERT:
    return "CERT";
  case CARNET_MSG_ERROR:
    return "ERROR";
  case CARNET_MSG_BYE:
    return "BYE";
  case CARNET_MSG_PING:
    return "PING";
  case CARNET_MSG_REVOKE:
    return "REVOKE";
  case CARNET_MSG_FETCH:
    return "FETCH";
  case CARNET_MSG_CHUNK:
    return "CHUNK";
  case CARNET_MSG_NOPE:
    return "NOPE";
  case CARNET_MSG_IDLE:
    return "IDLE";
  case CARNET_MSG_KNOW:
    return "KNOW";
  case CARNET_MSG_SEALED:
    return "SEALED";
  default:
    return NULL;
  }
}

/* 0 when `text` is a line we may show a user: UTF-8 without control
 * characters (a peer must not be able to drive our terminal) and no NUL. */
static int text_valid(carnet_buf text) {
  char tmp[CARNET_MSG_TEXT_BYTES_MAX + 1];
  if (text.len > CARNET_MSG_TEXT_BYTES_MAX) return CARNET_EINVAL;
  if (text.len && memchr(text.base, 0, text.len) != NULL) return CARNET_EINVAL;
  if (text.len) memcpy(tmp, text.base, text.len);
  tmp[text.len] = '\0';
  return carnet__text_valid(tmp, CARNET_MSG_TEXT_BYTES_MAX, false);
}

static size_t bytes_max(int type) {
  return type == CARNET_MSG_BATCH    ? CARNET_BATCH_BYTES_MAX
         : type == CARNET_MSG_REVOKE ? CARNET_MSG_REVOKE_BYTES_MAX
         : type == CARNET_MSG_CHUNK  ? CARNET_MSG_CHUNK_BYTES_MAX
                                     : CARNET_MSG_CERT_BYTES_MAX;
}

int carnet__msg_encode(const carnet__msg *m, carnet__obuf *out) {
  msgpack_packer pk;
  size_t mark = out->len;
  int rc = 0;

  switch (m->type) {
  case CARNET_MSG_REQ:
    if (m->after < m->since) return CARNET_EMISUSE;
    break;
  case CARNET_MSG_ACK:
  case CARNET_MSG_BYE:
  case CARNET_MSG_PING:
  case CARNET_MSG_FETCH:
  case CARNET_MSG_NOPE:
  case CARNET_MSG_IDLE:
    break;
  case CARNET_MSG_BATCH:
  case CARNET_MSG_CERT:
  case CARNET_MSG_REVOKE:
  case CARNET_MSG_CHUNK:
    if (m->bytes.len == 0 || m->bytes.len > bytes_max(m->type)) return CARNET_EMISUSE;
    break;
  case CARNET_MSG_KNOW:
    if (m->bytes.len > CARNET__KNOW_BYTES_MAX || m->bytes.len % CARNET__KNOW_ENTRY_BYTES)
      return CARNET_EMISUSE;
    break;
  case CARNET_MSG_ERROR:
    if (m->code >= 0 || m->code < CODE_MIN || text_valid(m->text) != 0) return CARNET_EMISUSE;
    break;
  case CARNET_MSG_SEALED:
    if (m->unit_len < CARNET_MSG_SEALED_BYTES_MIN || m->unit_len > CARNET_MSG_CHUNK_BYTES_MAX)
      return CARNET_EMISUSE;
    break;
  default:
    return CARNET_EMISUSE;
  }
  /* Reserve the whole message first, so the packer cannot fail halfway for
   * want of memory; a failure below is still checked and rolled back. */
  size_t body = m->type == CARNET_MSG_SEALED ? 0 : m->bytes.len; /* SEALED: a header only */
  rc = carnet__obuf_reserve(out, 64 + body + m->text.len);
  if (rc) return rc;
  msgpack_packer_init(&pk, out, carnet__obuf_mp_write);
  rc |= msgpack_pack_uint8(&pk, (uint8_t)m->type);
  switch (m->type) {
  case CARNET_MSG_REQ:
    rc |= msgpack_pack_uint64(&pk, m->since);
    rc |= msgpack_pack_uint64(&pk, m->after);
    break;
  case CARNET_MSG_ACK:
    rc |= msgpack_pack_uint64(&pk, m->upto);
    break;
  case CARNET_MSG_KNOW:
    rc |= msgpack_pack_uint64(&pk, m->upto);
    rc |= msgpack_pack_bin(&pk, m->bytes.len);
    if (m->bytes.len) rc |= msgpack_pack_bin_body(&pk, m->bytes.base, m->bytes.len);
    break;
  case CARNET_MSG_FETCH:
  case CARNET_MSG_CHUNK:
  case CARNET_MSG_NOPE:
    rc |= msgpack_pack_bin(&pk, sizeof m->att.b);
    rc |= msgpack_pack_bin_body(&pk, m->att.b, sizeof m->att.b);
    if (m->type == CARNET_MSG_NOPE) break;
    rc |= msgpack_pack_uint64(&pk, m->offset);
    if (m->type == CARNET_MSG_FETCH) break;
    rc |= msgpack_pack_bin(&pk, m->bytes.len);
    rc |= msgpack_pack_bin_body(&pk, m->bytes.base, m->bytes.len);
    break;
  case CARNET_MSG_SEALED:
    rc |= msgpack_pack_bin(&pk, sizeof m->att.b);
    rc |= msgpack_pack_bin_body(&pk, m->att.b, sizeof m->att.b);
    rc |= msgpack_pack_uint64(&pk, m->offset);
    rc |= msgpack_pack_uint64(&pk, m->unit_len);
    rc |= msgpack_pack_bin(&pk, sizeof m->mac);
    rc |= msgpack_pack_bin_body(&pk, m->mac, sizeof m->mac);
    break;
  case CARNET_MSG_BATCH:
  case CARNET_MSG_CERT:
  case CARNET_MSG_REVOKE:
    rc |= msgpack_pack_bin(&pk, m->bytes.len);
    rc |= msgpack_pack_bin_body(&pk, m->bytes.base, m->bytes.len);
    break;
  case CARNET_MSG_ERROR:
    rc |= msgpack_pack_int(&pk, m->code);
    rc |= msgpack_pack_str(&pk, m->text.len);
    rc |= msgpack_pack_str_body(&pk, m->text.base, m->text.len);
    break;
  default:
    break;
  }
  if (rc) {
    out->len = mark;
    return CARNET_ENOMEM;
  }
  return 0;
}

/* Map the stream reader's verdict on bad bytes to ours: what a peer sent is
 * a protocol violation, not a corrupted store. */
static int mp_err(carnet__msg *m, carnet__mp *mp, int rc) {
  if (rc == CARNET_ENOMEM) return rc;
  m->bad_line = mp->bad_line;
  return CARNET_EPROTO;
}

/* A canonical uint. */
static int read_uint(carnet__msg *m, carnet__mp *mp, uint64_t *v) {
  msgpack_object o;
  carnet_buf raw;
  int rc = carnet__canon_next(mp, &o, &raw);
  if (rc) return mp_err(m, mp, rc);
  if (o.type != MSGPACK_OBJECT_POSITIVE_INTEGER || !carnet__canon_is_uint(raw, o.via.u64))
    return CARNET__REFUSE(&m->bad_line, CARNET_EPROTO);
  *v = o.via.u64;
  return 0;
}

/* A canonical bin of 1 .. max bytes (exactly `max` when `exact`). */
static int read_bin(carnet__msg *m, carnet__mp *mp, size_t max, bool exact, carnet_buf *out) {
  msgpack_object o;
  carnet_buf raw;
  int rc = carnet__canon_next(mp, &o, &raw);
  if (rc) return mp_err(m, mp, rc);
  if (o.type != MSGPACK_OBJECT_BIN || o.via.bin.size == 0 || o.via.bin.size > max ||
      (exact && o.via.bin.size != max) || raw.len != carnet__canon_bin(o.via.bin.size))
    return CARNET__REFUSE(&m->bad_line, CARNET_EPROTO);
  *out = (carnet_buf){o.via.bin.ptr, o.via.bin.size};
  return 0;
}

/* FETCH, CHUNK, NOPE: the attachment id, then the offset and bytes. */
static int read_content(carnet__msg *m, carnet__mp *mp) {
  carnet_buf id;
  int rc = read_bin(m, mp, sizeof m->att.b, true, &id);
  if (rc) return rc;
  memcpy(m->att.b, id.base, sizeof m->att.b);
  if (m->type == CARNET_MSG_NOPE) return 0;
  if ((rc = read_uint(m, mp, &m->offset))) return rc;
  if (m->type == CARNET_MSG_FETCH) return 0;
  return read_bin(m, mp, CARNET_MSG_CHUNK_BYTES_MAX, false, &m->bytes);
}

/* SEALED: the attachment id, the offset, the unit's length and tag. */
static int read_sealed(carnet__msg *m, carnet__mp *mp) {
  carnet_buf b;
  int rc = read_bin(m, mp, sizeof m->att.b, true, &b);
  if (rc) return rc;
  memcpy(m->att.b, b.base, sizeof m->att.b);
  if ((rc = read_uint(m, mp, &m->offset)) || (rc = read_uint(m, mp, &m->unit_len))) return rc;
  if (m->unit_len < CARNET_MSG_SEALED_BYTES_MIN || m->unit_len > CARNET_MSG_CHUNK_BYTES_MAX)
    return CARNET__REFUSE(&m->bad_line, CARNET_EPROTO);
  if ((rc = read_bin(m, mp, sizeof m->mac, true, &b))) return rc;
  memcpy(m->mac, b.base, sizeof m->mac);
  return 0;
}

int carnet__msg_decode(const void *buf, size_t len, carnet__msg *m) {
  carnet__mp mp;
  msgpack_object o;
  carnet_buf raw;
  int rc;

  memset(m, 0, sizeof *m);
  rc = carnet__mp_init(&mp, buf, len);
  if (rc) return rc;

  rc = carnet__canon_next(&mp, &o, &raw);
  if (rc) {
    rc = mp_err(m, &mp, rc);
    goto done;
  }
  if (o.type != MSGPACK_OBJECT_POSITIVE_INTEGER || raw.len != 1 ||
      carnet__msg_name((int)o.via.u64) == NULL) {
    rc = CARNET__REFUSE(&m->bad_line, CARNET_EPROTO);
    goto done;
  }
  m->type = (int)o.via.u64;

  switch (m->type) {
  case CARNET_MSG_REQ:
    if ((rc = read_uint(m, &mp, &m->since)) != 0 || (rc = read_uint(m, &mp, &m->after)) != 0)
      goto done;
    if (m->after < m->since) {
      rc = CARNET__REFUSE(&m->bad_line, CARNET_EPROTO);
      goto done;
    }
    break;
  case CARNET_MSG_ACK:
    if ((rc = read_uint(m, &mp, &m->upto)) != 0) goto done;
    break;
  case CARNET_MSG_KNOW:
    if ((rc = read_uint(m, &mp, &m->upto)) != 0) goto done;
    rc = carnet__canon_next(&mp, &o, &raw);
    if (rc) {
      rc = mp_err(m, &mp, rc);
      goto done;
    }
    /* The vector's entries are checked by engine/model/know.c; its length here. */
    if (o.type != MSGPACK_OBJECT_BIN || o.via.bin.size > CARNET__KNOW_BYTES_MAX ||
        o.via.bin.size % CARNET__KNOW_ENTRY_BYTES != 0 ||
        raw.len != carnet__canon_bin(o.via.bin.size)) {
      rc = CARNET__REFUSE(&m->bad_line, CARNET_EPROTO);
      goto done;
    }
    m->bytes.base = o.via.bin.size ? o.via.bin.ptr : NULL;
    m->bytes.len = o.via.bin.size;
    break;
  case CARNET_MSG_FETCH:
  case CARNET_MSG_CHUNK:
  case CARNET_MSG_NOPE:
    if ((rc = read_content(m, &mp)) != 0) goto done;
    break;
  case CARNET_MSG_SEALED:
    if ((rc = read_sealed(m, &mp)) != 0) goto done;
    break;
  case CARNET_MSG_BATCH:
  case CARNET_MSG_CERT:
  case CARNET_MSG_REVOKE:
    rc = carnet__canon_next(&mp, &o, &raw);
    if (rc) {
      rc = mp_err(m, &mp, rc);
      goto done;
    }
    if (o.type != MSGPACK_OBJECT_BIN || o.via.bin.size == 0 ||
        o.via.bin.size > bytes_max(m->type) || raw.len != carnet__canon_bin(o.via.bin.size)) {
      rc = CARNET__REFUSE(&m->bad_line, CARNET_EPROTO);
      goto done;
    }
    m->bytes.base = o.via.bin.ptr;
    m->bytes.len = o.via.bin.size;
    break;
  case CARNET_MSG_ERROR:
    rc = carnet__canon_next(&mp, &o, &raw);
    if (rc) {
      rc = mp_err(m, &mp, rc);
      goto done;
    }
    if (o.type != MSGPACK_OBJECT_NEGATIVE_INTEGER || o.via.i64 < CODE_MIN ||
        raw.len != carnet__canon_neg(o.via.i64)) {
      rc = CARNET__REFUSE(&m->bad_line, CARNET_EPROTO);
      goto done;
    }
    m->code = (int)o.via.i64;
    rc = carnet__canon_next(&mp, &o, &raw);
    if (rc) {
      rc = mp_err(m, &mp, rc);
      goto done;
    }
    if (o.type != MSGPACK_OBJECT_STR || o.via.str.size > CARNET_MSG_TEXT_BYTES_MAX ||
        raw.len != carnet__canon_str(o.via.str.size)) {
      rc = CARNET__REFUSE(&m->bad_line, CARNET_EPROTO);
      goto done;
    }
    m->text.base = o.via.str.ptr;
    m->text.len = o.via.str.size;
    if (text_valid(m->text) != 0) {
      rc = CARNET__REFUSE(&m->bad_line, CARNET_EPROTO);
      goto done;
    }
    break;
  default: /* BYE, PING, IDLE: the type is the whole message */
    break;
  }
  if (!carnet__mp_done(&mp)) {
    rc = CARNET__REFUSE(&m->bad_line, CARNET_EPROTO);
    goto done;
  }
  rc = 0;

done:
  carnet__mp_destroy(&mp);
  if (rc) {
    int type = m->type, line = m->bad_line;
    memset(m, 0, sizeof *m);
    m->type = type;
    m->bad_line = line;
  }
  return rc;
}
