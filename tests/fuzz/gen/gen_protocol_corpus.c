/* Writes the seed corpora of the protocol fuzz targets (frame, msg,
 * handshake, invite) under CORPUS_DIR. Not a test and built by nobody: run
 * it by hand after a wire format change, and commit the files it writes.
 *
 *   cc -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -I include -I . \
 *      -o /tmp/gen tests/fuzz/gen/gen_protocol_corpus.c <the protocol .c files> \
 *      <libcarnet.a> -llmdb -lsodium -lmsgpackc
 *   /tmp/gen tests/fuzz/corpus
 *
 * It includes fuzz_handshake.c to reuse its fixed world, so the handshake
 * seeds are exactly the honest bytes that target compares against. */
#include <stdio.h>

#include "protocol/invite.h"
#include "protocol/msg.h"
#include "tests/fuzz/fuzz_handshake.c"

static const char *g_root;

static void put(const char *dir, const char *name, const void *p, size_t n) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s/%s", g_root, dir, name);
  FILE *f = fopen(path, "wb");
  if (f == NULL || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
    perror(path);
    exit(1);
  }
}

/* A corpus entry: a leading control byte, then the bytes. */
static void put1(const char *dir, const char *name, uint8_t first, const void *p, size_t n) {
  carnet__obuf b;
  carnet__obuf_init(&b);
  if (carnet__obuf_append(&b, &first, 1) || carnet__obuf_append(&b, p, n)) abort();
  put(dir, name, b.base, b.len);
  carnet__obuf_free(&b);
}

static void gen_frame(void) {
  carnet__obuf b;
  uint8_t big[300];
  memset(big, 0x5a, sizeof big);
  carnet__obuf_init(&b);
  carnet__frame_write(&b, "hello", 5, 16);
  put1("frame", "one", 0x00, b.base, b.len);
  carnet__frame_write(&b, big, sizeof big, 1024);
  put1("frame", "two_chunk3", (2 << 2) | 0, b.base, b.len);
  put1("frame", "two_max1024_chunk1", 1, b.base, b.len);
  put1("frame", "cut", 0x00, b.base, b.len - 7);
  b.len = 0;
  carnet__frame_write(&b, big, 16, 16);
  carnet__frame_write(&b, big, 17, 17);
  put1("frame", "max16_then_17", 2, b.base, b.len);
  static const uint8_t zero[] = {0, 0, 0, 0, 1, 2, 3};
  put1("frame", "zero_length", 0, zero, sizeof zero);
  static const uint8_t over[] = {0, 0x80, 0, 1, 1, 2, 3};
  put1("frame", "oversized", 0, over, sizeof over);
  static const uint8_t ones[] = {0, 0, 0, 1, 'a', 0, 0, 0, 1, 'b', 0, 0, 0, 2, 'c'};
  put1("frame", "max1", 3, ones, sizeof ones);
  carnet__obuf_free(&b);
}

static void put_msg(const char *name, const carnet__msg *m) {
  carnet__obuf b;
  carnet__obuf_init(&b);
  if (carnet__msg_encode(m, &b) != 0) abort();
  put("msg", name, b.base, b.len);
  carnet__obuf_free(&b);
}

static void gen_msg(void) {
  uint8_t bytes[600];
  for (size_t i = 0; i < sizeof bytes; i++)
    bytes[i] = (uint8_t)(i * 7);
  const char *text = "protocol version 3 not supported, this replica speaks 2: upgrade";
  put_msg("req", &(carnet__msg){.type = CARNET_MSG_REQ, .since = 1000, .after = 70000});
  put_msg("req0", &(carnet__msg){.type = CARNET_MSG_REQ});
  put_msg("batch", &(carnet__msg){.type = CARNET_MSG_BATCH, .bytes = {bytes, 300}});
  put_msg("ack", &(carnet__msg){.type = CARNET_MSG_ACK, .upto = UINT64_MAX});
  put_msg("cert", &(carnet__msg){.type = CARNET_MSG_CERT, .bytes = {bytes, 40}});
  put_msg("error", &(carnet__msg){.type = CARNET_MSG_ERROR,
                                  .code = CARNET_EVERSION,
                                  .text = {text, strlen(text)}});
  put_msg("bye", &(carnet__msg){.type = CARNET_MSG_BYE});
  put_msg("ping", &(carnet__msg){.type = CARNET_MSG_PING});
  put_msg("revoke", &(carnet__msg){.type = CARNET_MSG_REVOKE, .bytes = {bytes, 144}});
  carnet_id att;
  for (size_t i = 0; i < sizeof att.b; i++)
    att.b[i] = (uint8_t)(0x30 + i);
  put_msg("fetch", &(carnet__msg){.type = CARNET_MSG_FETCH, .att = att, .offset = 65577});
  put_msg("chunk", &(carnet__msg){.type = CARNET_MSG_CHUNK, .att = att, .bytes = {bytes, 600}});
  put_msg("nope", &(carnet__msg){.type = CARNET_MSG_NOPE, .att = att});
  put_msg("idle", &(carnet__msg){.type = CARNET_MSG_IDLE});
}

