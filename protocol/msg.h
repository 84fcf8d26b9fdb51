/* protocol/msg.h - the messages of a sync session, after the handshake.
 *
 * Each message is the plaintext of one encrypted frame (protocol/channel.h):
 * a msgpack stream (top-level objects one after the other, like rows and
 * batches, docs/FORMATS.md) whose first object is the type, a positive
 * fixint. The objects that follow depend on the type and nothing may come
 * after them:
 *
 *   REQ    1  since uint64         send me your change stream from the mark
 *             after uint64         (since, after) (carnet_mark {base, after},
 *                                  carnet/changes.h); after >= since
 *   BATCH  2  bytes bin            one change batch (engine/model/batch.h), 1 ..
 *                                  CARNET_BATCH_BYTES_MAX bytes
 *   ACK    3  upto uint64          I applied your changes up to `upto`
 *   CERT   4  bytes bin            an erasure certificate (engine/model/cert.h), 1 ..
 *                                  CARNET_MSG_CERT_BYTES_MAX bytes; decoded
 *                                  and validated by the engine, not here
 *   ERROR  5  code int  text str   a CARNET_E* code (negative) and a line for
 *                                  the user: UTF-8, no control characters, <=
 *                                  CARNET_MSG_TEXT_BYTES_MAX bytes
 *   BYE    6                       the last message: sent with TAG_FINAL
 *   PING   7                       keep-alive; needs no answer
 *   REVOKE 8  bytes bin            a revocation record (engine/store/revoke.h), 1 ..
 *                                  CARNET_MSG_REVOKE_BYTES_MAX bytes; decoded,
 *                                  verified and applied by the engine, not here
 *                                  (protocol version 2)
 *
 * Content of attachments (protocol version 3; protocol/content.c). The
 * bytes are those of the content file (docs/FORMATS.md), sent as stored:
 *
 *   FETCH  9  att bin16  offset uint   send me the content file of attachment
 *                                      `att` from byte `offset` (0, or the
 *                                      start of a sealed chunk: 24 + k *
 *                                      65,553) to its end
 *   CHUNK 10  att bin16  offset uint   the bytes of that file at `offset`:
 *             bytes bin                the header with the first sealed chunk
 *                                      at offset 0, else one sealed chunk; 1 ..
 *                                      CARNET_MSG_CHUNK_BYTES_MAX bytes
 *   NOPE  11  att bin16                I do not have that file whole: ask
 *                                      another peer
 *   IDLE  12                           I have nothing more to ask you now
 *                                      (sent again after new FETCHes end)
 *
 * Knowledge (protocol version 4; engine/model/know.h):
 *
 *   KNOW  13  upto uint64  vec bin      I hold every cell of each origin in
 *                                       `vec` up to its stamp: a knowledge
 *                                       vector (0 .. CARNET__KNOW_BYTES_MAX
 *                                       bytes, engine/model/know.h), read when my
 *                                       sequence number was `upto`. Sent
 *                                       after the certificates, before REQ,
 *                                       and before the last batch of each
 *                                       stream (read in that batch's
 *                                       snapshot); the peer leaves out what
 *                                       it covers, and holds it as its own
 *                                       once its mark for me reaches `upto`.
 *
 * Sealed units (protocol version 4; docs/DESIGN-NOTES.md, "Sealed units
 * past the channel"). A unit of a content file is already sealed with the
 * content key (secretstream, chained, the attachment id as its additional
 * data), so the channel does not encrypt it a second time:
 *
 *   SEALED 14  att bin16  offset uint  what CHUNK says of the unit, whose
 *              len uint  mac bin16     `len` bytes (17 .. CARNET_MSG_CHUNK_
 *                                      BYTES_MAX) follow in the next frame,
 *                                      as stored, outside the channel's
 *                                      encryption; `mac` is their last 16
 *                                      bytes (the unit's Poly1305 tag)
 *
 * The SEALED message itself is an ordinary encrypted frame; the frame after
 * it is raw: its 4-byte length must be `len` and its last 16 bytes `mac`
 * (protocol/channel.c checks both before the unit is handed on, then the
 * content key opens it: protocol/content.h C3). Only a session whose
 * protocol version is 4 or more sends or accepts it.
 *
 * Type numbers are frozen (they are on the wire): add, never renumber. The
 * ERROR encoding is frozen across protocol versions as well, since the
 * handshake uses it to tell a peer of another version why it is refused.
 */
