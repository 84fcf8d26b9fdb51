/* web/api_peer.c - the replica's status, its peers (with whether a session
 * with each is live: the node's peer events) and invites. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "routes.h"
#include "state.h"
#include "view.h"

static int count_cb(const carnet_record *rec, void *data) {
  (void)rec;
  (*(uint64_t *)data)++;
  return 0;
}

void api_status(carnet_replica *r, web_req *q) {
  uint8_t pk[CARNET_PK_BYTES], team[CARNET_TEAM_BYTES];
  char key[2 * CARNET_PK_BYTES + 1], tm[2 * CARNET_TEAM_BYTES + 1], rid[17];
  uint64_t seq = 0, customers = 0;
  carnet_role role;
  int rc;
  if ((rc = carnet_replica_get_identity(r, pk, team)) || (rc = carnet_replica_get_seq(r, &seq)) ||
      (rc = carnet_replica_get_role(r, &role)) ||
      (rc = carnet_record_list(r, CARNET_KIND_CUSTOMER, NULL, count_cb, &customers))) {
    web_fail(q, r, rc, NULL);
    return;
  }
  for (size_t i = 0; i < CARNET_PK_BYTES; i++)
    snprintf(key + 2 * i, 3, "%02x", pk[i]);
  for (size_t i = 0; i < CARNET_TEAM_BYTES; i++)
    snprintf(tm + 2 * i, 3, "%02x", team[i]);
  snprintf(rid, sizeof rid, "%016llx", (unsigned long long)carnet_replica_id(r));
  web_state *st = q->st;
  web_ok(q, 200,
         json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:I,s:I,s:b,s:s?,s:s}", "replica", rid, "tag",
                   carnet_replica_tag(r), "key", key, "team", tm, "role", carnet_role_name(role),
                   "dir", web_json_str(carnet_replica_dir(r)), "seq", (json_int_t)seq, "customers",
                   (json_int_t)customers, "node", st->sync, "listen",
                   st->sync_listen[0] ? st->sync_listen : NULL, "version",
                   carnet_version(NULL, NULL, NULL)));
}

typedef struct peers_st {
  web_req *q;
  json_t *items;
  bool oom;
} peers_st;

static void iso_ms(uint64_t ms, char out[32]) {
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  out[0] = '\0';
  if (ms == 0 || gmtime_r(&secs, &tm) == NULL) return;
  size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, 32 - n, ".%03uZ", (unsigned)(ms % 1000));
}

static int peer_cb(const carnet_peer_info *p, void *data) {
  peers_st *ps = data;
  char key[2 * CARNET_PK_BYTES + 1], rid[17], last[32], contact[32];
  for (size_t i = 0; i < CARNET_PK_BYTES; i++)
    snprintf(key + 2 * i, 3, "%02x", p->pk[i]);
  snprintf(rid, sizeof rid, "%016llx", (unsigned long long)p->replica_id);
  iso_ms(p->last_sync_ms, last);
  iso_ms(p->last_contact_ms, contact);
  /* Online: a live session here (this node's events, at once) or in
   * another process of the replica (the library's live status). */
  bool online = p->online || (p->replica_id && web_peer_online(ps->q->st, p->replica_id));
  json_t *o = json_pack("{s:s,s:s?,s:o,s:s?,s:s?,s:I,s:I,s:b}", "key", key, "replica",
                        p->replica_id ? rid : NULL, "addr",
                        p->addr[0] ? web_json_str(p->addr) : json_null(), "last_sync",
                        last[0] ? last : NULL, "last_contact", contact[0] ? contact : NULL, "acked",
                        (json_int_t)p->acked, "pending", (json_int_t)p->pending, "online", online);
  if (!web_json_push(ps->items, o)) {
    ps->oom = true;
    return 1;
  }
  return 0;
}

void api_peers(carnet_replica *r, web_req *q) {
  peers_st ps = {.q = q, .items = json_array()};
  int rc = ps.items ? carnet_peer_list(r, peer_cb, &ps) : CARNET_ENOMEM;
  if (ps.oom) rc = CARNET_ENOMEM;
  if (rc) {
    json_decref(ps.items);
    if (rc == CARNET_ENOMEM)
      web_oom(q);
    else
      web_fail(q, r, rc, NULL);
    return;
  }
  web_ok(q, 200, json_pack("{s:o}", "items", ps.items));
}

/* "90", "90s", "10m", "2h", "7d" -> ms; 0 when not one (or over 30 days),
 * as `carnet invite --ttl`. */
static uint64_t ttl_ms(const char *s) {
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  uint64_t unit = 1000;
  if (end == s) return 0;
  if (strcmp(end, "ms") == 0)
    unit = 1;
  else if (strcmp(end, "m") == 0)
    unit = 60000;
  else if (strcmp(end, "h") == 0)
    unit = 3600000;
  else if (strcmp(end, "d") == 0)
    unit = 86400000;
  else if (*end != '\0' && strcmp(end, "s") != 0)
    return 0;
  if (v == 0 || v > 30ull * 86400000 / unit) return 0;
  return v * unit;
}

void api_invite(carnet_replica *r, web_req *q) {
  bool bad = false;
  const char *ttl_text = web_body_str(q, "ttl", &bad);
  const char *addr = bad ? NULL : web_body_str(q, "addr", &bad);
  char token[1024], expires[32];
  if (bad) return;
  uint64_t ttl = ttl_text ? ttl_ms(ttl_text) : 600000;
  if (ttl == 0) {
    web_error(q, 400, CARNET_EINVAL, "ttl",
              "invalid ttl '%s': give a duration such as 10m or 1h (at most 30d)", ttl_text);
    return;
  }
  if (addr == NULL && q->st->sync_listen[0]) addr = q->st->sync_listen;
  if (addr == NULL) {
    web_error(q, 400, CARNET_EINVAL, "addr",
              "no address to invite to: run 'carnet serve --http' (its sync address is the "
              "default), or give \"addr\": \"HOST:PORT\"");
    return;
  }
  char host[CARNET_NODE_ADDR_MAX], why[256];
  uint16_t port;
  if (carnet_node_addr_parse(addr, host, sizeof host, &port, why, sizeof why) != 0) {
    web_error(q, 400, CARNET_EINVAL, "addr", "%s", why);
    return;
  }
  if (strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0) {
    web_error(q, 400, CARNET_EINVAL, "addr",
              "%s is where the node listens, not where a new replica can reach it: give "
              "\"addr\": \"THIS-HOST:%u\"",
              addr, (unsigned)port);
    return;
  }
  int rc = carnet_invite_create(r, addr, ttl, token, sizeof token);
  if (rc) {
    web_fail(q, r, rc, "making the invite");
    return;
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  iso_ms((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u + ttl, expires);
  web_ok(q, 200, json_pack("{s:s,s:s,s:s}", "token", token, "addr", addr, "expires", expires));
}
