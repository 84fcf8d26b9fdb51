/* cli/net.c - small helpers of the sync commands: hex keys, durations,
 * times, and where `carnet serve` leaves its address. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

const char *cli_hex(const void *bytes, size_t len, char *out) {
  static const char digits[] = "0123456789abcdef";
  const uint8_t *b = bytes;
  for (size_t i = 0; i < len; i++) {
    out[2 * i] = digits[b[i] >> 4];
    out[2 * i + 1] = digits[b[i] & 15];
  }
  out[2 * len] = '\0';
  return out;
}

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

int cli_parse_hex(const cli *c, const char *what, const char *text, uint8_t *out, size_t len) {
  if (strlen(text) != 2 * len)
    return cli_fail(c, CLI_EUSER,
                    "invalid %s '%.80s': give %zu hex characters (see 'carnet id' on the other "
                    "replica)",
                    what, text, 2 * len);
  for (size_t i = 0; i < len; i++) {
    int hi = hexval(text[2 * i]), lo = hexval(text[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return cli_fail(c, CLI_EUSER, "invalid %s '%s': only hex characters (0-9, a-f)", what, text);
    out[i] = (uint8_t)(hi << 4 | lo);
  }
  return CLI_OK;
}

int cli_parse_pk(const cli *c, const char *text, uint8_t pk[CARNET_PK_BYTES]) {
  return cli_parse_hex(c, "public key", text, pk, CARNET_PK_BYTES);
}

bool cli_parse_duration(const char *s, uint64_t *ms) {
  static const struct {
    const char *suffix;
    uint64_t ms;
  } units[] = {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000}, {"", 1000}};
  uint64_t v = 0;
  size_t digits = 0;
  if (s == NULL) return false;
  for (; s[digits] >= '0' && s[digits] <= '9'; digits++) {
    if (v > 1000000000u) return false; /* more than 30 years in any unit: a typo */
    v = v * 10 + (uint64_t)(s[digits] - '0');
  }
  if (digits == 0 || v == 0) return false;
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
    if (strcmp(s + digits, units[i].suffix) != 0) continue;
    *ms = v * units[i].ms;
    return true;
  }
  return false;
}

void cli_iso_ms(uint64_t ms, char out[32]) {
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  out[0] = '\0';
  if (ms == 0 || gmtime_r(&secs, &tm) == NULL) return;
  size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, 32 - n, ".%03uZ", (unsigned)(ms % 1000));
}

void cli_peer_live_text(const carnet_peer_info *p, cli_peer_live *out) {
  snprintf(out->state, sizeof out->state, "%s", p->online ? "online" : "offline");
  cli_iso_ms(p->last_contact_ms, out->last_contact);
  cli_iso_ms(p->last_sync_ms, out->last_sync);
  snprintf(out->acked, sizeof out->acked, "%llu", (unsigned long long)p->acked);
  snprintf(out->pending, sizeof out->pending, "%llu", (unsigned long long)p->pending);
}

void cli_peer_live_json(json_t *o, const carnet_peer_info *p) {
  cli_peer_live l;
  cli_peer_live_text(p, &l);
  cli_json_put(o, "online", json_boolean(p->online));
  cli_json_put(o, "last_contact", l.last_contact[0] ? cli_json_str(l.last_contact) : json_null());
  cli_json_put(o, "last_sync", l.last_sync[0] ? cli_json_str(l.last_sync) : json_null());
  cli_json_put(o, "acked", json_integer((json_int_t)p->acked));
  cli_json_put(o, "pending", json_integer((json_int_t)p->pending));
}

void cli_serve_addr_path(carnet_replica *r, char *out, size_t len) {
  snprintf(out, len, "%s/serve.addr", carnet_replica_dir(r));
}