#ifndef CARNET_PROTOCOL_MSG_H
#define CARNET_PROTOCOL_MSG_H

#include <stdint.h>

#include "carnet/changes.h"
#include "carnet/types.h"
#include "engine/model/know.h"
#include "protocol/obuf.h"

enum {
  CARNET_MSG_REQ = 1,
  CARNET_MSG_BATCH = 2,
  CARNET_MSG_ACK = 3,
  CARNET_MSG_CERT = 4,
  CARNET_MSG_ERROR = 5,
  CARNET_MSG_BYE = 6,
  CARNET_MSG_PING = 7,
  CARNET_MSG_REVOKE = 8,
  CARNET_MSG_FETCH = 9,
  CARNET_MSG_CHUNK = 10,
  CARNET_MSG_NOPE = 11,
  CARNET_MSG_IDLE = 12,
  CARNET_MSG_KNOW = 13,
  CARNET_MSG_SEALED = 14,
};

/* A SEALED unit's tag: the last bytes of a secretstream message. */
#define CARNET_MSG_SEALED_MAC_BYTES 16u
/* The smallest unit: an empty chunk (the tag byte and the MAC). */
#define CARNET_MSG_SEALED_BYTES_MIN 17u

#define CARNET_MSG_CERT_BYTES_MAX 4096u
#define CARNET_MSG_REVOKE_BYTES_MAX 256u
#define CARNET_MSG_TEXT_BYTES_MAX 512u
/* A CHUNK's bytes: the content file's header (24) and one sealed chunk
 * (65,536 + 17). Frozen with the content file's format. */
#define CARNET_MSG_CHUNK_BYTES_MAX (24u + 65536u + 17u)
/* The largest encoded message: a BATCH (type, bin32 header, bytes). Every
 * other message is far smaller. */
#define CARNET_MSG_BYTES_MAX (CARNET_BATCH_BYTES_MAX + 16u)
/* The largest encoded ERROR: type, int32 code, str16 header, text. */
#define CARNET_MSG_ERROR_BYTES_MAX (1u + 5u + 3u + CARNET_MSG_TEXT_BYTES_MAX)

typedef struct carnet__msg {
  int type;          /* CARNET_MSG_* */
  uint64_t since;    /* REQ: the mark's base */
  uint64_t after;    /* REQ: the mark's after (>= since) */
  uint64_t upto;     /* ACK, KNOW */
  carnet_buf bytes;  /* BATCH, CERT, REVOKE, CHUNK, KNOW (may be empty): points into the
                        decoded buffer; SEALED: the unit (the raw frame after the
                        message; the codec neither reads nor writes it) */
  carnet_id att;     /* FETCH, CHUNK, NOPE, SEALED: the attachment */
  uint64_t offset;   /* FETCH, CHUNK, SEALED: a byte offset in its content file */
  uint64_t unit_len; /* SEALED: the length of the raw frame that follows */
  uint8_t mac[CARNET_MSG_SEALED_MAC_BYTES]; /* SEALED: its last 16 bytes */
  int code;                                 /* ERROR: a negative CARNET_E* code (possibly one this
                                               build does not know) */
  carnet_buf text;                          /* ERROR: points into the decoded buffer, not
                                               NUL-terminated */
  int bad_line;                             /* decode: the check that refused the bytes (STYLE 6) */
} carnet__msg;

/* Brief: encode `m` (only the fields of its type are read) and append the
 * bytes to `out`.
 * Errors: CARNET_EMISUSE (unknown type, or a field out of its limits: a bug
 * in the caller), CARNET_ELIMIT (`out` is full), CARNET_ENOMEM. On error
 * `out` is unchanged. */
int carnet__msg_encode(const carnet__msg *m, carnet__obuf *out);

/* Brief: decode and validate one message occupying exactly `len` bytes.
 * After the call `m->bytes` and `m->text` point into `buf`: they live as long
 * as `buf` does (for a message read from a channel, until the next read).
 * Errors: CARNET_EPROTO (unknown type, wrong object types, a field out of its
 * limits, missing or trailing bytes: the peer is broken or hostile, end the
 * session; m->bad_line says which check fired), CARNET_ENOMEM. On error `*m`
 * holds only the type (when it was read) and bad_line. */
int carnet__msg_decode(const void *buf, size_t len, carnet__msg *m);

/* Brief: the name of a message type ("BATCH"), or NULL. Static. */
const char *carnet__msg_name(int type);

#endif