static void gen_handshake(void) {
  static const char *names[4] = {"responder", "initiator", "responder_join", "initiator_join"};
  char name[64];
  for (int m = 0; m < 4; m++) {
    fz_ref ref;
    fz_reference(m, &ref);
    snprintf(name, sizeof name, "%s_whole", names[m]);
    put1("handshake", name, (uint8_t)(m | (63 << 2)), ref.in, ref.in_len);
    snprintf(name, sizeof name, "%s_bytes", names[m]);
    put1("handshake", name, (uint8_t)m, ref.in, ref.in_len);
  }
  /* A refusal as the answer to (1) and as message (3). */
  carnet__obuf b;
  size_t mark;
  const char *text = "protocol version 1 not supported, this replica speaks 2: upgrade";
  carnet__msg e = {.type = CARNET_MSG_ERROR, .code = CARNET_EVERSION, .text = {text, strlen(text)}};
  carnet__obuf_init(&b);
  carnet__frame_begin(&b, &mark);
  carnet__msg_encode(&e, &b);
  carnet__frame_end(&b, mark, CARNET_HANDSHAKE_MSG_BYTES_MAX);
  put1("handshake", "initiator_refused", 1 | (63 << 2), b.base, b.len);
  /* A node at its admission limits: busy (replica/node.c A4). */
  carnet__obuf busy;
  carnet__obuf_init(&busy);
  if (carnet__hs_refusal(&busy, CARNET_EBUSY, CARNET_HS_BUSY_TEXT) != 0) abort();
  put1("handshake", "initiator_busy", 1 | (63 << 2), busy.base, busy.len);
  carnet__obuf_free(&busy);
  fz_ref ref;
  fz_reference(0, &ref);
  /* Message (1) then the refusal in place of (3). */
  size_t m1 = 4 + ((size_t)ref.in[2] << 8 | ref.in[3]);
  carnet__obuf c;
  carnet__obuf_init(&c);
  carnet__obuf_append(&c, ref.in, m1);
  carnet__obuf_append(&c, b.base, b.len);
  put1("handshake", "responder_refused", 0 | (63 << 2), c.base, c.len);
  /* Message (1) of a newer version, and of version 1 (before REVOKE). */
  c.len = 0;
  carnet__obuf_append(&c, ref.in, m1);
  c.base[4 + 5] = CARNET_PROTOCOL_VERSION + 1; /* the version follows the 5-byte magic */
  put1("handshake", "responder_version_newer", 0 | (63 << 2), c.base, c.len);
  c.base[4 + 5] = 1;
  put1("handshake", "responder_version1", 0 | (63 << 2), c.base, c.len);
  carnet__obuf_free(&b);
  carnet__obuf_free(&c);
}

static void gen_invite(void) {
  fz_world w;
  char text[CARNET_INVITE_TEXT_MAX + 2];
  fz_world_init(&w, 2);
  if (carnet__invite_encode(&w.inv, text, sizeof text, NULL, 0) != 0) abort();
  put("invite", "plain", text, strlen(text));
  strcat(text, "\n");
  put("invite", "pasted", text, strlen(text));
  strcpy(w.inv.address, "[fe80::1]:65535");
  w.inv.expiry_ms = 1709283600000ull;
  if (carnet__invite_encode(&w.inv, text, sizeof text, NULL, 0) != 0) abort();
  put("invite", "ipv6", text, strlen(text));
  memset(w.inv.address, 'h', 249);
  strcpy(w.inv.address + 249, ":7420");
  if (carnet__invite_encode(&w.inv, text, sizeof text, NULL, 0) != 0) abort();
  put("invite", "longest", text, strlen(text));
}

int main(int argc, char **argv) {
  if (argc != 2 || sodium_init() < 0) {
    fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  g_root = argv[1];
  gen_frame();
  gen_msg();
  gen_handshake();
  gen_invite();
  return 0;
}
